package meta_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/meta/metatest"
)

func TestSnapshotProgressCASAndDelete(t *testing.T) {
	ctx := context.Background()
	e := metatest.StartEtcd(t)
	s := meta.NewStore(e.Client, "cdc-test")
	task, err := s.CreateTask(ctx, newTask("a"), nil)
	require.NoError(t, err)

	_, ok, err := s.LoadSnapshot(ctx, "a")
	require.NoError(t, err)
	require.False(t, ok, "nothing stored yet")

	p := corelib.SnapshotProgress{Collections: []corelib.CollectionSnapshot{{ID: 7, Database: "db", Name: "c", State: corelib.SnapshotCopying,
		Total: 10, Copied: 4, Partitions: []corelib.PartitionSnapshot{{Name: "_default", After: "41", Copied: 4}}}}}
	saved, err := s.SaveSnapshot(ctx, "a", p)
	require.NoError(t, err)
	require.Positive(t, saved.Revision)
	_, err = s.SaveSnapshot(ctx, "a", p)
	require.ErrorIs(t, err, corelib.ErrConflict, "a second writer from the same read loses")

	got, ok, err := s.LoadSnapshot(ctx, "a")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, saved, got)

	require.NoError(t, s.DeleteTask(ctx, "a", task.Revision))
	_, ok, err = s.LoadSnapshot(ctx, "a")
	require.NoError(t, err)
	require.False(t, ok, "the progress goes with the task")
	_, err = s.SaveSnapshot(ctx, "a", got)
	require.ErrorIs(t, err, corelib.ErrTaskGone, "a pipeline outliving the delete cannot bring it back")
}
