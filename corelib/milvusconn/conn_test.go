package milvusconn_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/corelibtest"
	"github.com/milvus-cdc/milvus-cdc/corelib/milvusconn"
)

func TestCheckTarget(t *testing.T) {
	fake := corelibtest.StartFakeMilvus(t, "root:Milvus")
	tests := []struct {
		name    string
		target  corelib.Target
		wantErr string
	}{
		{"right token", corelib.Target{URI: "http://fake:19530", Token: "root:Milvus", ConnectTimeout: 5 * time.Second}, ""},
		{"wrong token", corelib.Target{URI: "http://fake:19530", Token: "root:wrong", ConnectTimeout: 5 * time.Second}, "auth check failure"},
		{"no token", corelib.Target{URI: "fake:19530", ConnectTimeout: 5 * time.Second}, "auth check failure"},
		{"missing TLS file", corelib.Target{URI: "fake:19530", Token: "root:Milvus", TLS: corelib.TargetTLS{CAPEMPath: "/nonexistent/ca.pem"}}, "read TLS trust file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fake.Connects.Load()
			err := milvusconn.CheckTarget(context.Background(), tt.target, fake.DialOption())
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, before+1, fake.Connects.Load(), "Connect must reach the target")
				return
			}
			require.ErrorIs(t, err, corelib.ErrTargetUnreachable)
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "wrong", "the token must not leak into errors")
		})
	}
}

func TestCheckTargetTimesOutOnSilentServer(t *testing.T) {
	// A TCP listener that accepts and never speaks: the SDK must give up at ConnectTimeout.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	err = milvusconn.CheckTarget(context.Background(), corelib.Target{URI: "http://" + lis.Addr().String(), ConnectTimeout: 700 * time.Millisecond})
	require.ErrorIs(t, err, corelib.ErrTargetUnreachable)
	require.ErrorContains(t, err, "no answer within 700ms")
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestCheckTargetOneWayTLS(t *testing.T) {
	fake, pemPath := corelibtest.StartFakeMilvusTLS(t, "root:Milvus", "milvus.test")
	good := corelib.Target{URI: "milvus.test:19530", Token: "root:Milvus", ConnectTimeout: 3 * time.Second,
		TLS: corelib.TargetTLS{ServerName: "milvus.test", ServerPEMPath: pemPath}}
	require.NoError(t, milvusconn.CheckTarget(context.Background(), good, fake.DialOption()))
	require.Equal(t, int64(1), fake.Connects.Load())

	wrongName := good
	wrongName.TLS.ServerName = "other.test"
	wrongName.ConnectTimeout = time.Second
	err := milvusconn.CheckTarget(context.Background(), wrongName, fake.DialOption())
	require.ErrorIs(t, err, corelib.ErrTargetUnreachable, "the certificate does not match the server name")

	plain := good
	plain.TLS = corelib.TargetTLS{}
	plain.ConnectTimeout = time.Second
	require.ErrorIs(t, milvusconn.CheckTarget(context.Background(), plain, fake.DialOption()), corelib.ErrTargetUnreachable, "plaintext against a TLS server")
	require.Equal(t, int64(1), fake.Connects.Load(), "failed handshakes never reach Connect")
}

func TestTargetRedacted(t *testing.T) {
	for uri, want := range map[string]string{
		"http://root:pw@host:19530": "http://host:19530",
		"https://host:19530":        "https://host:19530",
		"host:19530":                "host:19530",
		"root:pw@host:19530":        "host:19530",
	} {
		require.Equal(t, want, corelib.Target{URI: uri}.Redacted(), uri)
	}
	err := milvusconn.CheckTarget(context.Background(), corelib.Target{URI: "http://root:pw@127.0.0.1:1", ConnectTimeout: 200 * time.Millisecond})
	require.ErrorIs(t, err, corelib.ErrTargetUnreachable)
	require.NotContains(t, err.Error(), "pw")
}
