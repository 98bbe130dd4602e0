package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
)

// readRetryDelay spaces the reopenings of a channel whose reader failed
// (a broker restart, a position past retention), so a persistent failure
// shows in the status without spinning.
const readRetryDelay = 2 * time.Second

// stopSaveTimeout bounds the last checkpoint save of a stopping channel, so
// a store that is down does not hold the stop forever.
const stopSaveTimeout = 5 * time.Second

// follow is the phase that replicates: one worker per physical channel, one
// for the replicate channel, and the catalog watch, which starts the workers
// of channels new collections use. It returns when ctx ends or one of them
// fails for good.
func (p *Pipeline) follow(ctx context.Context, b *boot) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	f := &follower{p: p, r: b.r, g: g, ctx: ctx}

	for _, c := range existingInScope(b.r, b.snap) {
		for _, ch := range b.r.colls.resolve(c.ID, "", "").shardChannels() {
			from := b.resume[ch]
			if from == nil {
				// The task never read this channel: its collections were
				// created after the task (while it was paused or the daemon
				// down). It starts at the earliest of their creations, not
				// at its end, or what they got meanwhile would be lost.
				from = earliestStart(b.r, b.snap, ch)
			}
			f.startChannel(ch, from)
		}
	}
	rc := p.src.ReplicateChannel()
	// Channels with a checkpoint but no live collection in scope are still
	// read: they may hold the drops of collections dropped while paused.
	for ch, pos := range b.resume {
		if ch != rc {
			f.startChannel(ch, pos)
		}
	}
	// The replicate channel is opened before the pipeline reports itself
	// replicating: a task read from the channel's end must not miss an
	// operation issued right after its status says it runs.
	var rcReader OpReader
	err := retry(ctx, b.r.health, p.log, stageRead, "open "+rc, func(ctx context.Context) (err error) {
		rcReader, err = p.src.OpenReplicateChannel(ctx, b.resume[rc], b.r.health.readerSkip)
		return err
	})
	if err != nil {
		cancel()
		_ = g.Wait()
		return err
	}
	g.Go(func() error { return p.followReplicateChannel(ctx, b.r, rc, b.resume[rc], rcReader) })

	p.setStage("replicating")
	g.Go(func() error { return f.watchCatalog(b.snap, b.resume) })
	g.Go(func() error { watchSilence(ctx, b.r, sourceSilenceAfter); return nil })
	return g.Wait()
}

// sourceSilenceAfter is how long a source channel that carries a live
// collection may deliver nothing before the status says so: Milvus ticks
// such a channel every 200 ms, so silence that long means its message queue
// (or the source) does not deliver.
var sourceSilenceAfter = 10 * time.Second // a variable for tests

// watchSilence checks every second for channels whose worker has waited
// longer than after for a pack although the channel should tick (a Milvus
// ticks only the channels that carry a collection).
func watchSilence(ctx context.Context, r *run, after time.Duration) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for ch, since := range r.progress.waitingSince() {
				if now.Sub(since) >= after && r.meta.channelInUse(ch) {
					r.health.silence(ch, since, after)
				}
			}
		}
	}
}

