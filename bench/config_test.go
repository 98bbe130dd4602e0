package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePositiveInts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []int
		wantErr string
	}{
		{"two", "128,768", []int{128, 768}, ""},
		{"spaces and empty items", " 100 ,, 5000 ", []int{100, 5000}, ""},
		{"empty", "", nil, "-dims is empty"},
		{"zero", "0", nil, "\"0\" is not a positive integer"},
		{"word", "128,big", nil, "\"big\" is not a positive integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePositiveInts("dims", tc.in)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrBadFlag)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name    string
		mqs     []string
		modes   []string
		dims    []int
		batches []int
		rows    int
		want    []string
		wantErr string
	}{
		{"quick set", []string{"pulsar"}, []string{"api"}, []int{768}, []int{5000}, 20000,
			[]string{"pulsar/api/dim768/batch5000/rows20000"}, ""},
		{"grouped by MQ, in flag order", []string{"pulsar", "kafka"}, []string{"api"}, []int{128, 768}, []int{100}, 10,
			[]string{"pulsar/api/dim128/batch100/rows10", "pulsar/api/dim768/batch100/rows10",
				"kafka/api/dim128/batch100/rows10", "kafka/api/dim768/batch100/rows10"}, ""},
		{"grouped by MQ, then mode", []string{"pulsar", "kafka"}, []string{"api", "replicate"}, []int{8}, []int{1}, 1,
			[]string{"pulsar/api/dim8/batch1/rows1", "pulsar/replicate/dim8/batch1/rows1",
				"kafka/api/dim8/batch1/rows1", "kafka/replicate/dim8/batch1/rows1"}, ""},
		{"unknown mode", []string{"pulsar"}, []string{"bulk"}, []int{8}, []int{1}, 1, nil, `-modes "bulk": want api or replicate`},
		{"unknown MQ", []string{"rocksmq"}, []string{"api"}, []int{8}, []int{1}, 1, nil, "want pulsar or kafka"},
		{"no rows", []string{"pulsar"}, []string{"api"}, []int{8}, []int{1}, 0, nil, "-rows 0"},
		{"empty list", nil, []string{"api"}, []int{8}, []int{1}, 1, nil, "at least one value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expand(tc.mqs, tc.modes, tc.dims, tc.batches, tc.rows)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrBadFlag)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			names := make([]string, len(got))
			for i, c := range got {
				names[i] = c.Name()
			}
			require.Equal(t, tc.want, names)
		})
	}
}

func TestConfigRowBytes(t *testing.T) {
	require.Equal(t, 8+4*768, Config{Dim: 768}.RowBytes())
	require.Equal(t, 8+4*128, Config{Dim: 128}.RowBytes())
}
