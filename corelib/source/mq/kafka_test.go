package mq

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap/zaptest"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// kfakeBroker is an in-process fake Kafka cluster (franz-go's kfake).
type kfakeBroker struct {
	addrs    []string
	producer *kgo.Client
	real     bool // a real broker (newRealKafka), not kfake
}

func newKfakeBroker(t *testing.T) *kfakeBroker {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	p, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.AllowAutoTopicCreation(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return &kfakeBroker{addrs: c.ListenAddrs(), producer: p}
}

func (k *kfakeBroker) client(t *testing.T) Client {
	c, err := NewKafkaClient(KafkaConfig{Brokers: k.addrs}, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (k *kfakeBroker) produce(t *testing.T, channel string, payload []byte, props map[string]string) []byte {
	rec := &kgo.Record{Topic: channel, Partition: 0, Value: payload}
	for key, v := range props {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: key, Value: []byte(v)})
	}
	res := k.producer.ProduceSync(context.Background(), rec)
	require.NoError(t, res.FirstErr())
	return source.EncodeKafkaOffset(res[0].Record.Offset)
}

func (k *kfakeBroker) sameID(t *testing.T, a, b []byte) bool {
	oa, err := source.DecodeKafkaOffset(a)
	require.NoError(t, err)
	ob, err := source.DecodeKafkaOffset(b)
	require.NoError(t, err)
	return oa == ob
}

func (k *kfakeBroker) expire(t *testing.T, channel string, n int) bool {
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = channel
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, int64(n)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), k.producer)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode))
	return true
}

// channel names a fresh channel; on a real broker its topic is deleted
// when the test ends, so the broker is left as it was.
func (k *kfakeBroker) channel(t *testing.T) string {
	ch := uniqueChannel()
	if k.real {
		t.Cleanup(func() {
			req := kmsg.NewPtrDeleteTopicsRequest()
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr(ch)
			req.Topics = append(req.Topics, rt)
			req.TopicNames = append(req.TopicNames, ch)
			if _, err := req.RequestWith(context.Background(), k.producer); err != nil {
				t.Logf("delete topic %s: %v", ch, err)
			}
		})
	}
	return ch
}

// kafkaBrokersEnv names a real Kafka broker (host:port, comma-separated)
// for the Kafka conformance run against a real broker, which auto-creates
// topics as Milvus's does.
const kafkaBrokersEnv = "MILVUS_CDC_TEST_KAFKA_BROKERS"

func newRealKafka(t *testing.T) *kfakeBroker {
	brokers := os.Getenv(kafkaBrokersEnv)
	if brokers == "" {
		t.Skipf("set %s to run the Kafka conformance suite against a real broker", kafkaBrokersEnv)
	}
	addrs := strings.Split(brokers, ",")
	p, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.AllowAutoTopicCreation(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return &kfakeBroker{addrs: addrs, producer: p, real: true}
}

// The contract on a real broker too: a reader opened before its topic
// exists (a shard channel Milvus has not written yet) must see the topic
// once Milvus creates it.
func TestKafkaConformanceRealBroker(t *testing.T) {
	runConformance(t, newRealKafka(t))
}

func TestKafkaConformance(t *testing.T) {
	runConformance(t, newKfakeBroker(t))
}

func TestKafkaConfigErrors(t *testing.T) {
	_, err := NewKafkaClient(KafkaConfig{}, nil)
	require.ErrorContains(t, err, "source.mq.kafka.brokers")
	_, err = NewKafkaClient(KafkaConfig{Brokers: []string{"127.0.0.1:1"}, SASLMechanism: "GSSAPI"}, nil)
	require.ErrorContains(t, err, "source.mq.kafka.sasl.mechanism")
	for _, m := range []string{"PLAIN", "SCRAM-SHA-256", "scram-sha-512"} {
		c, err := NewKafkaClient(KafkaConfig{Brokers: []string{"127.0.0.1:1"}, SASLMechanism: m, Username: "u", Password: "p"}, nil)
		require.NoError(t, err, m)
		require.NoError(t, c.Close())
	}
}
