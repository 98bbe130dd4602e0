package task

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
)

// DefaultStoreReadTimeout bounds the task-store read behind get, list and
// status; past it they answer from what the controller last knew.
const DefaultStoreReadTimeout = 750 * time.Millisecond

// StoreState says that an answer comes from the controller's memory because
// the task store did not answer: when it stopped answering, why, and when
// the records shown were last read or written.
type StoreState struct {
	Err   error
	Since time.Time
	AsOf  time.Time
}

// memory is what the controller last knew of the task store: every task
// record it read or wrote, and, while the store does not answer, since when
// and why. Status polls answer from it when etcd is down, exactly when an
// operator needs them; mutations never do.
type memory struct {
	mu       sync.Mutex
	tasks    map[string]rememberedTask
	complete bool      // a full list was read, and every change since recorded
	listedAt time.Time // when the memory last matched a full list
	since    time.Time // first failure of the current outage; zero while the store answers
	lastErr  error
}

type rememberedTask struct {
	task meta.Task
	at   time.Time // when the record was read or written
}

func newMemory() *memory { return &memory{tasks: map[string]rememberedTask{}} }

func (m *memory) put(t meta.Task) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tasks[t.Spec.ID] = rememberedTask{task: t, at: time.Now()}
	m.answeredLocked()
}

func (m *memory) forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tasks, id)
	m.answeredLocked()
}

func (m *memory) replace(tasks []meta.Task) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.tasks = make(map[string]rememberedTask, len(tasks))
	for _, t := range tasks {
		m.tasks[t.Spec.ID] = rememberedTask{task: t, at: now}
	}
	m.complete, m.listedAt = true, now
	m.answeredLocked()
}

func (m *memory) answered() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.answeredLocked()
}

func (m *memory) answeredLocked() { m.since, m.lastErr = time.Time{}, nil }

func (m *memory) failed(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.since.IsZero() {
		m.since = time.Now()
	}
	m.lastErr = err
}

// recall returns the remembered task and the store state to show with it.
func (m *memory) recall(id string, err error) (meta.Task, StoreState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.tasks[id]
	if !ok {
		return meta.Task{}, StoreState{}, false
	}
	return r.task, m.stateLocked(err, r.at), true
}

// recallAll returns every remembered task, oldest first as the store lists
// them, when the memory holds the whole list.
func (m *memory) recallAll(err error) ([]meta.Task, StoreState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.complete {
		return nil, StoreState{}, false
	}
	tasks := make([]meta.Task, 0, len(m.tasks))
	for _, r := range m.tasks {
		tasks = append(tasks, r.task)
	}
	sort.SliceStable(tasks, func(i, j int) bool {
		if !tasks[i].CreatedAt.Equal(tasks[j].CreatedAt) {
			return tasks[i].CreatedAt.Before(tasks[j].CreatedAt)
		}
		return tasks[i].Spec.ID < tasks[j].Spec.ID
	})
	return tasks, m.stateLocked(err, m.listedAt), true
}

func (m *memory) stateLocked(err error, asOf time.Time) StoreState {
	since := m.since
	if since.IsZero() {
		since = time.Now() // this very read was the first to fail
	}
	return StoreState{Err: err, Since: since, AsOf: asOf}
}

// storeAnswered reports whether err is an answer of the store (the record
// is absent, a compare-and-swap lost, the task is gone).
func storeAnswered(err error) bool {
	return err == nil || errors.Is(err, meta.ErrNotFound) || errors.Is(err, meta.ErrConflict) || errors.Is(err, corelib.ErrTaskGone)
}

// storeUnreachable reports whether err means the store did not answer: the
// call ran out of time (etcd down, partitioned or frozen) or etcd said it
// cannot serve (no leader, unavailable).
func storeUnreachable(err error) bool {
	if err == nil || storeAnswered(err) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}

// recordingStore keeps the memory in step with every store call: records
// read or written are remembered, deleted ones forgotten, and a call the
// store did not answer marks an outage (unless the caller gave up first).
type recordingStore struct {
	Store
	mem *memory
}

func (s recordingStore) observe(ctx context.Context, err error) {
	switch {
	case err == nil: // the callers record what they got
	case storeAnswered(err):
		s.mem.answered()
	case storeUnreachable(err) && !errors.Is(ctx.Err(), context.Canceled): // a deadline is the store's; a cancel, the caller leaving
		s.mem.failed(err)
	}
}

func (s recordingStore) GetTask(ctx context.Context, id string) (meta.Task, error) {
	t, err := s.Store.GetTask(ctx, id)
	switch {
	case err == nil:
		s.mem.put(t)
	case errors.Is(err, meta.ErrNotFound):
		s.mem.forget(id)
	default:
		s.observe(ctx, err)
	}
	return t, err
}

func (s recordingStore) ListTasks(ctx context.Context) ([]meta.Task, error) {
	tasks, err := s.Store.ListTasks(ctx)
	if err == nil {
		s.mem.replace(tasks)
	} else {
		s.observe(ctx, err)
	}
	return tasks, err
}

func (s recordingStore) CreateTask(ctx context.Context, t meta.Task, initial []corelib.Checkpoint) (meta.Task, error) {
	created, err := s.Store.CreateTask(ctx, t, initial)
	if err == nil {
		s.mem.put(created)
	} else {
		s.observe(ctx, err)
	}
	return created, err
}

func (s recordingStore) UpdateTask(ctx context.Context, t meta.Task) (meta.Task, error) {
	updated, err := s.Store.UpdateTask(ctx, t)
	switch {
	case err == nil:
		s.mem.put(updated)
	case errors.Is(err, meta.ErrNotFound):
		s.mem.forget(t.Spec.ID)
	default:
		s.observe(ctx, err)
	}
	return updated, err
}

func (s recordingStore) DeleteTask(ctx context.Context, id string, revision int64) error {
	err := s.Store.DeleteTask(ctx, id, revision)
	if err == nil || errors.Is(err, meta.ErrNotFound) {
		s.mem.forget(id)
	} else {
		s.observe(ctx, err)
	}
	return err
}

// Checkpoint calls are the pipelines' steady heartbeat on the store: they
// say first when it stops answering and when it is back.
func (s recordingStore) LoadCheckpoints(ctx context.Context, taskID string) ([]corelib.Checkpoint, error) {
	cps, err := s.Store.LoadCheckpoints(ctx, taskID)
	s.heartbeat(ctx, err)
	return cps, err
}

func (s recordingStore) SaveCheckpoint(ctx context.Context, taskID string, cp corelib.Checkpoint) (corelib.Checkpoint, error) {
	saved, err := s.Store.SaveCheckpoint(ctx, taskID, cp)
	s.heartbeat(ctx, err)
	return saved, err
}

func (s recordingStore) heartbeat(ctx context.Context, err error) {
	if err == nil {
		s.mem.answered()
		return
	}
	s.observe(ctx, err)
}
