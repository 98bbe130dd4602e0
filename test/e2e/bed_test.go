//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

const (
	bedRows   = 300
	bedBatch  = 120 // several insert requests, so several MQ messages per shard
	bedShards = 2
)

// TestBed proves that the bed is real and wired the way the CDC expects: a
// collection created and filled on the source shows up in the source's etcd, on
// its DML channels and (after Flush / CreateIndex) on its replicate channel, and
// the target takes ordinary SDK writes. The subtests share one collection and
// run in order.
func TestBed(t *testing.T) {
	bed := RequireBed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t.Logf("bed: mq=%s source=%s target=%s etcd=%v root=%s", bed.MQType, bed.SourceAddr, bed.TargetAddr, bed.EtcdEndpoints, bed.SourceRoot)

	src := bed.ConnectSource(t, ctx)
	name := UniqueName("bed_all_types")
	schema := AllTypesSchema(name)
	require.NoError(t, CreateCollection(ctx, src, schema, bedShards))
	DropCollectionOnCleanup(t, src, name)
	data := NewDataset(schema, 0, bedRows)
	n, err := data.Insert(ctx, src, bedBatch)
	require.NoError(t, err)
	require.Equal(t, bedRows, n)
	coll, err := src.DescribeCollection(ctx, name)
	require.NoError(t, err)
	require.Len(t, coll.PhysicalChannels, bedShards)
	t.Logf("source collection %s id=%d pchannels=%v vchannels=%v", name, coll.ID, coll.PhysicalChannels, coll.VirtualChannels)

	t.Run("SourceMetaInEtcd", func(t *testing.T) { testSourceMetaInEtcd(t, ctx, bed, coll) })
	t.Run("DMLChannelsCarryInserts", func(t *testing.T) { testDMLChannelsCarryInserts(t, ctx, bed, coll) })
	t.Run("ReplicateChannelCarriesFlushAndCreateIndex", func(t *testing.T) {
		testReplicateChannel(t, ctx, bed, src, coll)
	})
	t.Run("SourceQueryReturnsInsertedValues", func(t *testing.T) {
		require.NoError(t, EnsureLoaded(ctx, src, name))
		want, err := data.ExpectedRows()
		require.NoError(t, err)
		got, err := QueryAllRows(ctx, src, name)
		require.NoError(t, err)
		missing, extra, values := CompareRows(want, got)
		require.Empty(t, missing, "rows not returned by the source")
		require.Empty(t, extra, "rows the source returned but nobody inserted")
		require.Empty(t, values, "values that differ from what was inserted")
		require.Len(t, got, bedRows)
		// Every field, the dynamic one included, takes part in the comparison.
		require.Len(t, got["7"], len(schema.Fields)+1)
		require.Equal(t, `"f_varchar-7-éé"`, got["7"][FieldVarChar])
		require.Equal(t, `{"dyn_int":7,"dyn_odd":true,"dyn_str":"dyn-7"}`, got["7"]["$meta"])
	})
	t.Run("TargetAcceptsNormalWrites", func(t *testing.T) { testTargetAcceptsNormalWrites(t, ctx, bed, src, data) })
	t.Run("BinaryVectorCollectionOnBothSides", func(t *testing.T) { testBinaryVectorCollection(t, ctx, bed, src) })
}

// (1) The collection's metadata is under <root>/meta/root-coord/database/collection-info/<db>/<id>
// and decodes as etcdpb.CollectionInfo; its fields are under root-coord/fields/<id>/.
func testSourceMetaInEtcd(t *testing.T, ctx context.Context, bed *Bed, coll *entity.Collection) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: bed.EtcdEndpoints, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	defer cli.Close()

	prefix := bed.MetaRoot() + "/root-coord/database/collection-info/"
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	require.NoError(t, err)
	suffix := "/" + strconv.FormatInt(coll.ID, 10)
	var key string
	var info metapb.CollectionInfo
	for _, kv := range resp.Kvs {
		if strings.HasSuffix(string(kv.Key), suffix) {
			key = string(kv.Key)
			require.NoError(t, proto.Unmarshal(kv.Value, &info), "decode %s", key)
		}
	}
	require.NotEmpty(t, key, "no key %s<dbID>%s among %d keys", prefix, suffix, len(resp.Kvs))
	t.Logf("etcd %s: state=%v dbID=%d shards=%d", key, info.GetState(), info.GetDbId(), info.GetShardsNum())
	require.Equal(t, prefix+"1"+suffix, key, "collection of the default database (id 1)")
	require.Equal(t, coll.ID, info.GetID())
	schema, err := info.DecodeSchema()
	require.NoError(t, err)
	require.Equal(t, coll.Name, schema.GetName())
	require.Equal(t, metapb.CollectionState_CollectionCreated, info.GetState())
	require.Equal(t, int32(bedShards), info.GetShardsNum())
	require.ElementsMatch(t, coll.PhysicalChannels, info.GetPhysicalChannelNames())
	require.ElementsMatch(t, coll.VirtualChannels, info.GetVirtualChannelNames())
	require.Len(t, info.GetStartPositions(), bedShards, "one start position per pchannel")
	for _, sp := range info.GetStartPositions() {
		require.Contains(t, coll.PhysicalChannels, sp.GetKey())
		require.NotEmpty(t, sp.GetData(), "msgID of the CreateCollection message on %s", sp.GetKey())
	}
	require.True(t, schema.GetEnableDynamicField())

	// Since 2.2 the fields are stored apart from the collection, one key each.
	fields, err := cli.Get(ctx, fmt.Sprintf("%s/root-coord/fields/%d/", bed.MetaRoot(), coll.ID), clientv3.WithPrefix())
	require.NoError(t, err)
	var names []string
	for _, kv := range fields.Kvs {
		var f schemapb.FieldSchema
		require.NoError(t, proto.Unmarshal(kv.Value, &f), "decode %s", kv.Key)
		if f.GetFieldID() >= 100 { // 0 and 1 are the system fields RowID and Timestamp
			names = append(names, f.GetName())
		}
	}
	var want []string
	for _, f := range coll.Schema.Fields {
		want = append(want, f.Name)
	}
	want = append(want, "$meta") // the dynamic field is stored as a real field
	require.ElementsMatch(t, want, names)
}

