package source

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// kvRoot returns "{rootPath}/{kvSubPath}/".
func (c MetaConfig) kvRoot() (string, error) {
	root := strings.Trim(c.RootPath, "/")
	if root == "" {
		return "", fmt.Errorf("source.etcd.rootPath is empty: set it to the source Milvus etcd.rootPath (e.g. by-dev)")
	}
	sub := strings.Trim(c.KVSubPath, "/")
	if sub == "" {
		sub = "kv"
	}
	return root + "/" + sub + "/", nil
}

// SourceClock reads the source's TSO upper bound, {rootPath}/{kvSubPath}/gid/timestamp:
// a physical time Milvus persists ahead of every hybrid timestamp it hands
// out (8 bytes big-endian Unix nanoseconds, not a hybrid timestamp). It is
// "now" on the source's clock, up to the TSO save interval ahead, and works
// when the source host's clock and ours differ.
func SourceClock(ctx context.Context, kv clientv3.KV, cfg MetaConfig) (time.Time, error) {
	root, err := cfg.kvRoot()
	if err != nil {
		return time.Time{}, err
	}
	key := root + "gid/timestamp"
	resp, err := kv.Get(ctx, key)
	if err != nil {
		return time.Time{}, fmt.Errorf("read %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return time.Time{}, fmt.Errorf("%s is missing: is source.etcd.rootPath right and the source Milvus running?", key)
	}
	v := resp.Kvs[0].Value
	if len(v) != 8 {
		return time.Time{}, fmt.Errorf("%s: want 8 bytes, got %d", key, len(v))
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), nil
}
