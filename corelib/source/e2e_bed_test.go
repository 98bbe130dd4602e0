//go:build e2e

// Read-only checks of the decoders against the real test bed (.testbed/env,
// written by `make testbed-up`). The only thing created on the source is a
// collection named srcprobe_*, dropped at the end.
//
//	go test -tags e2e -run TestBed -v ./corelib/source/
package source_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/stream"
)

// bedEnv reads KEY=value lines from .testbed/env in the repository root.
func bedEnv(t *testing.T) map[string]string {
	dir, err := os.Getwd()
	require.NoError(t, err)
	candidates := []string{}
	if p := os.Getenv("TESTBED_ENV"); p != "" {
		candidates = append(candidates, p) // as test/e2e: an explicit bed wins
	}
	for ; dir != "/"; dir = filepath.Dir(dir) {
		candidates = append(candidates, filepath.Join(dir, ".testbed", "env"))
	}
	for _, path := range candidates {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		defer f.Close()
		env := map[string]string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && !strings.HasPrefix(k, "#") {
				env[strings.TrimPrefix(k, "export ")] = strings.Trim(v, `"'`)
			}
		}
		return env
	}
	t.Skip("no .testbed/env: run `make testbed-up` first")
	return nil
}

func bedEtcd(t *testing.T, env map[string]string) *clientv3.Client {
	var eps []string
	for _, ep := range strings.Split(env["ETCD_ENDPOINTS"], ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	require.NotEmpty(t, eps, "ETCD_ENDPOINTS")
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func rootPath(env map[string]string) string {
	if r := env["SOURCE_ROOT_PATH"]; r != "" {
		return r
	}
	return "cdc-src"
}

// Every catalog value Milvus wrote decodes with our metapb and has no field
// our .proto does not declare.
func TestBedCatalogDecodes(t *testing.T) {
	env := bedEnv(t)
	cli := bedEtcd(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := rootPath(env) + "/meta/root-coord/"
	resp, err := cli.Get(ctx, root, clientv3.WithPrefix())
	require.NoError(t, err)
	counts := map[string]int{}
	for _, kv := range resp.Kvs {
		key := strings.TrimPrefix(string(kv.Key), root)
		if string(kv.Value) == "\xe2\x9b\xbc" {
			counts["tombstone"]++
			continue
		}
		var m proto.Message
		switch {
		case strings.HasPrefix(key, "database/db-info/"):
			m = &metapb.DatabaseInfo{}
		case strings.HasPrefix(key, "database/collection-info/"), strings.HasPrefix(key, "collection/"):
			m = &metapb.CollectionInfo{}
		case strings.HasPrefix(key, "partitions/"):
			m = &metapb.PartitionInfo{}
		case strings.HasPrefix(key, "fields/"):
			m = &schemapb.FieldSchema{}
		default:
			counts["other:"+strings.SplitN(key, "/", 2)[0]]++
			continue
		}
		require.NoError(t, proto.Unmarshal(kv.Value, m), key)
		require.Empty(t, m.ProtoReflect().GetUnknown(), "undeclared fields in %s", key)
		counts[strings.SplitN(key, "/", 3)[0]+"/"+strings.SplitN(key, "/", 3)[1]]++
		if db, ok := m.(*metapb.DatabaseInfo); ok {
			t.Logf("%s: %v", key, db)
		}
	}
	t.Logf("catalog keys by kind: %v", counts)

	r, err := source.NewMetaReader(cli, source.MetaConfig{RootPath: rootPath(env)}, zaptest.NewLogger(t))
	require.NoError(t, err)
	snap, err := r.List(ctx)
	require.NoError(t, err)
	var defaultDB *source.Database
	for _, db := range snap.Databases {
		if db.Name == "default" {
			defaultDB = db
		}
	}
	require.NotNil(t, defaultDB, "the default database is in the catalog")
	t.Logf("default database: id %d state %s", defaultDB.ID, defaultDB.State)
	for _, c := range snap.Collections {
		t.Logf("collection %d db %d %q state %s shards %d pchannels %v partitions %d fields %d dynamic %v",
			c.ID, c.DBID, c.Name, c.State, c.ShardsNum, c.PhysicalChannels, len(c.Partitions), len(c.Schema.GetFields()), c.Schema.GetEnableDynamicField())
		for _, f := range c.Schema.GetFields() {
			require.GreaterOrEqual(t, f.GetFieldID(), int64(100))
		}
	}
}

// channelTap decodes everything read from one channel in the background.
type channelTap struct {
	mu     sync.Mutex
	msgs   []*source.Message
	packs  []*source.Pack
	errors []error
	bad    int
}

func tap(ctx context.Context, t *testing.T, c mq.Client, channel string, start mq.Start, ticks bool) *channelTap {
	r, err := c.OpenReader(ctx, channel, start)
	require.NoError(t, err)
	ct := &channelTap{}
	g := source.NewTickGrouper(source.Position{Channel: channel})
	go func() {
		defer r.Close()
		for {
			raw, err := r.Next(ctx)
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					ct.mu.Lock()
					ct.errors = append(ct.errors, err)
					ct.mu.Unlock()
				}
				return
			}
			m, err := source.DecodeMessage(raw.Payload)
			ct.mu.Lock()
			if err != nil {
				ct.bad++
			} else {
				ct.msgs = append(ct.msgs, m)
				if ticks {
					if p := g.Add(raw.ID, m); p != nil {
						ct.packs = append(ct.packs, p)
					}
				}
			}
			ct.mu.Unlock()
		}
	}()
	return ct
}

// find returns the messages for which keep is true.
func (ct *channelTap) find(keep func(*source.Message) bool) []*source.Message {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var out []*source.Message
	for _, m := range ct.msgs {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func nextEvent(t *testing.T, events <-chan source.MetaEvent, want source.MetaEventType, id int64, name string) source.MetaEvent {
	t.Helper()
	timeout := time.After(120 * time.Second)
	for {
		select {
		case ev := <-events:
			t.Logf("meta event %s id %d rev %d", ev.Type, ev.ID, ev.Revision)
			if ev.Type != want {
				continue
			}
			if id != 0 && ev.ID == id {
				return ev
			}
			if name != "" && ev.Collection != nil && ev.Collection.Name == name {
				return ev
			}
			if name != "" && ev.Partition != nil && ev.Partition.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event for %d/%q", want, id, name)
		}
	}
}

func TestBedProbeCollectionLifecycle(t *testing.T) {
	env := bedEnv(t)
	if env["MQ_TYPE"] != "" && env["MQ_TYPE"] != "pulsar" {
		t.Skipf("MQ_TYPE=%s: this probe reads Pulsar", env["MQ_TYPE"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cli := bedEtcd(t, env)
	reader, err := source.NewMetaReader(cli, source.MetaConfig{RootPath: rootPath(env)}, zaptest.NewLogger(t))
	require.NoError(t, err)
	snap, err := reader.List(ctx)
	require.NoError(t, err)
	events := reader.Watch(ctx, snap)

	pc, err := mq.NewPulsarClient(mq.PulsarConfig{URL: env["PULSAR_ADDRESS"]}, zaptest.NewLogger(t))
	require.NoError(t, err)
	defer pc.Close()
	replicateChannel := env["REPLICATE_CHANNEL"]
	if replicateChannel == "" {
		replicateChannel = rootPath(env) + "-replicate-msg"
	}
	rc := tap(ctx, t, pc, replicateChannel, mq.StartLatest(), false)

	mc, err := client.NewClient(ctx, client.Config{Address: strings.TrimPrefix(env["SOURCE_MILVUS_URI"], "http://")})
	require.NoError(t, err)
	defer mc.Close()

	name := fmt.Sprintf("srcprobe_%d", time.Now().Unix())
	schema := entity.NewSchema().WithName(name).WithDescription("cdc source probe").WithDynamicFieldEnabled(true).
		WithField(entity.NewField().WithName("pk").WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true).WithIsAutoID(true)).
		WithField(entity.NewField().WithName("vec").WithDataType(entity.FieldTypeFloatVector).WithDim(4)).
		WithField(entity.NewField().WithName("title").WithDataType(entity.FieldTypeVarChar).WithMaxLength(32))
	require.NoError(t, mc.CreateCollection(ctx, schema, 2, client.WithConsistencyLevel(entity.ClBounded)))
	t.Cleanup(func() { _ = mc.DropCollection(context.Background(), name) })

	// etcd: CollectionCreated with the rebuilt user schema.
	created := nextEvent(t, events, source.CollectionCreated, 0, name).Collection
	t.Logf("created %d: vchannels %v pchannels %v start %v consistency %s", created.ID, created.VirtualChannels, created.PhysicalChannels, created.StartPositions, created.ConsistencyLevel)
	require.Equal(t, []string{"pk", "vec", "title"}, fieldNames(created.Schema))
	require.Equal(t, []int64{100, 101, 102}, fieldIDs(created.Schema))
	require.True(t, created.Schema.GetEnableDynamicField())
	require.True(t, created.Schema.GetFields()[0].GetAutoID())
	require.Equal(t, int32(2), created.ShardsNum)
	require.Equal(t, commonpb.ConsistencyLevel_Bounded, created.ConsistencyLevel)
	require.Len(t, created.PhysicalChannels, 2)
	require.Len(t, created.Partitions, 1)
	for k, vc := range created.VirtualChannels {
		v, err := source.ParseVChannel(vc)
		require.NoError(t, err)
		require.Equal(t, source.VChannel{PChannel: created.PhysicalChannels[k], CollectionID: created.ID, Shard: k}, v)
	}

	// MQ: reading each pchannel from its start position begins with this
	// collection's CreateCollection message (start_positions are Pulsar
	// MessageIdData bytes, inclusive start works).
	taps := map[string]*channelTap{}
	for _, pch := range created.PhysicalChannels {
		id, err := pulsar.DeserializeMessageID(created.StartPositions[pch])
		require.NoError(t, err)
		t.Logf("start position of %s: %s", pch, id)
		taps[pch] = tap(ctx, t, pc, pch, mq.StartAt(created.StartPositions[pch]), true)
	}
	for pch, ct := range taps {
		waitFor(t, "CreateCollection on "+pch, func() bool { return len(ct.find(func(*source.Message) bool { return true })) > 0 })
		first := ct.find(func(*source.Message) bool { return true })[0]
		require.Equal(t, commonpb.MsgType_CreateCollection, first.Type, pch)
		require.Equal(t, created.ID, first.CollectionID())
		body := first.Body.(*msgpb.CreateCollectionRequest)
		s := &schemapb.CollectionSchema{}
		require.NoError(t, proto.Unmarshal(body.GetSchema(), s))
		require.Equal(t, name, s.GetName())
	}

	require.NoError(t, mc.CreatePartition(ctx, name, "p1"))
	part := nextEvent(t, events, source.PartitionCreated, 0, "p1").Partition
	require.Equal(t, created.ID, part.CollectionID)

	const rows = 50
	vecs, titles := make([][]float32, rows), make([]string, rows)
	for i := range vecs {
		vecs[i], titles[i] = []float32{float32(i), 1, 2, 3}, fmt.Sprintf("t%d", i)
	}
	ids, err := mc.Insert(ctx, name, "", entity.NewColumnFloatVector("vec", 4, vecs), entity.NewColumnVarChar("title", titles))
	require.NoError(t, err)
	pks := ids.(*entity.ColumnInt64).Data()
	require.NoError(t, mc.Delete(ctx, name, "", fmt.Sprintf("pk in [%d, %d]", pks[0], pks[1])))

	isColl := func(tp commonpb.MsgType) func(*source.Message) bool {
		return func(m *source.Message) bool { return m.Type == tp && m.CollectionID() == created.ID }
	}
	waitFor(t, "50 inserted rows on the DML channels", func() bool {
		n := 0
		for _, ct := range taps {
			for _, m := range ct.find(isColl(commonpb.MsgType_Insert)) {
				n += int(m.Body.(*msgpb.InsertRequest).GetNumRows())
			}
		}
		return n == rows
	})
	waitFor(t, "the delete", func() bool {
		for _, ct := range taps {
			if len(ct.find(isColl(commonpb.MsgType_Delete))) > 0 {
				return true
			}
		}
		return false
	})
	// Ticks come about every 200 ms; the inserts and the delete can all be
	// seen before the first one, so wait for them rather than race them.
	isTick := func(m *source.Message) bool { return m.Type == commonpb.MsgType_TimeTick }
	waitFor(t, "time ticks on every DML channel", func() bool {
		for _, ct := range taps {
			if len(ct.find(isTick)) == 0 {
				return false
			}
		}
		return true
	})
	for pch, ct := range taps {
		for _, m := range append(ct.find(isColl(commonpb.MsgType_Insert)), ct.find(isColl(commonpb.MsgType_Delete))...) {
			v, err := source.ParseVChannel(m.ShardName())
			require.NoError(t, err)
			require.Equal(t, pch, v.PChannel)
			require.Equal(t, created.ID, v.CollectionID)
			require.WithinDuration(t, time.Now(), source.PhysicalTime(m.BeginTs), time.Hour, "ts %d is a hybrid timestamp of today", m.BeginTs)
			require.False(t, m.IsReplicate())
			if ins, ok := m.Body.(*msgpb.InsertRequest); ok {
				t.Logf("insert on %s: rows %d version %s fields %d msgID %d ts %s", m.ShardName(), ins.GetNumRows(), ins.GetVersion(), len(ins.GetFieldsData()), m.MsgID(), source.PhysicalTime(m.BeginTs))
			}
			if del, ok := m.Body.(*msgpb.DeleteRequest); ok {
				t.Logf("delete on %s: rows %d pks %v int64_pks %v partition %d", m.ShardName(), del.GetNumRows(), del.GetPrimaryKeys().GetIntId().GetData(), del.GetInt64PrimaryKeys(), del.GetPartitionID())
			}
		}
		ticks := ct.find(isTick)
		require.NotEmpty(t, ticks, "time ticks on %s", pch)
		t.Logf("%s: %d ticks, %d CreatePartition msgs, %d undecodable", pch, len(ticks), len(ct.find(isColl(commonpb.MsgType_CreatePartition))), ct.bad)
	}

	idx, err := entity.NewIndexFlat(entity.L2)
	require.NoError(t, err)
	require.NoError(t, mc.CreateIndex(ctx, name, "vec", idx, false))
	require.NoError(t, mc.LoadCollection(ctx, name, false))
	require.NoError(t, mc.Flush(ctx, name, false))
	require.NoError(t, mc.ReleaseCollection(ctx, name))
	require.NoError(t, mc.DropPartition(ctx, name, "p1"))
	nextEvent(t, events, source.PartitionDropped, part.ID, "")

	// The replicate channel is shared with whatever else runs on the bed (the
	// e2e package runs beside this one): only this collection's operations
	// count.
	for _, want := range []commonpb.MsgType{commonpb.MsgType_CreateIndex, commonpb.MsgType_LoadCollection, commonpb.MsgType_Flush, commonpb.MsgType_ReleaseCollection} {
		waitFor(t, want.String()+" on the replicate channel", func() bool {
			return len(rc.find(func(m *source.Message) bool { return m.Type == want && concerns(m, name) })) > 0
		})
	}
	for _, m := range rc.find(func(m *source.Message) bool { return concerns(m, name) }) {
		t.Logf("replicate channel: %s replicate=%v ts %d body %T", m.Type, m.IsReplicate(), m.EndTs, m.Body)
	}
	ci := rc.find(func(m *source.Message) bool {
		return m.Type == commonpb.MsgType_CreateIndex && concerns(m, name)
	})[0].Body.(*milvuspb.CreateIndexRequest)
	require.Equal(t, name, ci.GetCollectionName())
	require.Equal(t, "vec", ci.GetFieldName())

	// Resuming a DML channel from a pack's end position (stream.OpenPacks:
	// inclusive seek + seek filter) yields exactly the next packs.
	for pch, ct := range taps {
		ct.mu.Lock()
		packs := append([]*source.Pack(nil), ct.packs...)
		ct.mu.Unlock()
		require.GreaterOrEqual(t, len(packs), 3, pch)
		for _, p := range packs {
			require.Less(t, p.BeginTs, p.EndTs)
			for _, m := range p.Msgs {
				require.Greater(t, m.BeginTs, p.BeginTs)
				require.LessOrEqual(t, m.EndTs, p.EndTs)
			}
			_, err := pulsar.DeserializeMessageID(p.EndPosition.MsgID)
			require.NoError(t, err)
		}
		k := len(packs) / 2
		r, err := stream.OpenPacks(ctx, pc, pch, &packs[k].EndPosition, stream.Options{})
		require.NoError(t, err)
		for i := k + 1; i < len(packs); i++ {
			p, err := r.Next(ctx)
			require.NoError(t, err)
			require.Equal(t, packs[i].BeginTs, p.BeginTs, "%s pack %d", pch, i)
			require.Equal(t, packs[i].EndTs, p.EndTs, "%s pack %d", pch, i)
			require.Equal(t, msgIDs(packs[i]), msgIDs(p), "%s pack %d", pch, i)
			require.Equal(t, packs[i].EndPosition, p.EndPosition)
		}
		require.NoError(t, r.Close())
		t.Logf("%s: resumed at pack %d of %d, the following packs matched", pch, k, len(packs))
	}

	require.NoError(t, mc.DropCollection(ctx, name))
	nextEvent(t, events, source.CollectionDropping, created.ID, "")
	for pch, ct := range taps {
		waitFor(t, "DropCollection on "+pch, func() bool { return len(ct.find(isColl(commonpb.MsgType_DropCollection))) > 0 })
		t.Logf("%s: DropPartition msgs %d", pch, len(ct.find(isColl(commonpb.MsgType_DropPartition))))
		ct.mu.Lock()
		t.Logf("%s: %d packs, reader errors %v", pch, len(ct.packs), ct.errors)
		require.Empty(t, ct.errors)
		ct.mu.Unlock()
	}
	// The tombstone (CollectionDropped) comes only after datacoord's garbage
	// collection confirms the drop, which can take far longer than a test.
	select {
	case ev := <-waitEvent(events, source.CollectionDropped, created.ID):
		t.Logf("CollectionDropped arrived at revision %d", ev.Revision)
	case <-time.After(20 * time.Second):
		t.Logf("CollectionDropped not seen within 20s (state stays Dropping until datacoord GC)")
	}
}

func waitEvent(events <-chan source.MetaEvent, want source.MetaEventType, id int64) <-chan source.MetaEvent {
	out := make(chan source.MetaEvent, 1)
	go func() {
		for ev := range events {
			if ev.Type == want && ev.ID == id {
				out <- ev
				return
			}
		}
	}()
	return out
}

func msgIDs(p *source.Pack) []string {
	var out []string
	for _, m := range p.Msgs {
		out = append(out, fmt.Sprintf("%s/%d", m.Type, m.MsgID()))
	}
	return out
}

func fieldNames(s *schemapb.CollectionSchema) []string {
	var out []string
	for _, f := range s.GetFields() {
		out = append(out, f.GetName())
	}
	return out
}

func fieldIDs(s *schemapb.CollectionSchema) []int64 {
	var out []int64
	for _, f := range s.GetFields() {
		out = append(out, f.GetFieldID())
	}
	return out
}

// The TSO upper bound and the component sessions decode as documented.
func TestBedClockAndSessions(t *testing.T) {
	env := bedEnv(t)
	cli := bedEtcd(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := source.MetaConfig{RootPath: rootPath(env)}
	clock, err := source.SourceClock(ctx, cli, cfg)
	require.NoError(t, err)
	t.Logf("source clock %s (local now %s)", clock.UTC(), time.Now().UTC())
	require.WithinDuration(t, time.Now(), clock, time.Minute)
	sessions, err := cli.Get(ctx, rootPath(env)+"/meta/session/", clientv3.WithPrefix())
	require.NoError(t, err)
	require.NotEmpty(t, sessions.Kvs, "the source registers its components under meta/session/")
	for _, kv := range sessions.Kvs {
		t.Logf("session %s: %s", kv.Key, kv.Value)
	}
}

// concerns reports whether a replicate-channel operation names collection.
func concerns(m *source.Message, collection string) bool {
	switch b := m.Body.(type) {
	case interface{ GetCollectionName() string }:
		return b.GetCollectionName() == collection
	case *milvuspb.FlushRequest:
		return slices.Contains(b.GetCollectionNames(), collection)
	}
	return false
}
