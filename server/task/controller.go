// Package task is the service layer shared by the /cdc compatibility API and
// the REST API: it validates task requests, keeps task state in the meta
// store, and starts and stops one pipeline per task through corelib.
package task

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/meta"
)

// Pause reasons (milvus-cdc's texts).
const (
	ReasonManualPause      = "manually pause through http interface"
	ReasonAutoStartOff     = "the task is disabled auto start"
	reasonPipelineFailedFn = "the pipeline stopped on an error: %v"
	// reasonPermanentFn is the reason of a Failed task.
	reasonPermanentFn = "the pipeline failed on an error retrying cannot fix; resume the task once it is fixed: %v"
)

// Limits are the configuration values the service enforces.
type Limits struct {
	MaxTaskNum       int
	MaxNameLength    int
	ReplicateChannel string // the source replicate channel (source.replicateChannel)
	// StoreTimeout bounds each task-store call; zero means DefaultStoreTimeout.
	StoreTimeout time.Duration
	// TokenFileDir and TokenEnvPrefix bound target tokens given by
	// reference (taskSecrets.dir and taskSecrets.envPrefix; secrets.go).
	TokenFileDir   string
	TokenEnvPrefix string
	// StoreReadTimeout bounds the store read behind Get, List, Synced and
	// CountByState, which then answer from memory; zero means
	// DefaultStoreReadTimeout.
	StoreReadTimeout time.Duration
	// SourceMilvusAddress is the source Milvus proxy, host:port
	// (source.milvus.address); a target at that address is refused. Empty
	// skips the check.
	SourceMilvusAddress string
	// Probe checks that the target's host:port accepts a TCP connection
	// within timeout, and says precisely why not (netcheck.Reach), before
	// the factory verifies the target. Nil skips it (tests that dial an
	// in-process target).
	Probe func(ctx context.Context, hostPort string, timeout time.Duration) error
	// NoRebalance keeps every task on its owner: a cluster member does not
	// hand tasks over to even out the counts (cluster.rebalance false).
	NoRebalance bool
}

// Store is the part of the meta store the controller uses.
type Store interface {
	corelib.CheckpointStore
	CreateTask(ctx context.Context, t meta.Task, initial []corelib.Checkpoint) (meta.Task, error)
	GetTask(ctx context.Context, id string) (meta.Task, error)
	ListTasks(ctx context.Context) ([]meta.Task, error)
	UpdateTask(ctx context.Context, t meta.Task) (meta.Task, error)
	DeleteTask(ctx context.Context, id string, revision int64) error
}

// CreateInput is a create request in the internal model.
type CreateInput struct {
	Spec corelib.TaskSpec
	// ReplicateChannelPosition is an optional base64 msgpb.MsgPosition to
	// start the replicate channel from.
	ReplicateChannelPosition string
}

// View is a task as the APIs show it. It never carries secrets.
type View struct {
	Spec      corelib.TaskSpec // Target.Token and Target.Kafka.SASL.Password are always empty
	TokenSet  bool             // a token (or a Kafka SASL password) is stored
	State     meta.State
	Reason    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Pipeline is the live pipeline status; nil when no pipeline runs.
	Pipeline *corelib.Status
	// Store is set when the task store did not answer and the task is shown
	// as the controller last read or wrote it.
	Store *StoreState
	// Owner is the cluster member that owns the task (empty: nobody, or no
	// cluster); OwnershipLost says why this daemon stopped the task's
	// pipeline when it lost it.
	Owner         string
	OwnershipLost string
}

// Controller owns the task lifecycle. Mutations are serialized by mu inside
// this process (a slow target start delays other mutations, never reads); the
// store's compare-and-swap guards against other processes. pmu guards only
// the pipelines map, so reads never wait for a mutation.
type Controller struct {
	store   Store
	mem     *memory // what the store last said, for reads while it does not answer
	factory corelib.PipelineFactory
	// snapshots keeps the initial snapshots' progress: the store itself
	// when it implements corelib.SnapshotStore (meta.Store does).
	snapshots corelib.SnapshotStore
	limits    Limits
	lg        *zap.Logger

	mu        sync.Mutex // serializes mutations
	pmu       sync.RWMutex
	pipelines map[string]*runningPipeline

	cluster Cluster // nil when the daemon runs alone (cluster.go)
	own     ownership
}

