package source

import (
	"math"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/stretchr/testify/require"
)

func TestParseVChannel(t *testing.T) {
	tests := []struct {
		in      string
		want    VChannel
		wantErr string
	}{
		{in: "by-dev-rootcoord-dml_3_449123456789v0", want: VChannel{"by-dev-rootcoord-dml_3", 449123456789, 0}},
		{in: "cdc-src-rootcoord-dml_15_1v12", want: VChannel{"cdc-src-rootcoord-dml_15", 1, 12}},
		{in: "by-dev-rootcoord-dml_3", wantErr: "missing 'v{shard}'"},
		{in: "nounderscore", wantErr: "want {pchannel}"},
		{in: "_5v0", wantErr: "want {pchannel}"},
		{in: "ch_xv0", wantErr: "bad collection ID"},
		{in: "ch_5v", wantErr: "bad shard index"},
		{in: "ch_5v-1", wantErr: "bad shard index"},
		{in: "ch_-5v1", wantErr: "bad collection ID"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVChannel(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorContains(t, err, tt.in)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.in, got.String())
			require.Equal(t, tt.want.PChannel, PChannelOf(tt.in))
		})
	}
}

func TestHybridTimestamps(t *testing.T) {
	wall := time.Date(2026, 11, 24, 1, 2, 3, 456_000_000, time.UTC)
	ts := ComposeTS(wall.UnixMilli(), 7)
	require.Equal(t, uint64(wall.UnixMilli())<<18|7, ts)
	physical, logical := ParseTS(ts)
	require.True(t, wall.Equal(physical))
	require.Equal(t, int64(7), logical)
	require.True(t, wall.Equal(PhysicalTime(ts)))
	require.Equal(t, ComposeTS(wall.UnixMilli(), 0), ComposeTSByTime(wall))
	require.Equal(t, ComposeTS(wall.UnixMilli()+1500, 7), AddDuration(ts, 1500*time.Millisecond))
	require.Equal(t, uint64(5)<<18|(1<<18-1), ComposeTS(5, -1), "logical keeps 18 bits")
	require.True(t, IsSaneTS(ts))
	require.False(t, IsSaneTS(12345))
	require.False(t, IsSaneTS(ComposeTS(time.Date(2018, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli(), 0)))
	// A real Milvus timestamp seen in docs: 449123498765432833 is in 2024.
	require.Equal(t, 2024, PhysicalTime(449123498765432833).UTC().Year())
}

func TestKafkaOffsetCodec(t *testing.T) {
	require.Equal(t, []byte{0x2a, 0, 0, 0, 0, 0, 0, 0}, EncodeKafkaOffset(42))
	for _, off := range []int64{0, 1, 42, math.MaxInt64} {
		got, err := DecodeKafkaOffset(EncodeKafkaOffset(off))
		require.NoError(t, err)
		require.Equal(t, off, got)
	}
	_, err := DecodeKafkaOffset([]byte{1, 2, 3})
	require.ErrorContains(t, err, "want 8 bytes")
}

func TestPulsarMessageIDMatchesPulsarClient(t *testing.T) {
	tests := []PulsarMessageID{
		{LedgerID: 12, EntryID: 34, Partition: -1, BatchIndex: -1},
		{LedgerID: 1 << 40, EntryID: 0, Partition: 0, BatchIndex: 3},
		{LedgerID: 0, EntryID: 0, Partition: -1, BatchIndex: -1},
	}
	for _, id := range tests {
		t.Run(id.String(), func(t *testing.T) {
			// pulsar-client-go bytes decode with ours.
			theirs := pulsar.NewMessageID(int64(id.LedgerID), int64(id.EntryID), id.BatchIndex, id.Partition).Serialize()
			got, err := DecodePulsarMessageID(theirs)
			require.NoError(t, err)
			require.Equal(t, id, got)
			// Ours decode with pulsar-client-go.
			back, err := pulsar.DeserializeMessageID(id.Bytes())
			require.NoError(t, err)
			require.Equal(t, int64(id.LedgerID), back.LedgerID())
			require.Equal(t, int64(id.EntryID), back.EntryID())
			require.Equal(t, id.BatchIndex, back.BatchIdx())
			require.Equal(t, id.Partition, back.PartitionIdx())
		})
	}
}

func TestPulsarMessageIDErrorsAndOrder(t *testing.T) {
	_, err := DecodePulsarMessageID([]byte{0x08, 0x01}) // ledger only
	require.ErrorContains(t, err, "required")
	_, err = DecodePulsarMessageID([]byte{0x08})
	require.Error(t, err)
	_, err = DecodePulsarMessageID([]byte{0x0f})
	require.Error(t, err)

	a := PulsarMessageID{LedgerID: 1, EntryID: 5, BatchIndex: -1}
	require.Equal(t, 0, a.Compare(a))
	require.Equal(t, -1, a.Compare(PulsarMessageID{LedgerID: 1, EntryID: 6, BatchIndex: -1}))
	require.Equal(t, 1, a.Compare(PulsarMessageID{LedgerID: 0, EntryID: 99, BatchIndex: -1}))
	require.Equal(t, 0, a.Compare(PulsarMessageID{LedgerID: 1, EntryID: 5, BatchIndex: 0}), "-1 and 0 both mean the entry's only message")
	require.Equal(t, -1, a.Compare(PulsarMessageID{LedgerID: 1, EntryID: 5, BatchIndex: 1}))

	// A start position as Milvus 2.3.5 wrote it on the test bed.
	milvus, err := DecodePulsarMessageID([]byte{8, 5, 16, 0, 24, 0, 32, 0})
	require.NoError(t, err)
	require.Equal(t, PulsarMessageID{LedgerID: 5, EntryID: 0, Partition: 0, BatchIndex: 0}, milvus)
	require.Equal(t, 0, milvus.Compare(PulsarMessageID{LedgerID: 5, EntryID: 0, Partition: -1, BatchIndex: -1}))
}

func FuzzDecodePulsarMessageID(f *testing.F) {
	f.Add(PulsarMessageID{LedgerID: 3, EntryID: 4, Partition: -1, BatchIndex: -1}.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := DecodePulsarMessageID(b)
		if err == nil {
			again, err := DecodePulsarMessageID(id.Bytes())
			require.NoError(t, err)
			require.Equal(t, id, again)
		}
	})
}
