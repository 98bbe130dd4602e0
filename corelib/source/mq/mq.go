package mq

import (
	"context"
	"errors"
	"time"
)

// Errors returned by Readers and Clients; test with errors.Is.
var (
	// ErrClosed: the Reader or Client was closed.
	ErrClosed = errors.New("mq: closed")
	// ErrEmptyChannel: the channel holds no message yet (LatestMsgID).
	ErrEmptyChannel = errors.New("mq: channel is empty")
	// ErrPositionUnavailable: the start message ID no longer exists in the
	// broker (retention expired); the task must be re-bootstrapped.
	ErrPositionUnavailable = errors.New("mq: start position no longer available")
)

// Message is one raw MQ message.
type Message struct {
	// ID is the message ID in Milvus's encoding for the broker.
	ID []byte
	// Payload is the message body: one marshaled Milvus request.
	Payload []byte
	// Properties are Pulsar message properties or Kafka record headers
	// (e.g. msg_type in later Milvus versions); hints only.
	Properties map[string]string
	// PublishTime is the broker's publish/append time.
	PublishTime time.Time
}

// Start says where a Reader begins.
type Start struct {
	// MsgID, when non-nil, is the first message delivered (inclusive). When
	// nil, the reader starts after the last message existing when it opens,
	// unless Earliest is set.
	MsgID []byte
	// Earliest (with a nil MsgID) starts at the first message the broker
	// still holds: a channel found empty when a task pinned its start must
	// deliver everything written to it since.
	Earliest bool
}

// StartAt starts reading at (and including) a message ID.
func StartAt(id []byte) Start { return Start{MsgID: id} }

// StartEarliest starts at the oldest message the channel holds.
func StartEarliest() Start { return Start{Earliest: true} }

// StartLatest starts after the last message present when the reader opens.
func StartLatest() Start { return Start{} }

// Reader delivers the messages of one channel in broker order. It is not
// safe for concurrent Next calls; Close may be called from any goroutine.
type Reader interface {
	// Next blocks until the next message. It returns ctx.Err() when ctx
	// ends, ErrClosed after Close, and ErrPositionUnavailable when the start
	// position has expired; transient broker errors are retried inside
	// (reconnecting with backoff), never returned.
	Next(ctx context.Context) (Message, error)
	// Close releases the reader; it is idempotent.
	Close() error
}

// Client opens Readers on the channels of one MQ cluster.
type Client interface {
	// OpenReader opens a reader on a Milvus channel name at start.
	OpenReader(ctx context.Context, channel string, start Start) (Reader, error)
	// LatestMsgID returns the ID of the last message in the channel, or
	// ErrEmptyChannel.
	LatestMsgID(ctx context.Context, channel string) ([]byte, error)
	// Close closes the client; readers opened from it stop working.
	Close() error
}

// backoff doubles a delay up to a cap.
type backoff struct{ cur, min, max time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{cur: min, min: min, max: max} }

// wait sleeps the current delay (or until ctx ends) and doubles it.
func (b *backoff) wait(ctx context.Context) error {
	t := time.NewTimer(b.cur)
	defer t.Stop()
	b.cur = min(b.cur*2, b.max)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *backoff) reset() { b.cur = b.min }
