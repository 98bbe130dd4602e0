package source

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// MetaConfig locates the rootcoord catalog in the source etcd.
type MetaConfig struct {
	RootPath    string // Milvus etcd.rootPath, e.g. "by-dev"
	MetaSubPath string // Milvus etcd.metaSubPath; "" means "meta"
	KVSubPath   string // Milvus etcd.kvSubPath; "" means "kv"
}

// metaRoot returns "{rootPath}/{metaSubPath}/".
func (c MetaConfig) metaRoot() (string, error) {
	root := strings.Trim(c.RootPath, "/")
	if root == "" {
		return "", errors.New("source.etcd.rootPath is empty: set it to the source Milvus etcd.rootPath (e.g. by-dev)")
	}
	sub := strings.Trim(c.MetaSubPath, "/")
	if sub == "" {
		sub = "meta"
	}
	return root + "/" + sub + "/", nil
}

// MetaReader lists and watches the rootcoord catalog of a source Milvus. It
// only reads. It is safe to call List and Watch concurrently.
type MetaReader struct {
	kv      clientv3.KV
	watcher clientv3.Watcher
	root    string
	log     *zap.Logger

	retryMin, retryMax time.Duration
}

// NewMetaReader returns a reader of the catalog under cfg's root on client.
// A nil logger disables logging.
func NewMetaReader(client *clientv3.Client, cfg MetaConfig, log *zap.Logger) (*MetaReader, error) {
	root, err := cfg.metaRoot()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &MetaReader{
		kv:       client.KV,
		watcher:  client.Watcher,
		root:     root,
		log:      log.With(zap.String("metaRoot", root)),
		retryMin: 100 * time.Millisecond,
		retryMax: 5 * time.Second,
	}, nil
}

// List reads the current catalog, consistently at one etcd revision.
// Undecodable values are logged and skipped, never fatal; only etcd errors
// are returned.
func (r *MetaReader) List(ctx context.Context) (*Snapshot, error) {
	cat, rev, err := r.load(ctx, 0)
	if err != nil {
		return nil, err
	}
	return cat.snapshot(rev), nil
}

// Watch delivers, in etcd revision order, every lifecycle transition after
// from (a snapshot from List; nil means "announce everything that exists").
// The channel is closed only when ctx is cancelled.
//
// When the watch fails (compaction, leader loss, connection errors) Watch
// re-lists the catalog and emits the transitions it missed (drops first,
// child-first; then creations, parent-first), then watches again; it never
// stops on its own. Events are delivered at least once per transition
// and never for objects the consumer has not been told about (e.g. an
// aborted create). Sends block until the consumer receives them.
func (r *MetaReader) Watch(ctx context.Context, from *Snapshot) <-chan MetaEvent {
	out := make(chan MetaEvent, 16)
	go func() {
		defer close(out)
		r.watchLoop(ctx, from, out)
	}()
	return out
}

func (r *MetaReader) watchLoop(ctx context.Context, from *Snapshot, out chan<- MetaEvent) {
	life := newLifecycle(from)
	atRev := int64(0)
	if from != nil {
		atRev = from.Revision
	}
	backoff := r.retryMin
	for ctx.Err() == nil {
		cat, rev, err := r.load(ctx, atRev)
		if err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				r.log.Info("snapshot revision compacted, re-listing at the latest revision", zap.Int64("revision", atRev))
				atRev = 0
				continue
			}
			r.log.Warn("listing the source catalog failed, retrying", zap.Error(err), zap.Duration("backoff", backoff))
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, r.retryMax)
			continue
		}
		atRev = 0
		if !send(ctx, out, life.resync(cat, rev)) {
			return
		}
		if err := r.follow(ctx, cat, life, rev, out); err != nil {
			r.log.Warn("source catalog watch ended, re-listing", zap.Error(err))
		} else {
			backoff = r.retryMin
		}
		if !sleepCtx(ctx, r.retryMin) {
			return
		}
	}
}

// follow watches the catalog after rev and applies every change to cat and
// life until the watch ends. It returns why it ended (nil if ctx is done).
func (r *MetaReader) follow(ctx context.Context, cat *catalog, life *lifecycle, rev int64, out chan<- MetaEvent) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := r.watcher.Watch(wctx, r.root+rootCoordPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err
		}
		if resp.Canceled {
			return errors.New("watch cancelled by the server")
		}
		for _, ev := range resp.Events {
			evs := r.applyChange(cat, life, string(ev.Kv.Key), ev.Kv.Value, ev.Type == clientv3.EventTypeDelete, ev.Kv.ModRevision)
			if !send(ctx, out, evs) {
				return nil
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("watch channel closed")
}

// applyChange records one key change and returns the transitions it causes.
func (r *MetaReader) applyChange(cat *catalog, life *lifecycle, key string, value []byte, deleted bool, rev int64) []MetaEvent {
	k := parseCatalogKey(strings.TrimPrefix(key, r.root))
	if k.kind == keyUnknown {
		return nil
	}
	if err := cat.apply(k, value, deleted); err != nil {
		r.log.Warn("skipping undecodable catalog value", zap.String("key", key), zap.Error(err))
		return nil
	}
	switch k.kind {
	case keyDatabase:
		return life.database(k.dbID, cat.database(k.dbID), rev)
	case keyCollection:
		return life.collection(k.collectionID, cat.collection(k.collectionID), rev)
	case keyPartition:
		return life.partition(k.collectionID, k.childID, cat.partition(k.collectionID, k.childID), rev)
	}
	// Field and function keys only change the schema of later events.
	return nil
}

// load lists every catalog prefix at one revision (atRev, or the latest when
// 0) and returns the decoded catalog and that revision.
func (r *MetaReader) load(ctx context.Context, atRev int64) (*catalog, int64, error) {
	cat := newCatalog()
	rev := atRev
	for _, prefix := range listedPrefixes() {
		opts := []clientv3.OpOption{clientv3.WithPrefix()}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := r.kv.Get(ctx, r.root+prefix, opts...)
		if err != nil {
			return nil, 0, fmt.Errorf("list %s%s: %w", r.root, prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			k := parseCatalogKey(strings.TrimPrefix(string(kv.Key), r.root))
			if k.kind == keyUnknown {
				continue
			}
			if err := cat.apply(k, kv.Value, false); err != nil {
				r.log.Warn("skipping undecodable catalog value", zap.String("key", string(kv.Key)), zap.Error(err))
			}
		}
	}
	return cat, rev, nil
}

func send(ctx context.Context, out chan<- MetaEvent, evs []MetaEvent) bool {
	for _, ev := range evs {
		select {
		case out <- ev:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// sleepCtx waits d and reports whether ctx is still alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
