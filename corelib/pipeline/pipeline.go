package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// readRetryDelay spaces the reopenings of a channel whose reader failed
// (a broker restart, a position past retention), so a persistent failure
// shows in the status without spinning.
const readRetryDelay = 2 * time.Second

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// startLoadTimeout bounds how long Start waits for the stored checkpoints.
const startLoadTimeout = 5 * time.Second

// checkpointInterval bounds how often a channel's checkpoint is written to
// the task store while data flows; a pause or stop always writes the last one.
const checkpointInterval = time.Second

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
// replicator wrote, types this version cannot decode) themselves.
type Source interface {
	List(ctx context.Context) (*source.Snapshot, error)
	Watch(ctx context.Context, from *source.Snapshot) <-chan source.MetaEvent
	// OpenChannel reads a physical channel from a position with Milvus's
	// seek rule (from.MsgID inclusive, dropping what from.Timestamp covers),
	// or from the channel's current end when from is nil.
	OpenChannel(ctx context.Context, channel string, from *source.Position) (PackReader, error)
	// OpenReplicateChannel reads the replicate channel after the operation
	// at from, or from its current end when from is nil.
	OpenReplicateChannel(ctx context.Context, from *source.Position) (OpReader, error)
	ReplicateChannel() string
	DefaultPartition() string
}

