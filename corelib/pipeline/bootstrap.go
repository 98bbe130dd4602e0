package pipeline

import (
	"context"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// boot is what the bootstrap phase hands to the next phases.
type boot struct {
	w      sink.Writer // open writer, closed when the run ends
	r      *run
	snap   *source.Snapshot
	resume map[string]*source.Position // where each channel resumes, by channel
}

// bootstrap is the first phase of a run: read the checkpoints, open the
// writer, list the source catalog, and make what the source has now (in
// scope) exist on the target. Each step is retried until it succeeds or the
// run ends.
func (p *Pipeline) bootstrap(ctx context.Context) (*boot, error) {
	p.mu.Lock()
	h := p.health
	p.mu.Unlock()
	b := &boot{}
	var cps []corelib.Checkpoint
	steps := []struct {
		stage string
		fn    func(context.Context) error
	}{
		// Checkpoints first: from then on the status reports each channel's
		// stored position and its age, even while the target is down.
		{"loading checkpoints", func(ctx context.Context) (err error) {
			cps, err = p.loadCheckpoints(ctx)
			return err
		}},
		{"connecting to the target", func(ctx context.Context) (err error) {
			b.w, err = p.writer.Open(ctx, p.spec.Target, writerEnv(h, p.log, p.deps.Guard))
			return err
		}},
		{"listing the source catalog", func(ctx context.Context) (err error) { b.snap, err = p.src.List(ctx); return err }},
	}
	for _, s := range steps {
		p.setStage(s.stage)
		if err := retry(ctx, h, p.log, stageRead, s.stage, s.fn); err != nil {
			return b, err
		}
	}

	meta := newMetaView(b.snap)
	r := newRun(p.log, h, b.w, meta, newCollections(scopeOf(p.spec), mappingOf(p.spec), meta), p.src.DefaultPartition())
	r.userRoles = p.spec.EnableUserRole
	b.r = r
	p.mu.Lock()
	p.r = r
	p.mu.Unlock()

	b.resume = map[string]*source.Position{}
	for _, cp := range cps {
		if pos, err := decodePosition(cp); err == nil {
			b.resume[cp.Channel] = pos
		} else {
			p.log.Warn("ignoring an unreadable checkpoint", zap.String("channel", cp.Channel), zap.Error(err))
		}
	}
	r.resume = b.resume

	p.setStage("creating existing databases and collections on the target")
	return b, p.createExisting(ctx, r, b.snap)
}

// loadCheckpoints returns the checkpoints Start read, or reads them.
func (p *Pipeline) loadCheckpoints(ctx context.Context) ([]corelib.Checkpoint, error) {
	p.mu.Lock()
	pre, ok := p.preloaded, p.preloadedOK
	p.mu.Unlock()
	if ok {
		return pre, nil
	}
	cps, err := p.deps.Checkpoints.LoadCheckpoints(ctx, p.spec.ID)
	if err == nil {
		p.mu.Lock()
		for _, cp := range cps {
			p.saved[cp.Channel] = cp
		}
		p.mu.Unlock()
	}
	return cps, err
}

// createExisting makes the in-scope databases, collections and partitions
// the catalog lists exist on the target, stamped with their source creation
// times.
func (p *Pipeline) createExisting(ctx context.Context, r *run, snap *source.Snapshot) error {
	for _, db := range snap.Databases {
		if db.State == metapb.DatabaseState_DatabaseCreated && r.colls.scope.Database(db.Name) {
			if err := r.ensureDatabase(ctx, r.colls.mapping.TargetDatabase(db.Name), db.CreatedTime); err != nil {
				return err
			}
		}
	}
	for _, c := range existingInScope(r, snap) {
		st := r.colls.resolve(c.ID, "", "")
		if err := r.ensureCollection(ctx, st, nil, c.CreateTime); err != nil {
			return err
		}
		for _, part := range c.Partitions {
			if part.State == metapb.PartitionState_PartitionCreated {
				if err := r.ensurePartition(ctx, st, part.Name, part.CreatedTime); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// existingInScope lists the created collections of a snapshot the task
// replicates.
func existingInScope(r *run, snap *source.Snapshot) []*source.Collection {
	var out []*source.Collection
	for _, c := range snap.Collections {
		if c.State == metapb.CollectionState_CollectionCreated && r.colls.resolve(c.ID, "", "").inScope {
			out = append(out, c)
		}
	}
	return out
}
