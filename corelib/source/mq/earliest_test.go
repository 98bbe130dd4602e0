package mq

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// runEarliest checks StartEarliest, the start a task pins for a channel it
// found empty: every message the broker holds is delivered, including ones
// produced after the reader opened, and an expired prefix is no error.
func runEarliest(t *testing.T, b broker) {
	t.Run("DeliversEverythingHeld", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		ids := produceN(t, b, ch, 0, 3)
		r, err := c.OpenReader(ctx, ch, StartEarliest())
		require.NoError(t, err)
		defer r.Close()
		produceN(t, b, ch, 3, 1)
		got := readN(t, ctx, r, 4)
		for i, m := range got {
			require.Equal(t, fmt.Sprintf("payload-%d", i), string(m.Payload))
		}
		require.True(t, b.sameID(t, ids[0], got[0].ID))
	})
	t.Run("EmptyChannelDeliversTheFirstMessage", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		_, err := c.LatestMsgID(ctx, ch)
		require.ErrorIs(t, err, ErrEmptyChannel)
		r, err := c.OpenReader(ctx, ch, StartEarliest())
		require.NoError(t, err)
		defer r.Close()
		produceN(t, b, ch, 0, 2)
		got := readN(t, ctx, r, 2)
		require.Equal(t, "payload-0", string(got[0].Payload))
		require.Equal(t, "payload-1", string(got[1].Payload))
	})
	t.Run("ExpiredPrefixIsSkipped", func(t *testing.T) {
		ctx, c, ch := testContext(t), b.client(t), b.channel(t)
		produceN(t, b, ch, 0, 4)
		if !b.expire(t, ch, 2) {
			t.Skip("the broker cannot expire messages in a test")
		}
		r, err := c.OpenReader(ctx, ch, StartEarliest())
		require.NoError(t, err)
		defer r.Close()
		got := readN(t, ctx, r, 2)
		require.Equal(t, "payload-2", string(got[0].Payload))
		require.Equal(t, "payload-3", string(got[1].Payload))
	})
}

func TestKafkaStartEarliest(t *testing.T) { runEarliest(t, newKfakeBroker(t)) }

func TestPulsarStartEarliest(t *testing.T) { runEarliest(t, newRealPulsar(t)) }
