package task_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/meta/metatest"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// fakeFactory records pipelines and lets tests make Verify or Start fail.
type fakeFactory struct {
	mu        sync.Mutex
	verifyErr error
	startErr  error
	startGate chan struct{} // when set, Start waits for it to close
	pipelines map[string][]*fakePipeline
}

type fakePipeline struct {
	mu      sync.Mutex
	spec    corelib.TaskSpec
	deps    corelib.Deps
	running bool
	starts  int
	stops   int
	cps     []corelib.Checkpoint // checkpoints seen at Start
	gate    chan struct{}
}

func newFakeFactory() *fakeFactory { return &fakeFactory{pipelines: map[string][]*fakePipeline{}} }

func (f *fakeFactory) Verify(context.Context, corelib.TaskSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verifyErr
}

func (f *fakeFactory) New(spec corelib.TaskSpec, deps corelib.Deps) (corelib.Pipeline, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &fakePipeline{spec: spec, deps: deps, gate: f.startGate}
	if f.startErr != nil {
		err := f.startErr
		p.deps.OnFailure = nil
		f.pipelines[spec.ID] = append(f.pipelines[spec.ID], p)
		return &failingPipeline{fakePipeline: p, err: err}, nil
	}
	f.pipelines[spec.ID] = append(f.pipelines[spec.ID], p)
	return p, nil
}

func (f *fakeFactory) last(id string) *fakePipeline {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := f.pipelines[id]
	if len(ps) == 0 {
		return nil
	}
	return ps[len(ps)-1]
}

func (f *fakeFactory) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pipelines[id])
}

func (p *fakePipeline) Start(ctx context.Context) error {
	if p.gate != nil {
		<-p.gate
	}
	cps, err := p.deps.Checkpoints.LoadCheckpoints(ctx, p.spec.ID)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cps, p.running = cps, true
	p.starts++
	return nil
}

func (p *fakePipeline) Stop(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running = false
	p.stops++
	return nil
}

func (p *fakePipeline) Status() corelib.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return corelib.Status{Replicating: p.running, Detail: "fake"}
}

func (p *fakePipeline) isRunning() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

type failingPipeline struct {
	*fakePipeline
	err error
}

func (p *failingPipeline) Start(context.Context) error { return p.err }

type harness struct {
	etcd    *metatest.Etcd
	store   *meta.Store
	factory *fakeFactory
	ctl     *task.Controller
	limits  task.Limits
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	e := metatest.StartEtcd(t)
	h := &harness{etcd: e, store: meta.NewStore(e.Client, "cdc-test"), factory: newFakeFactory(),
		limits: task.Limits{MaxTaskNum: 5, MaxNameLength: 16, ReplicateChannel: "by-dev-replicate-msg"}}
	h.ctl = task.NewController(h.store, h.factory, h.limits, zap.NewNop())
	return h
}

// restart simulates a daemon restart: a new controller on the same store.
func (h *harness) restart(t *testing.T) {
	t.Helper()
	h.ctl.Shutdown(context.Background())
	h.factory = newFakeFactory()
	h.ctl = task.NewController(h.store, h.factory, h.limits, zap.NewNop())
	require.NoError(t, h.ctl.Reload(context.Background()))
}

func spec(uri, db, coll string) task.CreateInput {
	return task.CreateInput{Spec: corelib.TaskSpec{
		Target: corelib.Target{URI: uri, Token: "root:Secret1"},
		Scope:  []corelib.CollectionScope{{Database: db, Collection: coll}},
	}}
}

func requireCode(t *testing.T, err error, code task.Code, msg string) {
	t.Helper()
	require.Error(t, err)
	e := task.AsError(err)
	require.Equal(t, code, e.Code, "message: %s", e.Message)
	if msg != "" {
		require.Equal(t, msg, e.Message)
	}
}

