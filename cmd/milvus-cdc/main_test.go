package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/config"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRunServesWithEmbeddedEtcd runs the daemon as main does, with the default
// configuration on free ports, and checks the documented first requests.
func TestRunServesWithEmbeddedEtcd(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "configs", "cdc.yaml"))
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.Address = addr
	cfg.MetaStore.Embed.DataDir = t.TempDir()
	cfg.MetaStore.Embed.ClientURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cfg.MetaStore.Embed.PeerURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	// No source service is needed to serve the API; point it at closed ports.
	cfg.Source.Etcd.Endpoints = []string{fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
	cfg.Source.MQ.Pulsar.Address = fmt.Sprintf("pulsar://127.0.0.1:%d", freePort(t))
	require.NoError(t, cfg.Validate())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, zap.NewNop(), zap.NewAtomicLevel()) }()

	post := func(body string) string {
		resp, err := http.Post("http://"+addr+"/cdc", "application/json", strings.NewReader(body))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	require.Eventually(t, func() bool { return post(`{"request_type":"list"}`) != "" }, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, "{\"code\":200,\"data\":{\"tasks\":[]}}\n", post(`{"request_type":"list"}`))

	resp, err := http.Get("http://" + addr + "/api/v1/tasks/nope")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))

	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "ready once the stored tasks are reloaded")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