// Pipeline replicates one task. It implements corelib.Pipeline.
type Pipeline struct {
	spec   corelib.TaskSpec
	deps   corelib.Deps
	src    Source
	target func(ctx context.Context) (target, func(), error)
	log    *zap.Logger
	// metrics and clock may be nil: no metrics, and Synced cannot answer.
	metrics *Metrics
	clock   func(ctx context.Context) (time.Time, error)
	// replica is the state of writer mode "replicate"; nil in mode "api".
	replica *replicaMode

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	r       *replicator
	health  *health
	stage   string // what the run loop is doing, for Status
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
// Status.
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
	p.cancel, p.done = cancel, make(chan struct{})
	p.saved, p.workers = map[string]corelib.Checkpoint{}, map[string]bool{}
	p.preloaded, p.preloadedOK = preloaded, loadErr == nil
	for _, cp := range preloaded {
		p.saved[cp.Channel] = cp
	}
	p.stage = "starting"
	p.health = newHealth()
	p.health.metrics = p.metrics.forTask(p.spec.ID)
	p.health.onPermanent = p.fail
	p.r = nil
	p.metrics.attach(p)
	go func() {
		defer close(p.done)
		defer p.metrics.detach(p)
		p.run(ctx)
	}()
	return nil
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

// Status says whether data flows, what went wrong last, and how far each
// channel is (see statusAt).
func (p *Pipeline) Status() corelib.Status { return p.statusAt(time.Now()) }

func (p *Pipeline) setStage(s string) {
	p.mu.Lock()
	p.stage = s
	p.mu.Unlock()
}

// run is the pipeline's life: connect, list, resume every channel, then
// follow the catalog until stopped.
func (p *Pipeline) run(ctx context.Context) {
	p.mu.Lock()
	h := p.health
	p.mu.Unlock()
	var (
		t           target
		closeTarget func()
		snap        *source.Snapshot
		cps         []corelib.Checkpoint
	)
	steps := []struct {
		stage string
		fn    func(context.Context) error
	}{
		// Checkpoints first: from then on the status reports each channel's
		// stored position and its age, even while the target is down.
		{"loading checkpoints", func(ctx context.Context) (err error) {
			p.mu.Lock()
			pre, ok := p.preloaded, p.preloadedOK
			p.mu.Unlock()
			if ok {
				cps = pre
				return nil
			}
			cps, err = p.deps.Checkpoints.LoadCheckpoints(ctx, p.spec.ID)
			if err == nil {
				p.mu.Lock()
				for _, cp := range cps {
					p.saved[cp.Channel] = cp
				}
				p.mu.Unlock()
			}
			return err
		}},
		{"connecting to the target", func(ctx context.Context) (err error) { t, closeTarget, err = p.target(ctx); return err }},
		{"listing the source catalog", func(ctx context.Context) (err error) { snap, err = p.src.List(ctx); return err }},
	}
	defer func() {
		if closeTarget != nil {
			closeTarget()
		}
	}()
	for _, s := range steps {
		p.setStage(s.stage)
		if err := retry(ctx, h, p.log, stageRead, s.stage, s.fn); err != nil {
			return
		}
	}

	meta := newMetaView(snap)
	r := newReplicator(scopeOf(p.spec), mappingOf(p.spec), p.src.DefaultPartition(), t, meta, p.log)
	r.health = h
	p.mu.Lock()
	p.r = r
	p.mu.Unlock()
	var wg sync.WaitGroup
	if p.replica != nil {
		p.replica.start(ctx, &wg, r)
	}

	resume := map[string]*source.Position{}
	for _, cp := range cps {
		if pos, err := decodePosition(cp); err == nil {
			resume[cp.Channel] = pos
		} else {
			p.log.Warn("ignoring an unreadable checkpoint", zap.String("channel", cp.Channel), zap.Error(err))
		}
	}

	p.setStage("creating existing databases and collections on the target")
	for _, db := range snap.Databases {
		if db.State == metapb.DatabaseState_DatabaseCreated && r.scope.Database(db.Name) {
			if err := r.ensureDatabase(ctx, r.mapping.TargetDatabase(db.Name)); err != nil {
				return
			}
		}
	}
	for _, c := range snap.Collections {
		if c.State != metapb.CollectionState_CollectionCreated {
			continue
		}
		st := r.resolve(c.ID, "", "")
		if !st.inScope {
			continue
		}
		// The source creation times stamp the DDL in writer mode "replicate".
		if err := r.ensureCollection(sink.WithSourceTs(ctx, c.CreateTime), st, c); err != nil {
			wg.Wait()
			return
		}
		for _, part := range c.Partitions {
			if part.State == metapb.PartitionState_PartitionCreated {
				p.createPartition(sink.WithSourceTs(ctx, part.CreatedTime), r, part)
			}
		}
		for _, ch := range st.shardChannels() {
			p.startChannel(ctx, &wg, r, ch, resume[ch])
		}
	}
	rc := p.src.ReplicateChannel()
	// Channels with a checkpoint but no live collection in scope are still
	// read: they may hold the drops of collections dropped while paused.
	for ch := range resume {
		if ch != rc {
			p.startChannel(ctx, &wg, r, ch, resume[ch])
		}
	}
	// The replicate channel is opened before the pipeline reports itself
	// replicating: a task read from the channel's end must not miss an
	// operation issued right after its status says it runs.
	var rcReader OpReader
	if err := retry(ctx, h, p.log, stageRead, "open "+rc, func(ctx context.Context) (err error) {
		rcReader, err = p.src.OpenReplicateChannel(ctx, resume[rc])
		return err
	}); err != nil {
		wg.Wait()
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.followReplicateChannel(ctx, r, rc, resume[rc], rcReader)
	}()

	p.setStage("replicating")
	events := p.src.Watch(ctx, snap)
	for ev := range events {
		meta.apply(ev)
		switch ev.Type {
		case source.DatabaseCreated:
			// The replicate channel carries CreateDatabase too, but Milvus
			// publishes there best effort (a failed produce is only logged);
			// the catalog is authoritative. Both paths are idempotent.
			if r.scope.Database(ev.Database.Name) {
				_ = r.ensureDatabase(ctx, r.mapping.TargetDatabase(ev.Database.Name))
			}
			continue
		case source.DatabaseDropped:
			if r.scope.Database(ev.Database.Name) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = r.dropDatabase(ctx, r.mapping.TargetDatabase(ev.Database.Name))
				}()
			}
			continue
		}
		if ev.Type == source.PartitionCreated {
			// Milvus 2.3 writes no CreatePartition message to the data
			// channels: the catalog is the only place a new partition shows.
			p.createPartition(sink.WithSourceTs(ctx, ev.Partition.CreatedTime), r, ev.Partition)
			continue
		}
		if ev.Type != source.CollectionCreated {
			continue
		}
		st := r.resolve(ev.ID, "", "")
		if !st.inScope {
			continue
		}
		// A collection on a channel the pipeline does not read yet starts
		// at its own CreateCollection message there.
		for _, ch := range st.shardChannels() {
			from := resume[ch]
			if from == nil {
				if id, ok := ev.Collection.StartPositions[ch]; ok {
					from = &source.Position{Channel: ch, MsgID: id}
				}
			}
			p.startChannel(ctx, &wg, r, ch, from)
		}
	}
	wg.Wait()
}