func position(t *testing.T, channel string, ts uint64) string {
	t.Helper()
	b, err := proto.Marshal(&msgpb.MsgPosition{ChannelName: channel, MsgID: []byte{1, 2, 3}, Timestamp: ts})
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

func TestStateTransitions(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v, err := h.ctl.Create(ctx, spec("http://t1:19530", "default", "*"))
	require.NoError(t, err)
	id := v.Spec.ID
	require.Len(t, id, 32)
	require.Equal(t, meta.StateRunning, v.State)
	require.Empty(t, v.Spec.Target.Token, "views never carry the token")
	require.True(t, v.TokenSet)
	require.Equal(t, "by-dev-replicate-msg", v.Spec.ReplicateChannel)
	require.True(t, h.factory.last(id).isRunning())

	v, err = h.ctl.Pause(ctx, id)
	require.NoError(t, err)
	require.Equal(t, meta.StatePaused, v.State)
	require.Equal(t, task.ReasonManualPause, v.Reason)
	require.False(t, h.factory.last(id).isRunning())
	require.Nil(t, v.Pipeline)

	_, err = h.ctl.Pause(ctx, id)
	requireCode(t, err, task.CodeStateConflict, "the task has paused, task_id: "+id)

	v, err = h.ctl.Resume(ctx, id)
	require.NoError(t, err)
	require.Equal(t, meta.StateRunning, v.State)
	require.Empty(t, v.Reason)
	require.Equal(t, 2, h.factory.count(id), "resume builds a new pipeline")
	require.True(t, h.factory.last(id).isRunning())

	_, err = h.ctl.Resume(ctx, id)
	requireCode(t, err, task.CodeStateConflict, "the task has running, task_id: "+id)

	stored, err := h.store.GetTask(ctx, id)
	require.NoError(t, err)
	require.Equal(t, meta.StateRunning, stored.State)
	require.Equal(t, "root:Secret1", stored.Spec.Target.Token, "the store keeps the token for the pipeline")

	require.NoError(t, h.ctl.Delete(ctx, id, false))
	require.False(t, h.factory.last(id).isRunning())
	_, err = h.ctl.Get(ctx, id)
	requireCode(t, err, task.CodeNotFound, "not found: ["+id+"]")
	requireCode(t, h.ctl.Delete(ctx, id, false), task.CodeNotFound, "not found the task, task_id: "+id)
	require.NoError(t, h.ctl.Delete(ctx, id, true))
	_, err = h.ctl.Pause(ctx, id)
	requireCode(t, err, task.CodeNotFound, "not found the task, task_id: "+id)
	_, err = h.ctl.Resume(ctx, "nope")
	requireCode(t, err, task.CodeNotFound, "not found the task, task_id: nope")
	_, err = h.ctl.Get(ctx, "")
	requireCode(t, err, task.CodeValidation, "task_id is empty")
}

func TestCreateValidation(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	long := "abcdefghijklmnopq" // 17 > MaxNameLength 16
	withPos := func(in task.CreateInput, pos map[string]string) task.CreateInput {
		in.Spec.Scope[0].StartPositions = pos
		return in
	}
	tests := []struct {
		name  string
		in    task.CreateInput
		code  task.Code
		msg   string
		field string
	}{
		{"bad id", func() task.CreateInput { in := spec("http://t:1", "default", "c"); in.Spec.ID = "a/b"; return in }(), task.CodeValidation, "", "id"},
		{"no uri", spec("", "default", "c"), task.CodeValidation, "the downstream address is empty", "target.uri"},
		{"negative timeout", func() task.CreateInput {
			in := spec("http://t:1", "default", "c")
			in.Spec.Target.ConnectTimeout = -time.Second
			return in
		}(), task.CodeValidation, "the milvus connect timeout is less zero", "target.connectTimeoutSeconds"},
		{"no scope", task.CreateInput{Spec: corelib.TaskSpec{Target: corelib.Target{URI: "http://t:1"}}}, task.CodeValidation, "the collection info is empty", "scope"},
		{"long db", spec("http://t:1", long, "c"), task.CodeValidation, "the db name length exceeds 16 characters, " + long, "scope[0].database"},
		{"star with positions", withPos(spec("http://t:1", "default", "*"), map[string]string{"ch_1v0": "x"}), task.CodeValidation, "the collection name is `*`, the positions should be empty", "scope[0].positions"},
		{"not a vchannel", withPos(spec("http://t:1", "default", "c"), map[string]string{"by-dev-rootcoord-dml_0": "x"}), task.CodeValidation, "the position channel name is not virtual channel, by-dev-rootcoord-dml_0", "scope[0].positions"},
		{"empty collection", spec("http://t:1", "default", ""), task.CodeValidation, "there is a collection name that is empty. ", "scope[0].collection"},
		{"long collection", spec("http://t:1", "default", long), task.CodeValidation, "there are some collection names whose length exceeds 16 characters, [" + long + "]", "scope[0].collection"},
		{"overlapping entries", func() task.CreateInput {
			in := spec("http://t:1", "*", "*")
			in.Spec.Scope = append(in.Spec.Scope, corelib.CollectionScope{Database: "db1", Collection: "c"})
			return in
		}(), task.CodeValidation, "the scope entries *.* and db1.c overlap; merge them", "scope[1]"},
		{"rpc channel", func() task.CreateInput {
			in := spec("http://t:1", "default", "c")
			in.Spec.ReplicateChannel = "other"
			return in
		}(), task.CodeValidation, "the rpc channel is invalid, the channel name should be the same as the source config", "replicateChannel.name"},
		{"vchannel regex", withPos(spec("http://t:1", "default", "c"), map[string]string{"ch_xv0": position(t, "ch_xv0", 1)}), task.CodeValidation, "", "scope[0].positions"},
		{"position not base64", withPos(spec("http://t:1", "default", "c"), map[string]string{"ch_1v0": "%%%"}), task.CodeInvalidPosition, "", "scope[0].positions"},
		{"positions of two collections", withPos(spec("http://t:1", "default", "c"), map[string]string{"ch_1v0": position(t, "ch_1v0", 1), "ch_2v0": position(t, "ch_2v0", 1)}), task.CodeValidation, "the channel position info should be in the same collection", "scope[0].positions"},
		{"rpc position", func() task.CreateInput {
			in := spec("http://t:1", "default", "c")
			in.ReplicateChannelPosition = "!!"
			return in
		}(), task.CodeInvalidPosition, "", "replicateChannel.position"},
		{"name mapping outside scope", func() task.CreateInput {
			in := spec("http://t:1", "default", "c")
			in.Spec.NameMapping = []corelib.NameMapping{{SourceDatabase: "default", TargetDatabase: "x", Collections: map[string]string{"other": "o"}}}
			return in
		}(), task.CodeValidation, "the collection name in the name mapping is not in the collection info, checkout it", "nameMapping[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.ctl.Create(ctx, tt.in)
			requireCode(t, err, tt.code, tt.msg)
			require.Equal(t, tt.field, task.AsError(err).Field)
		})
	}
	views, err := h.ctl.List(ctx, "")
	require.NoError(t, err)
	require.Empty(t, views, "no failed create stores anything")
}

