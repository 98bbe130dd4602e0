//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	pulsarlog "github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/proto"
)

// Message is one message read from a source channel (an MQ topic).
type Message struct {
	Channel    string
	Position   string // broker position, for messages: "ledger:entry" (Pulsar) or the offset (Kafka)
	Payload    []byte
	Properties map[string]string // Pulsar properties / Kafka headers
}

// ChannelReader reads a Milvus channel of the source's broker from its first
// message. It reads the broker directly, independent of the CDC's own readers, so
// that the bed can be checked with nothing of the project in between.
type ChannelReader interface {
	// ReadAll calls fn for every message of channel, from the earliest one to the
	// last one that exists when ReadAll starts; fn returns false to stop early.
	// A channel that does not exist yet reads as empty.
	ReadAll(ctx context.Context, channel string, fn func(Message) bool) error
	Close()
}

// NewChannelReader returns the reader for the bed's broker (Pulsar or Kafka).
func (b *Bed) NewChannelReader() (ChannelReader, error) {
	switch b.MQType {
	case "pulsar":
		c, err := pulsar.NewClient(pulsar.ClientOptions{
			URL:               b.PulsarAddress,
			OperationTimeout:  30 * time.Second,
			ConnectionTimeout: 10 * time.Second,
			Logger:            pulsarlog.DefaultNopLogger(),
		})
		if err != nil {
			return nil, fmt.Errorf("pulsar client for %s: %w", b.PulsarAddress, err)
		}
		return &pulsarChannelReader{client: c, tenant: b.PulsarTenant, namespace: b.PulsarNamespace}, nil
	case "kafka":
		return &kafkaChannelReader{brokers: b.KafkaBrokers}, nil
	default:
		return nil, fmt.Errorf("MQ_TYPE %q: no channel reader", b.MQType)
	}
}

// DecodeHeader reads the message type and base of any Milvus MQ payload: every
// payload is a marshaled request whose field 1 is commonpb.MsgBase.
func DecodeHeader(payload []byte) (commonpb.MsgType, *commonpb.MsgBase, error) {
	var h commonpb.MsgHeader
	if err := proto.Unmarshal(payload, &h); err != nil {
		return 0, nil, fmt.Errorf("decode MsgHeader: %w", err)
	}
	if h.GetBase() == nil {
		return 0, nil, errors.New("decode MsgHeader: payload has no base (field 1)")
	}
	return h.GetBase().GetMsgType(), h.GetBase(), nil
}

type pulsarChannelReader struct {
	client            pulsar.Client
	tenant, namespace string
}

// Topic is the full Pulsar topic of a Milvus channel.
func (r *pulsarChannelReader) Topic(channel string) string {
	return fmt.Sprintf("persistent://%s/%s/%s", r.tenant, r.namespace, channel)
}

func (r *pulsarChannelReader) ReadAll(ctx context.Context, channel string, fn func(Message) bool) error {
	reader, err := r.client.CreateReader(pulsar.ReaderOptions{
		Topic:          r.Topic(channel),
		StartMessageID: pulsar.EarliestMessageID(),
	})
	if err != nil {
		return fmt.Errorf("pulsar reader on %s: %w", r.Topic(channel), err)
	}
	defer reader.Close()
	// HasNext compares with the broker's last message id, so the loop ends at
	// the messages that existed when it started (or a little later).
	for reader.HasNext() {
		msg, err := reader.Next(ctx)
		if err != nil {
			return fmt.Errorf("read %s: %w", r.Topic(channel), err)
		}
		id := msg.ID()
		m := Message{
			Channel:    channel,
			Position:   fmt.Sprintf("%d:%d", id.LedgerID(), id.EntryID()),
			Payload:    msg.Payload(),
			Properties: msg.Properties(),
		}
		if !fn(m) {
			return nil
		}
	}
	return ctx.Err()
}

func (r *pulsarChannelReader) Close() { r.client.Close() }

type kafkaChannelReader struct {
	brokers []string
}

func (r *kafkaChannelReader) ReadAll(ctx context.Context, channel string, fn func(Message) bool) error {
	// Milvus 2.3 writes each channel to partition 0 of the topic of that name.
	end, err := r.endOffset(ctx, channel)
	if err != nil || end == 0 {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{channel: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(32<<20))
	if err != nil {
		return fmt.Errorf("kafka client for %v: %w", r.brokers, err)
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s up to offset %d: %w", channel, end, err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch %s: %w", channel, errs[0].Err)
		}
		done := false
		fetches.EachRecord(func(rec *kgo.Record) {
			if done {
				return
			}
			props := make(map[string]string, len(rec.Headers))
			for _, h := range rec.Headers {
				props[h.Key] = string(h.Value)
			}
			m := Message{Channel: channel, Position: strconv.FormatInt(rec.Offset, 10), Payload: rec.Value, Properties: props}
			if !fn(m) || rec.Offset >= end-1 {
				done = true
			}
		})
		if done {
			return nil
		}
	}
}

// endOffset is the partition's high watermark: the offset after the last message
// (0 for a topic that does not exist yet).
func (r *kafkaChannelReader) endOffset(ctx context.Context, topic string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		return 0, fmt.Errorf("kafka client for %v: %w", r.brokers, err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = 0
	rp.Timestamp = -1 // latest
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				if errors.Is(err, kerr.UnknownTopicOrPartition) {
					return 0, nil
				}
				return 0, fmt.Errorf("list offsets of %s: %w", topic, err)
			}
			return p.Offset, nil
		}
	}
	return 0, fmt.Errorf("list offsets of %s: empty response", topic)
}

func (r *kafkaChannelReader) Close() {}
