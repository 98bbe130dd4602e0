package mq

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// broker is what the conformance suite needs from a real or fake MQ: a
// Client under test plus an independent producer.
type broker interface {
	// client returns a new Client under test (closed by the suite).
	client(t *testing.T) Client
	// produce writes one message the way Milvus does and returns its ID in
	// Milvus's encoding.
	produce(t *testing.T, channel string, payload []byte, props map[string]string) []byte
	// sameID reports whether two Milvus-encoded IDs name the same message.
	sameID(t *testing.T, a, b []byte) bool
	// expire makes the first n messages of a channel unavailable (retention);
	// false when the broker cannot do that in a test.
	expire(t *testing.T, channel string, n int) bool
	// channel names a channel no other test uses and removes its topic when
	// the test ends (where the broker is shared).
	channel(t *testing.T) string
}

var channelSeq atomic.Int64

// uniqueChannel names a channel no other test uses, shaped like Milvus's.
func uniqueChannel() string {
	return fmt.Sprintf("conf-%d-%d-rootcoord-dml_0", time.Now().UnixNano(), channelSeq.Add(1))
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func readN(t *testing.T, ctx context.Context, r Reader, n int) []Message {
	t.Helper()
	out := make([]Message, 0, n)
	for len(out) < n {
		m, err := r.Next(ctx)
		require.NoError(t, err, "after %d messages", len(out))
		out = append(out, m)
	}
	return out
}

func produceN(t *testing.T, b broker, channel string, from, n int) [][]byte {
	var ids [][]byte
	for i := from; i < from+n; i++ {
		ids = append(ids, b.produce(t, channel, []byte(fmt.Sprintf("payload-%d", i)), nil))
	}
	return ids
}

// runConformance checks the Client/Reader contract against one broker.
func runConformance(t *testing.T, b broker) {
	t.Run("StartAtIsInclusiveAndInOrder", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		ids := produceN(t, b, ch, 0, 5)
		r, err := c.OpenReader(ctx, ch, StartAt(ids[2]))
		require.NoError(t, err)
		defer r.Close()
		got := readN(t, ctx, r, 3)
		for i, m := range got {
			require.Equal(t, fmt.Sprintf("payload-%d", i+2), string(m.Payload))
			require.True(t, b.sameID(t, ids[i+2], m.ID), "message %d id", i+2)
			require.False(t, m.PublishTime.IsZero())
		}
	})

	t.Run("StartLatestSkipsExistingMessages", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		produceN(t, b, ch, 0, 3)
		r, err := c.OpenReader(ctx, ch, StartLatest())
		require.NoError(t, err)
		defer r.Close()
		ids := produceN(t, b, ch, 3, 2)
		got := readN(t, ctx, r, 2)
		require.Equal(t, "payload-3", string(got[0].Payload))
		require.Equal(t, "payload-4", string(got[1].Payload))
		require.True(t, b.sameID(t, ids[1], got[1].ID))
	})

	t.Run("StartLatestOnEmptyChannel", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		r, err := c.OpenReader(ctx, ch, StartLatest())
		require.NoError(t, err)
		defer r.Close()
		produceN(t, b, ch, 0, 1)
		require.Equal(t, "payload-0", string(readN(t, ctx, r, 1)[0].Payload))
	})

	t.Run("DeliveredIDsResumeExactly", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		produceN(t, b, ch, 0, 4)
		r, err := c.OpenReader(ctx, ch, StartAt(b.produce(t, ch, []byte("payload-4"), nil)))
		require.NoError(t, err)
		first := readN(t, ctx, r, 1)[0]
		require.NoError(t, r.Close())
		// The ID a reader hands out is a valid start for a new reader.
		r2, err := c.OpenReader(ctx, ch, StartAt(first.ID))
		require.NoError(t, err)
		defer r2.Close()
		require.Equal(t, "payload-4", string(readN(t, ctx, r2, 1)[0].Payload))
	})

	t.Run("Properties", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		id := b.produce(t, ch, []byte("p"), map[string]string{"msg_type": "Insert", "vchannel": ch + "_1v0"})
		r, err := c.OpenReader(ctx, ch, StartAt(id))
		require.NoError(t, err)
		defer r.Close()
		m := readN(t, ctx, r, 1)[0]
		require.Equal(t, "Insert", m.Properties["msg_type"])
		require.Equal(t, ch+"_1v0", m.Properties["vchannel"])
	})

	t.Run("LatestMsgID", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		_, err := c.LatestMsgID(ctx, ch)
		require.ErrorIs(t, err, ErrEmptyChannel)
		ids := produceN(t, b, ch, 0, 3)
		got, err := c.LatestMsgID(ctx, ch)
		require.NoError(t, err)
		require.True(t, b.sameID(t, ids[2], got))
	})

	t.Run("ContextCancelUnblocksNext", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		r, err := c.OpenReader(ctx, ch, StartLatest())
		require.NoError(t, err)
		defer r.Close()
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err = r.Next(short)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// Still usable afterwards.
		produceN(t, b, ch, 0, 1)
		require.Equal(t, "payload-0", string(readN(t, ctx, r, 1)[0].Payload))
	})

	t.Run("CloseUnblocksNextAndIsIdempotent", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		r, err := c.OpenReader(ctx, ch, StartLatest())
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			_, err := r.Next(ctx)
			done <- err
		}()
		time.Sleep(200 * time.Millisecond)
		require.NoError(t, r.Close())
		select {
		case err := <-done:
			require.ErrorIs(t, err, ErrClosed)
		case <-time.After(10 * time.Second):
			t.Fatal("Next did not return after Close")
		}
		require.NoError(t, r.Close())
		_, err = r.Next(ctx)
		require.ErrorIs(t, err, ErrClosed)
	})

	t.Run("ClosedClient", func(t *testing.T) {
		ctx, c := testContext(t), b.client(t)
		require.NoError(t, c.Close())
		require.NoError(t, c.Close())
		_, err := c.OpenReader(ctx, b.channel(t), StartLatest())
		require.ErrorIs(t, err, ErrClosed)
		_, err = c.LatestMsgID(ctx, b.channel(t))
		require.ErrorIs(t, err, ErrClosed)
	})

	t.Run("BadStartID", func(t *testing.T) {
		ctx, c := testContext(t), b.client(t)
		_, err := c.OpenReader(ctx, b.channel(t), StartAt([]byte{0xff, 0x01}))
		require.Error(t, err)
	})

	t.Run("ExpiredStartPosition", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		ids := produceN(t, b, ch, 0, 3)
		if !b.expire(t, ch, 2) {
			t.Skip("broker cannot expire messages in a test")
		}
		r, err := c.OpenReader(ctx, ch, StartAt(ids[0]))
		if err == nil {
			defer r.Close()
			_, err = r.Next(ctx)
		}
		require.True(t, errors.Is(err, ErrPositionUnavailable), "err = %v", err)
	})
}
