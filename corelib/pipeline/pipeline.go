package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/stream"
)

// startLoadTimeout bounds how long Start waits for the stored checkpoints.
const startLoadTimeout = 5 * time.Second

// PackReader delivers the time-tick packs of one physical channel in order
// (stream.PackReader).
type PackReader interface {
	Next(ctx context.Context) (*source.Pack, error)
	Close() error
}

// OpReader delivers the operations of the replicate channel in order, each
// with the position to resume from once it is applied (stream.OpReader).
type OpReader interface {
	Next(ctx context.Context) (*source.Message, source.Position, error)
	Close() error
}

// Source is how a pipeline reaches the source Milvus: its catalog and its
// message channels. Readers skip what must not be replayed (messages a
// replicator wrote, types this version cannot decode) themselves and tell
// onSkip about each.
type Source interface {
	List(ctx context.Context) (*source.Snapshot, error)
	Watch(ctx context.Context, from *source.Snapshot) <-chan source.MetaEvent
	// OpenChannel reads a physical channel from a position with Milvus's
	// seek rule (from.MsgID inclusive, dropping what from.Timestamp covers),
	// or from the channel's current end when from is nil.
	OpenChannel(ctx context.Context, channel string, from *source.Position, onSkip func(stream.Skip)) (PackReader, error)
	// OpenReplicateChannel reads the replicate channel after the operation
	// at from, or from its current end when from is nil.
	OpenReplicateChannel(ctx context.Context, from *source.Position, onSkip func(stream.Skip)) (OpReader, error)
	ReplicateChannel() string
	DefaultPartition() string
}

// Pipeline replicates one task. It implements corelib.Pipeline; its handle
// also tells when a run ended and why (Done, Err).
type Pipeline struct {
	spec   corelib.TaskSpec
	deps   corelib.Deps
	src    Source
	writer sink.Factory
	log    *zap.Logger
	// metrics and clock may be nil: no metrics, and Synced cannot answer.
	metrics *Metrics
	clock   func(ctx context.Context) (time.Time, error)
	// rows connects to the source to read its rows (initial snapshot); nil
	// when the daemon cannot.
	rows func(ctx context.Context) (RowSource, func() error, error)
	// budget is the daemon's memory budget for packs; nil bounds nothing.
	budget *Budget

	mu      sync.Mutex
	cancel  context.CancelFunc // nil when no run is going or Stop was called
	done    chan struct{}      // closed when the current run ended
	err     error              // what the last run ended with; nil after Stop
	r       *run
	snap    *snapshotter // the initial snapshot of this run, nil when none runs
	health  *health
	stage   string // what the run is doing, for Status
	saved   map[string]corelib.Checkpoint
	workers map[string]bool
	// preloaded are the checkpoints Start read (when preloadedOK), so the
	// run does not read them again.
	preloaded   []corelib.Checkpoint
	preloadedOK bool
}

var _ corelib.Pipeline = (*Pipeline)(nil)

// Start begins replication in the background and returns once the stored
// checkpoints are read (or the store did not answer within
// startLoadTimeout; the run then keeps trying), so the first status after a
// (re)start already shows each channel's stored position and its age. The
// pipeline retries whatever fails (source, target, store) and reports it in
// Status; it ends on its own only on an error retrying cannot fix, which it
// reports through Deps.OnFailure.
func (p *Pipeline) Start(ctx context.Context) error {
	lctx, lcancel := context.WithTimeout(ctx, startLoadTimeout)
	preloaded, loadErr := p.deps.Checkpoints.LoadCheckpoints(lctx, p.spec.ID)
	lcancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.cancel, p.done, p.err = cancel, done, nil
	p.saved, p.workers = map[string]corelib.Checkpoint{}, map[string]bool{}
	p.preloaded, p.preloadedOK = preloaded, loadErr == nil
	for _, cp := range preloaded {
		p.saved[cp.Channel] = cp
	}
	p.stage = "starting"
	p.health = newHealth()
	p.health.metrics = p.metrics.forTask(p.spec.ID)
	p.r, p.snap = nil, nil
	p.metrics.attach(p)
	go p.runToEnd(ctx, cancel, done)
	return nil
}

// runToEnd runs the pipeline until it is stopped or fails, then reports a
// failure, once, after everything the run started has ended.
func (p *Pipeline) runToEnd(ctx context.Context, cancel context.CancelFunc, done chan struct{}) {
	err := p.run(ctx)
	cancel()
	p.metrics.detach(p)
	p.mu.Lock()
	stopped := p.cancel == nil // Stop was called
	p.cancel = nil
	if stopped || errors.Is(err, context.Canceled) {
		err = nil
	}
	p.err = err
	p.mu.Unlock()
	close(done)
	if err != nil {
		p.log.Error("pipeline stopped", zap.Error(err))
		if p.deps.OnFailure != nil {
			p.deps.OnFailure(err)
		}
	}
}

// Stop ends replication after the packs being applied are on the target and
// their checkpoints are saved, or when ctx ends.
func (p *Pipeline) Stop(ctx context.Context) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel = nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the current run has ended (stopped or failed); nil
// before the first Start.
func (p *Pipeline) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Err is the error the last run ended with: nil while it runs and after
// Stop, the failure otherwise (it wraps corelib.ErrPermanent or
// corelib.ErrConflict).
func (p *Pipeline) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Status says whether data flows, what went wrong last, and how far each
// channel is (see statusAt).
func (p *Pipeline) Status() corelib.Status { return p.statusAt(time.Now()) }

func (p *Pipeline) setStage(s string) {
	p.mu.Lock()
	p.stage = s
	p.mu.Unlock()
}

// run is the pipeline's life in phases: bootstrap (checkpoints, target,
// catalog, what exists already), the initial snapshot when the task asks for
// one, then follow (every channel and the catalog) until ctx ends or
// something fails for good. Every goroutine it starts is owned by one
// errgroup and has ended when run returns; the writer is closed last.
func (p *Pipeline) run(ctx context.Context) error {
	b, err := p.bootstrap(ctx)
	if b.w != nil {
		defer b.w.Close()
	}
	if err != nil {
		return err
	}
	if err := p.snapshot(ctx, b); err != nil {
		return err
	}
	return p.follow(ctx, b)
}
