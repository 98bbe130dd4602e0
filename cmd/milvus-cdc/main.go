// Command milvus-cdc is the change-data-capture daemon for Milvus.
package main

import (
	_ "github.com/apache/pulsar-client-go/pulsar"
	_ "github.com/gorilla/mux"
	_ "github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	_ "github.com/milvus-io/milvus-sdk-go/v2/client"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/viper"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "go.uber.org/zap"
)

func main() {}
