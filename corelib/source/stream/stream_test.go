package stream

import (
	"context"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
)

// bed is a kfake cluster with a producer and an mq.Client on it.
type bed struct {
	t        *testing.T
	producer *kgo.Client
	client   mq.Client
}

func newBed(t *testing.T) *bed {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	p, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	t.Cleanup(p.Close)
	mc, err := mq.NewKafkaClient(mq.KafkaConfig{Brokers: c.ListenAddrs()}, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = mc.Close() })
	return &bed{t: t, producer: p, client: mc}
}

func (b *bed) send(topic string, payload []byte) {
	b.t.Helper()
	require.NoError(b.t, b.producer.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: payload}).FirstErr())
}

func (b *bed) sendMsg(topic string, m proto.Message) {
	b.t.Helper()
	raw, err := proto.Marshal(m)
	require.NoError(b.t, err)
	b.send(topic, raw)
}

func mbase(t commonpb.MsgType, id int64, ts uint64) *commonpb.MsgBase {
	return &commonpb.MsgBase{MsgType: t, MsgID: id, Timestamp: ts}
}

func insert(id int64, ts uint64) *msgpb.InsertRequest {
	return &msgpb.InsertRequest{Base: mbase(commonpb.MsgType_Insert, id, ts), ShardName: "ch_1v0", CollectionID: 1, Timestamps: []uint64{ts}, NumRows: 1}
}

func del(id int64, ts uint64) *msgpb.DeleteRequest {
	return &msgpb.DeleteRequest{Base: mbase(commonpb.MsgType_Delete, id, ts), ShardName: "ch_1v0", CollectionID: 1, Timestamps: []uint64{ts}, NumRows: 1}
}

func tick(ts uint64) *msgpb.TimeTickMsg {
	return &msgpb.TimeTickMsg{Base: mbase(commonpb.MsgType_TimeTick, 0, ts)}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type msgKey struct {
	Type commonpb.MsgType
	ID   int64
}

func keys(p *source.Pack) []msgKey {
	var out []msgKey
	for _, m := range p.Msgs {
		out = append(out, msgKey{m.Type, m.MsgID()})
	}
	return out
}

func TestPackReaderGroupsSkipsAndResumes(t *testing.T) {
	b, ctx := newBed(t), ctxT(t)
	const ch = "by-dev-rootcoord-dml_0"
	b.sendMsg(ch, insert(1, 5)) // before the reader opens: not delivered
	var skips []string
	r, err := OpenPacks(ctx, b.client, ch, nil, Options{Log: zaptest.NewLogger(t), OnSkip: func(s Skip) { skips = append(skips, s.Reason()) }})
	require.NoError(t, err)

	replicated := insert(4, 11)
	replicated.Base.ReplicateInfo = &commonpb.ReplicateInfo{IsReplicate: true, MsgTimestamp: 11}
	b.sendMsg(ch, insert(2, 12))                                                    // upsert half
	b.sendMsg(ch, del(3, 12))                                                       // upsert half, ordered first
	b.send(ch, []byte{0xff, 0x00})                                                  // malformed
	b.sendMsg(ch, &commonpb.MsgHeader{Base: mbase(commonpb.MsgType_Search, 9, 12)}) // unsupported
	b.sendMsg(ch, replicated)                                                       // echo of a replicator
	b.sendMsg(ch, insert(2, 12))                                                    // producer retry duplicate
	b.sendMsg(ch, tick(20))
	b.sendMsg(ch, insert(5, 25))
	b.sendMsg(ch, tick(30))

	p1, err := r.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, []msgKey{{commonpb.MsgType_Delete, 3}, {commonpb.MsgType_Insert, 2}}, keys(p1))
	require.Equal(t, uint64(20), p1.EndTs)
	p2, err := r.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, []msgKey{{commonpb.MsgType_Insert, 5}}, keys(p2))
	require.Equal(t, StatsSnapshot{Malformed: 1, Replicated: 1, Unsupported: map[commonpb.MsgType]int64{commonpb.MsgType_Search: 1}}, r.Stats())
	require.Equal(t, []string{"undecodable message", "unsupported message Search", "message written by a replicator"}, skips, "every skip is reported with its reason")
	require.NoError(t, r.Close())

	// Resuming at the first pack's end position yields the second pack only.
	again, err := OpenPacks(ctx, b.client, ch, &p1.EndPosition, Options{})
	require.NoError(t, err)
	defer again.Close()
	p, err := again.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, keys(p2), keys(p))
	require.Equal(t, uint64(20), p.BeginTs)
	require.Equal(t, p2.EndPosition, p.EndPosition)
}

func TestPackReaderRejectsPositionOfAnotherChannel(t *testing.T) {
	b, ctx := newBed(t), ctxT(t)
	_, err := OpenPacks(ctx, b.client, "a", &source.Position{Channel: "b", MsgID: source.EncodeKafkaOffset(0)}, Options{})
	require.ErrorContains(t, err, `position is for channel "b", not "a"`)
}

func TestOpReaderDeliversEachOperationAndResumesAfterCheckpoint(t *testing.T) {
	b, ctx := newBed(t), ctxT(t)
	const ch = "by-dev-replicate-msg"
	r, err := OpenOps(ctx, b.client, ch, nil, Options{})
	require.NoError(t, err)
	echo := &milvuspb.LoadCollectionRequest{Base: mbase(commonpb.MsgType_LoadCollection, 0, 9)}
	echo.Base.ReplicateInfo = &commonpb.ReplicateInfo{IsReplicate: true, MsgTimestamp: 3}
	b.sendMsg(ch, &milvuspb.CreateIndexRequest{Base: mbase(commonpb.MsgType_CreateIndex, 0, 10), CollectionName: "c"})
	b.sendMsg(ch, echo)
	// A second proxy's operation with an older timestamp, later in the channel.
	b.sendMsg(ch, &milvuspb.FlushRequest{Base: mbase(commonpb.MsgType_Flush, 0, 8), CollectionNames: []string{"c"}})

	first, pos, err := r.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, commonpb.MsgType_CreateIndex, first.Type)
	require.Equal(t, source.Position{Channel: ch, MsgID: source.EncodeKafkaOffset(0), Timestamp: 10}, pos)
	second, _, err := r.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, commonpb.MsgType_Flush, second.Type)
	require.Equal(t, int64(1), r.Stats().Replicated)
	require.NoError(t, r.Close())

	again, err := OpenOps(ctx, b.client, ch, &pos, Options{})
	require.NoError(t, err)
	defer again.Close()
	m, _, err := again.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, commonpb.MsgType_Flush, m.Type, "resumes right after the checkpoint, despite the older ts")
}