func (c *Controller) pipeline(id string) (*runningPipeline, bool) {
	c.pmu.RLock()
	defer c.pmu.RUnlock()
	rp, ok := c.pipelines[id]
	return rp, ok
}

func (c *Controller) setPipeline(id string, rp *runningPipeline) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if rp == nil {
		delete(c.pipelines, id)
		return
	}
	c.pipelines[id] = rp
}

// runningPipeline is a started pipeline; its address identifies one Start, so
// a late failure report cannot stop a newer pipeline of the same task.
type runningPipeline struct{ p corelib.Pipeline }

// NewController returns a controller; call Reload once before serving.
func NewController(store Store, factory corelib.PipelineFactory, limits Limits, lg *zap.Logger) *Controller {
	if limits.StoreTimeout <= 0 {
		limits.StoreTimeout = DefaultStoreTimeout
	}
	if limits.StoreReadTimeout <= 0 {
		limits.StoreReadTimeout = DefaultStoreReadTimeout
	}
	mem := newMemory()
	c := &Controller{
		store:   recordingStore{Store: timeoutStore{Store: store, d: limits.StoreTimeout}, mem: mem},
		mem:     mem,
		factory: factory, limits: limits, lg: lg, pipelines: map[string]*runningPipeline{},
	}
	if ss, ok := store.(corelib.SnapshotStore); ok {
		c.snapshots = timeoutSnapshots{s: ss, d: limits.StoreTimeout}
	}
	return c
}

