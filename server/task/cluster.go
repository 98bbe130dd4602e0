package task

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
)

// Cluster is this daemon's membership when several daemons share the task
// store (meta.Cluster): each task has one owner, which alone runs it.
type Cluster interface {
	ID() string
	Self() meta.Member
	TTL() time.Duration
	Acquire(ctx context.Context, taskID string) (bool, error)
	Release(ctx context.Context, taskID string) error
	Owns(taskID string) bool
	Owned() []string
	Guard(taskID string) func(context.Context) error
	Members(ctx context.Context) ([]meta.Member, error)
	Owners(ctx context.Context) (map[string]string, error)
	Lost() <-chan struct{}
	Leave(ctx context.Context)
	SetDraining(ctx context.Context, draining bool) error
	Draining() bool
}

// balanceInterval is how often a member looks for tasks nobody owns and
// for pipelines it no longer owns.
const balanceInterval = 500 * time.Millisecond

// ownership is what the controller remembers of lost tasks, for status.
type ownership struct {
	mu   sync.Mutex
	lost map[string]string // task ID → why this daemon stopped it
	n    int64
	// unowned is when this member first saw each task without an owner.
	unowned map[string]time.Time
	// Rebalancing: when this member last handed a task over, which tasks it
	// handed over, and, once one of them came back because no other member
	// took it, the member set for which rebalancing is held.
	handedAt  time.Time
	handed    map[string]bool
	heldFor   string
	handovers int64
}

// unownedGrace is how long a task may stay unowned before any member takes
// it, whatever the counts: a member that registered but takes nothing (stuck,
// or between leases) must not hold tasks back.
const unownedGrace = 2 * time.Second

// waitedLong notes tasks without an owner and reports whether id has been
// without one for longer than unownedGrace; owned tasks are forgotten.
func (o *ownership) waitedLong(id string, owned bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.unowned == nil {
		o.unowned = map[string]time.Time{}
	}
	if owned {
		delete(o.unowned, id)
		return false
	}
	since, ok := o.unowned[id]
	if !ok {
		o.unowned[id] = time.Now()
		return false
	}
	return time.Since(since) > unownedGrace
}

func (o *ownership) record(id, why string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.lost == nil {
		o.lost = map[string]string{}
	}
	o.lost[id] = why
	o.n++
}

func (o *ownership) clear(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.lost, id)
}

func (o *ownership) reason(id string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lost[id]
}

// SetCluster makes the controller share the tasks with the other members:
// call it before Reload, then run RunCluster.
func (c *Controller) SetCluster(cl Cluster) { c.cluster = cl }

// Cluster is the membership, nil for a daemon that runs alone.
func (c *Controller) Cluster() Cluster { return c.cluster }

// OwnershipLost counts the pipelines this daemon stopped because it no
// longer owned their task.
func (c *Controller) OwnershipLost() int64 {
	c.own.mu.Lock()
	defer c.own.mu.Unlock()
	return c.own.n
}

// RunCluster takes tasks nobody owns (fewest tasks first), stops pipelines
// whose task this daemon no longer owns, and, when the lease is lost, stops
// every pipeline. It returns when ctx ends.
func (c *Controller) RunCluster(ctx context.Context) {
	t := time.NewTicker(balanceInterval)
	defer t.Stop()
	for {
		lost := c.cluster.Lost()
		select {
		case <-ctx.Done():
			return
		case <-lost:
			c.stopUnowned("the membership lease was lost")
			// wait for the next lease before looking again
			for c.cluster.Lost() == lost && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
		case <-t.C:
			c.balanceOnce(ctx)
		}
	}
}

// stopUnowned stops every pipeline whose task this daemon does not own.
func (c *Controller) stopUnowned(why string) {
	c.pmu.RLock()
	var ids []string
	for id := range c.pipelines {
		if !c.cluster.Owns(id) {
			ids = append(ids, id)
		}
	}
	c.pmu.RUnlock()
	sort.Strings(ids)
	for _, id := range ids {
		c.mu.Lock()
		if !c.cluster.Owns(id) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c.stopLocked(ctx, id)
			cancel()
			c.own.record(id, why)
			c.lg.Error("pipeline stopped: this daemon no longer owns the task", zap.String("task_id", id), zap.String("member", c.cluster.ID()), zap.String("reason", why))
		}
		c.mu.Unlock()
	}
}

