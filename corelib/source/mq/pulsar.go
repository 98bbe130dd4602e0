package mq

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"go.uber.org/zap"
)

// PulsarConfig connects to the source Milvus's Pulsar.
type PulsarConfig struct {
	URL        string // e.g. pulsar://127.0.0.1:6650
	Tenant     string // Milvus pulsar.tenant; "" means "public"
	Namespace  string // Milvus pulsar.namespace; "" means "default"
	AuthPlugin string // e.g. "token"; "" for none
	AuthParams string // plugin parameters, as pulsar.NewAuthentication takes them
	// ReceiverQueueSize bounds the messages prefetched per reader (Milvus
	// insert messages can be megabytes); 0 means 64.
	ReceiverQueueSize int
	// OperationTimeout bounds broker operations (open, last message ID);
	// 0 means 30s.
	OperationTimeout time.Duration
}

// PulsarClient reads Milvus channels from Pulsar topics
// persistent://{tenant}/{namespace}/{channel}. It uses the Reader API: each
// reader is a non-durable subscription that the broker drops when the reader
// closes or its connection dies, so a crashed or deleted task leaves no
// subscription retaining backlog (Milvus and zilliztech/milvus-cdc use
// durable Exclusive subscriptions, which do). Resume points are the
// caller's checkpoints.
type PulsarClient struct {
	client    pulsar.Client
	tenant    string
	namespace string
	queueSize int
	log       *zap.Logger
	closed    atomic.Bool
}

var _ Client = (*PulsarClient)(nil)

