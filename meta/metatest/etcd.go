// Package metatest starts an embedded etcd on free loopback ports for tests.
package metatest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/config"
	"github.com/milvus-cdc/milvus-cdc/meta"
)

// Etcd is a test etcd: the server, a client, and its data directory.
type Etcd struct {
	Server  *meta.Embedded
	Client  *clientv3.Client
	DataDir string
	Config  config.Embed
}

// StartEtcd starts an embedded etcd in a temporary directory and stops it when
// the test ends.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	return StartEtcdIn(t, t.TempDir())
}

// StartEtcdIn starts an embedded etcd on dataDir (reuse one to test restarts).
func StartEtcdIn(t testing.TB, dataDir string) *Etcd {
	t.Helper()
	var (
		cfg config.Embed
		srv *meta.Embedded
		err error
	)
	// A free port can be taken by another test process before etcd binds
	// it: try other ports a few times.
	for attempt := 0; attempt < 5; attempt++ {
		cfg = config.Embed{
			DataDir:   dataDir,
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		}
		if srv, err = meta.StartEmbedded(cfg, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	cli, err := meta.Dial(context.Background(), config.Etcd{Endpoints: []string{srv.ClientURL}, DialTimeout: 5 * time.Second}, zap.NewNop())
	if err != nil {
		srv.Close()
		t.Fatalf("dial embedded etcd: %v", err)
	}
	e := &Etcd{Server: srv, Client: cli, DataDir: dataDir, Config: cfg}
	t.Cleanup(e.Stop)
	return e
}

// Stop closes the client and the server; calling it twice is fine.
func (e *Etcd) Stop() {
	if e.Client != nil {
		_ = e.Client.Close()
		e.Client = nil
	}
	if e.Server != nil {
		e.Server.Close()
		e.Server = nil
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
