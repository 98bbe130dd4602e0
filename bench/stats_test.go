package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"median of odd count", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"median of even count is the lower middle (nearest rank)", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100 values", hundred, 99, 99 * time.Millisecond},
		{"p95 of 100 values", hundred, 95, 95 * time.Millisecond},
		{"p99 of few values is the worst", ms(1, 2, 3, 900), 99, 900 * time.Millisecond},
		{"p100 is the max", ms(1, 2, 3), 100, 3 * time.Millisecond},
		{"p0 is the min", ms(4, 5, 6), 0, 4 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Percentile(tc.sorted, tc.p))
		})
	}
}

func TestSummarizeLags(t *testing.T) {
	tests := []struct {
		name string
		lags []time.Duration
		lost int
		want LagSummary
	}{
		{"none arrived", nil, 3, LagSummary{Lost: 3}},
		{"unsorted input", ms(300, 100, 200, 1000, 150), 1, LagSummary{Count: 5, Lost: 1,
			P50: 200 * time.Millisecond, P95: 1000 * time.Millisecond, P99: 1000 * time.Millisecond, Max: 1000 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.lags...)
			require.Equal(t, tc.want, SummarizeLags(tc.lags, tc.lost))
			require.Equal(t, in, tc.lags, "the caller's slice is not reordered")
		})
	}
}

func TestRate(t *testing.T) {
	tests := []struct {
		name  string
		units float64
		d     time.Duration
		want  float64
	}{
		{"rows per second", 20000, 4 * time.Second, 5000},
		{"sub-second", 100, 250 * time.Millisecond, 400},
		{"zero duration", 10, 0, 0},
		{"negative duration", 10, -time.Second, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, Rate(tc.units, tc.d), 1e-9)
		})
	}
}
