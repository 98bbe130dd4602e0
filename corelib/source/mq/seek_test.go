package mq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

func TestKafkaSeekByTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k := newKfakeBroker(t)
	c := k.client(t).(*KafkaClient)
	ch := uniqueChannel()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 5; i++ { // offsets 0..4 stamped base, base+1m, ... base+4m
		rec := &kgo.Record{Topic: ch, Partition: 0, Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Minute)}
		require.NoError(t, k.producer.ProduceSync(ctx, rec).FirstErr())
	}

	oldest, err := c.OldestPublishTime(ctx, ch)
	require.NoError(t, err)
	require.True(t, base.Equal(oldest), "oldest %s, want %s", oldest, base)

	tests := []struct {
		name   string
		at     time.Time
		offset int64
		empty  bool
	}{
		{name: "before everything: the first record", at: base.Add(-time.Hour), offset: 0},
		{name: "exactly a record's time", at: base.Add(2 * time.Minute), offset: 2},
		{name: "between two records: the later", at: base.Add(2*time.Minute + time.Second), offset: 3},
		{name: "after everything: none", at: base.Add(time.Hour), empty: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := c.MsgIDAtTime(ctx, ch, tc.at)
			if tc.empty {
				require.True(t, errors.Is(err, ErrEmptyChannel), "got %v", err)
				return
			}
			require.NoError(t, err)
			off, err := source.DecodeKafkaOffset(id)
			require.NoError(t, err)
			require.Equal(t, tc.offset, off)
		})
	}

	// Expired records: the oldest held one is the first after the deletion.
	k.expire(t, ch, 3)
	oldest, err = c.OldestPublishTime(ctx, ch)
	require.NoError(t, err)
	require.True(t, base.Add(3*time.Minute).Equal(oldest), "oldest %s", oldest)

	_, err = c.OldestPublishTime(ctx, uniqueChannel())
	require.True(t, errors.Is(err, ErrEmptyChannel), "a topic that does not exist is empty: %v", err)
	_, err = c.MsgIDAtTime(ctx, uniqueChannel(), base)
	require.True(t, errors.Is(err, ErrEmptyChannel), "got %v", err)
}
