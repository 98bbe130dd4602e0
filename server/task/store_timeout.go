package task

import (
	"context"
	"time"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
)

// DefaultStoreTimeout bounds every task-store call when Limits.StoreTimeout is zero.
const DefaultStoreTimeout = 10 * time.Second

// timeoutStore bounds each store call, so that an unreachable etcd turns into
// an error instead of a request that never returns (the etcd client retries
// until its context ends).
type timeoutStore struct {
	Store
	d time.Duration
}

func (s timeoutStore) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.d)
}

func (s timeoutStore) LoadCheckpoints(ctx context.Context, taskID string) ([]corelib.Checkpoint, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return s.Store.LoadCheckpoints(ctx, taskID)
}

func (s timeoutStore) SaveCheckpoint(ctx context.Context, taskID string, cp corelib.Checkpoint) (corelib.Checkpoint, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return s.Store.SaveCheckpoint(ctx, taskID, cp)
}

func (s timeoutStore) CreateTask(ctx context.Context, t meta.Task, initial []corelib.Checkpoint) (meta.Task, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return s.Store.CreateTask(ctx, t, initial)
}

func (s timeoutStore) GetTask(ctx context.Context, id string) (meta.Task, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return s.Store.GetTask(ctx, id)
}

func (s timeoutStore) ListTasks(ctx context.Context) ([]meta.Task, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return s.Store.ListTasks(ctx)
}

func (s timeoutStore) UpdateTask(ctx context.Context, t meta.Task) (meta.Task, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return s.Store.UpdateTask(ctx, t)
}

func (s timeoutStore) DeleteTask(ctx context.Context, id string, revision int64) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return s.Store.DeleteTask(ctx, id, revision)
}

// timeoutSnapshots bounds each call of a snapshot-progress store.
type timeoutSnapshots struct {
	s corelib.SnapshotStore
	d time.Duration
}

func (t timeoutSnapshots) LoadSnapshot(ctx context.Context, taskID string) (corelib.SnapshotProgress, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.LoadSnapshot(ctx, taskID)
}

func (t timeoutSnapshots) SaveSnapshot(ctx context.Context, taskID string, p corelib.SnapshotProgress) (corelib.SnapshotProgress, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.SaveSnapshot(ctx, taskID, p)
}
