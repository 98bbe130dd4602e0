// Package clienttest runs the daemon's real HTTP server in-process for
// client and CLI tests: embedded etcd, the real task store and controller,
// and a fake pipeline factory whose pipelines report a status the test
// chooses.
package clienttest

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/meta/metatest"
	"github.com/milvus-cdc/milvus-cdc/server"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// Daemon is an in-process daemon.
type Daemon struct {
	URL     string
	Factory *Factory
}

// Start runs a daemon until the test ends.
func Start(t testing.TB) *Daemon {
	t.Helper()
	etcd := metatest.StartEtcd(t)
	store := meta.NewStore(etcd.Client, "clienttest")
	f := &Factory{}
	lg := zap.NewNop()
	ctl := task.NewController(store, f, task.Limits{MaxTaskNum: 100, MaxNameLength: 256, ReplicateChannel: "by-dev-replicate-msg", StoreTimeout: 5 * time.Second}, lg)
	if err := ctl.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	srv := server.New(server.Options{
		Controller:      ctl,
		LogLevel:        zap.NewAtomicLevel(),
		MaxRequestBytes: 1 << 20,
		MaxNameLength:   256,
		Ready:           store.Ping,
		Logger:          lg,
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctl.Shutdown(context.Background())
	})
	return &Daemon{URL: hs.URL, Factory: f}
}

// Factory builds Pipelines that report Status and Synced as set by the test.
type Factory struct {
	mu         sync.Mutex
	status     corelib.Status
	synced     corelib.SyncReport
	verify     corelib.VerifyReport
	verifyOpts []corelib.VerifyOptions
}

// SetVerify sets what VerifyTask answers from now on.
func (f *Factory) SetVerify(r corelib.VerifyReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verify = r
}

// VerifyOptions returns the options of every VerifyTask call so far.
func (f *Factory) VerifyOptions() []corelib.VerifyOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]corelib.VerifyOptions(nil), f.verifyOpts...)
}

// VerifyTask records the options and answers the report SetVerify set.
func (f *Factory) VerifyTask(_ context.Context, _ corelib.TaskSpec, opts corelib.VerifyOptions) (corelib.VerifyReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verifyOpts = append(f.verifyOpts, opts)
	rep := f.verify
	rep.Mode, rep.Sample = opts.Mode, opts.Sample
	return rep, nil
}

var _ corelib.TaskVerifier = (*Factory)(nil)

// SetStatus sets what every pipeline reports from now on.
func (f *Factory) SetStatus(s corelib.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = s
}

// SetSynced sets what every pipeline answers to Synced from now on.
func (f *Factory) SetSynced(r corelib.SyncReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.synced = r
}

// Verify accepts every task.
func (f *Factory) Verify(context.Context, corelib.TaskSpec) error { return nil }

// New returns a pipeline reporting the factory's status.
func (f *Factory) New(corelib.TaskSpec, corelib.Deps) (corelib.Pipeline, error) {
	return &Pipeline{f: f}, nil
}

// Pipeline is a pipeline that replicates nothing and reports its factory's status.
type Pipeline struct{ f *Factory }

// Start does nothing.
func (p *Pipeline) Start(context.Context) error { return nil }

// Stop does nothing.
func (p *Pipeline) Stop(context.Context) error { return nil }

// Status is the factory's status.
func (p *Pipeline) Status() corelib.Status {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	return p.f.status
}

// Synced is the factory's sync report.
func (p *Pipeline) Synced(context.Context) (corelib.SyncReport, error) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	return p.f.synced, nil
}

var _ corelib.SyncChecker = (*Pipeline)(nil)