// createPartition replays a partition the catalog announced.
func (p *Pipeline) createPartition(ctx context.Context, r *replicator, part *source.Partition) {
	st := r.resolve(part.CollectionID, "", "")
	if !st.inScope {
		return
	}
	if err := r.ensureCollection(ctx, st, nil); err != nil {
		return
	}
	_ = r.ensurePartition(ctx, st, part.Name) // only fails when ctx ends
}

// startChannel starts the worker of a physical channel unless it runs.
func (p *Pipeline) startChannel(ctx context.Context, wg *sync.WaitGroup, r *replicator, channel string, from *source.Position) {
	p.mu.Lock()
	running := p.workers[channel]
	p.workers[channel] = true
	p.mu.Unlock()
	if running {
		return
	}
	var ts uint64
	if from != nil {
		ts = from.Timestamp
	}
	r.progress.track(channel, ts)
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.followChannel(ctx, r, channel, from)
	}()
}

// followChannel applies the packs of one physical channel until ctx ends,
// reopening the channel at the last applied position after a read error.
func (p *Pipeline) followChannel(ctx context.Context, r *replicator, channel string, from *source.Position) {
	pos := from
	var lastSave time.Time
	readFailed := false // the status says retrying until a pack arrives again
	defer func() {
		if pos != nil && pos != from {
			// The run is being stopped: save what was applied, but do not
			// wait forever for a store that is down.
			saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			p.saveCheckpoint(saveCtx, r, channel, 0, pos)
		}
	}()
	for ctx.Err() == nil {
		var reader PackReader
		err := retry(ctx, r.health, p.log, stageRead, "open "+channel, func(ctx context.Context) (err error) {
			reader, err = p.src.OpenChannel(ctx, channel, pos)
			return err
		})
		if err != nil {
			return
		}
		for ctx.Err() == nil {
			pack, err := reader.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.health.failed(stageRead, fmt.Errorf("read %s: %w", channel, err))
					r.health.metrics.retried(stageRead)
					readFailed = true
					p.log.Warn("reading a channel failed, reopening it", zap.String("channel", channel), zap.Error(err))
					sleepCtx(ctx, readRetryDelay)
				}
				break
			}
			if readFailed {
				readFailed = false
				r.health.recovered()
			}
			r.progress.seen(channel, pack.EndTs)
			msgs := make([]dataMsg, 0, len(pack.Msgs))
			read := 0
			for _, m := range pack.Msgs {
				msgs = append(msgs, dataMsg{msg: m.Body, size: len(m.Raw), ts: m.EndTs})
				read += len(m.Raw)
			}
			r.health.metrics.addRead(channel, read)
			r.health.metrics.batchIn(read)
			if p.replica != nil {
				err = p.replica.applyPack(ctx, r, channel, pack.Msgs)
			} else {
				err = r.applyPack(ctx, channel, msgs)
			}
			r.health.metrics.batchOut(read)
			if err != nil {
				break // only ctx ends the retries inside
			}
			r.progress.advance(channel, pack.EndTs)
			end := pack.EndPosition
			pos = &end
			// Writer mode "replicate" appends what it replays again after a
			// restart, so it saves after every pack (docs/writer-modes.md).
			if time.Since(lastSave) >= checkpointInterval || p.replica != nil {
				p.saveCheckpoint(ctx, r, channel, 0, pos)
				lastSave = time.Now()
			}
		}
		reader.Close()
	}
}