// Create validates, verifies the target, stores and starts a new task. When
// Spec.ID names an existing task it returns that task's View together with an
// Error of CodeTaskExists (milvus-cdc answers such a create with the id).
func (c *Controller) Create(ctx context.Context, in CreateInput) (View, error) {
	if in.Spec.ReplicateChannel == "" {
		in.Spec.ReplicateChannel = c.limits.ReplicateChannel
	}
	if in.Spec.Target.Kafka != nil && in.Spec.WriterMode == "" {
		in.Spec.WriterMode = corelib.WriterModeKafka // a Kafka target implies it
	}
	if err := c.validateSpec(in); err != nil {
		return View{}, err
	}
	if err := c.probeTarget(ctx, in.Spec.Target); err != nil {
		return View{}, err
	}
	resolved, err := c.withResolvedToken(in.Spec)
	if err != nil {
		return View{}, err
	}
	if err := c.factory.Verify(ctx, resolved); err != nil {
		if errors.Is(err, corelib.ErrTargetMode) {
			return View{}, &Error{Code: CodeTargetMode, Field: "writerMode", Message: err.Error(), Err: err}
		}
		if in.Spec.Target.Kafka != nil {
			return View{}, wrap(CodeTargetUnreachable, err, "fail to connect the kafka: %v", err)
		}
		return View{}, wrap(CodeTargetUnreachable, err, "fail to connect the milvus: %v", err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if in.Spec.ID != "" {
		existing, err := c.store.GetTask(ctx, in.Spec.ID)
		if err == nil {
			return c.view(existing), FieldErrorf(CodeTaskExists, "id", "the task %s already exists", in.Spec.ID)
		}
		if !errors.Is(err, meta.ErrNotFound) {
			return View{}, wrap(storeCode(err), err, "fail to get the task info from etcd: %v", err)
		}
	}
	all, err := c.store.ListTasks(ctx)
	if err != nil {
		return View{}, wrap(storeCode(err), err, "fail to list the tasks from etcd: %v", err)
	}
	var sameTarget []corelib.TaskSpec
	for _, t := range all {
		if targetKey(t.Spec.Target) == targetKey(in.Spec.Target) {
			sameTarget = append(sameTarget, t.Spec)
		}
	}
	exclude, err := checkAgainstExisting(in.Spec, sameTarget)
	if err != nil {
		return View{}, err
	}
	in.Spec.Exclude = exclude
	if len(all) >= c.limits.MaxTaskNum {
		return View{}, Errorf(CodeTaskLimit, "the task num has reach the limit, %d", c.limits.MaxTaskNum)
	}
	initial, err := decodeStartPositions(in)
	if err != nil {
		return View{}, err
	}
	if initial, err = c.pinStartPositions(ctx, in.Spec, initial); err != nil {
		return View{}, err
	}
	if in.Spec.ID == "" {
		in.Spec.ID = newTaskID()
	}
	stored, err := c.store.CreateTask(ctx, meta.Task{Spec: in.Spec, State: meta.StateInitial}, initial)
	if err != nil {
		if errors.Is(err, meta.ErrConflict) {
			return View{}, wrap(CodeRevisionConflict, err, "fail to put the task info to etcd: %v", err)
		}
		return View{}, wrap(storeCode(err), err, "fail to put the task info to etcd: %v", err)
	}
	running, err := c.startLocked(ctx, stored)
	if err != nil {
		// milvus-cdc deletes a task that fails to start; so do we.
		if derr := c.store.DeleteTask(ctx, stored.Spec.ID, stored.Revision); derr != nil {
			c.lg.Warn("cannot remove the task that failed to start", zap.String("task_id", stored.Spec.ID), zap.Error(derr))
		}
		return View{}, err
	}
	c.lg.Info("task created", zap.String("task_id", running.Spec.ID), zap.String("target", running.Spec.Target.Redacted()))
	return c.view(running), nil
}

// probeTarget answers at once when the target's address cannot work at all
// (an unknown host, a refused port), instead of after the whole connect
// timeout with a generic "no answer".
func (c *Controller) probeTarget(ctx context.Context, t corelib.Target) error {
	if c.limits.Probe == nil || t.Kafka != nil { // the Kafka writer's Verify asks the brokers itself
		return nil
	}
	addr, err := targetAddress(t) // validated already
	if err != nil {
		return err
	}
	timeout := t.ConnectTimeout
	if timeout <= 0 {
		timeout = corelib.DefaultConnectTimeout
	}
	if err := c.limits.Probe(ctx, addr, timeout); err != nil {
		return &Error{Code: CodeTargetUnreachable, Field: "target.uri", Message: fmt.Sprintf("fail to connect the milvus: %v", err), Err: err}
	}
	return nil
}

// pinStartPositions adds, when the factory can, the current end of every
// channel the new task reads to its initial checkpoints, so that create
// answers only once the start is fixed: a write made after create returned
// is never missed because the pipeline opened its channel later.
func (c *Controller) pinStartPositions(ctx context.Context, spec corelib.TaskSpec, initial []corelib.Checkpoint) ([]corelib.Checkpoint, error) {
	sp, ok := c.factory.(corelib.StartPositioner)
	if !ok {
		return initial, nil
	}
	given := map[string]bool{}
	for _, cp := range initial {
		given[cp.Channel] = true
		if vc, err := source.ParseVChannel(cp.Channel); err == nil {
			given[vc.PChannel] = true // the user's position covers its physical channel
		}
	}
	pinned, err := sp.StartPositions(ctx, spec, given)
	if errors.Is(err, corelib.ErrStartExpired) {
		return nil, &Error{Code: CodeValidation, Field: "startFrom", Message: err.Error(), Err: err}
	}
	if err != nil {
		return nil, wrap(CodeSourceUnavailable, err, "fail to read the start positions of the source channels: %v", err)
	}
	return append(initial, pinned...), nil
}

// startLocked builds and starts the task's pipeline and records Running.
// c.mu must be held.
func (c *Controller) startLocked(ctx context.Context, t meta.Task) (meta.Task, error) {
	rp := &runningPipeline{}
	spec, err := c.withResolvedToken(t.Spec)
	if err != nil {
		return meta.Task{}, err
	}
	if err := c.acquireLocked(ctx, t.Spec.ID); err != nil {
		return meta.Task{}, err
	}
	deps := corelib.Deps{
		Checkpoints: c.store,
		Snapshots:   c.snapshots,
		Logger:      c.lg.With(zap.String("task_id", t.Spec.ID)),
		OnFailure:   c.onPipelineFailure(t.Spec.ID, rp),
	}
	if c.cluster != nil {
		deps.Guard = c.cluster.Guard(t.Spec.ID)
	}
	p, err := c.factory.New(spec, deps)
	if err != nil {
		return meta.Task{}, wrap(CodeInternal, err, "fail to start the task, task_id: %s: %v", t.Spec.ID, err)
	}
	rp.p = p
	c.setPipeline(t.Spec.ID, rp) // visible to onPipelineFailure before Start returns
	if err := p.Start(ctx); err != nil {
		c.setPipeline(t.Spec.ID, nil)
		code := CodeInternal
		if errors.Is(err, corelib.ErrTargetUnreachable) {
			code = CodeTargetUnreachable
		}
		return meta.Task{}, wrap(code, err, "fail to start the task, task_id: %s: %v", t.Spec.ID, err)
	}
	t.State, t.Reason, t.PausedByUser = meta.StateRunning, "", false
	updated, err := c.store.UpdateTask(ctx, t)
	if err != nil {
		c.stopLocked(ctx, t.Spec.ID)
		return meta.Task{}, c.storeError(err, t.Spec.ID, "fail to update the task state, task_id: %s: %v")
	}
	return updated, nil
}

// stopLocked stops and forgets the task's pipeline, if any. c.mu must be held.
func (c *Controller) stopLocked(ctx context.Context, id string) {
	rp, ok := c.pipeline(id)
	if !ok {
		return
	}
	c.setPipeline(id, nil)
	if err := rp.p.Stop(ctx); err != nil {
		c.lg.Warn("pipeline did not stop cleanly", zap.String("task_id", id), zap.Error(err))
	}
}

// onPipelineFailure returns the callback a pipeline calls when it stops on
// its own: the task becomes Paused with the error as reason (it is not a
// manual pause, so a restart retries it).
func (c *Controller) onPipelineFailure(id string, rp *runningPipeline) func(error) {
	return func(cause error) {
		go func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if cur, _ := c.pipeline(id); cur != rp {
				return // stopped or replaced meanwhile
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if isNotOwner(cause) {
				c.lostOwnership(ctx, id, cause)
				return
			}
			c.stopLocked(ctx, id)
			t, err := c.store.GetTask(ctx, id)
			if err != nil {
				return // deleted meanwhile
			}
			if t.State == meta.StatePaused || t.State == meta.StateFailed {
				return
			}
			t.State, t.Reason, t.PausedByUser = meta.StatePaused, fmt.Sprintf(reasonPipelineFailedFn, cause), false
			if errors.Is(cause, corelib.ErrPermanent) {
				t.State, t.Reason = meta.StateFailed, fmt.Sprintf(reasonPermanentFn, cause)
			}
			if _, err := c.store.UpdateTask(ctx, t); err != nil {
				c.lg.Error("cannot record the pipeline failure", zap.String("task_id", id), zap.Error(err))
				return
			}
			c.lg.Warn("task paused after a pipeline failure", zap.String("task_id", id), zap.Error(cause))
		}()
	}
}

// Delete removes a task and its checkpoints, then stops its pipeline.
func (c *Controller) Delete(ctx context.Context, id string, ignoreNotFound bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.store.GetTask(ctx, id)
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			if ignoreNotFound {
				return nil
			}
			return Errorf(CodeNotFound, "not found the task, task_id: %s", id)
		}
		return wrap(storeCode(err), err, "fail to get the task info, task_id: %s: %v", id, err)
	}
	if err := c.store.DeleteTask(ctx, id, t.Revision); err != nil {
		return c.storeError(err, id, "fail to delete the task meta, task_id: %s: %v")
	}
	c.stopLocked(ctx, id)
	c.lg.Info("task deleted", zap.String("task_id", id))
	return nil
}

