package mq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// KafkaConfig connects to the source Milvus's Kafka.
type KafkaConfig struct {
	Brokers []string
	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	SASLMechanism string
	Username      string
	Password      string
	TLS           *tls.Config // nil for plaintext
	// FetchMaxBytes bounds one fetch per reader; 0 means 16 MiB.
	FetchMaxBytes int32
}

// milvusPartition is the only partition of a Milvus Kafka topic.
const milvusPartition int32 = 0

// KafkaClient reads Milvus channels from Kafka topics named like the channel,
// partition 0. Readers assign the partition directly: no consumer group, no
// offset commits, nothing left on the broker.
type KafkaClient struct {
	base   []kgo.Opt
	admin  *kgo.Client
	log    *zap.Logger
	closed atomic.Bool
	fetch  int32
}

var _ Client = (*KafkaClient)(nil)

// NewKafkaClient validates cfg and creates a client.
func NewKafkaClient(cfg KafkaConfig, log *zap.Logger) (*KafkaClient, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("source.mq.kafka.brokers is empty: list at least one host:port")
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}
	mech, err := saslMechanism(cfg)
	if err != nil {
		return nil, err
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	if cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLS))
	}
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %v: %w", cfg.Brokers, err)
	}
	return &KafkaClient{base: opts, admin: admin, log: log, fetch: orDefault(cfg.FetchMaxBytes, 16<<20)}, nil
}

func saslMechanism(cfg KafkaConfig) (sasl.Mechanism, error) {
	switch strings.ToUpper(cfg.SASLMechanism) {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Auth{User: cfg.Username, Pass: cfg.Password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("source.mq.kafka.sasl.mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", cfg.SASLMechanism)
}

// OpenReader opens a reader on a channel; see Client.
func (c *KafkaClient) OpenReader(ctx context.Context, channel string, start Start) (Reader, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	var offset int64
	switch {
	case start.MsgID == nil && start.Earliest:
		// The log start offset; an expired prefix is not an error here.
		low, err := c.startOffset(ctx, channel)
		if err != nil {
			return nil, err
		}
		offset = low
	case start.MsgID != nil:
		off, err := source.DecodeKafkaOffset(start.MsgID)
		if err != nil {
			return nil, fmt.Errorf("start message ID for %s: %w", channel, err)
		}
		offset = off
	default:
		// Resolve "latest" now, so messages produced after OpenReader
		// returns are never skipped.
		high, err := c.endOffset(ctx, channel)
		if err != nil {
			return nil, err
		}
		offset = high
	}
	opts := append(append([]kgo.Opt(nil), c.base...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{channel: {milvusPartition: kgo.NewOffset().At(offset)}}),
		// An expired start offset must surface, not silently jump.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxBytes(c.fetch),
		kgo.FetchMaxPartitionBytes(c.fetch),
		// One fetch in flight per reader: the next is asked for only once the
		// pipeline has taken this one, so a backlog stays on the broker.
		kgo.MaxConcurrentFetches(1),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka reader on %s: %w", channel, err)
	}
	return &kafkaReader{client: c, cl: cl, topic: channel, log: c.log.With(zap.String("topic", channel)),
		backoff: newBackoff(100*time.Millisecond, 10*time.Second)}, nil
}

// endOffset is the high watermark of partition 0 (the offset the next
// produced message gets); 0 for a topic that does not exist yet. It asks the
// partition leader directly: the client's metadata cache may still remember
// a topic as missing right after it was auto-created.
func (c *KafkaClient) endOffset(ctx context.Context, topic string) (int64, error) {
	return c.listOffset(ctx, topic, -1)
}

// startOffset is the log start offset of partition 0 (the oldest message
// kept); 0 for a topic that does not exist yet.
func (c *KafkaClient) startOffset(ctx context.Context, topic string) (int64, error) {
	return c.listOffset(ctx, topic, -2)
}

// listOffset asks partition 0's leader for an offset: which is -1 for the
// end, -2 for the start (Kafka's ListOffsets special timestamps).
func (c *KafkaClient) listOffset(ctx context.Context, topic string, which int64) (int64, error) {
	leader, exists, err := c.partitionLeader(ctx, topic)
	if err != nil || !exists {
		return 0, err
	}
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = milvusPartition
	rp.Timestamp = which
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	raw, err := c.admin.Broker(int(leader)).RetriableRequest(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("offset of %s: %w", topic, err)
	}
	resp := raw.(*kmsg.ListOffsetsResponse)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition != milvusPartition {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("offset of %s: %w", topic, err)
			}
			return p.Offset, nil
		}
	}
	return 0, fmt.Errorf("offset of %s: partition 0 missing from the response", topic)
}