func TestCreateStoresStartPositionsAsCheckpoints(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	in := spec("http://t:1", "db1", "coll")
	in.Spec.Scope[0].StartPositions = map[string]string{
		"by-dev-rootcoord-dml_0_449v0": position(t, "by-dev-rootcoord-dml_0_449v0", 7<<18),
		"by-dev-rootcoord-dml_1_449v1": position(t, "by-dev-rootcoord-dml_1_449v1", 9<<18),
	}
	in.ReplicateChannelPosition = position(t, "by-dev-replicate-msg", 5<<18)
	v, err := h.ctl.Create(ctx, in)
	require.NoError(t, err)
	cps := h.factory.last(v.Spec.ID).cps
	require.Len(t, cps, 3, "the pipeline starts from the stored checkpoints")
	byChannel := map[string]corelib.Checkpoint{}
	for _, cp := range cps {
		byChannel[cp.Channel] = cp
	}
	require.Equal(t, int64(449), byChannel["by-dev-rootcoord-dml_0_449v0"].CollectionID)
	require.Equal(t, uint64(7<<18), byChannel["by-dev-rootcoord-dml_0_449v0"].Timestamp)
	var pos msgpb.MsgPosition
	require.NoError(t, proto.Unmarshal(byChannel["by-dev-rootcoord-dml_1_449v1"].Position, &pos))
	require.Equal(t, "by-dev-rootcoord-dml_1_449v1", pos.ChannelName)
	require.Equal(t, corelib.ReplicateChannelCollectionID, byChannel["by-dev-replicate-msg"].CollectionID)

	got, err := h.ctl.Checkpoints(ctx, v.Spec.ID)
	require.NoError(t, err)
	require.Len(t, got, 3)
}