// Pause records a manual pause and stops the pipeline.
func (c *Controller) Pause(ctx context.Context, id string) (View, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getTask(ctx, id)
	if err != nil {
		return View{}, err
	}
	if t.State == meta.StatePaused {
		return View{}, Errorf(CodeStateConflict, "the task has paused, task_id: %s", id)
	}
	t.State, t.Reason, t.PausedByUser = meta.StatePaused, ReasonManualPause, true
	updated, err := c.store.UpdateTask(ctx, t)
	if err != nil {
		return View{}, c.storeError(err, id, "fail to update the task state, task_id: %s: %v")
	}
	c.stopLocked(ctx, id)
	c.lg.Info("task paused", zap.String("task_id", id))
	return c.view(updated), nil
}

// Resume starts a Paused or Initial task from its stored checkpoints.
func (c *Controller) Resume(ctx context.Context, id string) (View, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getTask(ctx, id)
	if err != nil {
		return View{}, err
	}
	if t.State == meta.StateRunning {
		return View{}, Errorf(CodeStateConflict, "the task has running, task_id: %s", id)
	}
	c.stopLocked(ctx, id) // defensive: a Paused task has no pipeline
	updated, err := c.startLocked(ctx, t)
	if err != nil {
		return View{}, err
	}
	c.lg.Info("task resumed", zap.String("task_id", id))
	return c.view(updated), nil
}

