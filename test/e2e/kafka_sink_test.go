//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/changelog"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/kafkatest"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// requireKafkaBed skips unless the bed's source runs on Kafka: the Kafka
// writer publishes to the bed's broker, and a Pulsar bed has none.
func requireKafkaBed(t *testing.T) *Bed {
	t.Helper()
	bed := RequireBed(t)
	if bed.MQType != "kafka" {
		t.Skipf("the Kafka writer publishes to the bed's Kafka broker and this bed's source runs on %s, which starts none: run make e2e MQ=kafka", bed.MQType)
	}
	return bed
}

// createKafkaTask creates a task publishing one collection's changes to
// topic on the bed's broker (milvus-cdc's kafka_connect_param), deleted
// when the test ends, and waits until it replicates.
func (d *Daemon) createKafkaTask(t *testing.T, topic, coll string) string {
	t.Helper()
	out := d.CDC(t, "create", map[string]any{
		"kafka_connect_param": map[string]any{"address": strings.Join(d.bed.KafkaBrokers, ","), "topic": topic},
		"collection_infos":    []any{map[string]any{"name": coll}},
		// Named so that a bed whose target runs in replicate mode does not
		// give the task that mode; a Kafka target implies this one anyway.
		"writer_mode": "kafka",
	})
	id, _ := out["task_id"].(string)
	require.NotEmpty(t, id, "create returned no task_id: %v", out)
	t.Cleanup(func() {
		if d.cmd != nil {
			d.CDCRaw(t, "delete", map[string]any{"task_id": id, "ignore_not_found": true})
		}
	})
	d.waitReplicating(t, id)
	return id
}

// sinkEvent is one record of the sink's topics, decoded.
type sinkEvent struct {
	Partition int32
	Offset    int64
	Key       changelog.Key
	RawKey    string
	Event     *changelog.Event
}

// id is what tells one change from another: its key, ts and seq.
func (e sinkEvent) id() string {
	return fmt.Sprintf("%s@%d/%d", e.RawKey, e.Event.Source.Ts, e.Event.Source.Seq)
}

// sinkTopics reads every event of the topics, checking each against the
// JSON Schema in docs/.
func sinkTopics(t *testing.T, ctx context.Context, bed *Bed, topics ...string) []sinkEvent {
	t.Helper()
	root, err := repoRoot()
	require.NoError(t, err)
	schema, err := kafkatest.LoadEventSchema(filepath.Join(root, "docs", "kafka-sink.schema.json"))
	require.NoError(t, err)
	var out []sinkEvent
	err = changelog.ReadAll(ctx, []kgo.Opt{kgo.SeedBrokers(bed.KafkaBrokers...)}, topics, func(r *kgo.Record) error {
		if err := schema.Check(r.Value); err != nil {
			return fmt.Errorf("%s/%d@%d does not match docs/kafka-sink.schema.json: %w", r.Topic, r.Partition, r.Offset, err)
		}
		ev, err := changelog.Decode(r.Value)
		if err != nil {
			return err
		}
		key, err := changelog.DecodeKey(r.Key)
		if err != nil {
			return err
		}
		out = append(out, sinkEvent{Partition: r.Partition, Offset: r.Offset, Key: key, RawKey: string(r.Key), Event: ev})
		return nil
	})
	require.NoError(t, err)
	return out
}

// rebuild applies events to a new State.
func rebuild(t *testing.T, events []sinkEvent) *changelog.State {
	t.Helper()
	st := &changelog.State{}
	for _, e := range events {
		require.NoError(t, st.Apply(e.Event, e.Key))
	}
	return st
}

