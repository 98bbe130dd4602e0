package source

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/protobuf/proto"
)

// startEtcd runs an in-process etcd on free loopback ports and returns a
// client for it; both are closed when the test ends.
func startEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	clientURL, peerURL := freeURL(t), freeURL(t)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.Name + "=" + peerURL.String()

	e, err := embed.StartEtcd(cfg)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		t.Fatal("embedded etcd did not become ready")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL.String()}, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func freeURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return url.URL{Scheme: "http", Host: addr}
}

// fakeRootCoord writes catalog keys the way Milvus's SuffixSnapshot does:
// every save also writes snapshots/{key}_ts{ts}, and a removal PUTs the
// 3-byte tombstone to both keys instead of deleting.
type fakeRootCoord struct {
	t    *testing.T
	cli  *clientv3.Client
	root string // "{rootPath}/{metaSubPath}/"
	ts   uint64
}

func newFakeRootCoord(t *testing.T, cli *clientv3.Client, root string) *fakeRootCoord {
	return &fakeRootCoord{t: t, cli: cli, root: root, ts: ComposeTS(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli(), 0)}
}

func (f *fakeRootCoord) nextTS() uint64 {
	f.ts++
	return f.ts
}

// save writes several keys in one transaction at one timestamp.
func (f *fakeRootCoord) save(kvs map[string]proto.Message) {
	f.t.Helper()
	ts := f.nextTS()
	var ops []clientv3.Op
	for key, m := range kvs {
		b, err := proto.Marshal(m)
		require.NoError(f.t, err)
		ops = append(ops, f.putOps(key, string(b), ts)...)
	}
	f.txn(ops)
}

func (f *fakeRootCoord) save1(key string, m proto.Message) {
	f.t.Helper()
	f.save(map[string]proto.Message{key: m})
}

// remove tombstones keys in one transaction.
func (f *fakeRootCoord) remove(keys ...string) {
	f.t.Helper()
	ts := f.nextTS()
	var ops []clientv3.Op
	for _, key := range keys {
		ops = append(ops, f.putOps(key, tombstone, ts)...)
	}
	f.txn(ops)
}

func (f *fakeRootCoord) putOps(key, value string, ts uint64) []clientv3.Op {
	return []clientv3.Op{
		clientv3.OpPut(f.root+key, value),
		clientv3.OpPut(fmt.Sprintf("%ssnapshots/%s_ts%d", f.root, key, ts), value),
	}
}

func (f *fakeRootCoord) txn(ops []clientv3.Op) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := f.cli.Txn(ctx).Then(ops...).Commit()
	require.NoError(f.t, err)
}