// (2) The pchannels of the collection carry its Insert messages: every row,
// decoded from msgpb.InsertRequest, with the collection's ID and a vchannel of it;
// plus one CreateCollection message per pchannel and rootcoord's time ticks.
func testDMLChannelsCarryInserts(t *testing.T, ctx context.Context, bed *Bed, coll *entity.Collection) {
	r, err := bed.NewChannelReader()
	require.NoError(t, err)
	defer r.Close()
	pkFieldID := primaryField(coll.Schema).ID
	for _, ch := range coll.PhysicalChannels {
		require.Contains(t, bed.DMLChannels, ch, "collection pchannel is one of the bed's DML channels")
	}

	var st dmlStats
	// Inserts are in the MQ when Insert returns; the time ticks follow every 200 ms.
	Eventually(t, ctx, 30*time.Second, 500*time.Millisecond, "inserts and time ticks on the DML channels", func(ctx context.Context) (bool, string, error) {
		st = dmlStats{pks: map[int64]bool{}, types: map[string]int{}}
		for _, ch := range coll.PhysicalChannels {
			if err := r.ReadAll(ctx, ch, func(m Message) bool { return st.add(t, ch, m, coll, pkFieldID) }); err != nil {
				return false, "", err
			}
		}
		done := st.rows >= bedRows && st.creates >= bedShards && st.types[commonpb.MsgType_TimeTick.String()] > 0
		return done, st.String(), nil
	})
	t.Logf("DML channels %v: %s", coll.PhysicalChannels, st.String())
	require.Equal(t, uint64(bedRows), st.rows, "rows in Insert messages of collection %d", coll.ID)
	require.Len(t, st.pks, bedRows)
	for i := 0; i < bedRows; i++ {
		require.True(t, st.pks[int64(i)], "primary key %d in the Insert messages", i)
	}
	require.Equal(t, bedShards, st.creates, "one CreateCollection message per pchannel")
}

type dmlStats struct {
	rows    uint64
	creates int
	pks     map[int64]bool
	types   map[string]int
}

func (s *dmlStats) String() string {
	return fmt.Sprintf("message types %v; %d insert rows, %d distinct primary keys, %d CreateCollection", s.types, s.rows, len(s.pks), s.creates)
}

func (s *dmlStats) add(t *testing.T, ch string, m Message, coll *entity.Collection, pkFieldID int64) bool {
	mt, _, err := DecodeHeader(m.Payload)
	require.NoError(t, err, "%s at %s", ch, m.Position)
	s.types[mt.String()]++
	switch mt {
	case commonpb.MsgType_Insert:
		var ins msgpb.InsertRequest
		require.NoError(t, proto.Unmarshal(m.Payload, &ins))
		if ins.GetCollectionID() != coll.ID {
			return true
		}
		require.Contains(t, coll.VirtualChannels, ins.GetShardName())
		require.True(t, strings.HasPrefix(ins.GetShardName(), ch+"_"), "vchannel %s on pchannel %s", ins.GetShardName(), ch)
		require.Equal(t, ins.GetNumRows(), uint64(len(ins.GetTimestamps())))
		s.rows += ins.GetNumRows()
		for _, fd := range ins.GetFieldsData() {
			if fd.GetFieldId() == pkFieldID {
				for _, id := range fd.GetScalars().GetLongData().GetData() {
					s.pks[id] = true
				}
			}
		}
	case commonpb.MsgType_CreateCollection:
		var cc msgpb.CreateCollectionRequest
		require.NoError(t, proto.Unmarshal(m.Payload, &cc))
		if cc.GetCollectionID() == coll.ID {
			s.creates++
		}
	}
	return true
}

