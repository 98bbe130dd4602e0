package meta_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/meta/metatest"
)

// Two daemons on one store: one owner per task, fenced writes, takeover
// after a lease is gone.
func TestClusterOwnershipAndFencing(t *testing.T) {
	ctx := context.Background()
	e := metatest.StartEtcd(t)
	sa, sb := meta.NewStore(e.Client, "cdc-ha"), meta.NewStore(e.Client, "cdc-ha")
	ca, err := sa.JoinCluster(ctx, "a", "127.0.0.1:1", 2*time.Second, zap.NewNop())
	require.NoError(t, err)
	cb, err := sb.JoinCluster(ctx, "b", "127.0.0.1:2", 2*time.Second, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { cb.Leave(ctx) })

	task, err := sa.CreateTask(ctx, newTask("t1"), []corelib.Checkpoint{{Channel: "ch", Position: []byte("p0")}})
	require.NoError(t, err)
	require.True(t, ca.Owns("t1"), "the creator owns the new task")
	ok, err := cb.Acquire(ctx, "t1")
	require.NoError(t, err)
	require.False(t, ok, "one owner per task")

	cps, err := sa.LoadCheckpoints(ctx, "t1")
	require.NoError(t, err)
	saved, err := sa.SaveCheckpoint(ctx, "t1", corelib.Checkpoint{Channel: "ch", Position: []byte("p1"), Revision: cps[0].Revision})
	require.NoError(t, err)
	_, err = sb.SaveCheckpoint(ctx, "t1", corelib.Checkpoint{Channel: "ch", Position: []byte("px"), Revision: saved.Revision})
	require.ErrorIs(t, err, corelib.ErrNotOwner, "a non-owner cannot move the checkpoint")
	require.Error(t, cb.Guard("t1")(ctx))
	require.NoError(t, ca.Guard("t1")(ctx))
	task.State = meta.StateRunning
	task, err = sa.UpdateTask(ctx, task)
	require.NoError(t, err)

	members, err := ca.Members(ctx)
	require.NoError(t, err)
	require.Len(t, members, 2)
	require.Equal(t, "127.0.0.1:2", members[1].Address)
	owners, err := cb.Owners(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"t1": "a"}, owners)

	// a's lease is revoked behind its back (as if it had expired): b takes
	// over, and a's next writes fail as not owner.
	stale := meta.NewStore(e.Client, "cdc-ha")
	_, err = stale.JoinCluster(ctx, "a", "127.0.0.1:1", 2*time.Second, zap.NewNop()) // revokes a's lease
	require.NoError(t, err)
	require.Eventually(t, func() bool { ok, _ := cb.Acquire(ctx, "t1"); return ok }, 5*time.Second, 50*time.Millisecond)
	_, err = sa.SaveCheckpoint(ctx, "t1", corelib.Checkpoint{Channel: "ch", Position: []byte("stale"), Revision: saved.Revision})
	require.ErrorIs(t, err, corelib.ErrNotOwner, "the old owner is fenced")
	_, err = sa.SaveSnapshot(ctx, "t1", corelib.SnapshotProgress{})
	require.ErrorIs(t, err, corelib.ErrNotOwner)
	_, err = sa.UpdateTask(ctx, task)
	require.ErrorIs(t, err, corelib.ErrNotOwner)
	require.Eventually(t, func() bool { return ca.Guard("t1")(ctx) != nil }, 5*time.Second, 50*time.Millisecond)
	cps, err = sb.LoadCheckpoints(ctx, "t1")
	require.NoError(t, err)
	require.Equal(t, []byte("p1"), cps[0].Position, "only the owner's checkpoint is stored")
	_, err = sb.SaveCheckpoint(ctx, "t1", corelib.Checkpoint{Channel: "ch", Position: []byte("p2"), Revision: cps[0].Revision})
	require.NoError(t, err)

	// Release hands the task back; delete removes the owner key.
	require.NoError(t, cb.Release(ctx, "t1"))
	owners, err = cb.Owners(ctx)
	require.NoError(t, err)
	require.Empty(t, owners)
}
