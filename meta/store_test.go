package meta_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/meta/metatest"
)

func newTask(id string) meta.Task {
	return meta.Task{
		Spec: corelib.TaskSpec{
			ID:     id,
			Target: corelib.Target{URI: "http://target:19530", Token: "root:Milvus"},
			Scope:  []corelib.CollectionScope{{Database: "default", Collection: "*"}},
		},
		State: meta.StateInitial,
	}
}

func TestTaskCRUDAndCAS(t *testing.T) {
	ctx := context.Background()
	e := metatest.StartEtcd(t)
	s := meta.NewStore(e.Client, "cdc-test")

	created, err := s.CreateTask(ctx, newTask("a"), []corelib.Checkpoint{{Channel: "ch_1v0", CollectionID: 1, Position: []byte{1, 2}, Timestamp: 42}})
	require.NoError(t, err)
	require.Positive(t, created.Revision)

	_, err = s.CreateTask(ctx, newTask("a"), nil)
	require.ErrorIs(t, err, meta.ErrConflict, "an id can be created once")

	got, err := s.GetTask(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, created.Revision, got.Revision)
	require.Equal(t, "root:Milvus", got.Spec.Target.Token)
	require.Equal(t, meta.StateInitial, got.State)

	// Two writers read the same revision; the second update must fail.
	w1, w2 := got, got
	w1.State = meta.StateRunning
	w1, err = s.UpdateTask(ctx, w1)
	require.NoError(t, err)
	require.Greater(t, w1.Revision, got.Revision)
	w2.State, w2.Reason = meta.StatePaused, "other writer"
	_, err = s.UpdateTask(ctx, w2)
	require.ErrorIs(t, err, meta.ErrConflict)
	stored, err := s.GetTask(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, meta.StateRunning, stored.State, "the losing writer changed nothing")

	// Delete with a stale revision fails; with the current one it removes
	// the task and its checkpoints.
	require.ErrorIs(t, s.DeleteTask(ctx, "a", got.Revision), meta.ErrConflict)
	require.NoError(t, s.DeleteTask(ctx, "a", stored.Revision))
	_, err = s.GetTask(ctx, "a")
	require.ErrorIs(t, err, meta.ErrNotFound)
	cps, err := s.LoadCheckpoints(ctx, "a")
	require.NoError(t, err)
	require.Empty(t, cps)
	_, err = s.UpdateTask(ctx, stored)
	require.ErrorIs(t, err, meta.ErrNotFound)
	require.ErrorIs(t, s.DeleteTask(ctx, "a", stored.Revision), meta.ErrNotFound)
}

func TestListTasksOrderedAndScopedByRoot(t *testing.T) {
	ctx := context.Background()
	e := metatest.StartEtcd(t)
	s := meta.NewStore(e.Client, "root-a")
	other := meta.NewStore(e.Client, "root-b")
	for _, id := range []string{"t1", "t2", "t3"} {
		_, err := s.CreateTask(ctx, newTask(id), nil)
		require.NoError(t, err)
	}
	_, err := other.CreateTask(ctx, newTask("x"), nil)
	require.NoError(t, err)
	tasks, err := s.ListTasks(ctx)
	require.NoError(t, err)
	ids := []string{}
	for _, tk := range tasks {
		ids = append(ids, tk.Spec.ID)
		require.Positive(t, tk.Revision)
	}
	require.Equal(t, []string{"t1", "t2", "t3"}, ids)
	require.NoError(t, s.Ping(ctx))
}

func TestCheckpointCAS(t *testing.T) {
	ctx := context.Background()
	e := metatest.StartEtcd(t)
	s := meta.NewStore(e.Client, "cdc")
	var store corelib.CheckpointStore = s

	_, err := store.SaveCheckpoint(ctx, "missing", corelib.Checkpoint{Channel: "c"})
	require.ErrorIs(t, err, meta.ErrNotFound, "no checkpoints for a task that does not exist")
	require.ErrorIs(t, err, corelib.ErrTaskGone, "pipelines recognise a deleted task without importing meta")

	_, err = s.CreateTask(ctx, newTask("t"), nil)
	require.NoError(t, err)
	cp1, err := store.SaveCheckpoint(ctx, "t", corelib.Checkpoint{Channel: "by-dev-rootcoord-dml_0", Position: []byte("p1"), Timestamp: 1})
	require.NoError(t, err)
	_, err = store.SaveCheckpoint(ctx, "t", corelib.Checkpoint{Channel: "by-dev-rootcoord-dml_0", Position: []byte("dup"), Timestamp: 1})
	require.ErrorIs(t, err, corelib.ErrConflict, "revision 0 means create; the key exists")

	cp1.Position, cp1.Timestamp = []byte("p2"), 2
	cp2, err := store.SaveCheckpoint(ctx, "t", cp1)
	require.NoError(t, err)
	stale := cp1 // still carries the old revision
	stale.Position = []byte("stale")
	_, err = store.SaveCheckpoint(ctx, "t", stale)
	require.ErrorIs(t, err, corelib.ErrConflict)

	_, err = store.SaveCheckpoint(ctx, "t", corelib.Checkpoint{Channel: "a/b", Position: []byte("x")})
	require.NoError(t, err)
	cps, err := store.LoadCheckpoints(ctx, "t")
	require.NoError(t, err)
	require.Len(t, cps, 2)
	require.Equal(t, "a/b", cps[0].Channel)
	require.Equal(t, "by-dev-rootcoord-dml_0", cps[1].Channel)
	require.Equal(t, []byte("p2"), cps[1].Position)
	require.Equal(t, uint64(2), cps[1].Timestamp)
	require.Equal(t, cp2.Revision, cps[1].Revision)
}

func TestEmbeddedEtcdPersistsAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := metatest.StartEtcdIn(t, dir)
	_, err := meta.NewStore(e.Client, "cdc").CreateTask(ctx, newTask("keep"), nil)
	require.NoError(t, err)
	e.Stop()

	e2 := metatest.StartEtcdIn(t, dir)
	got, err := meta.NewStore(e2.Client, "cdc").GetTask(ctx, "keep")
	require.NoError(t, err)
	require.Equal(t, "keep", got.Spec.ID)
}