// followReplicateChannel applies the replicate channel's operations in order.
// opened is the reader run() already opened at from; later reopenings
// continue from the last applied operation.
func (p *Pipeline) followReplicateChannel(ctx context.Context, r *replicator, channel string, from *source.Position, opened OpReader) {
	pos := from
	readFailed := false
	var fromTs uint64
	if from != nil {
		fromTs = from.Timestamp
	}
	r.progress.replicateTrack(fromTs)
	for ctx.Err() == nil {
		reader := opened
		opened = nil
		if reader == nil {
			err := retry(ctx, r.health, p.log, stageRead, "open "+channel, func(ctx context.Context) (err error) {
				reader, err = p.src.OpenReplicateChannel(ctx, pos)
				return err
			})
			if err != nil {
				return
			}
		}
		if readFailed { // operations are rare: reopening is the sign of recovery here
			readFailed = false
			r.health.recovered()
			r.progress.replicateRecovered()
		}
		for ctx.Err() == nil {
			msg, next, err := reader.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.health.failed(stageRead, fmt.Errorf("read %s: %w", channel, err))
					r.health.metrics.retried(stageRead)
					r.progress.replicateFailed(time.Now())
					readFailed = true
					p.log.Warn("reading a channel failed, reopening it", zap.String("channel", channel), zap.Error(err))
					sleepCtx(ctx, readRetryDelay)
				}
				break
			}
			r.progress.replicateRead(msg.EndTs)
			if err := r.applyOperation(sink.WithSourceTs(ctx, msg.EndTs), msg.Body, msg.EndTs); err != nil {
				break
			}
			r.progress.replicateApplied(msg.EndTs)
			pos = &next
			p.saveCheckpoint(ctx, r, channel, corelib.ReplicateChannelCollectionID, pos)
		}
		reader.Close()
	}
}

// saveCheckpoint persists a channel's position with compare-and-swap. A
// conflict means another daemon runs this task too: the pipeline stops and
// reports it rather than fight over the checkpoint.
func (p *Pipeline) saveCheckpoint(ctx context.Context, r *replicator, channel string, collectionID int64, pos *source.Position) {
	raw, err := proto.Marshal(&msgpb.MsgPosition{ChannelName: pos.Channel, MsgID: pos.MsgID, Timestamp: pos.Timestamp})
	if err != nil {
		return
	}
	p.mu.Lock()
	cp := corelib.Checkpoint{Channel: channel, CollectionID: collectionID, Position: raw, Timestamp: pos.Timestamp, Revision: p.saved[channel].Revision}
	p.mu.Unlock()
	var conflict error
	_ = retry(ctx, r.health, p.log, stageSave, "save checkpoint "+channel, func(ctx context.Context) error {
		saved, err := p.deps.Checkpoints.SaveCheckpoint(ctx, p.spec.ID, cp)
		if errors.Is(err, corelib.ErrConflict) {
			conflict = err
			return nil
		}
		if errors.Is(err, corelib.ErrTaskGone) {
			return nil // deleted while stopping: nothing left to resume
		}
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.saved[channel] = saved
		p.mu.Unlock()
		return nil
	})
	if conflict != nil {
		p.fail(fmt.Errorf("the checkpoint of channel %s was changed by another writer; is a second daemon running task %s? %w", channel, p.spec.ID, conflict))
	}
}

// fail stops the pipeline on an error retrying cannot fix and tells the
// control plane, once.
func (p *Pipeline) fail(err error) {
	p.mu.Lock()
	cancel := p.cancel
	p.cancel = nil
	p.mu.Unlock()
	if cancel == nil {
		return // already stopping
	}
	p.log.Error("pipeline stopped", zap.Error(err))
	cancel()
	if p.deps.OnFailure != nil {
		p.deps.OnFailure(err)
	}
}

// decodePosition reads a stored checkpoint: a serialized msgpb.MsgPosition,
// the same encoding Milvus and milvus-cdc use for positions.
func decodePosition(cp corelib.Checkpoint) (*source.Position, error) {
	mp := &msgpb.MsgPosition{}
	if err := proto.Unmarshal(cp.Position, mp); err != nil {
		return nil, fmt.Errorf("checkpoint of %s: %w", cp.Channel, err)
	}
	ch := mp.GetChannelName()
	if ch == "" {
		ch = cp.Channel
	}
	return &source.Position{Channel: ch, MsgID: mp.GetMsgID(), Timestamp: mp.GetTimestamp()}, nil
}
