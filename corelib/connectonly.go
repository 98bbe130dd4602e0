package corelib

import (
	"context"
	"sync"

	"google.golang.org/grpc"
)

// NotReplicatingDetail is the status a ConnectOnly pipeline reports, so that
// nobody mistakes a task for one that moves data.
const NotReplicatingDetail = "replication core not built into this daemon yet: the target was reachable when the task started, but no data is replicated"

// ConnectOnlyFactory is the PipelineFactory the daemon uses until the
// replication core lands: it verifies that the target Milvus is reachable (at
// create, resume and restart) and replicates nothing, saying so in Status.
type ConnectOnlyFactory struct {
	// DialOptions are appended to every target connection (tests dial an
	// in-process server with them).
	DialOptions []grpc.DialOption
}

// Verify connects to the target and disconnects.
func (f ConnectOnlyFactory) Verify(ctx context.Context, spec TaskSpec) error {
	return CheckTarget(ctx, spec.Target, f.DialOptions...)
}

// New returns a pipeline that only checks the target when started.
func (f ConnectOnlyFactory) New(spec TaskSpec, _ Deps) (Pipeline, error) {
	return &connectOnlyPipeline{target: spec.Target, dial: f.DialOptions}, nil
}

type connectOnlyPipeline struct {
	target Target
	dial   []grpc.DialOption

	mu      sync.Mutex
	started bool
	lastErr string
}

func (p *connectOnlyPipeline) Start(ctx context.Context) error {
	err := CheckTarget(ctx, p.target, p.dial...)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = err == nil
	p.lastErr = ""
	if err != nil {
		p.lastErr = err.Error()
	}
	return err
}

func (p *connectOnlyPipeline) Stop(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = false
	return nil
}

func (p *connectOnlyPipeline) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{Replicating: false, LastError: p.lastErr}
	if p.started {
		s.Detail = NotReplicatingDetail
	} else {
		s.Detail = "stopped"
	}
	return s
}