// rebuiltCollection is the collection the row events of name rebuild.
func rebuiltCollection(st *changelog.State, name string) *changelog.Collection {
	for _, c := range st.Collections() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// rebuiltRows renders a rebuilt collection's rows as QueryAllRows renders
// the source's.
func rebuiltRows(schema *entity.Schema, c *changelog.Collection) (map[string]Row, error) {
	out := map[string]Row{}
	if c == nil {
		return out, nil
	}
	for pk, r := range c.Rows() {
		row := Row{}
		for _, f := range schema.Fields {
			raw, ok := r.Values[f.Name]
			if !ok {
				return nil, fmt.Errorf("key %s: the event has no field %s", pk, f.Name)
			}
			v, err := eventValue(f, raw)
			if err != nil {
				return nil, fmt.Errorf("key %s field %s: %w", pk, f.Name, err)
			}
			row[f.Name] = v
		}
		if schema.EnableDynamicField {
			v, err := canonicalJSON(r.Values["$meta"])
			if err != nil {
				return nil, fmt.Errorf("key %s $meta: %w", pk, err)
			}
			row["$meta"] = v
		}
		out[strings.Trim(pk, `"`)] = row
	}
	return out, nil
}

// eventValue renders a value of an event as normalizeValue renders the
// SDK's value of the same field.
func eventValue(f *entity.Field, raw []byte) (string, error) {
	decode := func(v any) (string, error) {
		if err := json.Unmarshal(raw, v); err != nil {
			return "", fmt.Errorf("%s %s: %w", f.DataType.Name(), raw, err)
		}
		return fmt.Sprintf("%v", deref(v)), nil
	}
	switch f.DataType {
	case entity.FieldTypeBool:
		return decode(new(bool))
	case entity.FieldTypeInt8:
		return decode(new(int8))
	case entity.FieldTypeInt16:
		return decode(new(int16))
	case entity.FieldTypeInt32:
		return decode(new(int32))
	case entity.FieldTypeInt64:
		return decode(new(int64))
	case entity.FieldTypeFloat:
		return decode(new(float32))
	case entity.FieldTypeDouble:
		return decode(new(float64))
	case entity.FieldTypeVarChar:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return fmt.Sprintf("%q", s), nil
	case entity.FieldTypeJSON:
		return canonicalJSON(raw)
	case entity.FieldTypeFloatVector:
		return decode(new([]float32))
	case entity.FieldTypeBinaryVector:
		var b []byte
		var ints []int
		if err := json.Unmarshal(raw, &ints); err != nil {
			return "", err
		}
		for _, x := range ints {
			b = append(b, byte(x))
		}
		return hex.EncodeToString(b), nil
	case entity.FieldTypeArray:
		switch f.ElementType {
		case entity.FieldTypeInt64:
			return decode(new([]int64))
		case entity.FieldTypeDouble:
			return decode(new([]float64))
		case entity.FieldTypeBool:
			return decode(new([]bool))
		case entity.FieldTypeVarChar:
			var ss []string
			if err := json.Unmarshal(raw, &ss); err != nil {
				return "", err
			}
			parts := make([]string, len(ss))
			for i, s := range ss {
				parts[i] = fmt.Sprintf("%q", s)
			}
			return "[" + strings.Join(parts, " ") + "]", nil
		}
	}
	return "", fmt.Errorf("no rendering for %s", f.DataType.Name())
}

func deref(v any) any {
	switch p := v.(type) {
	case *bool:
		return *p
	case *int8:
		return *p
	case *int16:
		return *p
	case *int32:
		return *p
	case *int64:
		return *p
	case *float32:
		return *p
	case *float64:
		return *p
	case *[]float32:
		return *p
	case *[]int64:
		return *p
	case *[]float64:
		return *p
	case *[]bool:
		return *p
	}
	return v
}

// sameAsSource is a Condition: the events of topic rebuild the source
// collection key by key, every field's value included.
func sameAsSource(t *testing.T, bed *Bed, src client.Client, schema *entity.Schema, topic string) Condition {
	return func(ctx context.Context) (bool, string, error) {
		events := sinkTopics(t, ctx, bed, topic)
		got, err := rebuiltRows(schema, rebuiltCollection(rebuild(t, events), schema.CollectionName))
		if err != nil {
			return false, "", err
		}
		want, err := QueryAllRows(ctx, src, schema.CollectionName)
		if err != nil {
			return false, "", err
		}
		missing, extra, values := CompareRows(want, got)
		ok := len(missing) == 0 && len(extra) == 0 && len(values) == 0
		return ok, fmt.Sprintf("%d events, %d keys rebuilt, %d on the source; missing %d %v, extra %d %v, different %d %v",
			len(events), len(got), len(want), len(missing), head(missing), len(extra), head(extra), len(values), head(values)), nil
	}
}

func head(s []string) []string { return s[:min(len(s), 3)] }

// requireOrderPerKey checks that every key's events sit in one partition
// and, leaving out changes sent again, come in (ts, seq) order.
func requireOrderPerKey(t *testing.T, events []sinkEvent) {
	t.Helper()
	partition := map[string]int32{}
	last := map[string][2]uint64{}
	seen := map[string]bool{}
	for _, e := range events {
		if e.Event.Op == "" {
			continue
		}
		if p, ok := partition[e.RawKey]; ok {
			require.Equal(t, p, e.Partition, "key %s in two partitions", e.RawKey)
		}
		partition[e.RawKey] = e.Partition
		if seen[e.id()] {
			continue
		}
		seen[e.id()] = true
		tok := [2]uint64{e.Event.Source.Ts, uint64(e.Event.Source.Seq)}
		if prev, ok := last[e.RawKey]; ok {
			require.True(t, tok[0] > prev[0] || (tok[0] == prev[0] && tok[1] > prev[1]),
				"key %s: change %v after %v (partition %d offset %d)", e.RawKey, tok, prev, e.Partition, e.Offset)
		}
		last[e.RawKey] = tok
	}
}

// TestKafkaSinkStreamsEveryFieldType: a task publishes inserts, upserts and
// deletes of collections with every field type; a consumer rebuilding the
// collections from the events gets the source's rows key by key, values
// included; every change of a key is in one partition, in order; every
// event matches the JSON Schema; the schema topic describes the collection.
func TestKafkaSinkStreamsEveryFieldType(t *testing.T) {
	bed := requireKafkaBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src := bed.ConnectSource(t, ctx)
	topic := UniqueName("e2e.kafka")
	schemas := []*entity.Schema{AllTypesSchema(UniqueName("e2e_kafka_types")), AllTypesBinarySchema(UniqueName("e2e_kafka_bin"))}
	for _, schema := range schemas {
		d.createKafkaTask(t, topic, schema.CollectionName)
		require.NoError(t, CreateCollection(ctx, src, schema, 2))
		DropCollectionOnCleanup(t, src, schema.CollectionName)
		require.NoError(t, EnsureLoaded(ctx, src, schema.CollectionName))
	}
	for _, schema := range schemas {
		require.NoError(t, insertInto(ctx, src, schema, "", 0, 1000, 250))
		require.NoError(t, upsertWithValuesOf(ctx, src, schema, []int64{3, 30, 300, 999}, 5000))
		ids := make([]string, 0, 50)
		for i := 100; i < 150; i++ {
			ids = append(ids, fmt.Sprint(i))
		}
		require.NoError(t, src.Delete(ctx, schema.CollectionName, "", FieldID+" in ["+strings.Join(ids, ",")+"]"))
	}
	for _, schema := range schemas {
		Eventually(t, ctx, catchUp, 2*time.Second, "the events rebuild "+schema.CollectionName, sameAsSource(t, bed, src, schema, topic))
	}

	events := sinkTopics(t, ctx, bed, topic)
	requireOrderPerKey(t, events)
	ops := map[string]int{}
	for _, e := range events {
		ops[e.Event.Op]++
		require.Equal(t, "cdc-src", e.Event.Source.Cluster, "source.cluster defaults to the source's etcd root path")
	}
	t.Logf("%d events on %s: %v", len(events), topic, ops)
	require.GreaterOrEqual(t, ops["c"], 2000)
	require.GreaterOrEqual(t, ops["u"], 8)
	require.GreaterOrEqual(t, ops["d"], 100)

	// The schema topic: the collection with its fields, as the source has it.
	ddl := sinkTopics(t, ctx, bed, topic+".schema")
	for _, schema := range schemas {
		var doc *changelog.CollectionDoc
		for _, e := range ddl {
			if e.Event.Type == changelog.TypeCreateCollection && e.Event.Source.Collection == schema.CollectionName {
				doc = e.Event.Collection
			}
		}
		require.NotNil(t, doc, "no create_collection event for %s", schema.CollectionName)
		var names []string
		for _, f := range doc.Fields {
			names = append(names, f.Name+":"+f.Type)
		}
		var want []string
		for _, f := range schema.Fields {
			want = append(want, f.Name+":"+f.DataType.Name())
		}
		require.Equal(t, want, names)
		require.True(t, doc.EnableDynamicField)
		require.EqualValues(t, 2, doc.Shards)
	}
}

// checkpoints reads the stored checkpoint timestamp of every data channel.
func (d *Daemon) checkpoints(id string) (map[string]uint64, error) {
	var st struct {
		Pipeline struct {
			Channels []struct {
				Channel      string `json:"channel"`
				Kind         string `json:"kind"`
				CheckpointTs uint64 `json:"checkpointTs"`
			} `json:"channels"`
		} `json:"pipeline"`
	}
	resp, err := http.Get("http://" + d.addr + "/api/v1/tasks/" + id + "/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, c := range st.Pipeline.Channels {
		if c.Kind == "data" {
			out[c.Channel] = c.CheckpointTs
		}
	}
	return out, nil
}

// kafkaStream is a collection on the source published by a Kafka task,
// caught while the daemon publishes a large insert.
type kafkaStream struct {
	d      *Daemon
	src    client.Client
	topic  string
	schema *entity.Schema
	id     string
	// arrived counts the records on the topic so far.
	arrived func() int64
	// inserted gets the large insert's outcome; rows is the number of rows
	// written in all.
	inserted chan error
	rows     int
	// checkpoints is the last checkpoint of each data channel the status
	// showed (polled every 50 ms): a lower bound of what is stored.
	mu          sync.Mutex
	checkpoints map[string]uint64
}

// watchCheckpoints polls the task's checkpoints until the test ends; a
// daemon that does not answer (killed) leaves the last ones read.
func (k *kafkaStream) watchCheckpoints(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if cps, err := k.d.checkpoints(k.id); err == nil && len(cps) > 0 {
				k.mu.Lock()
				k.checkpoints = cps
				k.mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (k *kafkaStream) lastCheckpoints() map[string]uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.checkpoints
}

// publishingLargeInsert creates the collection and its task, inserts small
// batches and waits for their events, then starts one insert of 4000 rows
// and returns as soon as its first events arrive: the daemon is then
// publishing a batch it has not checkpointed.
func publishingLargeInsert(t *testing.T, bed *Bed, name string) *kafkaStream {
	ctx := context.Background()
	k := &kafkaStream{d: StartDaemon(t, bed), src: bed.ConnectSource(t, ctx), topic: UniqueName("e2e.kafka." + name),
		schema: AllTypesSchema(UniqueName("e2e_kafka_" + name)), inserted: make(chan error, 1)}
	k.id = k.d.createKafkaTask(t, k.topic, k.schema.CollectionName)
	k.watchCheckpoints(t)
	require.NoError(t, CreateCollection(ctx, k.src, k.schema, 2))
	DropCollectionOnCleanup(t, k.src, k.schema.CollectionName)
	require.NoError(t, EnsureLoaded(ctx, k.src, k.schema.CollectionName))

	const batches, batch, large = 10, 200, 4000
	for i := 0; i < batches; i++ {
		require.NoError(t, insertInto(ctx, k.src, k.schema, "", i*batch, batch, batch))
		time.Sleep(100 * time.Millisecond)
	}
	k.arrived = countRecords(t, ctx, bed, k.topic)
	Eventually(t, ctx, catchUp, 100*time.Millisecond, "events of the first batches", func(context.Context) (bool, string, error) {
		n := k.arrived()
		return n >= batches*batch, fmt.Sprintf("%d events", n), nil
	})
	go func() { k.inserted <- insertRetrying(ctx, k.src, k.schema, batches*batch, large) }()
	for k.arrived() < batches*batch+50 {
		time.Sleep(2 * time.Millisecond)
	}
	k.rows = batches*batch + large
	return k
}

// more inserts rows after the large insert.
func (k *kafkaStream) more(t *testing.T, count int) {
	require.NoError(t, insertRetrying(context.Background(), k.src, k.schema, k.rows, count))
	k.rows += count
}

// TestKafkaSinkKillMidStream: the daemon killed with SIGKILL while rows
// stream in publishes again, after its restart, what followed its last
// checkpoint: the rebuilt collection still equals the source, and every
// duplicate is a change after that checkpoint carrying the same position
// as its first copy.
func TestKafkaSinkKillMidStream(t *testing.T) {
	bed := requireKafkaBed(t)
	ctx := context.Background()
	k := publishingLargeInsert(t, bed, "kill")
	d, src, topic, schema := k.d, k.src, k.topic, k.schema
	d.Kill(t)
	before := k.lastCheckpoints()
	t.Logf("killed with %d events on the topic and checkpoints %v", k.arrived(), before)
	require.NoError(t, <-k.inserted)
	d.Start(t)
	k.more(t, 400) // and more after the restart
	Eventually(t, ctx, catchUp, 2*time.Second, "the events rebuild the collection", sameAsSource(t, bed, src, schema, topic))

	events := sinkTopics(t, ctx, bed, topic)
	requireOrderPerKey(t, events)
	first := map[string]sinkEvent{}
	dups := 0
	for _, e := range events {
		orig, ok := first[e.id()]
		if !ok {
			first[e.id()] = e
			continue
		}
		dups++
		require.Equal(t, orig.Event.Source.Position, e.Event.Source.Position, "a change sent again carries the position of its first copy")
		raw, err := base64.StdEncoding.DecodeString(e.Event.Source.Position)
		require.NoError(t, err)
		pos, err := source.DecodePosition(raw, e.Event.Source.Channel)
		require.NoError(t, err)
		cp, ok := before[e.Event.Source.Channel]
		require.True(t, ok, "a channel the task did not read: %s", e.Event.Source.Channel)
		require.Greater(t, pos.Timestamp, cp, "%s sent again though its batch was checkpointed before the kill", e.id())
	}
	st := rebuild(t, events)
	require.Equal(t, dups, st.Duplicates)
	if dups == 0 {
		t.Log("the kill came after the large batch was checkpointed: nothing was sent again this time")
	}
	t.Logf("%d events for %d rows: %d sent again after the restart, all after the last checkpoint", len(events), k.rows, dups)
}

// countRecords counts, in the background until the test ends, the records
// arriving on a topic; the returned function reads the count.
func countRecords(t *testing.T, ctx context.Context, bed *Bed, topic string) func() int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bed.KafkaBrokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(ctx)
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			n.Add(int64(cl.PollFetches(ctx).NumRecords()))
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return n.Load
}

// kafkaProcess is the bed's Kafka broker.
func kafkaProcess(t *testing.T, bed *Bed) *bedProcess {
	return attachBedProcess(t, bed, "kafka", "kafka", filepath.Join("kafka", "kafka.log"), func() error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(bed.KafkaBrokers...))
		if err != nil {
			return err
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return cl.Ping(ctx)
	})
}

