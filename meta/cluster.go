package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// Membership and ownership, used when several daemons share one external
// etcd. Layout under the root, next to the tasks:
//
//	{root}/members/{memberID}   JSON Member, bound to the member's lease
//	{root}/owners/{taskID}      the owning member's ID, bound to its lease
//
// An owner key is created only if absent (one owner per task); it vanishes
// with its lease, so a daemon that dies or stops answering loses its tasks
// after the lease TTL. Every checkpoint, snapshot-progress and task write of
// a store with a Cluster compares the owner key's create revision with the
// one this daemon created (fencing): a daemon that lost a task can never
// move its checkpoints once another daemon took it.

// Member is one daemon of a cluster as it registered itself.
type Member struct {
	ID string `json:"id"`
	// Address is the advertised API address (host:port or a URL).
	Address   string    `json:"address"`
	StartedAt time.Time `json:"startedAt"`
	// Draining: the member hands its tasks over and takes none.
	Draining bool `json:"draining,omitempty"`
	// LeaseTTL is the remaining time to live of the member's lease when it
	// was read (filled by Members; zero when unknown).
	LeaseTTL time.Duration `json:"-"`
}

// Cluster is this daemon's membership: its lease, kept alive in the
// background, and the tasks it owns.
type Cluster struct {
	cli     *clientv3.Client
	root    string
	self    Member
	ttl     time.Duration
	lg      *zap.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	lease   clientv3.LeaseID
	renewed time.Time        // last keep-alive answer
	owned   map[string]int64 // task ID → create revision of its owner key
	lost    chan struct{}    // closed when the current lease is lost
}

func memberPrefix(root string) string { return root + "/members/" }
func ownerPrefix(root string) string  { return root + "/owners/" }

func (c *Cluster) memberKey(id string) string  { return memberPrefix(c.root) + id }
func (c *Cluster) ownerKey(task string) string { return ownerPrefix(c.root) + task }

// JoinCluster registers this daemon (id, advertised address) under the
// store's root with a lease of ttl and keeps the lease alive until Leave. A
// lease the same member ID still holds from a previous run is revoked first,
// so a restarted daemon's tasks are taken over at once. The store's writes
// are fenced from then on.
func (s *Store) JoinCluster(ctx context.Context, id, address string, ttl time.Duration, lg *zap.Logger) (*Cluster, error) {
	if ttl < 2*time.Second {
		return nil, fmt.Errorf("cluster lease TTL %s: must be at least 2s", ttl)
	}
	c := &Cluster{
		cli: s.cli, root: s.root, ttl: ttl, lg: lg.Named("cluster"),
		self:  Member{ID: id, Address: address, StartedAt: time.Now().UTC()},
		owned: map[string]int64{}, done: make(chan struct{}),
	}
	if resp, err := s.cli.Get(ctx, c.memberKey(id)); err == nil && len(resp.Kvs) == 1 && resp.Kvs[0].Lease != 0 {
		if _, err := s.cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err == nil {
			c.lg.Info("revoked the lease of this member's previous run", zap.String("member", id))
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	ka, err := c.register(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	go c.keepAlive(ka)
	s.cluster = c
	return c, nil
}

// register grants a new lease and puts the member key with it.
func (c *Cluster) register(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	grant, err := c.cli.Grant(ctx, int64((c.ttl+time.Second-1)/time.Second))
	if err != nil {
		return nil, fmt.Errorf("grant the membership lease: %w", err)
	}
	c.mu.Lock()
	self := c.self
	c.mu.Unlock()
	val, err := json.Marshal(self)
	if err != nil {
		return nil, err
	}
	if _, err := c.cli.Put(ctx, c.memberKey(self.ID), string(val), clientv3.WithLease(grant.ID)); err != nil {
		return nil, fmt.Errorf("register member %s: %w", c.self.ID, err)
	}
	c.mu.Lock()
	c.lease, c.renewed, c.lost = grant.ID, time.Now(), make(chan struct{})
	c.mu.Unlock()
	ka, err := c.cli.KeepAlive(c.ctx, grant.ID)
	if err != nil {
		return nil, fmt.Errorf("keep the membership lease alive: %w", err)
	}
	c.lg.Info("joined the cluster", zap.String("member", c.self.ID), zap.String("address", c.self.Address),
		zap.Duration("lease_ttl", c.ttl), zap.String("lease", fmt.Sprintf("%x", grant.ID)))
	return ka, nil
}

// keepAlive records each renewal; when the lease is lost (expired, or not
// renewed within its TTL) it forgets every owned task, says so, and
// registers again with a new lease.
func (c *Cluster) keepAlive(ka <-chan *clientv3.LeaseKeepAliveResponse) {
	defer close(c.done)
	for {
		for range ka {
			c.mu.Lock()
			c.renewed = time.Now()
			c.mu.Unlock()
		}
		if c.ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		n := len(c.owned)
		c.owned = map[string]int64{}
		c.lease = 0
		close(c.lost)
		c.mu.Unlock()
		c.lg.Error("the membership lease was lost; this daemon no longer owns its tasks", zap.String("member", c.self.ID), zap.Int("tasks", n))
		for backoff := 200 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			rctx, cancel := context.WithTimeout(c.ctx, c.ttl)
			next, err := c.register(rctx)
			cancel()
			if err == nil {
				ka = next
				break
			}
			if c.ctx.Err() != nil {
				return
			}
			c.lg.Warn("cannot join the cluster again", zap.Error(err), zap.Duration("backoff", backoff))
			select {
			case <-time.After(backoff):
			case <-c.ctx.Done():
				return
			}
		}
	}
}

// SetDraining marks this member as draining (it takes no task) in its
// registration, or, with false, as taking tasks again.
func (c *Cluster) SetDraining(ctx context.Context, draining bool) error {
	c.mu.Lock()
	c.self.Draining = draining
	self, lease := c.self, c.lease
	c.mu.Unlock()
	val, err := json.Marshal(self)
	if err != nil {
		return err
	}
	if lease == 0 {
		return nil // registered again, draining, by the keep-alive
	}
	if _, err := c.cli.Put(ctx, c.memberKey(self.ID), string(val), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("mark member %s draining=%t: %w", self.ID, draining, err)
	}
	return nil
}

// Draining reports whether this member drains.
func (c *Cluster) Draining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self.Draining
}

// ID is this member's ID.
func (c *Cluster) ID() string { return c.self.ID }

// Self is this member as registered.
func (c *Cluster) Self() Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self
}