// balanceOnce takes at most one task nobody owns; it reports whether it did.
func (c *Controller) balanceOnce(ctx context.Context) bool {
	rctx, cancel := context.WithTimeout(ctx, c.limits.StoreReadTimeout)
	defer cancel()
	owners, err := c.cluster.Owners(rctx)
	if err != nil {
		return false
	}
	me := c.cluster.ID()
	// A pipeline runs only where its owner key is.
	c.pmu.RLock()
	var gone []string
	for id := range c.pipelines {
		if owners[id] != me || !c.cluster.Owns(id) {
			gone = append(gone, id)
		}
	}
	c.pmu.RUnlock()
	if len(gone) > 0 {
		c.stopUnowned("another daemon owns the task, or nobody does")
	}
	// A pipeline stopped by its guard (the lease looked stale) while the
	// owner key stayed this daemon's starts again.
	for _, id := range c.cluster.Owned() {
		if _, running := c.pipeline(id); !running && owners[id] == me && c.own.reason(id) != "" {
			c.own.clear(id)
			c.lg.Info("this daemon still owns the task; starting it again", zap.String("task_id", id))
			c.reloadOne(ctx, id)
		}
	}
	c.own.takenElsewhere(owners, me)
	members, err := c.cluster.Members(rctx)
	if err != nil {
		return false
	}
	if c.cluster.Draining() {
		return false
	}
	counts := map[string]int{}
	for _, m := range members {
		if !m.Draining {
			counts[m.ID] = 0
		}
	}
	if _, ok := counts[me]; !ok {
		return false // not registered (between leases)
	}
	for _, o := range owners {
		if _, ok := counts[o]; ok {
			counts[o]++
		}
	}
	fewest := counts[me]
	for _, n := range counts {
		fewest = min(fewest, n)
	}
	tasks, err := c.store.ListTasks(rctx)
	if err != nil {
		return false
	}
	for _, t := range tasks {
		_, owned := owners[t.Spec.ID]
		waited := c.own.waitedLong(t.Spec.ID, owned)
		if owned || (counts[me] > fewest && !waited) {
			continue // a member with fewer tasks takes it first
		}
		ok, err := c.cluster.Acquire(ctx, t.Spec.ID)
		if err != nil || !ok {
			return false
		}
		c.own.tookBack(t.Spec.ID, memberSet(counts))
		c.own.clear(t.Spec.ID)
		c.reloadOne(ctx, t.Spec.ID)
		return true // one per round, so that the counts settle
	}
	c.rebalance(ctx, counts, fewest)
	return false
}

// rebalanceEvery is the least time between two handovers of one member: the
// member with the fewest tasks takes a released task within a balance round
// or two, and the counts settle before the next one.
const rebalanceEvery = 5 * time.Second

// rebalance hands one task over when this member owns at least two more
// than the member with the fewest (one that joined, or came back after a
// restart): it stops the pipeline (its last checkpoints are written) and
// releases the task, which the member with the fewest takes first. A task
// that came back because no other member took it holds rebalancing until
// the set of members changes, so that a member that takes nothing cannot
// make tasks stop and start over and over.
func (c *Controller) rebalance(ctx context.Context, counts map[string]int, fewest int) {
	me := c.cluster.ID()
	if c.limits.NoRebalance || counts[me] < fewest+2 || !c.own.mayHandOver(memberSet(counts)) {
		return
	}
	owned := c.cluster.Owned()
	if len(owned) == 0 {
		return
	}
	sort.Strings(owned)
	id := owned[len(owned)-1]
	if err := c.handOver(ctx, id, counts[me], fewest); err != nil {
		c.lg.Warn("cannot release the task; it stays here", zap.String("task_id", id), zap.Error(err))
		c.reloadOne(ctx, id)
	}
}

// handOver stops the task's pipeline and releases the task.
func (c *Controller) handOver(ctx context.Context, id string, here, fewest int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.cluster.Owns(id) {
		return nil
	}
	c.lg.Info("handing a task over to even out the members' tasks", zap.String("task_id", id), zap.String("member", c.cluster.ID()),
		zap.Int("tasks_here", here), zap.Int("fewest_on_a_member", fewest))
	c.stopLocked(ctx, id)
	if err := c.cluster.Release(ctx, id); err != nil {
		return err
	}
	c.own.handedOver(id)
	return nil
}

// takenElsewhere forgets the handed-over tasks another member owns now.
func (o *ownership) takenElsewhere(owners map[string]string, me string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id := range o.handed {
		if owner := owners[id]; owner != "" && owner != me {
			delete(o.handed, id)
		}
	}
}