func TestCreateAgainstExistingTasks(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	a, err := h.ctl.Create(ctx, spec("http://t1:19530", "db1", "c1"))
	require.NoError(t, err)

	// Same id: the existing task comes back with CodeTaskExists, nothing new is stored.
	again := spec("http://t1:19530", "db9", "c9")
	again.Spec.ID = a.Spec.ID
	v, err := h.ctl.Create(ctx, again)
	requireCode(t, err, task.CodeTaskExists, "")
	require.Equal(t, a.Spec.ID, v.Spec.ID)
	require.Equal(t, "db1", v.Spec.Scope[0].Database)

	_, err = h.ctl.Create(ctx, spec("http://t1:19530", "db1", "c1"))
	requireCode(t, err, task.CodeDuplicateScope, "the collection name is duplicate with existing task, [db1.c1]; task "+a.Spec.ID+" already replicates db1.c1 to this target: leave it out of the scope, or delete task "+a.Spec.ID+" first")
	_, err = h.ctl.Create(ctx, spec("HTTP://t1:19530/", "db1", "c1"))
	requireCode(t, err, task.CodeDuplicateScope, "")
	_, err = h.ctl.Create(ctx, spec("http://t2:19530", "db1", "c1"))
	require.NoError(t, err, "another target may replicate the same collection")

	// A wildcard task after a narrower one is allowed and excludes it ...
	w, err := h.ctl.Create(ctx, spec("http://t1:19530", "db1", "*"))
	require.NoError(t, err)
	require.Equal(t, []string{"db1.c1"}, w.Spec.Exclude)
	// ... but a narrower task under an existing wildcard is a duplicate.
	_, err = h.ctl.Create(ctx, spec("http://t1:19530", "db1", "c2"))
	requireCode(t, err, task.CodeDuplicateScope, "the collection name is duplicate with existing task, [db1.c2]; task "+w.Spec.ID+" already replicates db1.c2 (its scope db1.*) to this target: leave it out of the scope, or delete task "+w.Spec.ID+" first")

	role := spec("http://t1:19530", "db2", "c")
	role.Spec.EnableUserRole = true
	roleTask, err := h.ctl.Create(ctx, role)
	require.NoError(t, err)
	role2 := spec("http://t1:19530", "db3", "c")
	role2.Spec.EnableUserRole = true
	_, err = h.ctl.Create(ctx, role2)
	requireCode(t, err, task.CodeDuplicateScope, "the enable user role param is duplicate: task "+roleTask.Spec.ID+" already replicates users and roles to this target; leave enableUserRole off or delete task "+roleTask.Spec.ID)

	_, err = h.ctl.Create(ctx, spec("http://t3:19530", "db1", "c1"))
	require.NoError(t, err)
	_, err = h.ctl.Create(ctx, spec("http://t4:19530", "db1", "c1"))
	requireCode(t, err, task.CodeTaskLimit, "the task num has reach the limit, 5")
}