// earliestStart is the catalog start position on ch of the earliest created
// live in-scope collection with a shard there; nil when none has one.
func earliestStart(r *run, snap *source.Snapshot, ch string) *source.Position {
	var best *source.Collection
	for _, c := range existingInScope(r, snap) {
		if c.StartPositions[ch] == nil {
			continue
		}
		if best == nil || c.CreateTime < best.CreateTime {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	return &source.Position{Channel: ch, MsgID: best.StartPositions[ch]}
}

// follower starts the goroutines of the follow phase in its group.
type follower struct {
	p   *Pipeline
	r   *run
	g   *errgroup.Group
	ctx context.Context
}

// startChannel starts the worker of a physical channel unless it runs.
func (f *follower) startChannel(channel string, from *source.Position) {
	p := f.p
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
	f.r.progress.track(channel, ts)
	f.g.Go(func() error { return p.followChannel(f.ctx, f.r, channel, from) })
}

// watchCatalog follows the source catalog until the run ends: databases
// created and dropped, partitions created (Milvus 2.3 writes no
// CreatePartition message to the data channels), and the channels of new
// collections.
func (f *follower) watchCatalog(snap *source.Snapshot, resume map[string]*source.Position) error {
	ctx, r := f.ctx, f.r
	for ev := range f.p.src.Watch(ctx, snap) {
		r.meta.apply(ev)
		switch ev.Type {
		case source.DatabaseCreated:
			// The replicate channel carries CreateDatabase too, but Milvus
			// publishes there best effort (a failed produce is only logged);
			// the catalog is authoritative. Both paths are idempotent.
			if r.colls.scope.Database(ev.Database.Name) {
				if err := r.ensureDatabase(ctx, r.colls.mapping.TargetDatabase(ev.Database.Name), ev.Database.CreatedTime); err != nil {
					return ignoreEnd(ctx, err)
				}
			}
		case source.DatabaseDropped:
			if r.colls.scope.Database(ev.Database.Name) {
				// Milvus drops only empty databases: the drop is retried
				// until the drops of its collections arrived, so it must not
				// hold up the watch.
				db := r.colls.mapping.TargetDatabase(ev.Database.Name)
				f.g.Go(func() error {
					return ignoreEnd(ctx, r.apply(ctx, nil, &sink.DropDatabase{Database: db}))
				})
			}
		case source.PartitionCreated:
			st := r.colls.resolve(ev.Partition.CollectionID, "", "")
			if !st.inScope {
				continue
			}
			if err := r.ensureCollection(ctx, st, nil, ev.Partition.CreatedTime); err != nil {
				return ignoreEnd(ctx, err)
			}
			if err := r.ensurePartition(ctx, st, ev.Partition.Name, ev.Partition.CreatedTime); err != nil {
				return ignoreEnd(ctx, err)
			}
		case source.CollectionCreated:
			st := r.colls.resolve(ev.ID, "", "")
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
				f.startChannel(ch, from)
			}
		}
	}
	return nil
}

// ignoreEnd turns the error of a run that is ending into nil, so the
// failure that ended it is the one the run reports.
func ignoreEnd(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// followChannel applies the packs of one physical channel until ctx ends,
// reopening the channel at the last applied position after a read error.
func (p *Pipeline) followChannel(ctx context.Context, r *run, channel string, from *source.Position) error {
	pos := from
	var lastSave time.Time
	readFailed := false // the status says retrying until a pack arrives again
	// Packs up to replayUntil may already be on the target: an earlier run
	// may have applied them (its stored apply bound says how far it could
	// have got), or the initial snapshot copied their rows.
	bound := p.storedBound(channel)
	replayUntil := max(bound, r.snapshotEnd)
	defer func() {
		if pos != nil && pos != from {
			// The run is ending: save what was applied, but do not wait
			// forever for a store that is down.
			saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopSaveTimeout)
			defer cancel()
			_ = p.saveCheckpoint(saveCtx, r.health, channel, 0, *pos)
		}
	}()
	for ctx.Err() == nil {
		var reader PackReader
		err := retry(ctx, r.health, p.log, stageRead, "open "+channel, func(ctx context.Context) (err error) {
			reader, err = p.src.OpenChannel(ctx, channel, pos, r.health.readerSkip)
			return err
		})
		if err != nil {
			return ignoreEnd(ctx, err)
		}
		for ctx.Err() == nil {
			r.progress.waitStart(channel, time.Now())
			pack, err := reader.Next(ctx)
			r.progress.waitEnd(channel)
			if errors.Is(err, mq.ErrPositionUnavailable) {
				reader.Close()
				return r.health.givePermanent(stageRead, positionLost(channel, pos, err))
			}
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
			r.health.heard(channel)
			if readFailed {
				readFailed = false
				r.health.recovered()
			}
			// Before a pack past the stored bound is applied, the bound is
			// raised, so a crash never leaves applied rows outside it. With
			// no position to store yet, every pack counts as a replay.
			replay := pack.EndTs <= replayUntil || pos == nil
			if pack.EndTs > bound && pos != nil {
				bound = applyBound(pack.EndTs)
				if err := p.saveCheckpointBound(ctx, r.health, channel, 0, *pos, bound); err != nil {
					reader.Close()
					return ignoreEnd(ctx, err)
				}
			}
			if err := p.applyPack(ctx, r, pack, replay); err != nil {
				reader.Close()
				return ignoreEnd(ctx, err)
			}
			end := pack.EndPosition
			pos = &end
			// A writer that appends what it replays after a restart saves
			// after every pack (docs/writer-modes.md).
			if time.Since(lastSave) >= checkpointInterval || r.info.Appends {
				if err := p.saveCheckpoint(ctx, r.health, channel, 0, *pos); err != nil {
					reader.Close()
					return ignoreEnd(ctx, err)
				}
				lastSave = time.Now()
			}
		}
		reader.Close()
	}
	return nil
}

// applyPack writes one pack, with the read and in-flight metrics around it,
// and advances the channel. replay marks its inserts as possibly on the
// target already.
func (p *Pipeline) applyPack(ctx context.Context, r *run, pack *source.Pack, replay bool) error {
	r.progress.seen(pack.Channel, pack.EndTs)
	read := 0
	for _, m := range pack.Msgs {
		read += len(m.Raw)
	}
	r.health.metrics.addRead(pack.Channel, read)
	// Room in the daemon's memory budget first: while there is none this
	// channel reads nothing more.
	release, err := p.budget.acquire(ctx, int64(read))
	if err != nil {
		return err
	}
	defer release()
	r.health.metrics.batchIn(read)
	err = r.applyPack(ctx, pack, replay)
	r.health.metrics.batchOut(read)
	if err != nil {
		return err
	}
	r.advanced(pack.Channel, pack.EndTs)
	return nil
}

// followReplicateChannel applies the replicate channel's operations in order.
// opened is the reader follow already opened at from; later reopenings
// continue from the last applied operation.
func (p *Pipeline) followReplicateChannel(ctx context.Context, r *run, channel string, from *source.Position, opened OpReader) error {
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
				reader, err = p.src.OpenReplicateChannel(ctx, pos, r.health.readerSkip)
				return err
			})
			if err != nil {
				return ignoreEnd(ctx, err)
			}
		}
		if readFailed { // operations are rare: reopening is the sign of recovery here
			readFailed = false
			r.health.recovered()
			r.progress.replicateRecovered()
		}
		for ctx.Err() == nil {
			msg, next, err := reader.Next(ctx)
			if errors.Is(err, mq.ErrPositionUnavailable) {
				reader.Close()
				return r.health.givePermanent(stageRead, positionLost(channel, pos, err))
			}
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
			if err := r.applyOperation(ctx, msg.Body, msg.EndTs); err != nil {
				reader.Close()
				return ignoreEnd(ctx, err)
			}
			r.progress.replicateApplied(msg.EndTs)
			pos = &next
			if err := p.saveCheckpoint(ctx, r.health, channel, corelib.ReplicateChannelCollectionID, *pos); err != nil {
				reader.Close()
				return ignoreEnd(ctx, err)
			}
		}
		reader.Close()
	}
	return nil
}

// positionLost is the error of a channel whose broker no longer holds the
// position the task resumes from: what was written between that position
// and the oldest message the broker still holds is lost to this task, and
// skipping ahead would leave the target silently different from the source.
func positionLost(channel string, from *source.Position, err error) error {
	at := "its start"
	if from != nil && from.Timestamp != 0 {
		at = source.PhysicalTime(from.Timestamp).UTC().Format(time.RFC3339)
	}
	return fmt.Errorf("source channel %s no longer holds the task's position (%s): the broker's retention removed the messages from then until the oldest one it still holds, so the target would miss them; re-create the task with initialSync to copy the collections again (and give the channels a longer retention): %w", channel, at, err)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
