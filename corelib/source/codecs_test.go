package source

import (
	"math"
	"testing"
	"time"

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
		})
	}
}

func TestHybridTimestamps(t *testing.T) {
	wall := time.Date(2026, 11, 24, 1, 2, 3, 456_000_000, time.UTC)
	ts := ComposeTS(wall.UnixMilli(), 7)
	require.Equal(t, uint64(wall.UnixMilli())<<18|7, ts)
	require.True(t, wall.Equal(PhysicalTime(ts)))
	require.Equal(t, ComposeTS(wall.UnixMilli(), 0), ComposeTSByTime(wall))
	require.Equal(t, uint64(5)<<18|(1<<18-1), ComposeTS(5, -1), "logical keeps 18 bits")
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

// FuzzDecodeKafkaOffset: Kafka positions come from checkpoints and from
// user-supplied start positions; any bytes decode or fail, never panic, and
// what decodes encodes back to the same bytes.
func FuzzDecodeKafkaOffset(f *testing.F) {
	f.Add(EncodeKafkaOffset(42))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		off, err := DecodeKafkaOffset(b)
		if err != nil {
			return
		}
		require.Equal(t, b, EncodeKafkaOffset(off))
	})
}