// TTL is the lease TTL.
func (c *Cluster) TTL() time.Duration { return c.ttl }

// Lost is closed when the current lease is lost; call again for the next.
func (c *Cluster) Lost() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// leaseMargin is how long before the lease's expiry as this daemon sees it
// (last renewal answer + TTL) it stops writing: the server renewed the lease
// a little earlier than the answer arrived.
func (c *Cluster) leaseMargin() time.Duration { return min(500*time.Millisecond, c.ttl/4) }

// validLocked: the lease was renewed recently enough that it cannot have
// expired on the server.
func (c *Cluster) validLocked() error {
	if c.lease == 0 {
		return fmt.Errorf("the membership lease is lost: %w", corelib.ErrNotOwner)
	}
	if age := time.Since(c.renewed); age >= c.ttl-c.leaseMargin() {
		return fmt.Errorf("the membership lease was last renewed %s ago (TTL %s): %w", age.Round(time.Millisecond), c.ttl, corelib.ErrNotOwner)
	}
	return nil
}

// Owns reports whether this daemon holds the task's owner key (as far as it
// knows: Guard and the store's fencing check more).
func (c *Cluster) Owns(task string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.owned[task]
	return ok
}

func (c *Cluster) ownedRev(task string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rev, ok := c.owned[task]
	return rev, ok
}

func (c *Cluster) forget(task string, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.owned[task] == rev {
		delete(c.owned, task)
	}
}

// Guard returns the check made before every target call of the task's
// pipeline: the lease is fresh and the task still owned, else an error
// wrapping corelib.ErrNotOwner.
func (c *Cluster) Guard(task string) func(context.Context) error {
	return func(context.Context) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := c.validLocked(); err != nil {
			return err
		}
		if _, ok := c.owned[task]; !ok {
			return fmt.Errorf("task %s is owned by another daemon: %w", task, corelib.ErrNotOwner)
		}
		return nil
	}
}

