package milvus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/milvusconn"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// Writer mode "replicate" (docs/writer-modes.md). Inserts and deletes are
// re-addressed to the target collection, partition and shard and sent, in
// source order and with the source's timestamps, to the target physical
// channel of their shard; DDL goes through the ordinary RPCs stamped with
// the source timestamp (ReplicateInfoInterceptor). A target in this mode
// produces no time ticks itself, so the writer sends them: every
// tickInterval, each target physical channel the task writes to receives a
// tick at the task's watermark, the lowest end timestamp every source
// channel has applied. No source channel can later deliver a message at or
// below that watermark, so the ticks on a target channel only grow and every
// data message lands above the last tick, whichever source channels feed it.

// tickInterval is how often idle target channels receive a time tick, as
// often as Milvus's own rootcoord ticks (200 ms).
const tickInterval = 200 * time.Millisecond

// minTickGap bounds the tick rate while data flows (every applied batch may
// raise the watermark).
const minTickGap = 50 * time.Millisecond

// sweepInterval is how often the writer lists the target's collections to
// tick the channels of those it has not written to (created by an earlier
// run, another tool, or idle since a restart).
const sweepInterval = 10 * time.Second

// recreateSettle is how long a replica needs between dropping a collection
// and creating another under its name. A Milvus 2.3 target that receives the
// new collection's rows sooner (measured: within 3 s of the drop) loses them
// without an error: neither its datanode nor its querynode ever sees them. 5
// s between the two kept every row on the bed.
const recreateSettle = 5 * time.Second

// replicaWriter is writer mode "replicate".
type replicaWriter struct {
	env  sink.Env
	conn *milvusconn.Conn
	c    *ReplicaClient
	// ddl replays operations through the same connection, whose interceptor
	// stamps them with the source timestamp.
	ddl *apiWriter

	watermark atomic.Uint64
	wake      chan struct{} // a watermark rose; buffered, one pending signal
	stopTicks context.CancelFunc
	ticksDone sync.WaitGroup // the tick and sweep loops

	mu           sync.Mutex
	ticked       map[string]uint64           // target physical channel → last tick sent
	tickErr      bool                        // the last tick failed; the status says so
	sweepFailing bool                        // the last sweep failed; the status says so
	created      map[int64]*sink.Collection  // live target collections by source ID, to tick before their first row
	dropped      map[collectionKey]time.Time // when this writer dropped a target collection, by name
	sleep        func(context.Context, time.Duration) error
}

var (
	_ sink.Writer            = (*replicaWriter)(nil)
	_ sink.WatermarkReceiver = (*replicaWriter)(nil)
)

func newReplicaWriter(env sink.Env) *replicaWriter {
	if env.Log == nil {
		env.Log = zap.NewNop()
	}
	return &replicaWriter{
		env: env, wake: make(chan struct{}, 1), ticked: map[string]uint64{},
		created: map[int64]*sink.Collection{}, dropped: map[collectionKey]time.Time{}, sleep: sleepCtx,
	}
}

// attach sets the connection and starts the time ticks.
func (w *replicaWriter) attach(conn *milvusconn.Conn, c *ReplicaClient) {
	w.conn, w.c = conn, c
	w.ddl = newAPIWriter(w.env, c.Client, nil)
	w.startLoops()
}

// startLoops starts the tick loop and, beside it, the sweep loop: a sweep
// waits on the target's catalog and must never hold the ticks back.
func (w *replicaWriter) startLoops() {
	ctx, cancel := context.WithCancel(context.Background())
	w.stopTicks = cancel
	w.ticksDone.Add(2)
	go func() {
		defer w.ticksDone.Done()
		w.tickLoop(ctx)
	}()
	go func() {
		defer w.ticksDone.Done()
		w.sweepLoop(ctx)
	}()
}

// Info: ReplicateMessage appends, so a replayed batch duplicates its rows.
func (w *replicaWriter) Info() sink.Info { return sink.Info{Appends: true} }

// Close stops the ticks, then closes the connection.
func (w *replicaWriter) Close() error {
	if w.stopTicks != nil {
		w.stopTicks()
		w.ticksDone.Wait()
	}
	if w.conn == nil {
		return nil
	}
	return w.conn.Close()
}