// memberSet names the live members, in order.
func memberSet(counts map[string]int) string {
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// mayHandOver reports whether this member may hand a task over now.
func (o *ownership) mayHandOver(members string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.heldFor != "" && o.heldFor != members {
		o.heldFor = "" // the members changed: try again
	}
	return o.heldFor == "" && time.Since(o.handedAt) >= rebalanceEvery
}

func (o *ownership) handedOver(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.handed == nil {
		o.handed = map[string]bool{}
	}
	o.handed[id] = true
	o.handedAt = time.Now()
	o.handovers++
}

// tookBack notes that this member took a task again; a task it had handed
// over holds rebalancing among these members.
func (o *ownership) tookBack(id, members string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.handed[id] {
		o.heldFor = members
	}
	delete(o.handed, id)
}

// Handovers counts the tasks this member handed over to even out the
// members' tasks.
func (c *Controller) Handovers() int64 {
	c.own.mu.Lock()
	defer c.own.mu.Unlock()
	return c.own.handovers
}

// reloadCluster is Reload for a member: it takes tasks nobody owns while
// it has the fewest, so that a daemon alone on its store starts every task
// before it says it is ready, as without a cluster.
func (c *Controller) reloadCluster(ctx context.Context) error {
	for c.balanceOnce(ctx) {
	}
	return ctx.Err()
}

// Drain hands this member's tasks over to the others: it takes no task
// from then on (until it is restarted), stops each owned pipeline (its last
// checkpoints are written) and releases the task.
func (c *Controller) Drain(ctx context.Context) error {
	if c.cluster == nil {
		return Errorf(CodeUnsupported, "this daemon is not in a cluster (its task store is the embedded etcd)")
	}
	if err := c.cluster.SetDraining(ctx, true); err != nil {
		return wrap(storeCode(err), err, "fail to mark this member draining: %v", err)
	}
	c.lg.Info("draining: handing every task over to the other members", zap.String("member", c.cluster.ID()), zap.Int("tasks", len(c.cluster.Owned())))
	c.drain(ctx)
	return nil
}

// Undrain ends a drain: the member takes tasks again (the others hand
// tasks over to it while it owns two fewer than one of them).
func (c *Controller) Undrain(ctx context.Context) error {
	if c.cluster == nil {
		return Errorf(CodeUnsupported, "this daemon is not in a cluster (its task store is the embedded etcd)")
	}
	if err := c.cluster.SetDraining(ctx, false); err != nil {
		return wrap(storeCode(err), err, "fail to mark this member taking tasks again: %v", err)
	}
	c.lg.Info("drain ended: this member takes tasks again", zap.String("member", c.cluster.ID()))
	return nil
}

// drain stops every owned pipeline (saving its last checkpoints) and
// releases its task, so that the other members take it at once.
func (c *Controller) drain(ctx context.Context) {
	for _, id := range c.cluster.Owned() {
		c.mu.Lock()
		c.stopLocked(ctx, id)
		if err := c.cluster.Release(ctx, id); err != nil {
			c.lg.Warn("cannot release the task", zap.String("task_id", id), zap.Error(err))
		}
		c.mu.Unlock()
	}
}

// lostOwnership handles a pipeline that stopped on corelib.ErrNotOwner: the
// task is someone else's now; its stored state is not touched.
func (c *Controller) lostOwnership(ctx context.Context, id string, cause error) {
	c.stopLocked(ctx, id)
	c.own.record(id, cause.Error())
	c.lg.Error("pipeline stopped: this daemon no longer owns the task; the new owner resumes it from the stored checkpoints",
		zap.String("task_id", id), zap.String("member", c.cluster.ID()), zap.Error(cause))
}

// acquireLocked makes sure this daemon owns the task before it starts it.
func (c *Controller) acquireLocked(ctx context.Context, id string) error {
	if c.cluster == nil {
		return nil
	}
	ok, err := c.cluster.Acquire(ctx, id)
	if err != nil {
		return wrap(storeCode(err), err, "fail to take the task, task_id: %s: %v", id, err)
	}
	if !ok {
		return wrap(CodeNotOwner, corelib.ErrNotOwner, "the task %s is owned by another daemon", id)
	}
	c.own.clear(id)
	return nil
}

// isNotOwner reports whether err says this daemon does not own the task.
func isNotOwner(err error) bool { return errors.Is(err, corelib.ErrNotOwner) }
