package corelibtest

import (
	"context"
	"sync"

	"google.golang.org/grpc"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/milvusconn"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka"
)

// NotReplicatingDetail is the status a ConnectOnly pipeline reports, so that
// no test mistakes it for one that moves data.
const NotReplicatingDetail = "connect-only test pipeline: the target was reachable when the task started, but no data is replicated"

// ConnectOnlyFactory is a PipelineFactory for control-plane tests: it checks
// that the target (a Milvus, or a Kafka target's brokers) is reachable (at create, resume and restart) and
// replicates nothing, saying so in Status.
type ConnectOnlyFactory struct {
	// DialOptions are appended to every target connection (tests dial an
	// in-process server with them).
	DialOptions []grpc.DialOption
}

// Verify connects to the target and disconnects.
func (f ConnectOnlyFactory) Verify(ctx context.Context, spec corelib.TaskSpec) error {
	return checkTarget(ctx, spec.Target, f.DialOptions)
}

// checkTarget connects to a target Milvus, or asks a Kafka target's brokers
// for their metadata.
func checkTarget(ctx context.Context, t corelib.Target, dial []grpc.DialOption) error {
	if t.Kafka != nil {
		return (&kafka.Factory{}).Verify(ctx, t, nil)
	}
	return milvusconn.CheckTarget(ctx, t, dial...)
}

// New returns a pipeline that only checks the target when started.
func (f ConnectOnlyFactory) New(spec corelib.TaskSpec, _ corelib.Deps) (corelib.Pipeline, error) {
	return &connectOnlyPipeline{target: spec.Target, dial: f.DialOptions}, nil
}

type connectOnlyPipeline struct {
	target corelib.Target
	dial   []grpc.DialOption

	mu      sync.Mutex
	started bool
	lastErr string
}

func (p *connectOnlyPipeline) Start(ctx context.Context) error {
	err := checkTarget(ctx, p.target, p.dial)
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

func (p *connectOnlyPipeline) Status() corelib.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := corelib.Status{Replicating: false, LastError: p.lastErr}
	if p.started {
		s.Detail = NotReplicatingDetail
	} else {
		s.Detail = "stopped"
	}
	return s
}