func TestCreateFailures(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.factory.verifyErr = fmt.Errorf("%w: http://t:1: no answer within 1s", corelib.ErrTargetUnreachable)
	_, err := h.ctl.Create(ctx, spec("http://t:1", "default", "c"))
	requireCode(t, err, task.CodeTargetUnreachable, "fail to connect the milvus: target milvus unreachable: http://t:1: no answer within 1s")

	h.factory.verifyErr = nil
	h.factory.startErr = errors.New("boom")
	in := spec("http://t:1", "default", "c")
	in.Spec.ID = "fails-to-start"
	_, err = h.ctl.Create(ctx, in)
	requireCode(t, err, task.CodeInternal, "fail to start the task, task_id: fails-to-start: boom")
	_, err = h.store.GetTask(ctx, "fails-to-start")
	require.ErrorIs(t, err, meta.ErrNotFound, "a task that cannot start is removed again")
}

func TestPipelineFailurePausesTask(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v, err := h.ctl.Create(ctx, spec("http://t:1", "default", "c"))
	require.NoError(t, err)
	p := h.factory.last(v.Spec.ID)
	p.deps.OnFailure(errors.New("target went away"))
	require.Eventually(t, func() bool {
		got, err := h.ctl.Get(ctx, v.Spec.ID)
		return err == nil && got.State == meta.StatePaused
	}, 5*time.Second, 20*time.Millisecond)
	got, err := h.ctl.Get(ctx, v.Spec.ID)
	require.NoError(t, err)
	require.Equal(t, "the pipeline stopped on an error: target went away", got.Reason)
	require.False(t, p.isRunning())

	// A late report from a stopped pipeline does not touch the resumed one.
	_, err = h.ctl.Resume(ctx, v.Spec.ID)
	require.NoError(t, err)
	p.deps.OnFailure(errors.New("stale"))
	time.Sleep(100 * time.Millisecond)
	got, err = h.ctl.Get(ctx, v.Spec.ID)
	require.NoError(t, err)
	require.Equal(t, meta.StateRunning, got.State)
	require.True(t, h.factory.last(v.Spec.ID).isRunning())
}

func TestRestartReload(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	mk := func(id, db string, disable bool) string {
		in := spec("http://t:1", db, "c")
		in.Spec.ID, in.Spec.DisableAutoStart = id, disable
		_, err := h.ctl.Create(ctx, in)
		require.NoError(t, err)
		return id
	}
	running := mk("running", "db1", false)
	manual := mk("manual", "db2", false)
	failed := mk("failed", "db3", false)
	noAuto := mk("noauto", "db4", true)
	_, err := h.ctl.Pause(ctx, manual)
	require.NoError(t, err)
	h.factory.last(failed).deps.OnFailure(errors.New("transient"))
	require.Eventually(t, func() bool {
		got, err := h.store.GetTask(ctx, failed)
		return err == nil && got.State == meta.StatePaused
	}, 5*time.Second, 20*time.Millisecond)

	h.restart(t)

	want := map[string]struct {
		state   meta.State
		reason  string
		started bool
	}{
		running: {meta.StateRunning, "", true},
		manual:  {meta.StatePaused, task.ReasonManualPause, false},
		failed:  {meta.StateRunning, "", true},
		noAuto:  {meta.StatePaused, task.ReasonAutoStartOff, false},
	}
	for id, w := range want {
		got, err := h.ctl.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, w.state, got.State, id)
		require.Equal(t, w.reason, got.Reason, id)
		require.Equal(t, w.started, h.factory.count(id) == 1, id)
	}

	// A task that cannot start after the restart is paused with the error.
	h.factory = nil
	h.ctl.Shutdown(ctx)
	f := newFakeFactory()
	f.startErr = errors.New("target down")
	ctl := task.NewController(h.store, f, h.limits, zap.NewNop())
	require.NoError(t, ctl.Reload(ctx))
	got, err := ctl.Get(ctx, running)
	require.NoError(t, err)
	require.Equal(t, meta.StatePaused, got.State)
	require.Contains(t, got.Reason, "fail to start task, err: ")
	require.Contains(t, got.Reason, "target down")
}