// Get returns one task.
func (c *Controller) Get(ctx context.Context, id string) (View, error) {
	if id == "" {
		return View{}, FieldErrorf(CodeValidation, "task_id", "task_id is empty")
	}
	rctx, cancel := context.WithTimeout(ctx, c.limits.StoreReadTimeout)
	t, err := c.store.GetTask(rctx, id)
	cancel()
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return View{}, Errorf(CodeNotFound, "not found: [%s]", id)
		}
		if remembered, st, ok := c.recall(ctx, id, err); ok {
			v := c.view(remembered)
			v.Store = &st
			return v, nil
		}
		return View{}, wrap(storeCode(err), err, "fail to get the task info, task_id: %s: %v", id, err)
	}
	v := []View{c.view(t)}
	c.withOwners(ctx, v)
	return v[0], nil
}

// recall is the remembered task when the store did not answer a read (and
// the caller is still waiting).
func (c *Controller) recall(ctx context.Context, id string, err error) (meta.Task, StoreState, bool) {
	if !storeUnreachable(err) || ctx.Err() != nil {
		return meta.Task{}, StoreState{}, false
	}
	return c.mem.recall(id, err)
}

// listTasks reads every task within the read bound, or, when the store does
// not answer, returns the remembered list and says so.
func (c *Controller) listTasks(ctx context.Context) ([]meta.Task, *StoreState, error) {
	rctx, cancel := context.WithTimeout(ctx, c.limits.StoreReadTimeout)
	defer cancel()
	tasks, err := c.store.ListTasks(rctx)
	if err == nil {
		return tasks, nil, nil
	}
	if storeUnreachable(err) && ctx.Err() == nil {
		if remembered, st, ok := c.mem.recallAll(err); ok {
			return remembered, &st, nil
		}
	}
	return nil, nil, err
}

// List returns every task, oldest first, optionally only those in state.
func (c *Controller) List(ctx context.Context, state meta.State) ([]View, error) {
	views, _, err := c.ListWithStore(ctx, state)
	return views, err
}

// ListWithStore is List that also returns, when the task store did not
// answer and the list is the remembered one, the store's state.
func (c *Controller) ListWithStore(ctx context.Context, state meta.State) ([]View, *StoreState, error) {
	tasks, st, err := c.listTasks(ctx)
	if err != nil {
		return nil, nil, wrap(storeCode(err), err, "fail to get all task info: %v", err)
	}
	views := make([]View, 0, len(tasks))
	for _, t := range tasks {
		if state == "" || t.State == state {
			v := c.view(t)
			v.Store = st
			views = append(views, v)
		}
	}
	if st == nil {
		c.withOwners(ctx, views)
	}
	return views, st, nil
}

