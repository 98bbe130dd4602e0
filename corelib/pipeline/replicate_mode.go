package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// Writer mode "replicate" (docs/writer-modes.md). The channel workers hand
// their packs to replicaMode instead of the merging api applier: inserts and
// deletes are re-addressed to the target collection and sent, in source order
// and with source timestamps, to the target physical channel of their shard.
// A target in this mode produces no time ticks itself, so replicaMode sends
// them: every tickInterval, each target physical channel the task writes to
// receives a tick at the task's watermark, the lowest end timestamp any source
// channel has applied. No source channel can later deliver a message at or
// below that watermark, so the ticks on a target channel only grow and every
// data message lands above the last tick, whichever source channels feed it.

// tickInterval is how often idle target channels receive a time tick, as
// often as Milvus's own rootcoord ticks (200 ms).
const tickInterval = 200 * time.Millisecond

// minTickGap bounds the tick rate while data flows (every applied pack may
// raise the watermark).
const minTickGap = 50 * time.Millisecond

// replicaMode is the replicate-mode state of one pipeline.
type replicaMode struct {
	log *zap.Logger

	mu      sync.Mutex
	w       *sink.ReplicaWriter
	r       *replicator
	ticked  map[string]uint64 // target physical channel → last tick sent
	tickErr bool              // the last tick failed; the status says so
}

func newReplicaMode(log *zap.Logger) *replicaMode {
	return &replicaMode{log: log, ticked: map[string]uint64{}}
}

func (m *replicaMode) setWriter(w *sink.ReplicaWriter) {
	m.mu.Lock()
	m.w = w
	m.mu.Unlock()
}

func (m *replicaMode) writer() *sink.ReplicaWriter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.w
}

// watermark is the lowest applied end timestamp over the source channels the
// pipeline reads, 0 while one of them has applied nothing yet.
func (m *replicaMode) watermark() uint64 {
	m.mu.Lock()
	r := m.r
	m.mu.Unlock()
	if r == nil {
		return 0
	}
	var low uint64
	for i, pos := range r.progress.positions() {
		if pos.applied == 0 {
			return 0
		}
		if i == 0 || pos.applied < low {
			low = pos.applied
		}
	}
	return low
}

// fallbackTs is the source timestamp of a DDL call made without one (a
// database created from the catalog): the watermark, or the local clock
// before the first pack (both run on wall-clock hybrid timestamps).
func (m *replicaMode) fallbackTs() uint64 {
	if wm := m.watermark(); wm > 0 {
		return wm
	}
	return source.ComposeTSByTime(time.Now())
}

// start begins the time ticks of a pipeline run.
func (m *replicaMode) start(ctx context.Context, wg *sync.WaitGroup, r *replicator) {
	m.mu.Lock()
	m.r = r
	m.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(tickInterval)
		defer t.Stop()
		for {
			// Wake when a channel applied a pack, so the replica's
			// strong-consistency queries wait as little as possible, but
			// tick no more often than minTickGap.
			r.progress.mu.Lock()
			changed := r.progress.changed
			r.progress.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-changed:
			}
			m.tick(ctx, r)
			sleepCtx(ctx, minTickGap)
		}
	}()
}

// tick sends the watermark to every target channel that has not received it.
func (m *replicaMode) tick(ctx context.Context, r *replicator) {
	wm, w := m.watermark(), m.writer()
	if wm == 0 || w == nil {
		return
	}
	m.describeCreated(ctx, r, w)
	for _, ch := range w.PhysicalChannels() {
		m.mu.Lock()
		done := m.ticked[ch] >= wm
		m.mu.Unlock()
		if done {
			continue
		}
		if err := w.TimeTick(ctx, ch, wm); err != nil {
			if ctx.Err() != nil {
				return
			}
			m.mu.Lock()
			first := !m.tickErr
			m.tickErr = true
			m.mu.Unlock()
			if first {
				r.health.failed(stageApply, fmt.Errorf("time tick on target channel %s: %w", ch, err))
				m.log.Warn("sending a time tick to the target failed; retrying every tick", zap.String("channel", ch), zap.Error(err))
			}
			return
		}
		m.mu.Lock()
		m.ticked[ch] = wm
		recovered := m.tickErr
		m.tickErr = false
		m.mu.Unlock()
		if recovered {
			r.health.recovered()
		}
	}
}

