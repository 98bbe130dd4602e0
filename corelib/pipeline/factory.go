package pipeline

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// Factory builds replication pipelines that read one source Milvus and
// write through the writer of each task's mode. It implements
// corelib.PipelineFactory.
type Factory struct {
	Source Source
	// Writers are the writer factories by writer mode.
	Writers sink.Registry
	Logger  *zap.Logger
	// Metrics receives every pipeline's metrics; nil records none.
	Metrics *Metrics
	// Clock reads "now" on the source's clock (source.SourceClock); it lets
	// a pipeline answer Synced. Nil: Synced reports an error.
	Clock func(ctx context.Context) (time.Time, error)
	// Rows connects to the source Milvus to read its rows, for tasks with
	// an initial snapshot; it returns the reader and how to close it. Nil:
	// such tasks fail with ErrNoRowSource.
	Rows func(ctx context.Context) (RowSource, func() error, error)
	// Budget bounds the pack bytes all pipelines hold at once (the
	// memoryLimit setting); nil bounds nothing.
	Budget *Budget
}

var _ corelib.PipelineFactory = (*Factory)(nil)

// Verify checks, through the task's writer, that the task can run against
// its target.
func (f *Factory) Verify(ctx context.Context, spec corelib.TaskSpec) error {
	w, err := f.Writers.Factory(spec.WriterMode)
	if err != nil {
		return err
	}
	return w.Verify(ctx, spec.Target, func(ctx context.Context) ([]*sink.Collection, error) {
		return f.inScope(ctx, spec)
	})
}

// InScope lists the created source collections a task replicates, with
// their names on the target (what verification compares).
func (f *Factory) InScope(ctx context.Context, spec corelib.TaskSpec) ([]*sink.Collection, error) {
	return f.inScope(ctx, spec)
}

// inScope lists the created source collections a task replicates, resolved
// to their target names.
func (f *Factory) inScope(ctx context.Context, spec corelib.TaskSpec) ([]*sink.Collection, error) {
	if f.Source == nil {
		return nil, nil
	}
	snap, err := f.Source.List(ctx)
	if err != nil {
		return nil, err
	}
	colls := newCollections(scopeOf(spec), mappingOf(spec), newMetaView(snap))
	var out []*sink.Collection
	for _, c := range snap.Collections {
		if c.State != metapb.CollectionState_CollectionCreated {
			continue
		}
		if st := colls.resolve(c.ID, "", ""); st.inScope {
			out = append(out, st.coll())
		}
	}
	return out, nil
}

// New builds the pipeline of a stored task without starting it.
func (f *Factory) New(spec corelib.TaskSpec, deps corelib.Deps) (corelib.Pipeline, error) {
	w, err := f.Writers.Factory(spec.WriterMode)
	if err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = f.Logger
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Pipeline{
		spec:    spec,
		deps:    deps,
		src:     f.Source,
		writer:  w,
		log:     log.With(zap.String("task", spec.ID)),
		metrics: f.Metrics,
		clock:   f.Clock,
		rows:    f.Rows,
		budget:  f.Budget,
	}, nil
}
