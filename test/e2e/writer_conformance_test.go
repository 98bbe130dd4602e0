//go:build e2e

package e2e

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/kafkatest"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/milvus"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/sinktest"
)

// TestWriterConformsOnTheBedTarget runs the writer conformance suite with the
// writer of the bed's mode against the bed's real target Milvus: a normal
// Milvus for writer mode "api", a replica (common.ttMsgEnabled=false) for
// "replicate".
func TestWriterConformsOnTheBedTarget(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	bt := &bedTarget{c: bed.ConnectTarget(t, ctx), target: corelib.Target{URI: bed.TargetAddr, ConnectTimeout: 30 * time.Second}}
	if bed.TargetMode() == WriterModeReplicate {
		bt.factory, bt.consistency = &milvus.ReplicaFactory{}, entity.ClEventually // a replica shows rows up to its last tick
	} else {
		bt.factory, bt.consistency = &milvus.APIFactory{}, entity.ClStrong
	}
	sinktest.Run(t, "conf", bt)
}

// TestKafkaWriterConformsOnTheBedKafka runs the writer conformance suite
// with writer mode "kafka" against the bed's Kafka broker, read back by a
// consumer that rebuilds each collection from the topics.
func TestKafkaWriterConformsOnTheBedKafka(t *testing.T) {
	bed := requireKafkaBed(t)
	for _, k := range []corelib.KafkaTarget{
		{Topic: UniqueName("e2e.conf")},
		{TopicTemplate: UniqueName("e2e.conf") + ".{database}.{collection}", Compression: "lz4", Format: "json-base64"},
	} {
		k.Brokers = bed.KafkaBrokers
		factory := &kafka.Factory{Cluster: "cdc-src"}
		target := corelib.Target{Kafka: &k}
		sinktest.Run(t, "conf", &kafkatest.Target{
			Client: []kgo.Opt{kgo.SeedBrokers(bed.KafkaBrokers...)},
			Topics: func(coll *sink.Collection) []string {
				data := k.Topic
				if data == "" {
					data = strings.NewReplacer("{database}", coll.TargetDatabase, "{collection}", coll.TargetName).Replace(k.TopicTemplate)
				}
				return []string{kafka.SchemaTopic(&k), data}
			},
			OpenWriter: func(t *testing.T, env sink.Env) sink.Writer {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				w, err := factory.Open(ctx, target, env)
				require.NoError(t, err)
				return w
			},
		})
	}
}

// bedTarget reads back the bed's target with the SDK.
type bedTarget struct {
	c           client.Client
	target      corelib.Target
	factory     sink.Factory
	consistency entity.ConsistencyLevel
}

func (b *bedTarget) Open(t *testing.T, env sink.Env) sink.Writer {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := b.factory.Open(ctx, b.target, env)
	require.NoError(t, err)
	return w
}

func (b *bedTarget) Rows(t *testing.T, coll *sink.Collection) map[int64][]string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[int64][]string{}
	if ok, err := b.c.HasCollection(ctx, coll.TargetName); err != nil || !ok {
		return out
	}
	rs, err := b.c.Query(ctx, coll.TargetName, nil, "id >= 0", []string{"id", "v"}, client.WithSearchQueryConsistencyLevel(b.consistency))
	if err != nil {
		t.Logf("query %s: %v", coll.TargetName, err)
		return out
	}
	ids, vs := rs.GetColumn("id"), rs.GetColumn("v")
	if ids == nil || vs == nil {
		return out
	}
	for i := 0; i < ids.Len(); i++ {
		k, _ := ids.GetAsInt64(i)
		v, _ := vs.GetAsString(i)
		out[k] = append(out[k], v)
	}
	return out
}

func (b *bedTarget) Describe(t *testing.T, coll *sink.Collection) sinktest.State {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok, err := b.c.HasCollection(ctx, coll.TargetName)
	require.NoError(t, err)
	if !ok {
		return sinktest.State{}
	}
	st := sinktest.State{Exists: true}
	parts, err := b.c.ShowPartitions(ctx, coll.TargetName)
	require.NoError(t, err)
	for _, p := range parts {
		st.Partitions = append(st.Partitions, p.Name)
	}
	sort.Strings(st.Partitions)
	if idx, err := b.c.DescribeIndex(ctx, coll.TargetName, "vec"); err == nil && len(idx) > 0 {
		st.Indexed = []string{"vec"}
	}
	load, err := b.c.GetLoadState(ctx, coll.TargetName, nil)
	require.NoError(t, err)
	st.Loaded = load == entity.LoadStateLoaded || load == entity.LoadStateLoading
	return st
}

func (b *bedTarget) Refuse(string, int, bool) bool { return false }

// Conflict creates the collection on the target with other fields than the
// suite's schema.
func (b *bedTarget) Conflict(t *testing.T, _ string, name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := entity.NewSchema().WithName(name).
		WithField(entity.NewField().WithName("id").WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName("other").WithDataType(entity.FieldTypeDouble)).
		WithField(entity.NewField().WithName("emb").WithDataType(entity.FieldTypeFloatVector).WithDim(8))
	if err := b.c.CreateCollection(ctx, schema, 1); err != nil {
		t.Logf("the target refused a collection of its own: %v", err)
		return false
	}
	DropCollectionOnCleanup(t, b.c, name)
	return true
}

func (b *bedTarget) Caps() sinktest.Caps {
	return sinktest.Caps{Partitions: true, Indexes: true, Load: true}
}