// NewPulsarClient validates cfg and creates a client. It does not contact
// the broker until a reader is opened.
func NewPulsarClient(cfg PulsarConfig, log *zap.Logger) (*PulsarClient, error) {
	if !strings.HasPrefix(cfg.URL, "pulsar://") && !strings.HasPrefix(cfg.URL, "pulsar+ssl://") {
		return nil, fmt.Errorf("source.mq.pulsar.address %q: want pulsar://host:port or pulsar+ssl://host:port", cfg.URL)
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts := pulsar.ClientOptions{
		URL:              cfg.URL,
		OperationTimeout: orDefault(cfg.OperationTimeout, 30*time.Second),
		Logger:           newPulsarLogger(log.Named("pulsar")),
	}
	if cfg.AuthPlugin != "" {
		auth, err := pulsar.NewAuthentication(cfg.AuthPlugin, cfg.AuthParams)
		if err != nil {
			return nil, fmt.Errorf("source.mq.pulsar.authPlugin %q: %w", cfg.AuthPlugin, err)
		}
		opts.Authentication = auth
	}
	client, err := pulsar.NewClient(opts)
	if err != nil {
		return nil, fmt.Errorf("pulsar client for %s: %w", cfg.URL, err)
	}
	queue := cfg.ReceiverQueueSize
	if queue <= 0 {
		queue = 64
	}
	return &PulsarClient{
		client:    client,
		tenant:    orDefault(cfg.Tenant, "public"),
		namespace: orDefault(cfg.Namespace, "default"),
		queueSize: queue,
		log:       log,
	}, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Topic is the Pulsar topic of a Milvus channel.
func (c *PulsarClient) Topic(channel string) string {
	return fmt.Sprintf("persistent://%s/%s/%s", c.tenant, c.namespace, channel)
}

// OpenReader opens a reader on a channel; see Client.
func (c *PulsarClient) OpenReader(ctx context.Context, channel string, start Start) (Reader, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	startID, inclusive := pulsar.LatestMessageID(), false
	earliest := start.MsgID == nil && start.Earliest
	if earliest {
		startID, inclusive = pulsar.EarliestMessageID(), true
	}
	if start.MsgID != nil {
		id, err := pulsar.DeserializeMessageID(start.MsgID)
		if err != nil {
			return nil, fmt.Errorf("start message ID for %s is not a Pulsar message ID: %w", channel, err)
		}
		startID, inclusive = id, true
	}
	r := &pulsarReader{client: c, topic: c.Topic(channel), backoff: newBackoff(100*time.Millisecond, 10*time.Second),
		log: c.log.With(zap.String("topic", c.Topic(channel)))}
	reader, err := c.createReader(ctx, r.topic, startID, inclusive)
	if err != nil {
		return nil, err
	}
	r.reader, r.resumeFrom, r.resumeInclusive = reader, startID, inclusive
	if inclusive && !earliest {
		r.expectFirst = startID
	}
	if start.MsgID == nil && !earliest {
		// Pin "latest" to a concrete ID so a re-open before the first
		// delivery neither skips nor repeats anything.
		r.resumeFrom, r.resumeInclusive = pulsar.EarliestMessageID(), true
		if last, err := reader.GetLastMessageID(); err == nil && last.EntryID() >= 0 {
			r.resumeFrom, r.resumeInclusive = last, false
		} else if err != nil {
			reader.Close()
			return nil, fmt.Errorf("last message ID of %s: %w", r.topic, err)
		}
	}
	return r, nil
}

// createReader opens a pulsar reader, honouring ctx while it connects.
func (c *PulsarClient) createReader(ctx context.Context, topic string, start pulsar.MessageID, inclusive bool) (pulsar.Reader, error) {
	type result struct {
		r   pulsar.Reader
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := c.client.CreateReader(pulsar.ReaderOptions{
			Topic:                   topic,
			StartMessageID:          start,
			StartMessageIDInclusive: inclusive,
			ReceiverQueueSize:       c.queueSize,
		})
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			return nil, fmt.Errorf("open pulsar reader on %s: %w", topic, res.err)
		}
		return res.r, nil
	case <-ctx.Done():
		go func() {
			if res := <-done; res.r != nil {
				res.r.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// LatestMsgID returns the ID of the last message of a channel; see Client.
func (c *PulsarClient) LatestMsgID(ctx context.Context, channel string) ([]byte, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	r, err := c.createReader(ctx, c.Topic(channel), pulsar.LatestMessageID(), false)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	id, err := r.GetLastMessageID()
	if err != nil {
		return nil, fmt.Errorf("last message ID of %s: %w", c.Topic(channel), err)
	}
	if id.EntryID() < 0 {
		return nil, fmt.Errorf("%s: %w", c.Topic(channel), ErrEmptyChannel)
	}
	return id.Serialize(), nil
}

// Close closes the client and, through it, every reader.
func (c *PulsarClient) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.client.Close()
	}
	return nil
}

// pulsarReader re-opens its pulsar reader after the last delivered message
// when the underlying reader fails.
type pulsarReader struct {
	client  *PulsarClient
	topic   string
	log     *zap.Logger
	backoff *backoff

	mu     sync.Mutex
	reader pulsar.Reader // nil while reconnecting
	closed atomic.Bool

	// Where a re-opened reader starts: the start position until a message
	// is delivered, then just after the last delivered message. Only the
	// goroutine calling Next touches these.
	resumeFrom      pulsar.MessageID
	resumeInclusive bool
	// expectFirst is the inclusive start ID until the first delivery: Milvus
	// positions always name an existing message, so a first message with a
	// later ID means the broker no longer has the start (retention).
	expectFirst pulsar.MessageID
}

func (r *pulsarReader) Next(ctx context.Context) (Message, error) {
	for {
		if r.closed.Load() || r.client.closed.Load() {
			return Message{}, ErrClosed
		}
		reader, err := r.current(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return Message{}, ctx.Err()
			}
			r.log.Warn("re-opening pulsar reader failed", zap.Error(err))
			if err := r.backoff.wait(ctx); err != nil {
				return Message{}, err
			}
			continue
		}
		msg, err := reader.Next(ctx)
		if err == nil {
			if lost := r.startLost(msg.ID()); lost != nil {
				return Message{}, lost
			}
			r.backoff.reset()
			r.resumeFrom, r.resumeInclusive = msg.ID(), false
			return Message{ID: msg.ID().Serialize(), Payload: msg.Payload(), Properties: msg.Properties(), PublishTime: msg.PublishTime()}, nil
		}
		if ctx.Err() != nil {
			return Message{}, ctx.Err()
		}
		if r.closed.Load() || r.client.closed.Load() {
			return Message{}, ErrClosed
		}
		r.log.Warn("pulsar reader failed, re-opening after the last delivered message", zap.Error(err))
		r.drop(reader)
		if err := r.backoff.wait(ctx); err != nil {
			return Message{}, err
		}
	}
}

// startLost checks the first delivered ID against the inclusive start.
func (r *pulsarReader) startLost(got pulsar.MessageID) error {
	want := r.expectFirst
	if want == nil {
		return nil
	}
	r.expectFirst = nil
	if got.LedgerID() == want.LedgerID() && got.EntryID() == want.EntryID() {
		return nil
	}
	return fmt.Errorf("%s: start %d:%d, first available %d:%d: %w", r.topic,
		want.LedgerID(), want.EntryID(), got.LedgerID(), got.EntryID(), ErrPositionUnavailable)
}

// current returns the open pulsar reader, re-opening it at the resume point
// when it was dropped.
func (r *pulsarReader) current(ctx context.Context) (pulsar.Reader, error) {
	r.mu.Lock()
	reader := r.reader
	r.mu.Unlock()
	if reader != nil {
		return reader, nil
	}
	reader, err := r.client.createReader(ctx, r.topic, r.resumeFrom, r.resumeInclusive)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		reader.Close()
		return nil, ErrClosed
	}
	r.reader = reader
	return reader, nil
}

func (r *pulsarReader) drop(reader pulsar.Reader) {
	r.mu.Lock()
	if r.reader == reader {
		r.reader = nil
	}
	r.mu.Unlock()
	reader.Close()
}

func (r *pulsarReader) Close() error {
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	r.mu.Lock()
	reader := r.reader
	r.reader = nil
	r.mu.Unlock()
	if reader != nil {
		reader.Close()
	}
	return nil
}