// describeCreated makes the writer know the channels of every collection
// created on the target, so that they tick before their first row: a target
// collection loads only once its channels tick.
func (m *replicaMode) describeCreated(ctx context.Context, r *replicator, w *sink.ReplicaWriter) {
	r.mu.Lock()
	var created []*collState
	for _, st := range r.collections {
		created = append(created, st)
	}
	r.mu.Unlock()
	for _, st := range created {
		st.mu.Lock()
		live := st.created && !st.dropped
		st.mu.Unlock()
		if live {
			_, _ = w.Collection(ctx, st.targetDB, st.target, false) // cached; a failure is retried next tick
		}
	}
}

// replicaOut collects the encoded messages of one pack per target physical
// channel, in source order, with what to count once they are sent.
type replicaOut struct {
	order  []string
	byChan map[string]*replicaChunk
	counts []replicaCount
}

type replicaChunk struct {
	msgs           [][]byte
	bytes          int
	beginTs, endTs uint64
}

type replicaCount struct {
	st   *collState
	kind string // insert | delete
	rows int64
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

// applyPack replays one pack of a source channel on a replica target.
func (m *replicaMode) applyPack(ctx context.Context, r *replicator, channel string, msgs []*source.Message) error {
	out := &replicaOut{}
	for _, msg := range msgs {
		var err error
		switch body := msg.Body.(type) {
		case *msgpb.InsertRequest:
			err = m.addInsert(ctx, r, out, body, msg)
		case *msgpb.DeleteRequest:
			err = m.addDelete(ctx, r, out, body, msg)
		default:
			// DDL keeps its place in the channel's order: what precedes it
			// is on the target first.
			if err = m.send(ctx, r, out); err == nil {
				err = m.applyDDL(ctx, r, channel, msg)
			}
			out = &replicaOut{}
		}
		if err != nil {
			return err
		}
	}
	return m.send(ctx, r, out)
}

// applyDDL replays a data-channel DDL message through the target's RPCs,
// stamped with the message's source timestamp.
func (m *replicaMode) applyDDL(ctx context.Context, r *replicator, channel string, msg *source.Message) error {
	ctx = sink.WithSourceTs(ctx, msg.BeginTs)
	a := &packApplier{r: r, channel: channel}
	switch body := msg.Body.(type) {
	case *msgpb.CreateCollectionRequest, *msgpb.CreatePartitionRequest:
		return a.apply(ctx, dataMsg{msg: body, size: len(msg.Raw), ts: msg.EndTs})
	case *msgpb.DropCollectionRequest:
		st := r.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
		if err := m.forwardDrop(ctx, r, channel, st, msg, func(tc *sink.TargetCollection) ([]byte, error) {
			return sink.EncodeDropCollection(body, tc)
		}); err != nil {
			return err
		}
		err := a.dropCollection(ctx, body)
		if err == nil && st.inScope {
			if w := m.writer(); w != nil {
				w.Forget(st.targetDB, st.target)
			}
		}
		return err
	case *msgpb.DropPartitionRequest:
		st := r.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
		if body.GetPartitionName() != r.defaultPart {
			if err := m.forwardDrop(ctx, r, channel, st, msg, func(tc *sink.TargetCollection) ([]byte, error) {
				id, ok := tc.Partitions[body.GetPartitionName()]
				if !ok {
					return nil, nil // not on the target: nothing to release
				}
				return sink.EncodeDropPartition(body, tc, id)
			}); err != nil {
				return err
			}
		}
		return a.dropPartition(ctx, body)
	default:
		r.health.skip(fmt.Sprintf("%T", msg.Body))
		return nil
	}
}

// forwardDrop sends a source drop message, re-addressed by encode, to the
// target physical channels of the collection's shards on this source
// channel, before the drop RPC runs (sink.EncodeDropCollection says why).
// A collection the target does not have is skipped.
func (m *replicaMode) forwardDrop(ctx context.Context, r *replicator, channel string, st *collState, msg *source.Message, encode func(*sink.TargetCollection) ([]byte, error)) error {
	if !st.inScope || st.isDropped() {
		return nil
	}
	return r.do(ctx, "ReplicateMessage drop "+st.target, func(ctx context.Context) error {
		w := m.writer()
		if w == nil {
			return errors.New("target not connected")
		}
		tc, err := w.Collection(ctx, st.targetDB, st.target, true)
		if sink.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		raw, err := encode(tc)
		if err != nil || raw == nil {
			return err
		}
		for _, ch := range targetChannelsOf(r, st, channel, tc) {
			if err := w.Replicate(ctx, ch, msg.BeginTs, msg.EndTs, [][]byte{raw}); err != nil {
				return err
			}
		}
		return nil
	})
}

// targetChannelsOf maps the shards a source collection has on one source
// physical channel to the target physical channels of the same shards (all
// of the target's when the catalog no longer knows the collection).
func targetChannelsOf(r *replicator, st *collState, channel string, tc *sink.TargetCollection) []string {
	var out []string
	if c, ok := r.meta.collection(st.id); ok {
		for k, pch := range c.PhysicalChannels {
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

func (m *replicaMode) addInsert(ctx context.Context, r *replicator, out *replicaOut, body *msgpb.InsertRequest, msg *source.Message) error {
	st := r.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
	if !st.inScope || body.GetNumRows() == 0 || st.isDropped() {
		return nil
	}
	addr, ch, err := m.address(ctx, r, st, body.GetShardName(), body.GetPartitionID(), body.GetPartitionName(), msg.BeginTs)
	if err != nil || addr == nil {
		return err
	}
	raw, err := sink.EncodeInsert(body, *addr)
	if err != nil {
		return err
	}
	out.add(ch, raw, msg.BeginTs, msg.EndTs)
	out.counts = append(out.counts, replicaCount{st: st, kind: "insert", rows: int64(body.GetNumRows())})
	return nil
}

func (m *replicaMode) addDelete(ctx context.Context, r *replicator, out *replicaOut, body *msgpb.DeleteRequest, msg *source.Message) error {
	st := r.resolve(body.GetCollectionID(), body.GetDbName(), body.GetCollectionName())
	if !st.inScope || body.GetNumRows() == 0 || st.isDropped() {
		return nil
	}
	addr, ch, err := m.address(ctx, r, st, body.GetShardName(), body.GetPartitionID(), body.GetPartitionName(), msg.BeginTs)
	if err != nil || addr == nil {
		return err
	}
	raw, err := sink.EncodeDelete(body, *addr)
	if err != nil {
		return err
	}
	out.add(ch, raw, msg.BeginTs, msg.EndTs)
	out.counts = append(out.counts, replicaCount{st: st, kind: "delete", rows: body.GetNumRows()})
	return nil
}

// address makes the target collection and partition exist (stamped with
// their source creation times) and returns where a message of the source
// shard and partition goes. A nil address means the message is skipped.
func (m *replicaMode) address(ctx context.Context, r *replicator, st *collState, vchannel string, partitionID int64, partition string, msgTs uint64) (*sink.Address, string, error) {
	created, shards := msgTs-1, 0
	var partCreated uint64
	if c, ok := r.meta.collection(st.id); ok {
		created, shards = c.CreateTime, len(c.VirtualChannels)
		if p := c.Partitions[partitionID]; p != nil {
			partCreated = p.CreatedTime
		}
	}
	if err := r.ensureCollection(sink.WithSourceTs(ctx, created), st, nil); err != nil {
		return nil, "", err
	}
	if partCreated == 0 {
		partCreated = msgTs - 1
	}
	if err := r.ensurePartition(sink.WithSourceTs(ctx, partCreated), st, st.targetPartition(partition)); err != nil {
		return nil, "", err
	}
	if st.isDropped() {
		return nil, "", nil
	}
	var (
		addr sink.Address
		ch   string
	)
	err := r.do(ctx, "DescribeCollection "+st.targetDB+"."+st.target, func(ctx context.Context) error {
		w := m.writer()
		if w == nil {
			return errors.New("target not connected")
		}
		tc, err := w.Collection(ctx, st.targetDB, st.target, false)
		if err != nil {
			return err
		}
		// A partition created since the collection was described
		// needs a fresh description.
		addr, err = tc.Address(vchannel, partition, shards)
		if sink.IsPartitionUnknown(err) {
			if tc, err = w.Collection(ctx, st.targetDB, st.target, true); err == nil {
				addr, err = tc.Address(vchannel, partition, shards)
			}
		}
		if err != nil {
			return err
		}
		ch = tc.PhysicalChannel(addr.ShardName)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return &addr, ch, nil
}

// send writes the collected messages, one ReplicateMessage call per target
// channel and at most maxBatchBytes each, then counts the rows.
func (m *replicaMode) send(ctx context.Context, r *replicator, out *replicaOut) error {
	for _, ch := range out.order {
		c := out.byChan[ch]
		for start := 0; start < len(c.msgs); {
			end, size := start, 0
			for end < len(c.msgs) && (end == start || size+len(c.msgs[end]) <= maxBatchBytes) {
				size += len(c.msgs[end])
				end++
			}
			part := c.msgs[start:end]
			err := r.do(ctx, "ReplicateMessage "+ch, func(ctx context.Context) error {
				w := m.writer()
				if w == nil {
					return errors.New("target not connected")
				}
				return w.Replicate(ctx, ch, c.beginTs, c.endTs, part)
			})
			if err != nil {
				return err
			}
			start = end
		}
	}
	for _, c := range out.counts {
		c.st.ops.Add(1)
		if c.kind == "insert" {
			c.st.inserted.Add(c.rows)
		} else {
			c.st.deleted.Add(c.rows)
		}
		r.health.metrics.addRows(c.kind, c.rows)
	}
	return nil
}

// connectReplica opens the target of a replicate-mode run: a connection
// whose DDL carries ReplicateInfo, checked to be in replicate mode (the
// target may have been restarted in normal mode since the task was created).
func (f *Factory) connectReplica(t corelib.Target, m *replicaMode) func(ctx context.Context) (target, func(), error) {
	return func(ctx context.Context) (target, func(), error) {
		opts := append(slices.Clone(f.DialOptions), grpc.WithChainUnaryInterceptor(sink.ReplicateInfoInterceptor(m.fallbackTs)))
		c, err := corelib.ConnectTarget(ctx, t, opts...)
		if err != nil {
			return nil, nil, err
		}
		gc, ok := c.(*client.GrpcClient)
		if !ok {
			_ = c.Close()
			return nil, nil, fmt.Errorf("unexpected target client type %T", c)
		}
		replica, err := sink.ProbeReplicaMode(ctx, gc.Service)
		if err == nil && !replica {
			err = sink.ErrTargetNotReplicaMode
		}
		if err != nil {
			_ = c.Close()
			return nil, nil, err
		}
		w := sink.NewReplica(gc.Service)
		m.setWriter(w)
		return w, func() { _ = c.Close() }, nil
	}
}

// verifyWriterMode is the pre-flight of task creation: the target's mode must
// match the task's writer mode, else the task is refused with the setting to
// change.
func (f *Factory) verifyWriterMode(ctx context.Context, spec corelib.TaskSpec) error {
	c, err := corelib.ConnectTarget(ctx, spec.Target, f.DialOptions...)
	if err != nil {
		return err
	}
	defer c.Close()
	gc, ok := c.(*client.GrpcClient)
	if !ok {
		return fmt.Errorf("unexpected target client type %T", c)
	}
	replica, err := sink.ProbeReplicaMode(ctx, gc.Service)
	if err != nil {
		return err
	}
	switch {
	case spec.WriterMode == corelib.WriterModeReplicate && !replica:
		return fmt.Errorf("%w (target %s)", sink.ErrTargetNotReplicaMode, spec.Target.Redacted())
	case spec.WriterMode != corelib.WriterModeReplicate && replica:
		return fmt.Errorf("%w (target %s)", sink.ErrTargetInReplicaMode, spec.Target.Redacted())
	case spec.WriterMode == corelib.WriterModeReplicate:
		return f.checkShards(ctx, spec, gc.Service)
	}
	return nil
}

// checkShards refuses a replicate-mode task when a source collection in its
// scope already exists on the target with another shard count: messages are
// re-addressed shard by shard, so the counts must match. Collections the task
// creates on the target get the source's count.
func (f *Factory) checkShards(ctx context.Context, spec corelib.TaskSpec, svc milvuspb.MilvusServiceClient) error {
	if f.Source == nil {
		return nil
	}
	snap, err := f.Source.List(ctx)
	if err != nil {
		return fmt.Errorf("list the source catalog: %w", err)
	}
	meta, scope, mapping := newMetaView(snap), scopeOf(spec), mappingOf(spec)
	for _, c := range snap.Collections {
		db := meta.dbName(c.DBID)
		if c.State != metapb.CollectionState_CollectionCreated || !scope.Collection(db, c.Name) {
			continue
		}
		tdb, tname := mapping.Target(db, c.Name)
		d, err := svc.DescribeCollection(metadata.AppendToOutgoingContext(ctx, "dbname", tdb), &milvuspb.DescribeCollectionRequest{DbName: tdb, CollectionName: tname})
		if err != nil || d.GetStatus().GetCode() != 0 || d.GetStatus().GetErrorCode() != commonpb.ErrorCode_Success {
			continue // absent (or unreadable): the task creates it with the source's shards
		}
		if got := len(d.GetVirtualChannelNames()); got != len(c.VirtualChannels) {
			return fmt.Errorf("%w: %s.%s has %d shards on the source and %d on the target (%s.%s); drop it on the target or map it to a new name",
				sink.ErrShardsDiffer, db, c.Name, len(c.VirtualChannels), got, tdb, tname)
		}
	}
	return nil
}