// Acquire takes the task's owner key if nobody holds it (true), or reports
// whether this daemon already does.
func (c *Cluster) Acquire(ctx context.Context, task string) (bool, error) {
	c.mu.Lock()
	if _, ok := c.owned[task]; ok {
		c.mu.Unlock()
		return true, nil
	}
	if err := c.validLocked(); err != nil {
		c.mu.Unlock()
		return false, nil
	}
	lease := c.lease
	c.mu.Unlock()
	key := c.ownerKey(task)
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, c.self.ID, clientv3.WithLease(lease))).
		Commit()
	if err != nil {
		return false, fmt.Errorf("take task %s: %w", task, err)
	}
	if !resp.Succeeded {
		return false, nil
	}
	c.mu.Lock()
	c.owned[task] = resp.Header.Revision
	c.mu.Unlock()
	c.lg.Info("took ownership of the task", zap.String("task_id", task), zap.String("member", c.self.ID))
	return true, nil
}

// Release deletes the task's owner key if this daemon still holds it.
func (c *Cluster) Release(ctx context.Context, task string) error {
	rev, ok := c.ownedRev(task)
	if !ok {
		return nil
	}
	key := c.ownerKey(task)
	_, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("release task %s: %w", task, err)
	}
	c.forget(task, rev)
	c.lg.Info("released the task", zap.String("task_id", task))
	return nil
}

// Owned lists the tasks this daemon owns, sorted.
func (c *Cluster) Owned() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.owned))
	for id := range c.owned {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Members lists the registered members with their lease's remaining TTL,
// sorted by ID.
func (c *Cluster) Members(ctx context.Context) ([]Member, error) {
	resp, err := c.cli.Get(ctx, memberPrefix(c.root), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	out := make([]Member, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var m Member
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			return nil, fmt.Errorf("decode member %s: %w", kv.Key, err)
		}
		if kv.Lease != 0 {
			if ttl, err := c.cli.TimeToLive(ctx, clientv3.LeaseID(kv.Lease)); err == nil && ttl.TTL > 0 {
				m.LeaseTTL = time.Duration(ttl.TTL) * time.Second
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Owners maps every owned task to its owner's member ID.
func (c *Cluster) Owners(ctx context.Context) (map[string]string, error) {
	resp, err := c.cli.Get(ctx, ownerPrefix(c.root), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list task owners: %w", err)
	}
	out := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), ownerPrefix(c.root))] = string(kv.Value)
	}
	return out, nil
}

// Leave releases every owned task, revokes the lease (the member key goes
// with it) and stops the keep-alive.
func (c *Cluster) Leave(ctx context.Context) {
	for _, id := range c.Owned() {
		if err := c.Release(ctx, id); err != nil {
			c.lg.Warn("cannot release a task", zap.String("task_id", id), zap.Error(err))
		}
	}
	c.mu.Lock()
	lease := c.lease
	c.mu.Unlock()
	c.cancel()
	<-c.done
	if lease != 0 {
		if _, err := c.cli.Revoke(ctx, lease); err != nil {
			c.lg.Warn("cannot revoke the membership lease", zap.Error(err))
		}
	}
	c.lg.Info("left the cluster", zap.String("member", c.self.ID))
}

// ownerCmp is the fencing comparison of a write for task: its owner key
// still has the create revision this daemon made it with. Without a cluster
// there is none; a task this daemon does not own fails with ErrNotOwner.
func (s *Store) ownerCmp(task string) ([]clientv3.Cmp, int64, error) {
	if s.cluster == nil {
		return nil, 0, nil
	}
	rev, ok := s.cluster.ownedRev(task)
	if !ok {
		return nil, 0, fmt.Errorf("task %s: %w", task, corelib.ErrNotOwner)
	}
	return []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.cluster.ownerKey(task)), "=", rev)}, rev, nil
}

// notOwner tells from a failed fenced transaction's Else branch (whose
// ownerAt-th response reads the owner key) whether ownership was lost; it
// forgets the task then.
func (s *Store) notOwner(task string, rev int64, resp *clientv3.TxnResponse, ownerAt int) error {
	if s.cluster == nil || len(resp.Responses) <= ownerAt {
		return nil
	}
	kvs := resp.Responses[ownerAt].GetResponseRange().GetKvs()
	if len(kvs) == 1 && kvs[0].CreateRevision == rev {
		return nil
	}
	s.cluster.forget(task, rev)
	holder := "nobody"
	if len(kvs) == 1 {
		holder = string(kvs[0].Value)
	}
	return fmt.Errorf("task %s is now owned by %s: %w", task, holder, corelib.ErrNotOwner)
}