// (3) Flush and CreateIndex on the source appear on <cluster>-replicate-msg.
func testReplicateChannel(t *testing.T, ctx context.Context, bed *Bed, src client.Client, coll *entity.Collection) {
	require.NoError(t, src.Flush(ctx, coll.Name, false))
	idx, err := entity.NewIndexFlat(entity.L2)
	require.NoError(t, err)
	require.NoError(t, src.CreateIndex(ctx, coll.Name, FieldFloatVector, idx, false))

	r, err := bed.NewChannelReader()
	require.NoError(t, err)
	defer r.Close()
	var sawFlush, sawIndex bool
	var seen []string
	Eventually(t, ctx, 60*time.Second, time.Second, "Flush and CreateIndex on "+bed.ReplicateChannel, func(ctx context.Context) (bool, string, error) {
		sawFlush, sawIndex, seen = false, false, nil
		err := r.ReadAll(ctx, bed.ReplicateChannel, func(m Message) bool {
			mt, base, err := DecodeHeader(m.Payload)
			if err != nil {
				seen = append(seen, "undecodable")
				return true
			}
			seen = append(seen, mt.String())
			switch mt {
			case commonpb.MsgType_Flush:
				var req milvuspb.FlushRequest
				if proto.Unmarshal(m.Payload, &req) == nil && slices.Contains(req.GetCollectionNames(), coll.Name) {
					sawFlush = base.GetTimestamp() > 0
				}
			case commonpb.MsgType_CreateIndex:
				var req milvuspb.CreateIndexRequest
				if proto.Unmarshal(m.Payload, &req) == nil && req.GetCollectionName() == coll.Name && req.GetFieldName() == FieldFloatVector {
					sawIndex = base.GetTimestamp() > 0
				}
			}
			return true
		})
		return sawFlush && sawIndex, fmt.Sprintf("flush=%v createIndex=%v, types seen %v", sawFlush, sawIndex, seen), err
	})
	t.Logf("%s: %d messages, types %v", bed.ReplicateChannel, len(seen), seen)
}

// (4) The target is a normal Milvus: it takes SDK writes and answers queries with
// the values written; the comparison helper sees it equal to the source and
// notices a missing row.
func testTargetAcceptsNormalWrites(t *testing.T, ctx context.Context, bed *Bed, src client.Client, data Dataset) {
	SkipInReplicateMode(t, bed, "this checks that the target takes direct SDK writes, which a replica refuses (code 1303)")
	dst := bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(data.Schema.CollectionName) // same name on the target, as the CDC does
	require.NoError(t, CreateCollection(ctx, dst, schema, bedShards))
	DropCollectionOnCleanup(t, dst, schema.CollectionName)
	_, err := NewDataset(schema, data.From, data.Count).Insert(ctx, dst, bedBatch)
	require.NoError(t, err)
	require.NoError(t, EnsureLoaded(ctx, dst, schema.CollectionName))

	count, err := CountRows(ctx, dst, schema.CollectionName)
	require.NoError(t, err)
	require.Equal(t, int64(bedRows), count)
	want, err := data.ExpectedRows()
	require.NoError(t, err)
	got, err := QueryAllRows(ctx, dst, schema.CollectionName)
	require.NoError(t, err)
	missing, extra, values := CompareRows(want, got)
	require.Empty(t, missing)
	require.Empty(t, extra)
	require.Empty(t, values)

	Eventually(t, ctx, 30*time.Second, time.Second, "source and target to compare equal",
		SameCollection(src, dst, data.Schema.CollectionName, schema.CollectionName))

	// The comparison must notice a difference: delete one row on the target.
	require.NoError(t, dst.Delete(ctx, schema.CollectionName, "", FieldID+" in [7]"))
	d, err := CompareCollections(ctx, src, dst, data.Schema.CollectionName, schema.CollectionName)
	require.NoError(t, err)
	require.False(t, d.Empty())
	require.Equal(t, []string{"7"}, d.MissingOnTgt)
	require.Equal(t, int64(bedRows-1), d.TargetCount)
	t.Logf("after deleting pk 7 on the target: %s", d)
}

// The binary-vector variant of the all-types collection, written to both sides
// through the SDK, compares equal.
func testBinaryVectorCollection(t *testing.T, ctx context.Context, bed *Bed, src client.Client) {
	SkipInReplicateMode(t, bed, "this writes the collection to the target through the SDK, which a replica refuses (code 1303)")
	dst := bed.ConnectTarget(t, ctx)
	name := UniqueName("bed_binary")
	for _, c := range []client.Client{src, dst} {
		schema := AllTypesBinarySchema(name)
		require.NoError(t, CreateCollection(ctx, c, schema, 1))
		DropCollectionOnCleanup(t, c, name)
		n, err := NewDataset(schema, 1000, 50).Insert(ctx, c, 0)
		require.NoError(t, err)
		require.Equal(t, 50, n)
		require.NoError(t, EnsureLoaded(ctx, c, name))
	}
	RequireSameCollection(t, ctx, src, dst, name, name)
	rows, err := QueryAllRows(ctx, dst, name)
	require.NoError(t, err)
	want, err := NewDataset(AllTypesBinarySchema(name), 1000, 50).ExpectedRows()
	require.NoError(t, err)
	require.Equal(t, want, rows)
}
