package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// callTimeout bounds one attempt of a call to the target.
var callTimeout = 2 * time.Minute

// catalogWait bounds how long a data-channel CreateCollection waits for the
// catalog to mark the collection Created before the message's own schema is
// used instead.
const catalogWait = 10 * time.Second

// run is what the goroutines of one pipeline run share: the writer, the
// catalog view, the collections met, and how far each channel got.
type run struct {
	log         *zap.Logger
	health      *health
	w           sink.Writer
	info        sink.Info
	meta        *metaView
	colls       *collections
	progress    *progress
	drops       *barrier
	waits       *waits
	defaultPart string
	userRoles   bool // the task replicates users, roles and privileges
	// snapshotEnd is when the task's initial snapshot finished (0: none):
	// changes up to it may already be on the target.
	snapshotEnd uint64
	// resume is where each channel resumed from when the run began (no
	// entry: read from a collection's start, or from the channel's end).
	resume map[string]*source.Position
}

// newRun assembles the shared state of a run.
func newRun(log *zap.Logger, h *health, w sink.Writer, meta *metaView, colls *collections, defaultPart string) *run {
	r := &run{log: log, health: h, w: w, meta: meta, colls: colls, progress: newProgress(), waits: newWaits(), defaultPart: defaultPart}
	if w != nil {
		r.info = w.Info()
	}
	r.drops = newBarrier(r.progress)
	r.drops.needless, r.drops.waits, r.drops.giveUp = r.needless, r.waits, r.giveUpWait
	return r
}

// writerEnv lends the writer the pipeline's retry policy and health. guard,
// when set, must allow each target call before it is made (corelib.Deps.Guard).
func writerEnv(h *health, log *zap.Logger, guard func(context.Context) error) sink.Env {
	return sink.Env{
		Log: log.Named("writer"),
		Call: func(ctx context.Context, op string, fn func(context.Context) error) error {
			return retry(ctx, h, log, stageApply, op, func(ctx context.Context) error {
				if guard != nil {
					if err := guard(ctx); err != nil {
						return fmt.Errorf("%s not sent: %w", op, err)
					}
				}
				start := time.Now()
				// A target that stops answering shows in the status after
				// slowCallAfter, and as a retried failure after callTimeout,
				// not as a call that never returns.
				actx, cancel := context.WithTimeout(ctx, callTimeout)
				answered := h.calls.begin(op, start)
				err := fn(actx)
				answered()
				cancel()
				if err != nil && ctx.Err() == nil && actx.Err() != nil {
					err = fmt.Errorf("%s: no answer from the target within %s: %w", op, callTimeout, err)
				}
				h.metrics.observeApply(op, time.Since(start))
				return err
			})
		},
		Background: func(what string, err error) {
			if err != nil {
				h.failed(stageApply, fmt.Errorf("%s: %w", what, err))
				return
			}
			h.recovered()
		},
	}
}

// apply performs one operation, counting it for its collection. An
// operation the writer cannot express is skipped and counted.
func (r *run) apply(ctx context.Context, st *collState, op sink.Op) error {
	err := r.w.Apply(ctx, op)
	if errors.Is(err, sink.ErrUnsupported) {
		r.health.skip(op.Name()+" (not supported by the writer)", true)
		return nil
	}
	if err == nil && st != nil {
		st.ops.Add(1)
	}
	return err
}

// ensureDatabase makes a target database exist; ts is its source creation.
func (r *run) ensureDatabase(ctx context.Context, db string, ts uint64) error {
	return r.apply(ctx, nil, &sink.CreateDatabase{At: sink.At{Ts: ts}, Database: db})
}

// ensureCollection makes the target collection exist, once per run, from
// the source catalog's description; hint is the data-channel
// CreateCollection message's, used when the catalog has not caught up
// within catalogWait. ts stamps the creation when the description has no
// creation time.
func (r *run) ensureCollection(ctx context.Context, st *collState, hint *source.Collection, ts uint64) error {
	if !st.inScope || st.isDropped() {
		return nil
	}
	return st.created.do(ctx, func() error {
		c, ok := r.meta.createdCollection(ctx, st.id, catalogWait)
		if !ok || c == nil {
			c = hint
		}
		if c == nil {
			v := st.coll()
			// Retried like any failure, so a collection the catalog never
			// shows keeps the status saying so.
			return retry(ctx, r.health, r.log, stageApply, "find "+v.String()+" in the source catalog", func(ctx context.Context) error {
				if c, ok = r.meta.createdCollection(ctx, st.id, catalogWait); ok && c != nil {
					return nil
				}
				return fmt.Errorf("collection %s (id %d) is not in the source catalog", v, st.id)
			})
		}
		st.learn(c)
		if c.CreateTime != 0 {
			ts = c.CreateTime
		}
		return r.apply(ctx, st, &sink.CreateCollection{At: sink.At{Ts: ts}, Coll: st.coll(), Fresh: r.freshCreation(st, c)})
	})
}

// ensurePartition makes a named partition exist on the target, once per
// run. The default partition always exists, and partition-key collections
// manage their own. The creation is stamped with the partition's source
// creation time, or ts when the catalog does not know it.
func (r *run) ensurePartition(ctx context.Context, st *collState, name string, ts uint64) error {
	if name == "" || name == r.defaultPart || st.isDropped() || st.coll().PartitionKey {
		return nil
	}
	if created := r.partitionCreated(st, name); created != 0 {
		ts = created
	}
	return st.partition(name).do(ctx, func() error {
		return r.apply(ctx, st, &sink.CreatePartition{At: sink.At{Ts: ts}, Coll: st.coll(), Partition: name})
	})
}

// partitionCreated is a partition's source creation time from the catalog.
func (r *run) partitionCreated(st *collState, name string) uint64 {
	if c := st.coll().Info; c != nil {
		for _, p := range c.Partitions {
			if p.Name == name && p.State == metapb.PartitionState_PartitionCreated {
				return p.CreatedTime
			}
		}
	}
	if p, ok := r.meta.partition(st.id, name); ok {
		return p.CreatedTime
	}
	return 0
}

// needsCreate reports whether a change of the collection in partition would
// make the run create something on the target first.
func (r *run) needsCreate(st *collState, partition string) bool {
	if !st.created.isDone() {
		return true
	}
	if partition == "" || partition == r.defaultPart || st.coll().PartitionKey {
		return false
	}
	return !st.partition(partition).isDone()
}

// positions are the channels' positions, retired ones marked.
func (r *run) positions(now time.Time) []channelPosition {
	pos := r.progress.positions()
	for i := range pos {
		pos[i].retired = r.meta != nil && r.retired(pos[i].channel, now)
	}
	return pos
}

// watermark is the lowest applied end timestamp over the source channels
// the pipeline reads, 0 while one of them has applied nothing yet. Retired
// channels do not count: frozen at their last tick, they would hold the
// watermark (and a replica's ticks) back for ever.
func (r *run) watermark() uint64 {
	var low uint64
	for _, pos := range r.positions(time.Now()) {
		if pos.retired {
			continue
		}
		if pos.applied == 0 {
			return 0
		}
		if low == 0 || pos.applied < low {
			low = pos.applied
		}
	}
	return low
}

// advanced records that a channel applied up to ts and hands the task's
// watermark to a writer that wants it.
func (r *run) advanced(channel string, ts uint64) {
	r.progress.advance(channel, ts)
	if wr, ok := r.w.(sink.WatermarkReceiver); ok {
		if wm := r.watermark(); wm > 0 {
			wr.Watermark(wm)
		}
	}
}
