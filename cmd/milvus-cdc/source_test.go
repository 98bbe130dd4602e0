package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/config"
	"github.com/milvus-cdc/milvus-cdc/corelib"
)

func TestSourceTarget(t *testing.T) {
	tests := []struct {
		name string
		in   config.SourceMilvus
		want corelib.Target
	}{
		{"plain", config.SourceMilvus{Address: "127.0.0.1:19530"}, corelib.Target{URI: "127.0.0.1:19530"}},
		{"token", config.SourceMilvus{Address: "m:19530", Token: "key"}, corelib.Target{URI: "m:19530", Token: "key"}},
		{"user and password", config.SourceMilvus{Address: "http://m:19530", Username: "root", Password: "pw"},
			corelib.Target{URI: "http://m:19530", Token: "root:pw"}},
		{"tls with the system's roots", config.SourceMilvus{Address: "http://m:19530", TLS: config.SourceMilvusTLS{TLS: config.TLS{Enabled: true}}},
			corelib.Target{URI: "https://m:19530"}},
		{"tls with files", config.SourceMilvus{Address: "m:19530", TLS: config.SourceMilvusTLS{
			TLS: config.TLS{Enabled: true, CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem"}, ServerName: "milvus"}},
			corelib.Target{URI: "https://m:19530", TLS: corelib.TargetTLS{ServerName: "milvus", CAPEMPath: "/ca.pem", ClientPEMPath: "/c.pem", ClientKeyPath: "/k.pem"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, sourceTarget(tt.in))
		})
	}
}