// partitionLeader asks the cluster (uncached) who leads partition 0.
func (c *KafkaClient) partitionLeader(ctx context.Context, topic string) (leader int32, exists bool, err error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false // a reader never creates source topics
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return 0, false, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return 0, false, nil
			}
			return 0, false, fmt.Errorf("metadata of %s: %w", topic, err)
		}
		for _, p := range t.Partitions {
			if p.Partition == milvusPartition {
				return p.Leader, true, nil
			}
		}
	}
	return 0, false, nil
}

// LatestMsgID returns the ID of the last message of a channel; see Client.
func (c *KafkaClient) LatestMsgID(ctx context.Context, channel string) ([]byte, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	high, err := c.endOffset(ctx, channel)
	if err != nil {
		return nil, err
	}
	if high <= 0 {
		return nil, fmt.Errorf("%s: %w", channel, ErrEmptyChannel)
	}
	return source.EncodeKafkaOffset(high - 1), nil
}

// Close closes the client's admin connection; readers have their own.
func (c *KafkaClient) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.admin.Close()
	}
	return nil
}

// kafkaReader consumes partition 0 of one topic. franz-go reconnects to
// brokers by itself; Next only backs off on repeated fetch errors.
type kafkaReader struct {
	client  *KafkaClient
	cl      *kgo.Client
	topic   string
	log     *zap.Logger
	backoff *backoff
	buf     []*kgo.Record
	closed  atomic.Bool
}

func (r *kafkaReader) Next(ctx context.Context) (Message, error) {
	for {
		if r.closed.Load() {
			return Message{}, ErrClosed
		}
		if len(r.buf) > 0 {
			rec := r.buf[0]
			r.buf = r.buf[1:]
			return recordMessage(rec), nil
		}
		fetches := r.cl.PollFetches(ctx)
		if fetches.IsClientClosed() || r.closed.Load() {
			return Message{}, ErrClosed
		}
		if ctx.Err() != nil {
			return Message{}, ctx.Err()
		}
		failed := false
		for _, fe := range fetches.Errors() {
			switch {
			case errors.Is(fe.Err, kerr.OffsetOutOfRange):
				return Message{}, fmt.Errorf("%s partition %d: %w", r.topic, fe.Partition, ErrPositionUnavailable)
			case errors.Is(fe.Err, context.Canceled), errors.Is(fe.Err, context.DeadlineExceeded):
			default:
				failed = true
				r.log.Warn("kafka fetch failed, retrying", zap.Error(fe.Err))
			}
		}
		fetches.EachRecord(func(rec *kgo.Record) { r.buf = append(r.buf, rec) })
		if len(r.buf) > 0 {
			r.backoff.reset()
		} else if failed {
			if err := r.backoff.wait(ctx); err != nil {
				return Message{}, err
			}
		}
	}
}

func recordMessage(rec *kgo.Record) Message {
	var props map[string]string
	if len(rec.Headers) > 0 {
		props = make(map[string]string, len(rec.Headers))
		for _, h := range rec.Headers {
			props[h.Key] = string(h.Value)
		}
	}
	return Message{ID: source.EncodeKafkaOffset(rec.Offset), Payload: rec.Value, Properties: props, PublishTime: rec.Timestamp}
}

func (r *kafkaReader) Close() error {
	if r.closed.CompareAndSwap(false, true) {
		r.cl.Close()
	}
	return nil
}