// Watermark records the task's watermark and wakes the ticks.
func (w *replicaWriter) Watermark(ts uint64) {
	for {
		old := w.watermark.Load()
		if ts <= old || w.watermark.CompareAndSwap(old, ts) {
			break
		}
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// fallbackTs is the source timestamp of a DDL call made without one: the
// watermark, or the local clock before the first batch (both run on
// wall-clock hybrid timestamps).
func (w *replicaWriter) fallbackTs() uint64 {
	if wm := w.watermark.Load(); wm > 0 {
		return wm
	}
	return source.ComposeTSByTime(time.Now())
}

// Apply replays an operation through the target's RPC, stamped with the
// operation's source timestamp.
func (w *replicaWriter) Apply(ctx context.Context, op sink.Op) error {
	ctx = WithSourceTs(ctx, op.SourceTs())
	if c, ok := op.(*sink.CreateCollection); ok {
		if c.Fresh {
			w.c.Forget(c.Coll.TargetDatabase, c.Coll.TargetName)
		}
		if err := w.settleAfterDrop(ctx, c.Coll); err != nil {
			return err
		}
	}
	if err := w.applyDDL(ctx, op); err != nil {
		return err
	}
	switch o := op.(type) {
	case *sink.CreateCollection:
		w.mu.Lock()
		w.created[o.Coll.ID] = o.Coll
		w.mu.Unlock()
	case *sink.DropCollection:
		w.c.Forget(o.Coll.TargetDatabase, o.Coll.TargetName)
		w.mu.Lock()
		delete(w.created, o.Coll.ID)
		w.dropped[collectionKey{o.Coll.TargetDatabase, o.Coll.TargetName}] = time.Now()
		w.mu.Unlock()
	}
	return nil
}

// catalogLagRetry bounds the retries of a partition operation that a
// replica's catalog refuses because it does not see the collection yet.
const (
	catalogLagRetry = 3 * time.Second
	catalogLagPause = 25 * time.Millisecond
)

// applyDDL replays an operation through the DDL writer. A replica records a
// collection's creation at the source timestamp, but reads the collection
// back at its own clock when it creates or drops a partition, and that clock
// may trail the source's (a Milvus clock moves in 50 ms steps, and hosts'
// clocks differ): for that long its catalog answers "key not found" for a
// collection that exists. The operation is retried until the target's clock
// has passed the creation.
func (w *replicaWriter) applyDDL(ctx context.Context, op sink.Op) error {
	err := w.ddl.Apply(ctx, op)
	switch op.(type) {
	case *sink.CreatePartition, *sink.DropPartition:
	default:
		return err
	}
	for deadline := time.Now().Add(catalogLagRetry); isCatalogLag(err) && time.Now().Before(deadline); {
		if serr := w.sleep(ctx, catalogLagPause); serr != nil {
			return err
		}
		err = w.ddl.Apply(ctx, op)
	}
	return err
}

// isCatalogLag recognises a replica's catalog reading a collection before
// its clock reached the collection's creation.
func isCatalogLag(err error) bool {
	var te *sink.TargetError
	if !errors.As(err, &te) {
		return false
	}
	return strings.Contains(te.Reason, "key not found") && strings.Contains(te.Reason, "root-coord/")
}

// settleAfterDrop waits, before a collection is created under the name of
// one this writer dropped, until recreateSettle has passed since the drop.
func (w *replicaWriter) settleAfterDrop(ctx context.Context, coll *sink.Collection) error {
	key := collectionKey{coll.TargetDatabase, coll.TargetName}
	w.mu.Lock()
	at, ok := w.dropped[key]
	delete(w.dropped, key)
	w.mu.Unlock()
	if !ok {
		return nil
	}
	wait := recreateSettle - time.Since(at)
	if wait <= 0 {
		return nil
	}
	w.env.Log.Info("waiting for the target to settle after a drop before creating a collection under the same name",
		zap.String("collection", coll.Target()), zap.Duration("wait", wait))
	return w.sleep(ctx, wait)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Write re-addresses the batch's messages and sends them, one
// ReplicateMessage call per target channel, keeping the source order.
func (w *replicaWriter) Write(ctx context.Context, b *sink.Batch) error {
	out := &replicaOut{}
	for _, ch := range b.Changes {
		var err error
		switch c := ch.(type) {
		case *sink.Insert:
			err = w.addInsert(ctx, out, c)
		case *sink.Delete:
			err = w.addDelete(ctx, out, c)
		case *sink.Upsert:
			if err = w.addDelete(ctx, out, c.Delete); err == nil {
				err = w.addInsert(ctx, out, c.Insert)
			}
		case *sink.DropShard:
			// What precedes the drop is on the target first.
			if err = w.send(ctx, out); err == nil {
				err = w.forwardDrop(ctx, b.Channel, c)
			}
			out = &replicaOut{}
		}
		if err != nil {
			return err
		}
	}
	return w.send(ctx, out)
}

// replicaOut collects the encoded messages of one batch per target physical
// channel, in source order.
type replicaOut struct {
	order  []string
	byChan map[string]*replicaChunk
}

type replicaChunk struct {
	msgs           [][]byte
	bytes          int
	beginTs, endTs uint64
}

func (o *replicaOut) add(ch string, raw []byte, begin, end uint64) {
	if o.byChan == nil {
		o.byChan = map[string]*replicaChunk{}
	}
	c := o.byChan[ch]
	if c == nil {
		c = &replicaChunk{beginTs: begin}
		o.byChan[ch] = c
		o.order = append(o.order, ch)
	}
	c.msgs = append(c.msgs, raw)
	c.bytes += len(raw)
	c.beginTs, c.endTs = min(c.beginTs, begin), max(c.endTs, end)
}

func (w *replicaWriter) addInsert(ctx context.Context, out *replicaOut, c *sink.Insert) error {
	req := c.Request()
	addr, ch, err := w.address(ctx, c.Coll, req.GetShardName(), req.GetPartitionName())
	if err != nil {
		return err
	}
	raw, err := EncodeInsert(c.Msg.Raw, addr)
	if err != nil {
		return err
	}
	out.add(ch, raw, c.Msg.BeginTs, c.Msg.EndTs)
	return nil
}

func (w *replicaWriter) addDelete(ctx context.Context, out *replicaOut, c *sink.Delete) error {
	req := c.Request()
	if req.GetNumRows() == 0 {
		return nil
	}
	addr, ch, err := w.address(ctx, c.Coll, req.GetShardName(), req.GetPartitionName())
	if err != nil {
		return err
	}
	raw, err := EncodeDelete(c.Msg.Raw, addr)
	if err != nil {
		return err
	}
	out.add(ch, raw, c.Msg.BeginTs, c.Msg.EndTs)
	return nil
}

// address returns where a message of a source shard and partition goes on
// the target, and the target physical channel of that shard.
func (w *replicaWriter) address(ctx context.Context, coll *sink.Collection, vchannel, partition string) (Address, string, error) {
	shards := 0
	if coll.Info != nil {
		shards = len(coll.Info.VirtualChannels)
	}
	var (
		addr Address
		ch   string
	)
	err := w.env.Call(ctx, "DescribeCollection "+coll.Target(), func(ctx context.Context) error {
		tc, err := w.c.Collection(ctx, coll.TargetDatabase, coll.TargetName, false)
		if err != nil {
			return err
		}
		// A partition created since the collection was described needs a
		// fresh description.
		addr, err = tc.Address(vchannel, partition, shards)
		if IsPartitionUnknown(err) {
			if tc, err = w.c.Collection(ctx, coll.TargetDatabase, coll.TargetName, true); err == nil {
				addr, err = tc.Address(vchannel, partition, shards)
			}
		}
		if err != nil {
			return err
		}
		ch = tc.PhysicalChannel(addr.ShardName)
		return nil
	})
	return addr, ch, err
}

// send writes the collected messages, one ReplicateMessage call per target
// channel and at most maxBatchBytes each.
func (w *replicaWriter) send(ctx context.Context, out *replicaOut) error {
	for _, ch := range out.order {
		c := out.byChan[ch]
		for start := 0; start < len(c.msgs); {
			end, size := start, 0
			for end < len(c.msgs) && (end == start || size+len(c.msgs[end]) <= maxBatchBytes) {
				size += len(c.msgs[end])
				end++
			}
			part := c.msgs[start:end]
			err := w.env.Call(ctx, "ReplicateMessage "+ch, func(ctx context.Context) error {
				return w.c.Replicate(ctx, ch, c.beginTs, c.endTs, part)
			})
			if err != nil {
				return err
			}
			start = end
		}
	}
	return nil
}

// forwardDrop sends the source's drop message, re-addressed, to the target
// physical channels of the collection's shards on this source channel,
// before the drop RPC runs (EncodeDropCollection says why). A collection or
// partition the target does not have is skipped.
func (w *replicaWriter) forwardDrop(ctx context.Context, channel string, d *sink.DropShard) error {
	coll := d.Coll
	return w.env.Call(ctx, "ReplicateMessage drop "+coll.TargetName, func(ctx context.Context) error {
		tc, err := w.c.Collection(ctx, coll.TargetDatabase, coll.TargetName, true)
		if IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		raw, err := encodeDrop(d, tc)
		if err != nil || raw == nil {
			return err
		}
		for _, ch := range targetChannelsOf(coll, channel, tc) {
			if err := w.c.Replicate(ctx, ch, d.Msg.BeginTs, d.Msg.EndTs, [][]byte{raw}); err != nil {
				return err
			}
		}
		return nil
	})
}

// encodeDrop re-addresses a drop message; nil when the partition it drops
// is not on the target (nothing to release).
func encodeDrop(d *sink.DropShard, tc *TargetCollection) ([]byte, error) {
	switch m := d.Msg.Body.(type) {
	case *msgpb.DropCollectionRequest:
		return EncodeDropCollection(m, tc)
	case *msgpb.DropPartitionRequest:
		id, ok := tc.Partitions[d.Partition]
		if !ok {
			return nil, nil
		}
		return EncodeDropPartition(m, tc, id)
	}
	return nil, fmt.Errorf("drop of %s: unexpected message %T", d.Coll, d.Msg.Body)
}

// targetChannelsOf maps the shards a source collection has on one source
// physical channel to the target physical channels of the same shards (all
// of the target's when the catalog no longer knows the collection).
func targetChannelsOf(coll *sink.Collection, channel string, tc *TargetCollection) []string {
	var out []string
	if coll.Info != nil {
		for k, pch := range coll.Info.PhysicalChannels {
			if pch == channel && k < len(tc.PhysicalChannels) && !slices.Contains(out, tc.PhysicalChannels[k]) {
				out = append(out, tc.PhysicalChannels[k])
			}
		}
	}
	if len(out) == 0 {
		for _, pch := range tc.PhysicalChannels {
			if !slices.Contains(out, pch) {
				out = append(out, pch)
			}
		}
	}
	return out
}

// tickLoop sends the watermark to the target channels until ctx ends: when
// a watermark rises (so the replica's strong-consistency queries wait as
// little as possible), at most every minTickGap, and at least every
// tickInterval.
func (w *replicaWriter) tickLoop(ctx context.Context) {
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
		w.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(minTickGap):
		}
	}
}

// tick sends the watermark to every target channel that has not received it.
func (w *replicaWriter) tick(ctx context.Context) {
	wm := w.watermark.Load()
	if wm == 0 {
		return
	}
	w.describeCreated(ctx)
	for _, ch := range w.c.PhysicalChannels() {
		w.mu.Lock()
		done := w.ticked[ch] >= wm
		w.mu.Unlock()
		if done {
			continue
		}
		if err := w.c.TimeTick(ctx, ch, wm); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.mu.Lock()
			first := !w.tickErr
			w.tickErr = true
			w.mu.Unlock()
			if first {
				w.env.Background("time tick on target channel "+ch, err)
				w.env.Log.Warn("sending a time tick to the target failed; retrying every tick", zap.String("channel", ch), zap.Error(err))
			}
			return
		}
		w.mu.Lock()
		w.ticked[ch] = wm
		recovered := w.tickErr
		w.tickErr = false
		w.mu.Unlock()
		if recovered {
			w.env.Background("time tick on target channel "+ch, nil)
		}
	}
}