// Synced reports whether the task's target holds everything the source had
// written when the call was made, waiting up to wait for the pipeline to
// apply it (the source clock runs a few seconds ahead). A task without a
// running pipeline is not synced: nothing moves its data.
func (c *Controller) Synced(ctx context.Context, id string, wait time.Duration) (View, corelib.SyncReport, error) {
	v, err := c.Get(ctx, id)
	if err != nil {
		return View{}, corelib.SyncReport{}, err
	}
	rp, ok := c.pipeline(id)
	if !ok {
		return v, corelib.SyncReport{Channels: []corelib.ChannelSync{}, Reason: fmt.Sprintf("the task is %s; no pipeline runs", v.State)}, nil
	}
	checker, ok := rp.p.(corelib.SyncChecker)
	if !ok {
		return View{}, corelib.SyncReport{}, Errorf(CodeUnsupported, "this daemon's pipelines cannot tell whether they are synced")
	}
	wctx := ctx // no deadline: answer at once
	if wait > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	rep, err := checker.Synced(wctx)
	if err != nil {
		return View{}, corelib.SyncReport{}, wrap(CodeSourceUnavailable, err, "cannot compare the task with the source, task_id: %s: %v", id, err)
	}
	return v, rep, nil
}

// CountByState returns the number of tasks per state (every state present).
func (c *Controller) CountByState(ctx context.Context) (map[meta.State]int, error) {
	tasks, _, err := c.listTasks(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[meta.State]int{meta.StateInitial: 0, meta.StateRunning: 0, meta.StatePaused: 0, meta.StateFailed: 0}
	for _, t := range tasks {
		counts[t.State]++
	}
	return counts, nil
}

// Checkpoints returns a task's stored checkpoints.
func (c *Controller) Checkpoints(ctx context.Context, id string) ([]corelib.Checkpoint, error) {
	if _, err := c.getTask(ctx, id); err != nil {
		return nil, err
	}
	cps, err := c.store.LoadCheckpoints(ctx, id)
	if err != nil {
		return nil, wrap(storeCode(err), err, "fail to get the task position, task_id: %s: %v", id, err)
	}
	return cps, nil
}

// Reload runs once at startup: tasks that were Running or Initial start
// again, tasks paused by a pipeline failure are retried, tasks paused by hand
// stay paused, and disable_auto_start tasks become Paused with
// ReasonAutoStartOff. A task that fails to start is paused with the error.
func (c *Controller) Reload(ctx context.Context) error {
	if c.cluster != nil {
		return c.reloadCluster(ctx) // RunCluster takes the ones that come free later
	}
	tasks, err := c.store.ListTasks(ctx)
	if err != nil {
		return fmt.Errorf("reload tasks: %w", err)
	}
	for _, t := range tasks {
		// One task at a time under the lock, so API requests are served in
		// between even when targets are slow to answer.
		c.reloadOne(ctx, t.Spec.ID)
	}
	return nil
}

func (c *Controller) reloadOne(ctx context.Context, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.store.GetTask(ctx, id) // fresh: an API call may have changed it meanwhile
	if err != nil {
		return
	}
	if _, running := c.pipeline(id); running {
		return
	}
	switch {
	case t.State == meta.StatePaused && t.PausedByUser:
		return
	case t.State == meta.StateFailed: // retrying it is the operator's call (resume)
		return
	case t.Spec.DisableAutoStart:
		if t.State != meta.StatePaused || t.Reason != ReasonAutoStartOff {
			t.State, t.Reason = meta.StatePaused, ReasonAutoStartOff
			if _, err := c.store.UpdateTask(ctx, t); err != nil {
				c.lg.Error("cannot pause a disable_auto_start task", zap.String("task_id", id), zap.Error(err))
			}
		}
		return
	}
	if _, err := c.startLocked(ctx, t); err != nil {
		c.lg.Error("task did not start after restart", zap.String("task_id", id), zap.Error(err))
		if fresh, gerr := c.store.GetTask(ctx, id); gerr == nil {
			fresh.State, fresh.Reason, fresh.PausedByUser = meta.StatePaused, fmt.Sprintf("fail to start task, err: %v", cause(err)), false
			if _, uerr := c.store.UpdateTask(ctx, fresh); uerr != nil {
				c.lg.Error("cannot record the start failure", zap.String("task_id", id), zap.Error(uerr))
			}
		}
		return
	}
	c.lg.Info("task restarted", zap.String("task_id", id))
}

// Shutdown stops every pipeline without changing stored states, so a restart
// resumes the same tasks.
func (c *Controller) Shutdown(ctx context.Context) {
	if c.cluster != nil {
		// Hand the tasks over: stop, checkpoint, release, leave.
		c.drain(ctx)
		c.cluster.Leave(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pmu.RLock()
	ids := make([]string, 0, len(c.pipelines))
	for id := range c.pipelines {
		ids = append(ids, id)
	}
	c.pmu.RUnlock()
	sort.Strings(ids)
	for _, id := range ids {
		c.stopLocked(ctx, id)
	}
}

func (c *Controller) getTask(ctx context.Context, id string) (meta.Task, error) {
	t, err := c.store.GetTask(ctx, id)
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return meta.Task{}, Errorf(CodeNotFound, "not found the task, task_id: %s", id)
		}
		return meta.Task{}, wrap(storeCode(err), err, "fail to get the task info, task_id: %s: %v", id, err)
	}
	return t, nil
}

// storeError classifies a failed store write; format takes the id and the error.
func (c *Controller) storeError(err error, id, format string) error {
	switch {
	case isNotOwner(err):
		return wrap(CodeNotOwner, err, "the task %s is owned by another cluster member; send the request to it (the REST API forwards it): %v", id, err)
	case errors.Is(err, meta.ErrNotFound):
		return wrap(CodeNotFound, err, "not found the task, task_id: %s", id)
	case errors.Is(err, meta.ErrConflict):
		return wrap(CodeRevisionConflict, err, format, id, err)
	default:
		return wrap(storeCode(err), err, format, id, err)
	}
}

// storeCode is the code of a failed store call: store_unavailable when the
// store did not answer (nothing was changed), internal otherwise.
func storeCode(err error) Code {
	if storeUnreachable(err) {
		return CodeStoreUnavailable
	}
	return CodeInternal
}

// view converts a stored task to a View, dropping secrets.
func (c *Controller) view(t meta.Task) View {
	spec := t.Spec
	tokenSet := spec.Target.Token != "" || spec.Target.TokenFile != "" || spec.Target.TokenEnv != ""
	spec.Target.Token = ""
	if k := spec.Target.Kafka; k != nil {
		kc := *k // the stored spec keeps its password
		tokenSet = kc.SASL.Password != ""
		kc.SASL.Password = ""
		spec.Target.Kafka = &kc
	} else {
		spec.Target.URI = spec.Target.Redacted() // a user:password in the URI is a secret too
	}
	v := View{Spec: spec, TokenSet: tokenSet, State: t.State, Reason: t.Reason, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if rp, ok := c.pipeline(t.Spec.ID); ok {
		st := rp.p.Status()
		v.Pipeline = &st
	}
	if c.cluster != nil {
		v.OwnershipLost = c.own.reason(t.Spec.ID)
		if c.cluster.Owns(t.Spec.ID) {
			v.Owner = c.cluster.ID()
		}
	}
	return v
}

// withOwners fills the Owner of views from the store's owner keys.
func (c *Controller) withOwners(ctx context.Context, views []View) {
	if c.cluster == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, c.limits.StoreReadTimeout)
	defer cancel()
	owners, err := c.cluster.Owners(rctx)
	if err != nil {
		return
	}
	for i := range views {
		views[i].Owner = owners[views[i].Spec.ID]
	}
}

// cause is the underlying error of a service error, for reasons that would
// otherwise repeat the task id.
func cause(err error) error {
	if e := AsError(err); e.Err != nil {
		return e.Err
	}
	return err
}

// newTaskID is milvus-cdc's format: 32 hex characters.
func newTaskID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
