package mq

import (
	"context"
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

func (k *kfakeBroker) channel(*testing.T) string { return uniqueChannel() }

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
