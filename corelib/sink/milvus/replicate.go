package milvus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// Writer mode "replicate": the target runs with common.ttMsgEnabled=false and
// becomes an exact replica. Data messages are re-addressed to the target's
// collection, partition and virtual channel and written to the target's
// physical channel with the ReplicateMessage RPC, keeping the source's row
// IDs and timestamps; the writer also supplies the time ticks that a target in
// this mode no longer produces itself. DDL goes through the ordinary RPCs
// with Base.ReplicateInfo set (ReplicateInfoInterceptor), so the target's
// catalog records the source's timestamps.

// codeDenyReplicateMessage is the merr code a normal Milvus (ttMsgEnabled
// true) answers ReplicateMessage with: "deny to use the replicate message in
// the normal instance" (confirmed on Milvus 2.3.5).
const codeDenyReplicateMessage = 1900

// callTimeout bounds one call of the replica writer: a target that stops
// answering shows as a retried error in the task status instead of a
// channel that silently stops.
const callTimeout = time.Minute

// sweepTimeout bounds one sweep of the target's catalog (a Milvus 2.3
// replica was seen answering one of its calls only after a minute).
const sweepTimeout = 15 * time.Second

// TTMsgSetting names the target setting that selects the mode.
const TTMsgSetting = "common.ttMsgEnabled"

// ErrTargetNotReplicaMode: a task in writer mode "replicate" names a target
// that runs as a normal Milvus.
var ErrTargetNotReplicaMode = fmt.Errorf("%w: the target Milvus is not in replicate mode: it answers ReplicateMessage with code 1900; restart it with "+TTMsgSetting+"=false, or use writer mode \"api\"", corelib.ErrTargetMode)

// ErrTargetInReplicaMode: a task in writer mode "api" names a target that
// refuses ordinary writes because it runs in replicate mode.
var ErrTargetInReplicaMode = fmt.Errorf("%w: the target Milvus runs in replicate mode ("+TTMsgSetting+"=false) and refuses ordinary inserts and deletes; use writer mode \"replicate\", or restart it with "+TTMsgSetting+"=true", corelib.ErrTargetMode)

// ProbeReplicaMode asks the target whether it accepts ReplicateMessage,
// without writing anything: a request with no channel name is refused with
// code 1900 by a normal Milvus and as an invalid parameter by one in
// replicate mode. A Milvus without the RPC (before 2.3.2) is a normal one.
func ProbeReplicaMode(ctx context.Context, svc milvuspb.MilvusServiceClient) (bool, error) {
	resp, err := svc.ReplicateMessage(ctx, &milvuspb.ReplicateMessageRequest{})
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return false, nil
		}
		return false, check("ReplicateMessage", nil, err)
	}
	if resp.GetStatus().GetCode() == codeDenyReplicateMessage {
		return false, nil
	}
	return true, nil
}

type sourceTsKey struct{}

// WithSourceTs tells the replicate-mode interceptor which source timestamp
// the DDL calls made with ctx replay.
func WithSourceTs(ctx context.Context, ts uint64) context.Context {
	if ts == 0 {
		return ctx
	}
	return context.WithValue(ctx, sourceTsKey{}, ts)
}

// SourceTs is the timestamp WithSourceTs attached, or 0.
func SourceTs(ctx context.Context) uint64 {
	ts, _ := ctx.Value(sourceTsKey{}).(uint64)
	return ts
}

// replicatedRPCs are the DDL and control RPCs a replica receives with
// Base.ReplicateInfo, so that the target records the source's timestamp
// (a CreateCollection's creation time, for one) instead of its own.
var replicatedRPCs = map[string]bool{
	"CreateDatabase": true, "DropDatabase": true,
	"CreateCollection": true, "DropCollection": true,
	"CreatePartition": true, "DropPartition": true,
	"CreateIndex": true, "DropIndex": true,
	"LoadCollection": true, "ReleaseCollection": true,
	"LoadPartitions": true, "ReleasePartitions": true,
	"Flush": true,
}

