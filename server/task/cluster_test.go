package task_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

type member struct {
	store   *meta.Store
	cl      *meta.Cluster
	factory *fakeFactory
	ctl     *task.Controller
	cancel  context.CancelFunc
}

func joinMember(t *testing.T, h *harness, id string) *member {
	t.Helper()
	m := &member{store: meta.NewStore(h.etcd.Client, "cdc-test"), factory: newFakeFactory()}
	cl, err := m.store.JoinCluster(context.Background(), id, id+":8444", 2*time.Second, zap.NewNop())
	require.NoError(t, err)
	m.cl = cl
	m.ctl = task.NewController(m.store, m.factory, h.limits, zap.NewNop())
	m.ctl.SetCluster(cl)
	require.NoError(t, m.ctl.Reload(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.ctl.RunCluster(ctx)
	return m
}

func (m *member) running(id string) bool {
	p := m.factory.last(id)
	return p != nil && p.isRunning()
}

// Members share tasks: the creator owns and runs its task, the others do
// not; a lost lease moves the task to another member, which starts it from
// the stored checkpoints, and the old member stops its pipeline, counts it
// and cannot write the task any more. Drain hands tasks over.
func TestClusterSharesTasksWithOneOwner(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	// b ends with both tasks while a looks fenced: rebalancing would hand
	// one back to a meanwhile (tested below).
	h.limits.NoRebalance = true
	a, b := joinMember(t, h, "a"), joinMember(t, h, "b")
	t.Cleanup(func() { a.cancel(); b.cancel() })

	v1, err := a.ctl.Create(ctx, spec("http://t1:19530", "db1", "c"))
	require.NoError(t, err)
	v2, err := b.ctl.Create(ctx, spec("http://t1:19530", "db2", "c"))
	require.NoError(t, err)
	time.Sleep(time.Second) // a few balance rounds
	require.True(t, a.running(v1.Spec.ID))
	require.Nil(t, b.factory.last(v1.Spec.ID), "one member runs a task")
	require.True(t, b.running(v2.Spec.ID))
	got, err := b.ctl.Get(ctx, v1.Spec.ID)
	require.NoError(t, err)
	require.Equal(t, "a", got.Owner)

	// A change through a non-owner is refused with not_owner.
	_, err = b.ctl.Pause(ctx, v1.Spec.ID)
	require.Error(t, err)
	require.Equal(t, task.CodeNotOwner, task.AsError(err).Code, "pause through a non-owner: %v", err)

	// a freezes (its balancer stops) and its lease goes as if it expired:
	// b takes v1; once a goes on, it stops its pipeline and is fenced.
	a.cancel()
	other := meta.NewStore(h.etcd.Client, "cdc-test")
	stale, err := other.JoinCluster(ctx, "a", "a:8444", 2*time.Second, zap.NewNop()) // revokes a's lease
	require.NoError(t, err)
	t.Cleanup(func() { stale.Leave(ctx) })
	require.Eventually(t, func() bool { return b.running(v1.Spec.ID) }, 10*time.Second, 50*time.Millisecond, "b takes the task")
	actx, acancel := context.WithCancel(ctx)
	a.cancel = acancel
	go a.ctl.RunCluster(actx)
	require.Eventually(t, func() bool { return !a.running(v1.Spec.ID) }, 10*time.Second, 50*time.Millisecond, "a stops its pipeline")
	require.EqualValues(t, 1, a.ctl.OwnershipLost())
	p := a.factory.last(v1.Spec.ID)
	_, err = p.deps.Checkpoints.SaveCheckpoint(ctx, v1.Spec.ID, corelib.Checkpoint{Channel: "by-dev-rootcoord-dml_0"})
	require.ErrorIs(t, err, corelib.ErrNotOwner)
	require.Error(t, p.deps.Guard(ctx))
	require.NoError(t, b.factory.last(v1.Spec.ID).deps.Guard(ctx))
	view, err := a.ctl.Get(ctx, v1.Spec.ID)
	require.NoError(t, err)
	require.NotEmpty(t, view.OwnershipLost)
	require.Equal(t, "b", view.Owner)

	// Drain b: a (rejoined with a new lease) takes both tasks.
	require.NoError(t, b.ctl.Drain(ctx))
	require.False(t, b.running(v1.Spec.ID))
	require.False(t, b.running(v2.Spec.ID))
	require.Eventually(t, func() bool { return a.running(v1.Spec.ID) && a.running(v2.Spec.ID) }, 10*time.Second, 50*time.Millisecond, "a takes the drained member's tasks")
	time.Sleep(time.Second)
	require.False(t, b.running(v1.Spec.ID), "a draining member takes nothing back")
}

func (m *member) runningCount(ids []string) int {
	n := 0
	for _, id := range ids {
		if m.running(id) {
			n++
		}
	}
	return n
}

// A member that joins gets tasks handed over until no member owns two more
// than another; each task runs on exactly one member throughout.
func TestClusterRebalancesWhenAMemberJoins(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	a := joinMember(t, h, "a")
	t.Cleanup(func() { a.cancel() })
	var ids []string
	for i := range 4 {
		v, err := a.ctl.Create(ctx, spec("http://t1:19530", "db", fmt.Sprintf("c%d", i)))
		require.NoError(t, err)
		ids = append(ids, v.Spec.ID)
	}
	require.Eventually(t, func() bool { return a.runningCount(ids) == 4 }, 5*time.Second, 50*time.Millisecond)

	b := joinMember(t, h, "b")
	t.Cleanup(func() { b.cancel() })
	require.Eventually(t, func() bool {
		for _, id := range ids {
			require.False(t, a.running(id) && b.running(id), "task %s runs on both members", id)
		}
		return a.runningCount(ids) == 2 && b.runningCount(ids) == 2
	}, 20*time.Second, 50*time.Millisecond, "two tasks each")
	require.EqualValues(t, 2, a.ctl.Handovers())
	require.EqualValues(t, 0, b.ctl.Handovers())

	// A drained member hands everything over and takes nothing back; once
	// undrained it gets its share again.
	require.NoError(t, b.ctl.Drain(ctx))
	require.Eventually(t, func() bool { return a.runningCount(ids) == 4 && b.runningCount(ids) == 0 }, 10*time.Second, 50*time.Millisecond, "a runs every task")
	time.Sleep(time.Second)
	require.Equal(t, 0, b.runningCount(ids), "a draining member takes nothing")
	require.NoError(t, b.ctl.Undrain(ctx))
	require.Eventually(t, func() bool { return a.runningCount(ids) == 2 && b.runningCount(ids) == 2 }, 20*time.Second, 50*time.Millisecond, "two tasks each after the undrain")
}

// A member that registers but takes nothing gets one task handed over once:
// the task comes back after the grace period and the member that handed it
// over holds rebalancing until the members change.
func TestClusterRebalanceHoldsWhenNobodyTakesTheTask(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	a := joinMember(t, h, "a")
	t.Cleanup(func() { a.cancel() })
	var ids []string
	for i := range 3 {
		v, err := a.ctl.Create(ctx, spec("http://t1:19530", "db", fmt.Sprintf("c%d", i)))
		require.NoError(t, err)
		ids = append(ids, v.Spec.ID)
	}
	idle, err := meta.NewStore(h.etcd.Client, "cdc-test").JoinCluster(ctx, "idle", "idle:8444", 2*time.Second, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { idle.Leave(ctx) })

	require.Eventually(t, func() bool { return a.ctl.Handovers() == 1 }, 10*time.Second, 50*time.Millisecond, "one handover")
	require.Eventually(t, func() bool { return a.runningCount(ids) == 3 }, 10*time.Second, 50*time.Millisecond, "the task comes back")
	time.Sleep(7 * time.Second) // longer than the time between two handovers
	require.EqualValues(t, 1, a.ctl.Handovers(), "no second handover to a member that takes nothing")
	require.Equal(t, 3, a.runningCount(ids))
}
