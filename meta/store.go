// Package meta is the daemon's task store in etcd: task definitions with their
// state, and per-task per-channel checkpoints. Every write is a
// compare-and-swap on the key's ModRevision, so two writers (two daemons, or a
// pipeline racing a delete) never silently overwrite each other.
//
// Layout under the configured root:
//
//	{root}/tasks/{taskID}                   JSON Task
//	{root}/checkpoints/{taskID}/{channel}   JSON corelib.Checkpoint
//	{root}/snapshots/{taskID}               JSON corelib.SnapshotProgress
package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/internal/keyring"
)

// ErrNotFound means the task (or checkpoint) does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict means a compare-and-swap failed: the key changed (or came into
// existence) since it was read. It is corelib.ErrConflict so that pipelines
// can test for it without importing this package.
var ErrConflict = corelib.ErrConflict

// State is a task's lifecycle state; the strings are milvus-cdc's.
type State string

// Task states.
const (
	StateInitial State = "Initial"
	StateRunning State = "Running"
	StatePaused  State = "Paused"
	// StateFailed: the pipeline stopped on an error retrying cannot fix
	// (corelib.ErrPermanent); Reason has the error. Not milvus-cdc's: its
	// /cdc API shows it as Paused. Resume retries the task.
	StateFailed State = "Failed"
)