// TestKafkaSinkBrokerRestart: the broker killed (SIGKILL, so it is gone at
// once) while the daemon publishes a large insert, and started again; the
// bed's source shares the broker, so its writes wait too. The task's status
// shows the writer retrying meanwhile, and afterwards the rebuilt collection
// equals the source, nothing lost.
func TestKafkaSinkBrokerRestart(t *testing.T) {
	bed := requireKafkaBed(t)
	ctx := context.Background()
	broker := kafkaProcess(t, bed)
	k := publishingLargeInsert(t, bed, "restart")
	d, src, topic, schema, id := k.d, k.src, k.topic, k.schema, k.id
	broker.kill(t)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			broker.start(t) // leave the bed whole for the next tests
		}
	})
	t.Logf("broker stopped with %d of %d events on the topic", k.arrived(), k.rows)
	seen := map[string]int{}
	applyFailed := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !applyFailed; {
		st := d.outageStatus(t, id)
		if st.Pipeline.State == "retrying" && st.Pipeline.Error != nil {
			seen[st.Pipeline.Error.Stage+": "+clip(st.Pipeline.Error.Message)]++
			applyFailed = st.Pipeline.Error.Stage == "apply"
		}
		time.Sleep(250 * time.Millisecond)
	}
	broker.start(t)
	restarted = true
	errs := make([]string, 0, len(seen))
	for e := range seen {
		errs = append(errs, e)
	}
	sort.Strings(errs)
	t.Logf("while the broker was down the status said retrying with: %v", errs)
	require.True(t, applyFailed, "the status showed the writer retrying while the broker was down")

	require.NoError(t, <-k.inserted)
	k.more(t, 400)
	Eventually(t, ctx, catchUp, 2*time.Second, "the events rebuild the collection", sameAsSource(t, bed, src, schema, topic))
	Eventually(t, ctx, time.Minute, 500*time.Millisecond, "running again", func(context.Context) (bool, string, error) {
		st := d.outageStatus(t, id)
		return st.Pipeline.State == "running", st.Pipeline.State, nil
	})
	requireOrderPerKey(t, sinkTopics(t, ctx, bed, topic))
}

// insertRetrying inserts rows [from, from+count) in one request, again
// while the source refuses it (its broker may be down), for three minutes.
func insertRetrying(ctx context.Context, src client.Client, schema *entity.Schema, from, count int) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		err := insertInto(ctx, src, schema, "", from, count, count)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Second)
	}
}
