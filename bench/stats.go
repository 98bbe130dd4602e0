package bench

import (
	"math"
	"sort"
	"time"
)

// LagSummary describes the end-to-end lag of the probe's marker rows.
type LagSummary struct {
	Count int           // markers that arrived
	Lost  int           // markers that never arrived before the deadline
	P50   time.Duration // nearest-rank percentiles
	P95   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, ascending values; 0 for no values. Nearest rank always returns an
// observed value, so a p99 over few markers is the worst one, not an
// interpolation below it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank > len(sorted) {
		rank = len(sorted)
	}
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// SummarizeLags sorts a copy of lags and returns their percentiles; lost is
// the number of markers that did not arrive.
func SummarizeLags(lags []time.Duration, lost int) LagSummary {
	s := append([]time.Duration(nil), lags...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	sum := LagSummary{Count: len(s), Lost: lost}
	if len(s) == 0 {
		return sum
	}
	sum.P50 = Percentile(s, 50)
	sum.P95 = Percentile(s, 95)
	sum.P99 = Percentile(s, 99)
	sum.Max = s[len(s)-1]
	return sum
}

// Rate returns units per second over d; 0 when d is not positive.
func Rate(units float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return units / d.Seconds()
}
