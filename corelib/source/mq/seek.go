package mq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// TimeSeeker is a Client that finds messages by the broker's publish time
// (a task created with a start time).
type TimeSeeker interface {
	// MsgIDAtTime returns the ID, as a Reader delivers it, of the first
	// message published at or after t, or ErrEmptyChannel when none was.
	MsgIDAtTime(ctx context.Context, channel string, t time.Time) ([]byte, error)
	// OldestPublishTime returns the publish time of the oldest message the
	// channel still holds, or ErrEmptyChannel.
	OldestPublishTime(ctx context.Context, channel string) (time.Time, error)
}

var (
	_ TimeSeeker = (*PulsarClient)(nil)
	_ TimeSeeker = (*KafkaClient)(nil)
)

// MsgIDAtTime asks the broker for the first offset whose timestamp is at
// or after t (ListOffsets by time); see TimeSeeker.
func (c *KafkaClient) MsgIDAtTime(ctx context.Context, channel string, t time.Time) ([]byte, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	high, err := c.endOffset(ctx, channel)
	if err != nil {
		return nil, err
	}
	off, err := c.listOffset(ctx, channel, t.UnixMilli())
	if err != nil {
		return nil, err
	}
	if off < 0 || off >= high { // -1: no record that recent
		return nil, fmt.Errorf("%s: %w", channel, ErrEmptyChannel)
	}
	return source.EncodeKafkaOffset(off), nil
}

// OldestPublishTime reads the record at the log start offset; see TimeSeeker.
func (c *KafkaClient) OldestPublishTime(ctx context.Context, channel string) (time.Time, error) {
	if c.closed.Load() {
		return time.Time{}, ErrClosed
	}
	low, err := c.startOffset(ctx, channel)
	if err != nil {
		return time.Time{}, err
	}
	high, err := c.endOffset(ctx, channel)
	if err != nil {
		return time.Time{}, err
	}
	if low >= high {
		return time.Time{}, fmt.Errorf("%s: %w", channel, ErrEmptyChannel)
	}
	return firstPublishTime(ctx, c, channel, StartAt(source.EncodeKafkaOffset(low)))
}

// MsgIDAtTime seeks a reader by publish time; see TimeSeeker.
func (c *PulsarClient) MsgIDAtTime(ctx context.Context, channel string, t time.Time) ([]byte, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	lastID, err := c.LatestMsgID(ctx, channel)
	if err != nil {
		return nil, err
	}
	last, err := firstPublishTime(ctx, c, channel, StartAt(lastID))
	if err != nil {
		return nil, err
	}
	if last.Before(t) {
		return nil, fmt.Errorf("%s: %w", channel, ErrEmptyChannel)
	}
	// A message at or after t exists (the last one). A reader seeked by
	// time now and then delivers nothing (seen on an idle channel of the
	// bed's Pulsar 3.0): each attempt gets a fresh reader and a bounded
	// wait, at most seekAttempts times.
	var failed error
	for i := 0; i < seekAttempts && ctx.Err() == nil; i++ {
		id, err := c.seekOnce(ctx, channel, t)
		if err == nil {
			return id, nil
		}
		failed = err
	}
	if failed == nil {
		failed = ctx.Err()
	}
	return nil, failed
}

// seekAttempt bounds one reader's wait for its first message after a seek;
// seekAttempts is how many readers are tried.
const (
	seekAttempt  = 4 * time.Second
	seekAttempts = 4
)

// seekOnce opens a reader, seeks it to t and returns the first message's ID.
func (c *PulsarClient) seekOnce(ctx context.Context, channel string, t time.Time) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, seekAttempt)
	defer cancel()
	r, err := c.createReader(ctx, c.Topic(channel), pulsar.EarliestMessageID(), true)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := r.SeekByTime(t); err != nil {
		return nil, fmt.Errorf("seek %s to %s: %w", c.Topic(channel), t.Format(time.RFC3339Nano), err)
	}
	msg, err := r.Next(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s after seeking to %s: %w", c.Topic(channel), t.Format(time.RFC3339Nano), err)
	}
	return msg.ID().Serialize(), nil
}

// OldestPublishTime reads the channel's first held message; see TimeSeeker.
func (c *PulsarClient) OldestPublishTime(ctx context.Context, channel string) (time.Time, error) {
	if c.closed.Load() {
		return time.Time{}, ErrClosed
	}
	if _, err := c.LatestMsgID(ctx, channel); err != nil {
		return time.Time{}, err // ErrEmptyChannel included
	}
	return firstPublishTime(ctx, c, channel, StartEarliest())
}

// firstPublishTime is the publish time of the first message a reader opened
// at start delivers.
func firstPublishTime(ctx context.Context, c Client, channel string, start Start) (time.Time, error) {
	r, err := c.OpenReader(ctx, channel, start)
	if err != nil {
		return time.Time{}, err
	}
	defer r.Close()
	m, err := r.Next(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return time.Time{}, fmt.Errorf("no message of %s arrived in time: %w", channel, err)
		}
		return time.Time{}, err
	}
	return m.PublishTime, nil
}