// Task is a stored task: its specification plus its lifecycle state.
type Task struct {
	Spec  corelib.TaskSpec `json:"spec"`
	State State            `json:"state"`
	// Reason explains a Paused state (milvus-cdc's texts where it has one).
	Reason string `json:"reason,omitempty"`
	// PausedByUser marks a pause requested through the API: such a task stays
	// paused across daemon restarts.
	PausedByUser bool      `json:"pausedByUser,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	// Revision is the etcd ModRevision the task was read or written at; the
	// next update must carry it.
	Revision int64 `json:"-"`
}

// Store is the etcd task store.
type Store struct {
	cli  *clientv3.Client
	root string
	keys *keyring.Keyring // seals task secrets when set (secrets.go)
	// cluster, when set, fences every write by task ownership (cluster.go).
	cluster *Cluster
}

// NewStore returns a store keeping its keys under root (no trailing slash needed).
func NewStore(cli *clientv3.Client, root string) *Store {
	return &Store{cli: cli, root: strings.TrimRight(root, "/")}
}

func (s *Store) taskKey(id string) string { return s.root + "/tasks/" + id }
func (s *Store) taskPrefix() string       { return s.root + "/tasks/" }
func (s *Store) checkpointPrefix(id string) string {
	return s.root + "/checkpoints/" + id + "/"
}
func (s *Store) checkpointKey(id, channel string) string {
	// Channel names never contain '/', but escape so that one cannot escape the prefix.
	return s.checkpointPrefix(id) + url.PathEscape(channel)
}

// Ping checks that etcd answers a linearizable read.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.cli.Get(ctx, s.taskKey("\x00ping"), clientv3.WithCountOnly()); err != nil {
		return fmt.Errorf("meta store unreachable: %w", err)
	}
	return nil
}

// CreateTask stores a new task and its initial checkpoints in one
// transaction. It fails with ErrConflict if the id is taken.
func (s *Store) CreateTask(ctx context.Context, t Task, initial []corelib.Checkpoint) (Task, error) {
	now := time.Now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	val, err := s.encodeTask(t)
	if err != nil {
		return Task{}, fmt.Errorf("encode task %s: %w", t.Spec.ID, err)
	}
	key := s.taskKey(t.Spec.ID)
	ops := []clientv3.Op{clientv3.OpPut(key, string(val))}
	for _, cp := range initial {
		cv, err := json.Marshal(cp)
		if err != nil {
			return Task{}, fmt.Errorf("encode checkpoint %s: %w", cp.Channel, err)
		}
		ops = append(ops, clientv3.OpPut(s.checkpointKey(t.Spec.ID, cp.Channel), string(cv)))
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
	if c := s.cluster; c != nil {
		// The creating daemon owns the new task from the first revision on.
		c.mu.Lock()
		lease := c.lease
		c.mu.Unlock()
		if lease == 0 {
			return Task{}, fmt.Errorf("create task %s: %w", t.Spec.ID, corelib.ErrNotOwner)
		}
		okey := c.ownerKey(t.Spec.ID)
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(okey), "=", 0))
		ops = append(ops, clientv3.OpPut(okey, c.self.ID, clientv3.WithLease(lease)))
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return Task{}, fmt.Errorf("put task %s: %w", t.Spec.ID, err)
	}
	if !resp.Succeeded {
		return Task{}, fmt.Errorf("task %s already exists: %w", t.Spec.ID, ErrConflict)
	}
	if c := s.cluster; c != nil {
		c.mu.Lock()
		c.owned[t.Spec.ID] = resp.Header.Revision
		c.mu.Unlock()
	}
	t.Revision = resp.Header.Revision
	return t, nil
}

// GetTask reads one task.
func (s *Store) GetTask(ctx context.Context, id string) (Task, error) {
	resp, err := s.cli.Get(ctx, s.taskKey(id))
	if err != nil {
		return Task{}, fmt.Errorf("get task %s: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return Task{}, fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	return s.decodeTask(resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

// ListTasks reads every task, oldest first.
func (s *Store) ListTasks(ctx context.Context) ([]Task, error) {
	resp, err := s.cli.Get(ctx, s.taskPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	tasks := make([]Task, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		t, err := s.decodeTask(kv.Value, kv.ModRevision)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	sort.SliceStable(tasks, func(i, j int) bool {
		if !tasks[i].CreatedAt.Equal(tasks[j].CreatedAt) {
			return tasks[i].CreatedAt.Before(tasks[j].CreatedAt)
		}
		return tasks[i].Spec.ID < tasks[j].Spec.ID
	})
	return tasks, nil
}

// UpdateTask writes t if the stored task is still at t.Revision, and returns
// it with the new revision. ErrNotFound if it was deleted, ErrConflict if
// someone else changed it.
func (s *Store) UpdateTask(ctx context.Context, t Task) (Task, error) {
	t.UpdatedAt = time.Now().UTC()
	val, err := s.encodeTask(t)
	if err != nil {
		return Task{}, fmt.Errorf("encode task %s: %w", t.Spec.ID, err)
	}
	key := s.taskKey(t.Spec.ID)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", t.Revision)}
	elses := []clientv3.Op{clientv3.OpGet(key, clientv3.WithCountOnly())}
	rev := int64(0)
	if c := s.cluster; c != nil {
		// The owner changes its task; a task nobody owns (its owner died)
		// may be changed by any member.
		rev, _ = c.ownedRev(t.Spec.ID)
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(c.ownerKey(t.Spec.ID)), "=", rev))
		elses = append(elses, clientv3.OpGet(c.ownerKey(t.Spec.ID)))
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(clientv3.OpPut(key, string(val))).Else(elses...).Commit()
	if err != nil {
		return Task{}, fmt.Errorf("update task %s: %w", t.Spec.ID, err)
	}
	if !resp.Succeeded {
		if err := s.casFailure(t.Spec.ID, resp); !errors.Is(err, ErrConflict) {
			return Task{}, err
		}
		if err := s.notOwner(t.Spec.ID, rev, resp, 1); err != nil {
			return Task{}, err
		}
		return Task{}, s.casFailure(t.Spec.ID, resp)
	}
	t.Revision = resp.Header.Revision
	return t, nil
}

// DeleteTask removes the task, its checkpoints and its snapshot progress in
// one transaction, if the task is still at revision.
func (s *Store) DeleteTask(ctx context.Context, id string, revision int64) error {
	key := s.taskKey(id)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", revision)).
		Then(clientv3.OpDelete(key), clientv3.OpDelete(s.checkpointPrefix(id), clientv3.WithPrefix()), clientv3.OpDelete(s.snapshotKey(id)),
			clientv3.OpDelete(ownerPrefix(s.root)+id)).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return fmt.Errorf("delete task %s: %w", id, err)
	}
	if !resp.Succeeded {
		return s.casFailure(id, resp)
	}
	return nil
}

// casFailure tells a deleted key from a changed one using the Else branch's count.
func (s *Store) casFailure(id string, resp *clientv3.TxnResponse) error {
	if len(resp.Responses) > 0 && resp.Responses[0].GetResponseRange().GetCount() == 0 {
		return fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	return fmt.Errorf("task %s changed since it was read: %w", id, ErrConflict)
}

// LoadCheckpoints returns every checkpoint of a task, sorted by channel, each
// with its Revision. It implements corelib.CheckpointStore.
func (s *Store) LoadCheckpoints(ctx context.Context, taskID string) ([]corelib.Checkpoint, error) {
	resp, err := s.cli.Get(ctx, s.checkpointPrefix(taskID), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("load checkpoints of task %s: %w", taskID, err)
	}
	cps := make([]corelib.Checkpoint, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var cp corelib.Checkpoint
		if err := json.Unmarshal(kv.Value, &cp); err != nil {
			return nil, fmt.Errorf("decode checkpoint %s: %w", kv.Key, err)
		}
		cp.Revision = kv.ModRevision
		cps = append(cps, cp)
	}
	return cps, nil
}

// SaveCheckpoint writes one checkpoint with compare-and-swap on cp.Revision
// (0 = must not exist), and only while the task exists, so a pipeline that
// outlives a delete cannot resurrect checkpoints. It implements
// corelib.CheckpointStore.
func (s *Store) SaveCheckpoint(ctx context.Context, taskID string, cp corelib.Checkpoint) (corelib.Checkpoint, error) {
	val, err := json.Marshal(cp)
	if err != nil {
		return corelib.Checkpoint{}, fmt.Errorf("encode checkpoint %s: %w", cp.Channel, err)
	}
	key := s.checkpointKey(taskID, cp.Channel)
	taskKey := s.taskKey(taskID)
	fence, rev, err := s.ownerCmp(taskID)
	if err != nil {
		return corelib.Checkpoint{}, err
	}
	resp, err := s.cli.Txn(ctx).
		If(append(fence,
			clientv3.Compare(clientv3.CreateRevision(taskKey), ">", 0),
			clientv3.Compare(clientv3.ModRevision(key), "=", cp.Revision),
		)...).
		Then(clientv3.OpPut(key, string(val))).
		Else(s.fencedElse(taskKey, taskID)...).
		Commit()
	if err != nil {
		return corelib.Checkpoint{}, fmt.Errorf("save checkpoint %s of task %s: %w", cp.Channel, taskID, err)
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().GetCount() == 0 {
			return corelib.Checkpoint{}, fmt.Errorf("task %s: %w: %w", taskID, ErrNotFound, corelib.ErrTaskGone)
		}
		if err := s.notOwner(taskID, rev, resp, 1); err != nil {
			return corelib.Checkpoint{}, err
		}
		return corelib.Checkpoint{}, fmt.Errorf("checkpoint %s of task %s: %w", cp.Channel, taskID, ErrConflict)
	}
	cp.Revision = resp.Header.Revision
	return cp, nil
}

// fencedElse is the Else branch of a fenced write: the task's count, then
// (with a cluster) its owner key.
func (s *Store) fencedElse(taskKey, taskID string) []clientv3.Op {
	ops := []clientv3.Op{clientv3.OpGet(taskKey, clientv3.WithCountOnly())}
	if s.cluster != nil {
		ops = append(ops, clientv3.OpGet(s.cluster.ownerKey(taskID)))
	}
	return ops
}

var _ corelib.CheckpointStore = (*Store)(nil)
