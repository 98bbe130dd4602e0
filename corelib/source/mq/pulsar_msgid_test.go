package mq

import (
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/stretchr/testify/require"
)

// samePulsarMessage reports whether two IDs name the same message: batch
// index -1 (not batched, pulsar-client-go) and 0 (what Milvus writes into
// start positions for its unbatched messages) are the same message.
func samePulsarMessage(a, b pulsar.MessageID) bool {
	return a.LedgerID() == b.LedgerID() && a.EntryID() == b.EntryID() &&
		max(a.BatchIdx(), 0) == max(b.BatchIdx(), 0)
}

// A start position as Milvus 2.3.5 writes it (seen on the test bed) is read
// by the decoder OpenReader uses.
func TestPulsarDecodesMilvusStartPositions(t *testing.T) {
	id, err := pulsar.DeserializeMessageID([]byte{8, 5, 16, 0, 24, 0, 32, 0})
	require.NoError(t, err)
	require.Equal(t, int64(5), id.LedgerID())
	require.Equal(t, int64(0), id.EntryID())
	require.Equal(t, int32(0), id.PartitionIdx())
	require.True(t, samePulsarMessage(id, pulsar.NewMessageID(5, 0, -1, -1)), "batch index 0 and -1 name the same message")
	require.False(t, samePulsarMessage(id, pulsar.NewMessageID(5, 1, -1, -1)))
}

// FuzzPulsarStartMessageID: a start position's message ID comes from the
// task store or from a user's start position; whatever its bytes, the
// decoder OpenReader uses fails or yields an ID that survives a round trip,
// and never panics.
func FuzzPulsarStartMessageID(f *testing.F) {
	f.Add(pulsar.NewMessageID(3, 4, -1, -1).Serialize())
	f.Add([]byte{8, 5, 16, 0, 24, 0, 32, 0})
	f.Add([]byte{0x08})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := pulsar.DeserializeMessageID(b)
		if err != nil {
			return
		}
		again, err := pulsar.DeserializeMessageID(id.Serialize())
		require.NoError(t, err)
		require.Equal(t, id.LedgerID(), again.LedgerID())
		require.Equal(t, id.EntryID(), again.EntryID())
	})
}
