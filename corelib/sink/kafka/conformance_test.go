package kafka

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/changelog"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/sinktest"
)

// TestWriterConforms runs the writer conformance suite against an
// in-process broker, reading the target back as a consumer would: every
// event of the data and schema topics applied to a changelog.State.
func TestWriterConforms(t *testing.T) {
	for _, tc := range []struct {
		name string
		k    corelib.KafkaTarget
	}{
		{"one topic", corelib.KafkaTarget{Topic: "cdc"}},
		{"a topic per collection", corelib.KafkaTarget{TopicTemplate: "cdc.{database}.{collection}", Compression: "zstd", Format: string(FormatJSONBase64)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.Run(t, "conf", newFakeTarget(t, tc.k))
		})
	}
}

// fakeTarget is a kfake cluster as the suite's target.
type fakeTarget struct {
	c       *kfake.Cluster
	k       corelib.KafkaTarget
	factory *Factory

	mu      sync.Mutex
	refuses int // Produce requests still to refuse
}

func newFakeTarget(t *testing.T, k corelib.KafkaTarget) *fakeTarget {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	k.Brokers = c.ListenAddrs()
	ft := &fakeTarget{c: c, k: k, factory: &Factory{Cluster: "by-dev",
		// The producer gives up on a refused request at once, so each
		// refusal shows in Call (its default is to retry until the
		// delivery timeout, which TestBrokerDownIsRetried covers).
		Options: []kgo.Opt{kgo.RecordRetries(0)}}}
	c.ControlKey(kmsg.Produce.Int16(), ft.control)
	return ft
}

// control refuses Produce requests while refusals are left.
func (f *fakeTarget) control(req kmsg.Request) (kmsg.Response, error, bool) {
	f.c.KeepControl()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuses == 0 {
		return nil, nil, false
	}
	f.refuses--
	return refuseProduce(req.(*kmsg.ProduceRequest), kerr.NotEnoughReplicas), nil, true
}

// refuseProduce answers every partition of a produce request with code.
func refuseProduce(req *kmsg.ProduceRequest, code *kerr.Error) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (f *fakeTarget) target() corelib.Target {
	k := f.k
	return corelib.Target{Kafka: &k}
}

func (f *fakeTarget) Open(t *testing.T, env sink.Env) sink.Writer {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := f.factory.Open(ctx, f.target(), env)
	require.NoError(t, err)
	return w
}

// state reads the collection's data topic and the schema topic.
func (f *fakeTarget) state(t *testing.T, coll *sink.Collection) *changelog.Collection {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := []string{SchemaTopic(&f.k), topicNamer{fixed: f.k.Topic, template: f.k.TopicTemplate, cluster: "by-dev"}.topic(coll.TargetDatabase, coll.TargetName)}
	st := readState(t, ctx, f.k.Brokers, topics)
	if c := st.Collection(coll.ID); c != nil {
		return c
	}
	return &changelog.Collection{}
}

// readState applies every event of topics to a new State.
func readState(t *testing.T, ctx context.Context, brokers, topics []string) *changelog.State {
	st := &changelog.State{}
	err := changelog.ReadAll(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topics, func(r *kgo.Record) error {
		ev, err := changelog.Decode(r.Value)
		if err != nil {
			return err
		}
		key, err := changelog.DecodeKey(r.Key)
		if err != nil {
			return err
		}
		return st.Apply(ev, key)
	})
	require.NoError(t, err)
	return st
}

// Rows lists each live key with its "v", once per time its latest change
// arrived: a change the writer sent twice shows as a duplicate.
func (f *fakeTarget) Rows(t *testing.T, coll *sink.Collection) map[int64][]string {
	out := map[int64][]string{}
	c := f.state(t, coll)
	if !c.Exists() {
		return out
	}
	for pk, r := range c.Rows() {
		k, err := strconv.ParseInt(pk, 10, 64)
		require.NoError(t, err)
		var v string
		require.NoError(t, json.Unmarshal(r.Values["v"], &v))
		for i := 0; i < r.Received; i++ {
			out[k] = append(out[k], v)
		}
	}
	return out
}

func (f *fakeTarget) Describe(t *testing.T, coll *sink.Collection) sinktest.State {
	c := f.state(t, coll)
	if !c.Exists() {
		return sinktest.State{}
	}
	return sinktest.State{Exists: true, Partitions: c.Partitions(), Indexed: c.Indexed(), Loaded: c.Loaded()}
}

// Refuse makes the broker refuse the next n produce requests (the suite
// names the write RPC of the Milvus writers; for this writer both are a
// produce). Only retryable refusals are asked for.
func (f *fakeTarget) Refuse(rpc string, n int, retryable bool) bool {
	if !retryable {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rpc == "Upsert" || n == 0 {
		f.refuses = n
	}
	return true
}

func (f *fakeTarget) Conflict(*testing.T, string, string) bool { return false }

func (f *fakeTarget) Caps() sinktest.Caps {
	return sinktest.Caps{Partitions: true, Indexes: true, Load: true}
}
