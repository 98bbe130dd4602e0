package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// Factory builds replication pipelines that read one source Milvus. It
// implements corelib.PipelineFactory.
type Factory struct {
	Source Source
	Logger *zap.Logger
	// DialOptions are appended to every target connection (tests dial an
	// in-process server with them).
	DialOptions []grpc.DialOption
	// Metrics receives every pipeline's metrics; nil records none.
	Metrics *Metrics
	// Clock reads "now" on the source's clock (source.SourceClock); it lets
	// a pipeline answer Synced. Nil: Synced reports an error.
	Clock func(ctx context.Context) (time.Time, error)
}

var _ corelib.PipelineFactory = (*Factory)(nil)

// Verify checks that the task's target is reachable with its credentials.
func (f *Factory) Verify(ctx context.Context, spec corelib.TaskSpec) error {
	if err := corelib.CheckTarget(ctx, spec.Target, f.DialOptions...); err != nil {
		return err
	}
	return f.verifyWriterMode(ctx, spec)
}

// New builds the pipeline of a stored task without starting it.
func (f *Factory) New(spec corelib.TaskSpec, deps corelib.Deps) (corelib.Pipeline, error) {
	log := deps.Logger
	if log == nil {
		log = f.Logger
	}
	if log == nil {
		log = zap.NewNop()
	}
	p := &Pipeline{
		spec:    spec,
		deps:    deps,
		src:     f.Source,
		log:     log.With(zap.String("task", spec.ID)),
		target:  f.connect(spec.Target),
		metrics: f.Metrics,
		clock:   f.Clock,
	}
	if spec.WriterMode == corelib.WriterModeReplicate {
		p.replica = newReplicaMode(p.log)
		p.target = f.connectReplica(spec.Target, p.replica)
	}
	return p, nil
}

// connect opens the target for one run of a pipeline.
func (f *Factory) connect(t corelib.Target) func(ctx context.Context) (target, func(), error) {
	return func(ctx context.Context) (target, func(), error) {
		c, err := corelib.ConnectTarget(ctx, t, f.DialOptions...)
		if err != nil {
			return nil, nil, err
		}
		gc, ok := c.(*client.GrpcClient)
		if !ok {
			_ = c.Close()
			return nil, nil, fmt.Errorf("unexpected target client type %T", c)
		}
		return sink.New(gc.Service), func() { _ = c.Close() }, nil
	}
}