// describeCreated makes the client know the channels of every collection
// created on the target, so that they tick before their first row: a target
// collection loads only once its channels tick.
func (w *replicaWriter) describeCreated(ctx context.Context) {
	w.mu.Lock()
	created := make([]*sink.Collection, 0, len(w.created))
	for _, c := range w.created {
		created = append(created, c)
	}
	w.mu.Unlock()
	for _, c := range created {
		_, _ = w.c.Collection(ctx, c.TargetDatabase, c.TargetName, false) // cached; a failure is retried next tick
	}
}

// sweepLoop lists the target's collections at once and then every
// sweepInterval, so that the channels of collections the writer has not
// addressed tick too.
func (w *replicaWriter) sweepLoop(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		w.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep lists the target's collections once. A failure is reported once and
// retried at the next interval; the channels already known keep ticking
// meanwhile.
func (w *replicaWriter) sweep(ctx context.Context) {
	err := w.c.SweepChannels(ctx)
	if ctx.Err() != nil {
		return
	}
	const what = "list the target's collections to tick their channels"
	switch {
	case err != nil && !w.sweepFailing:
		w.env.Background(what, err)
		w.env.Log.Warn("listing the target's collections failed; the channels already known keep ticking", zap.Duration("retry_in", sweepInterval), zap.Error(err))
	case err == nil && w.sweepFailing:
		w.env.Background(what, nil)
	}
	w.sweepFailing = err != nil
}