// racingStore lets a second writer change the task right before the
// controller's compare-and-swap.
type racingStore struct {
	*meta.Store
	before func()
}

func (s *racingStore) UpdateTask(ctx context.Context, t meta.Task) (meta.Task, error) {
	if s.before != nil {
		f := s.before
		s.before = nil
		f()
	}
	return s.Store.UpdateTask(ctx, t)
}

func TestRevisionConflictChangesNothing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	rs := &racingStore{Store: h.store}
	ctl := task.NewController(rs, h.factory, h.limits, zap.NewNop())
	v, err := ctl.Create(ctx, spec("http://t:1", "default", "c"))
	require.NoError(t, err)

	rs.before = func() {
		other, err := h.store.GetTask(ctx, v.Spec.ID)
		require.NoError(t, err)
		other.Reason = "written by another daemon"
		_, err = h.store.UpdateTask(ctx, other)
		require.NoError(t, err)
	}
	_, err = ctl.Pause(ctx, v.Spec.ID)
	requireCode(t, err, task.CodeRevisionConflict, "")
	require.ErrorIs(t, err, meta.ErrConflict)
	got, err := h.store.GetTask(ctx, v.Spec.ID)
	require.NoError(t, err)
	require.Equal(t, meta.StateRunning, got.State, "the losing pause wrote nothing")
	require.Equal(t, "written by another daemon", got.Reason)
	require.True(t, h.factory.last(v.Spec.ID).isRunning(), "the pipeline keeps running when the pause was not recorded")
	require.Equal(t, task.Lookup(task.CodeRevisionConflict).HTTPStatus, 409)
}

func TestListFiltersByStateAndCounts(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	a, err := h.ctl.Create(ctx, spec("http://t:1", "db1", "c"))
	require.NoError(t, err)
	_, err = h.ctl.Create(ctx, spec("http://t:1", "db2", "c"))
	require.NoError(t, err)
	_, err = h.ctl.Pause(ctx, a.Spec.ID)
	require.NoError(t, err)
	paused, err := h.ctl.List(ctx, meta.StatePaused)
	require.NoError(t, err)
	require.Len(t, paused, 1)
	require.Equal(t, a.Spec.ID, paused[0].Spec.ID)
	all, err := h.ctl.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	counts, err := h.ctl.CountByState(ctx)
	require.NoError(t, err)
	require.Equal(t, map[meta.State]int{meta.StateInitial: 0, meta.StateRunning: 1, meta.StatePaused: 1, meta.StateFailed: 0}, counts)
}

func TestReadsDoNotWaitForASlowStart(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v, err := h.ctl.Create(ctx, spec("http://t:1", "default", "c"))
	require.NoError(t, err)
	_, err = h.ctl.Pause(ctx, v.Spec.ID)
	require.NoError(t, err)

	gate := make(chan struct{})
	h.factory.mu.Lock()
	h.factory.startGate = gate
	h.factory.mu.Unlock()
	resumed := make(chan error, 1)
	go func() {
		_, err := h.ctl.Resume(ctx, v.Spec.ID)
		resumed <- err
	}()
	require.Eventually(t, func() bool { return h.factory.count(v.Spec.ID) == 2 }, 5*time.Second, 10*time.Millisecond, "resume is starting")

	start := time.Now()
	got, err := h.ctl.Get(ctx, v.Spec.ID)
	require.NoError(t, err)
	require.Equal(t, meta.StatePaused, got.State, "not Running before Start returns")
	_, err = h.ctl.List(ctx, "")
	require.NoError(t, err)
	require.Less(t, time.Since(start), time.Second)

	close(gate)
	require.NoError(t, <-resumed)
	got, err = h.ctl.Get(ctx, v.Spec.ID)
	require.NoError(t, err)
	require.Equal(t, meta.StateRunning, got.State)
}
