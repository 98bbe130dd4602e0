package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// Writer writes a pipeline's changes to one target (the package comment has
// the contract).
type Writer interface {
	// Info says how the pipeline must treat the writer.
	Info() Info
	// Apply performs one operation.
	Apply(ctx context.Context, op Op) error
	// Write writes the changes of a batch, in order.
	Write(ctx context.Context, b *Batch) error
	// Close stops the writer and releases its connection.
	Close() error
}

// Info describes a writer to the pipeline.
type Info struct {
	// Appends is true when writing a batch again adds its rows again (a
	// replica's ReplicateMessage): the pipeline then checkpoints after every
	// batch instead of at most once a second.
	Appends bool
}

// WatermarkReceiver is implemented by writers that need to know how far the
// whole task has been applied (the replicate writer ticks the replica's
// channels with it).
type WatermarkReceiver interface {
	// Watermark is called whenever the lowest end timestamp every source
	// channel has applied rises. It must not block.
	Watermark(ts uint64)
}

// Env is what the pipeline lends a writer for one run.
type Env struct {
	Log *zap.Logger
	// Call runs one call to the target under the pipeline's retry policy
	// (see the package comment). op names the call for status and logs; its
	// first word is the call's metric label (e.g. "Upsert db.coll").
	Call func(ctx context.Context, op string, fn func(context.Context) error) error
	// Background reports the outcome of work the writer does on its own,
	// outside Apply and Write (a time tick): a failure, or nil once it works
	// again. It shows in the task status like any other failure.
	Background func(what string, err error)
}

// Factory makes the writers of one writer mode.
type Factory interface {
	// Verify checks, without changing the target, that a task in this mode
	// can run: the target reachable with the task's credentials and in the
	// right mode, and, where the mode cares, the collections in scope that
	// exist now (inScope lists them from the source catalog) writable
	// there. Its errors are the ones a task create answers with.
	Verify(ctx context.Context, t corelib.Target, inScope func(context.Context) ([]*Collection, error)) error
	// Open connects a writer for one run of a pipeline.
	Open(ctx context.Context, t corelib.Target, env Env) (Writer, error)
}

// Registry maps writer modes (corelib.TaskSpec.WriterMode) to their
// factories; "" means corelib.WriterModeAPI.
type Registry map[string]Factory

// ErrUnknownWriterMode is returned by Registry.Factory for a mode nothing
// registered.
var ErrUnknownWriterMode = errors.New("unknown writer mode")

// Factory returns the factory of a writer mode.
func (r Registry) Factory(mode string) (Factory, error) {
	if mode == "" {
		mode = corelib.WriterModeAPI
	}
	if f, ok := r[mode]; ok {
		return f, nil
	}
	modes := make([]string, 0, len(r))
	for m := range r {
		modes = append(modes, m)
	}
	slices.Sort(modes)
	return nil, fmt.Errorf("%w %q: use one of %s", ErrUnknownWriterMode, mode, strings.Join(modes, ", "))
}

// ErrUnsupported is wrapped by a writer's error for a change or operation it
// cannot express on its target; the pipeline skips it and counts the skip
// in the task status instead of ending the run.
var ErrUnsupported = errors.New("not supported by this writer")
