package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResultDerivedFigures(t *testing.T) {
	cfg := Config{MQ: "pulsar", Mode: "api", Dim: 768, Batch: 5000, Rows: 20000}
	tests := []struct {
		name       string
		baseline   float64
		repl       float64
		cpu        float64
		wantRatio  float64
		wantCPU10k float64
		wantMiB    float64
		source     float64
		wantSrc    float64
	}{
		{"replication at 90% of the baseline", 10000, 9000, 4, 0.9, 2, 9000 * 3080 / float64(1<<20), 9500, 9000.0 / 9500},
		{"no baseline gives no ratio", 0, 5000, 1, 0, 0.5, 5000 * 3080 / float64(1<<20), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewResult(cfg, time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC))
			r.BaselineRowsPerS = tc.baseline
			r.SourceInsertRowsPerS = tc.source
			r.SetReplication(tc.repl, float64(cfg.RowBytes()), 1.5, tc.cpu)
			require.InDelta(t, tc.wantRatio, r.Ratio, 1e-9)
			require.InDelta(t, tc.wantCPU10k, r.CDCCPUSPer10kRows, 1e-9)
			require.InDelta(t, tc.wantMiB, r.ReplicationMiBPerS, 1e-9)
			require.InDelta(t, tc.wantSrc, r.SourceRatio, 1e-9)
			require.Equal(t, 1.5, r.CatchUpSeconds)
			require.Equal(t, "pulsar/api/dim768/batch5000/rows20000", r.Config)
			require.Equal(t, "2026-11-24T02:00:00Z", r.StartedAt)
		})
	}
}

func TestSetLag(t *testing.T) {
	var r Result
	r.SetLag(LagSummary{Count: 200, Lost: 1, P50: 250 * time.Millisecond, P95: time.Second, P99: 1500 * time.Millisecond, Max: 2 * time.Second})
	require.Equal(t, []any{200, 1, 0.25, 1.0, 1.5, 2.0}, []any{r.LagMarkers, r.LagLost, r.LagP50S, r.LagP95S, r.LagP99S, r.LagMaxS})
	r.SetLagFloor(LagSummary{Count: 50, P50: 120 * time.Millisecond, P99: 400 * time.Millisecond})
	require.Equal(t, []float64{0.12, 0.4}, []float64{r.LagFloorP50S, r.LagFloorP99S})
	require.Equal(t, 1.5, r.LagP99S, "the floor does not overwrite the lag")
}

func TestWriteJSON(t *testing.T) {
	ok := Result{Config: "pulsar/api/dim768/batch5000/rows20000", BaselineRowsPerS: 6000, ReplicationRowsPerS: 3000,
		Ratio: 0.5, CatchUpSeconds: 1.25, LagP50S: 0.3, LagP99S: 1.1, CDCCPUSPer10kRows: 0.8, CDCPeakRSSMiB: 120}
	nan := Result{Config: "kafka/api/dim128/batch100/rows10", Ratio: math.NaN(), CatchUpSeconds: math.Inf(1), Error: "bed down"}
	tests := []struct {
		name  string
		rep   Report
		check func(t *testing.T, objs []map[string]any)
	}{
		{"the issue's keys with their values", Report{Commit: "abc", Results: []Result{ok}}, func(t *testing.T, objs []map[string]any) {
			require.Len(t, objs, 1)
			want := map[string]any{"config": ok.Config, "baseline_rows_per_s": 6000.0, "replication_rows_per_s": 3000.0,
				"ratio": 0.5, "catch_up_seconds": 1.25, "lag_p50_s": 0.3, "lag_p99_s": 1.1,
				"cdc_cpu_s_per_10k_rows": 0.8, "cdc_peak_rss_mib": 120.0}
			for k, v := range want {
				require.Equal(t, v, objs[0][k], k)
			}
			require.NotContains(t, objs[0], "error", "no error key on success")
		}},
		{"non-finite numbers become 0 and the error is kept", Report{Results: []Result{nan}}, func(t *testing.T, objs []map[string]any) {
			require.Equal(t, 0.0, objs[0]["ratio"])
			require.Equal(t, 0.0, objs[0]["catch_up_seconds"])
			require.Equal(t, "bed down", objs[0]["error"])
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results", "latest.json")
			require.NoError(t, WriteJSON(path, tc.rep))
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			var got struct {
				Commit  string           `json:"commit"`
				Results []map[string]any `json:"results"`
			}
			require.NoError(t, json.Unmarshal(raw, &got))
			require.Equal(t, tc.rep.Commit, got.Commit)
			tc.check(t, got.Results)
		})
	}
}

func TestTables(t *testing.T) {
	ok := Result{Config: "pulsar/api/dim768/batch5000/rows20000", BaselineRowsPerS: 6000, BaselineMiBPerS: 17.6,
		SourceInsertRowsPerS: 4000, ReplicationRowsPerS: 3000, Ratio: 0.5, CatchUpSeconds: 1.25,
		LagP50S: 0.3, LagP95S: 0.9, LagP99S: 1.1, LagMaxS: 1.2, CDCCPUSPer10kRows: 0.8, CDCPeakRSSMiB: 120}
	bad := Result{Config: "kafka/api/dim128/batch100/rows10", Error: "bed down"}
	tests := []struct {
		name  string
		write func(*bytes.Buffer, []Result) error
		lines int // header (+ separator) + one line per result
		want  []string
	}{
		{"text", func(b *bytes.Buffer, r []Result) error { return WriteTable(b, r) }, 3,
			[]string{"ratio", "6000", "17.6", "4000", "3000", "0.50", "1.25", "0.300", "1.100", "0.80", "120", "error: bed down"}},
		{"markdown", func(b *bytes.Buffer, r []Result) error { return WriteMarkdown(b, r) }, 4,
			[]string{"| config | baseline rows/s |", "| --- | ---: |", "| pulsar/api/dim768/batch5000/rows20000 | 6000 | 17.6 | 4000 | 3000 | 0.50 | 1.25 | 0.300 | 0.900 | 1.100 | 1.200 | 0.80 | 120 |",
				"| kafka/api/dim128/batch100/rows10 | - |", "error: bed down |"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, tc.write(&b, []Result{ok, bad}))
			out := b.String()
			require.Equal(t, tc.lines, strings.Count(out, "\n"))
			for _, w := range tc.want {
				require.Contains(t, out, w)
			}
		})
	}
}

func TestReadReportAndCarry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	a := Result{Config: "pulsar/api/dim8/batch1/rows1", Mode: "api", BaselineRowsPerS: 100}
	b := Result{Config: "kafka/api/dim8/batch1/rows1", Mode: "api", BaselineRowsPerS: 200}
	require.NoError(t, WriteJSON(path, Report{Date: "d", Commit: "c", Results: []Result{a, b}}))
	rep, err := ReadReport(path)
	require.NoError(t, err)
	require.Equal(t, "c", rep.Commit)
	require.Equal(t, []Result{a, b}, rep.Results)

	a2 := a
	a2.BaselineRowsPerS = 300
	r := Result{Config: "pulsar/replicate/dim8/batch1/rows1", Mode: "replicate"}
	got := Carry(rep.Results, []Result{a2, r})
	require.Equal(t, []Result{b, a2, r}, got, "a re-measured configuration replaces the old one")

	_, err = ReadReport(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorContains(t, err, "read results")
}
