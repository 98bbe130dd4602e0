package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/config"
	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/milvusconn"
	"github.com/milvus-cdc/milvus-cdc/corelib/pipeline"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/milvus"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/rows"
	"github.com/milvus-cdc/milvus-cdc/meta"
)

// newPipelineFactory connects the daemon to the source Milvus described by
// the configuration. Nothing here waits for the source: a source that is down
// when the daemon starts shows up in each task's status while the pipelines
// retry, and the control plane stays available.
func newPipelineFactory(cfg config.Source, metrics *pipeline.Metrics, lg *zap.Logger) (*pipeline.Factory, func(), error) {
	etcdCli, err := meta.NewClient(cfg.Etcd.Etcd, lg)
	if err != nil {
		return nil, nil, fmt.Errorf("source.etcd: %w", err)
	}
	metaCfg := source.MetaConfig{RootPath: cfg.Etcd.RootPath, MetaSubPath: cfg.Etcd.MetaSubPath, KVSubPath: cfg.Etcd.KVSubPath}
	catalog, err := source.NewMetaReader(etcdCli, metaCfg, lg.Named("catalog"))
	if err != nil {
		_ = etcdCli.Close()
		return nil, nil, err
	}
	mqCli, err := newMQClient(cfg.MQ, lg.Named("mq"))
	if err != nil {
		_ = etcdCli.Close()
		return nil, nil, err
	}
	src := &pipeline.MilvusSource{
		Catalog:              catalog,
		MQ:                   mqCli,
		ReplicateChannelName: cfg.ReplicateChannel,
		DefaultPartitionName: cfg.DefaultPartitionName,
		Log:                  lg.Named("stream"),
	}
	closeAll := func() {
		_ = mqCli.Close()
		_ = etcdCli.Close()
	}
	clock := func(ctx context.Context) (time.Time, error) { return source.SourceClock(ctx, etcdCli, metaCfg) }
	writers := sink.Registry{}
	milvus.Register(writers)
	kafka.Register(writers, cfg.Cluster())
	return &pipeline.Factory{Source: src, Writers: writers, Logger: lg, Metrics: metrics, Clock: clock, Rows: sourceRows(cfg.Milvus)}, closeAll, nil
}

// sourceRows connects to the source proxy (source.milvus) for the initial
// sync of a task: each call opens one connection, closed when the snapshot
// ends.
func sourceRows(m config.SourceMilvus) func(ctx context.Context) (pipeline.RowSource, func() error, error) {
	return func(ctx context.Context) (pipeline.RowSource, func() error, error) {
		conn, err := milvusconn.Connect(ctx, sourceTarget(m))
		if err != nil {
			return nil, nil, fmt.Errorf("source.milvus: %w", err)
		}
		return rows.New(conn.Service), conn.Close, nil
	}
}

// sourceTarget is the source proxy as milvusconn dials it: TLS without
// files of our own trusts the system's roots (an https address).
func sourceTarget(m config.SourceMilvus) corelib.Target {
	t := corelib.Target{URI: m.Address, Token: m.Credential()}
	if !m.TLS.Enabled {
		return t
	}
	t.TLS = corelib.TargetTLS{ServerName: m.TLS.ServerName, CAPEMPath: m.TLS.CAFile, ClientPEMPath: m.TLS.CertFile, ClientKeyPath: m.TLS.KeyFile}
	if i := strings.Index(t.URI, "://"); i >= 0 {
		t.URI = t.URI[i+3:]
	}
	t.URI = "https://" + t.URI
	return t
}

func newMQClient(c config.MQ, lg *zap.Logger) (mq.Client, error) {
	switch c.Type {
	case config.MQPulsar:
		cli, err := mq.NewPulsarClient(mq.PulsarConfig{
			URL:        c.Pulsar.Address,
			Tenant:     c.Pulsar.Tenant,
			Namespace:  c.Pulsar.Namespace,
			AuthPlugin: c.Pulsar.AuthPlugin,
			AuthParams: c.Pulsar.AuthParams,
			// Bounds memory: each channel reader holds this many messages.
			ReceiverQueueSize: c.Pulsar.ReceiverQueueSize,
		}, lg)
		if err != nil {
			return nil, fmt.Errorf("source.mq.pulsar: %w", err)
		}
		return cli, nil
	case config.MQKafka:
		tc, err := kafkaTLS(c.Kafka.TLS)
		if err != nil {
			return nil, fmt.Errorf("source.mq.kafka.tls: %w", err)
		}
		cli, err := mq.NewKafkaClient(mq.KafkaConfig{
			Brokers:       c.Kafka.Brokers,
			SASLMechanism: c.Kafka.SASL.Mechanism,
			Username:      c.Kafka.SASL.Username,
			Password:      c.Kafka.SASL.Password,
			TLS:           tc,
			FetchMaxBytes: c.Kafka.FetchMaxBytes,
		}, lg)
		if err != nil {
			return nil, fmt.Errorf("source.mq.kafka: %w", err)
		}
		return cli, nil
	default:
		return nil, fmt.Errorf("source.mq.type %q: use pulsar or kafka", c.Type)
	}
}

// kafkaTLS builds the Kafka client's TLS setup from PEM files.
func kafkaTLS(t config.TLS) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}
