package kafka

import (
	"context"
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
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/kafkatest"
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

// newFakeTarget is a kfake cluster as the suite's target.
func newFakeTarget(t *testing.T, k corelib.KafkaTarget) *kafkatest.Target {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	k.Brokers = c.ListenAddrs()
	factory := &Factory{Cluster: "by-dev",
		// The producer gives up on a refused request at once, so each
		// refusal shows in Call (its default is to retry until the
		// delivery timeout, which TestBrokerDownIsRetried covers).
		Options: []kgo.Opt{kgo.RecordRetries(0)}}
	var mu sync.Mutex
	refuses := 0
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if refuses == 0 {
			return nil, nil, false
		}
		refuses--
		return refuseProduce(req.(*kmsg.ProduceRequest), kerr.NotEnoughReplicas), nil, true
	})
	names := topicNamer{fixed: k.Topic, template: k.TopicTemplate, cluster: "by-dev"}
	return &kafkatest.Target{
		Client: []kgo.Opt{kgo.SeedBrokers(k.Brokers...)},
		Topics: func(coll *sink.Collection) []string {
			return []string{SchemaTopic(&k), names.topic(coll.TargetDatabase, coll.TargetName)}
		},
		OpenWriter: func(t *testing.T, env sink.Env) sink.Writer {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w, err := factory.Open(ctx, corelib.Target{Kafka: &k}, env)
			require.NoError(t, err)
			return w
		},
		RefuseProduce: func(n int) {
			mu.Lock()
			defer mu.Unlock()
			refuses = n
		},
	}
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

// readState rebuilds what topics hold.
func readState(t *testing.T, ctx context.Context, brokers, topics []string) *changelog.State {
	st, err := changelog.Rebuild(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topics)
	require.NoError(t, err)
	return st
}