// ReplicateInfoInterceptor sets Base.ReplicateInfo{IsReplicate: true,
// MsgTimestamp} on the DDL requests of a replicate-mode connection. The
// timestamp is the one WithSourceTs attached to the call's context, else
// fallback() (the pipeline's replicated-up-to timestamp); Milvus refuses a
// replicated CreateCollection without one.
func ReplicateInfoInterceptor(fallback func() uint64) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if replicatedRPCs[method[strings.LastIndexByte(method, '/')+1:]] {
			ts := SourceTs(ctx)
			if ts == 0 && fallback != nil {
				ts = fallback()
			}
			if m, ok := req.(proto.Message); ok {
				markReplicated(m, ts)
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// markReplicated sets ReplicateInfo in the request's "base" field, creating
// the MsgBase when the request has none.
func markReplicated(m proto.Message, ts uint64) {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName("base")
	if fd == nil || fd.Kind() != protoreflect.MessageKind {
		return
	}
	base, ok := r.Mutable(fd).Message().Interface().(*commonpb.MsgBase)
	if !ok {
		return
	}
	base.ReplicateInfo = &commonpb.ReplicateInfo{IsReplicate: true, MsgTimestamp: ts}
}

// TargetCollection is what re-addressing a message needs to know about a
// target collection.
type TargetCollection struct {
	ID               int64
	VirtualChannels  []string // shard k at index k
	PhysicalChannels []string // shard k at index k
	Partitions       map[string]int64
	DB, Name         string
}

// ReplicaClient is the target of writer mode "replicate". Its embedded Client
// replays DDL (through a connection with ReplicateInfoInterceptor); data goes
// through Replicate and TimeTick.
type ReplicaClient struct {
	*Client
	svc milvuspb.MilvusServiceClient

	mu    sync.Mutex
	colls map[collectionKey]*TargetCollection
	// swept are the physical channels of every collection on the target, by
	// collection ID, from the last SweepChannels.
	swept map[int64][]string
}

// NewReplicaClient returns a ReplicaClient calling the target through svc, whose
// connection must carry ReplicateInfoInterceptor.
func NewReplicaClient(svc milvuspb.MilvusServiceClient) *ReplicaClient {
	return &ReplicaClient{Client: NewClient(svc), svc: svc, colls: map[collectionKey]*TargetCollection{}, swept: map[int64][]string{}}
}

// Collection describes a target collection (IDs, channels, partitions), from
// a cache; refresh asks the target again (a partition created since).
func (w *ReplicaClient) Collection(ctx context.Context, db, coll string, refresh bool) (*TargetCollection, error) {
	key := collectionKey{db, coll}
	w.mu.Lock()
	tc := w.colls[key]
	w.mu.Unlock()
	if tc != nil && !refresh {
		return tc, nil
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	d, err := w.svc.DescribeCollection(withDB(ctx, db), &milvuspb.DescribeCollectionRequest{DbName: db, CollectionName: coll})
	if err := check("DescribeCollection", d.GetStatus(), err); err != nil {
		return nil, err
	}
	p, err := w.svc.ShowPartitions(withDB(ctx, db), &milvuspb.ShowPartitionsRequest{DbName: db, CollectionName: coll})
	if err := check("ShowPartitions", p.GetStatus(), err); err != nil {
		return nil, err
	}
	tc = &TargetCollection{
		ID: d.GetCollectionID(), DB: db, Name: coll,
		VirtualChannels: d.GetVirtualChannelNames(), PhysicalChannels: d.GetPhysicalChannelNames(),
		Partitions: map[string]int64{},
	}
	if len(tc.VirtualChannels) != len(tc.PhysicalChannels) || len(tc.VirtualChannels) == 0 {
		return nil, &sink.TargetError{Op: "DescribeCollection", Reason: fmt.Sprintf("collection %s.%s lists %d virtual and %d physical channels", db, coll, len(tc.VirtualChannels), len(tc.PhysicalChannels))}
	}
	for i, name := range p.GetPartitionNames() {
		if i < len(p.GetPartitionIDs()) {
			tc.Partitions[name] = p.GetPartitionIDs()[i]
		}
	}
	w.mu.Lock()
	w.colls[key] = tc
	w.mu.Unlock()
	return tc, nil
}

// Forget drops a collection from the cache (it was dropped or recreated).
func (w *ReplicaClient) Forget(db, coll string) {
	w.mu.Lock()
	delete(w.colls, collectionKey{db, coll})
	w.mu.Unlock()
}

// PhysicalChannels lists the target physical channels that need time ticks:
// those of every collection the writer addressed and of every collection
// the last SweepChannels found on the target.
func (w *ReplicaClient) PhysicalChannels() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	add := func(chs []string) {
		for _, ch := range chs {
			if !seen[ch] {
				seen[ch] = true
				out = append(out, ch)
			}
		}
	}
	for _, tc := range w.colls {
		add(tc.PhysicalChannels)
	}
	for _, chs := range w.swept {
		add(chs)
	}
	return out
}

// SweepChannels learns the physical channels of every collection on the
// target, in every database, describing only the collections it has not
// seen before (a collection's channels never change). A replica has no
// clock but the task's ticks, and its query node subscribes to one channel
// at a time: a load waiting on a channel nobody ticks holds back the loads
// of every other collection, so every channel with a collection on it must
// tick, not only those of the collections the task has written to since it
// started. A collection dropped between the listing and its description is
// left for the next sweep.
func (w *ReplicaClient) SweepChannels(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	dbs, err := w.svc.ListDatabases(ctx, &milvuspb.ListDatabasesRequest{})
	if err := check("ListDatabases", dbs.GetStatus(), err); err != nil {
		return err
	}
	w.mu.Lock()
	known := maps.Clone(w.swept)
	w.mu.Unlock()
	live := map[int64][]string{}
	for _, db := range dbs.GetDbNames() {
		colls, err := w.svc.ShowCollections(withDB(ctx, db), &milvuspb.ShowCollectionsRequest{DbName: db})
		if err := check("ShowCollections", colls.GetStatus(), err); err != nil {
			return err
		}
		for i, name := range colls.GetCollectionNames() {
			if i >= len(colls.GetCollectionIds()) {
				break
			}
			id := colls.GetCollectionIds()[i]
			if chs, ok := known[id]; ok {
				live[id] = chs
				continue
			}
			d, err := w.svc.DescribeCollection(withDB(ctx, db), &milvuspb.DescribeCollectionRequest{DbName: db, CollectionName: name})
			if check("DescribeCollection", d.GetStatus(), err) != nil || d.GetCollectionID() != id {
				continue
			}
			live[id] = d.GetPhysicalChannelNames()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.swept = live
	return nil
}

// Replicate writes encoded messages to one target physical channel. The
// target assigns the segments of inserted rows itself.
func (w *ReplicaClient) Replicate(ctx context.Context, pchannel string, beginTs, endTs uint64, msgs [][]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := w.svc.ReplicateMessage(ctx, &milvuspb.ReplicateMessageRequest{
		ChannelName: pchannel, BeginTs: beginTs, EndTs: endTs, Msgs: msgs,
	})
	err = check("ReplicateMessage", resp.GetStatus(), err)
	var te *sink.TargetError
	if errors.As(err, &te) && te.Code == codeDenyReplicateMessage {
		te.Retryable = false
		return fmt.Errorf("%w: %w", ErrTargetNotReplicaMode, err)
	}
	return err
}

// TimeTick tells a target physical channel that no message with a timestamp
// at or below ts will follow: the target's data and query nodes advance to
// ts (a target in replicate mode has no time ticks of its own).
func (w *ReplicaClient) TimeTick(ctx context.Context, pchannel string, ts uint64) error {
	raw, err := EncodeTimeTick(ts)
	if err != nil {
		return err
	}
	return w.Replicate(ctx, pchannel, ts, ts, [][]byte{raw})
}

// EncodeTimeTick is the message-stream encoding of a time tick at ts.
func EncodeTimeTick(ts uint64) ([]byte, error) {
	return proto.Marshal(&msgpb.TimeTickMsg{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_TimeTick, Timestamp: ts}})
}

// Address is where a source data message goes on the target.
type Address struct {
	DB, Collection string
	CollectionID   int64
	Partition      string
	PartitionID    int64 // -1: every partition (a delete without one)
	ShardName      string
}

// Address resolves the target address of a message for a source virtual
// channel and partition name. The shard index is read from the source
// virtual channel's name (<pchannel>_<collectionID>v<shard>), which is how
// Milvus names them; the target must have as many shards as the source.
func (tc *TargetCollection) Address(sourceVChannel, partition string, sourceShards int) (Address, error) {
	if sourceShards > 0 && sourceShards != len(tc.VirtualChannels) {
		return Address{}, fmt.Errorf("%w: target collection %s.%s has %d shards, the source %d; drop it on the target or map the source collection to another name",
			ErrShardsDiffer, tc.DB, tc.Name, len(tc.VirtualChannels), sourceShards)
	}
	shard, err := ShardIndex(sourceVChannel)
	if err != nil {
		return Address{}, err
	}
	if shard >= len(tc.VirtualChannels) {
		return Address{}, fmt.Errorf("%w: source shard %d of %s.%s has no target shard (target has %d)", ErrShardsDiffer, shard, tc.DB, tc.Name, len(tc.VirtualChannels))
	}
	a := Address{DB: tc.DB, Collection: tc.Name, CollectionID: tc.ID, Partition: partition, PartitionID: -1, ShardName: tc.VirtualChannels[shard]}
	if partition != "" {
		id, ok := tc.Partitions[partition]
		if !ok {
			return Address{}, fmt.Errorf("%w: %s.%s.%s", errPartitionUnknown, tc.DB, tc.Name, partition)
		}
		a.PartitionID = id
	}
	return a, nil
}

// PhysicalChannel is the target physical channel of an address's shard.
func (tc *TargetCollection) PhysicalChannel(shardName string) string {
	for i, v := range tc.VirtualChannels {
		if v == shardName {
			return tc.PhysicalChannels[i]
		}
	}
	return ""
}

// ErrShardsDiffer: a source collection and its target collection have
// different shard counts, so messages cannot be re-addressed shard by shard.
var ErrShardsDiffer = fmt.Errorf("%w: shard counts differ", corelib.ErrTargetMode)

var errPartitionUnknown = errors.New("partition not on the target")

// IsPartitionUnknown reports whether Address failed only because the cached
// description predates the partition (describe again with refresh).
func IsPartitionUnknown(err error) bool { return errors.Is(err, errPartitionUnknown) }

// ShardIndex reads the shard number from a virtual channel name
// ("by-dev-rootcoord-dml_3_447v1" is shard 1).
func ShardIndex(vchannel string) (int, error) {
	i := strings.LastIndexByte(vchannel, 'v')
	if i < 0 || i == len(vchannel)-1 {
		return 0, fmt.Errorf("virtual channel %q: no shard number", vchannel)
	}
	n, err := strconv.Atoi(vchannel[i+1:])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("virtual channel %q: no shard number", vchannel)
	}
	return n, nil
}

// EncodeInsert re-addresses an encoded source insert to the target. Row
// IDs, timestamps and field data stay the source's, byte for byte (the rows
// are not decoded); the segment ID is cleared because the target's proxy
// assigns segments to replicated inserts.
func EncodeInsert(raw []byte, a Address) ([]byte, error) {
	return readdress(raw, insertFields, a)
}

// EncodeDelete re-addresses an encoded source delete to the target.
func EncodeDelete(raw []byte, a Address) ([]byte, error) {
	return readdress(raw, deleteFields, a)
}

// addressFields are the wire numbers of the fields that address an insert
// or a delete message (read from the message descriptors, not hard-coded).
type addressFields struct {
	shard, db, coll, partition, dbID, collID, partitionID, segmentID protowire.Number
}

var (
	insertFields = fieldsOf((&msgpb.InsertRequest{}).ProtoReflect().Descriptor(), "segmentID")
	deleteFields = fieldsOf((&msgpb.DeleteRequest{}).ProtoReflect().Descriptor(), "segment_id")
)

func fieldsOf(d protoreflect.MessageDescriptor, segment protoreflect.Name) addressFields {
	n := func(name protoreflect.Name) protowire.Number {
		f := d.Fields().ByName(name)
		if f == nil {
			panic(fmt.Sprintf("%s has no field %s", d.FullName(), name)) // a go-api upgrade renamed it: caught by the tests
		}
		return f.Number()
	}
	return addressFields{shard: n("shardName"), db: n("db_name"), coll: n("collection_name"), partition: n("partition_name"),
		dbID: n("dbID"), collID: n("collectionID"), partitionID: n("partitionID"), segmentID: n(segment)}
}

// readdress writes the target's address into an encoded message and copies
// every other top-level field as it is: one copy of the bytes, where
// decoding, cloning and encoding the message again made three of every
// vector. The database ID and the segment ID are left out (zero): the
// target resolves the first by name and assigns the second.
func readdress(raw []byte, f addressFields, a Address) ([]byte, error) {
	out := make([]byte, 0, len(raw)+len(a.ShardName)+len(a.DB)+len(a.Collection)+len(a.Partition)+32)
	putString := func(num protowire.Number, v string) {
		if v != "" {
			out = protowire.AppendTag(out, num, protowire.BytesType)
			out = protowire.AppendString(out, v)
		}
	}
	putInt := func(num protowire.Number, v int64) {
		if v != 0 {
			out = protowire.AppendTag(out, num, protowire.VarintType)
			out = protowire.AppendVarint(out, uint64(v))
		}
	}
	replaced := map[protowire.Number]bool{f.shard: true, f.db: true, f.coll: true, f.partition: true,
		f.dbID: true, f.collID: true, f.partitionID: true, f.segmentID: true}
	for b := raw; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("re-address a message: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, fmt.Errorf("re-address a message: field %d: %w", num, protowire.ParseError(m))
		}
		if !replaced[num] {
			out = append(out, b[:n+m]...)
		}
		b = b[n+m:]
	}
	putString(f.shard, a.ShardName)
	putString(f.db, a.DB)
	putString(f.coll, a.Collection)
	putString(f.partition, a.Partition)
	putInt(f.collID, a.CollectionID)
	putInt(f.partitionID, a.PartitionID)
	return out, nil
}

// EncodeDropCollection re-addresses a source DropCollection message to the
// target collection. A replica's rootcoord does not write drop messages to
// its own data channels (Milvus 2.3/2.4 skip that step when ttMsgEnabled is
// false), so the writer forwards the source's to let the replica's data and
// query nodes release the collection's channels.
func EncodeDropCollection(m *msgpb.DropCollectionRequest, tc *TargetCollection) ([]byte, error) {
	c := proto.Clone(m).(*msgpb.DropCollectionRequest)
	c.DbName, c.CollectionName, c.DbID, c.CollectionID = tc.DB, tc.Name, 0, tc.ID
	return proto.Marshal(c)
}

// EncodeDropPartition re-addresses a source DropPartition message to the
// target partition with ID partitionID (see EncodeDropCollection).
func EncodeDropPartition(m *msgpb.DropPartitionRequest, tc *TargetCollection, partitionID int64) ([]byte, error) {
	c := proto.Clone(m).(*msgpb.DropPartitionRequest)
	c.DbName, c.CollectionName, c.DbID, c.CollectionID, c.PartitionID = tc.DB, tc.Name, 0, tc.ID, partitionID
	return proto.Marshal(c)
}

// IsNotFound reports whether err says the target object does not exist.
func IsNotFound(err error) bool { return isNotFound(err) }
