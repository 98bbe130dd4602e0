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
	cfg := Config{MQ: "pulsar", Mode: "api", Dim: 768, Batch: 5000, Rows: 100000}
	tests := []struct {
		name         string
		baseline     time.Duration
		drain        time.Duration
		cpu          float64
		callSeconds  float64
		channels     int
		wantRatio    float64
		wantRate     float64
		wantCPU10k   float64
		wantBusy     float64
		wantBaseRate float64
	}{
		{"drain slower than the baseline", 4 * time.Second, 5 * time.Second, 2, 8, 2, 0.8, 20000, 0.2, 0.8, 25000},
		{"drain faster than the baseline", 5 * time.Second, 2500 * time.Millisecond, 1, 1, 2, 2, 40000, 0.1, 0.2, 20000},
		{"no baseline gives no ratio", 0, 2 * time.Second, 1, 1, 2, 0, 50000, 0.1, 0.25, 0},
		{"no channels gives no busy share", time.Second, time.Second, 0, 1, 0, 1, 100000, 0, 0, 100000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewResult(cfg, time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC))
			r.SetBaseline(tc.baseline, tc.baseline/2)
			r.SetDrain(tc.drain, 300*time.Millisecond, tc.cpu)
			r.SetTargetCalls(tc.callSeconds, 40, tc.channels)
			require.InDelta(t, tc.wantRatio, r.DrainRatio, 1e-9)
			require.InDelta(t, tc.wantRate, r.DrainRowsPerS, 1e-6)
			require.InDelta(t, tc.wantCPU10k, r.CPUSPer10kRows, 1e-9)
			require.InDelta(t, tc.wantBusy, r.TargetBusy, 1e-9)
			require.InDelta(t, tc.wantBaseRate, r.BaselineRowsPerS, 1e-6)
			require.InDelta(t, 0.3, r.DrainStartupSeconds, 1e-9)
			require.Equal(t, "pulsar/api/dim768/batch5000/rows100000", r.Config)
			require.Equal(t, "2026-11-24T02:00:00Z", r.StartedAt)
		})
	}
}

func TestUseBaseline(t *testing.T) {
	api := NewResult(Config{MQ: "kafka", Mode: "api", Dim: 128, Batch: 100, Rows: 1000}, time.Now())
	api.SetBaseline(2*time.Second, time.Second)
	api.LagFloorP50S, api.LagFloorP99S = 0.2, 0.4
	r := NewResult(Config{MQ: "kafka", Mode: "replicate", Dim: 128, Batch: 100, Rows: 1000}, time.Now())
	r.SetDrain(time.Second, 0, 0)
	r.UseBaseline(api)
	require.Equal(t, api.Config, r.BaselineFrom)
	require.InDelta(t, 2.0, r.DrainRatio, 1e-9, "the ratio follows a baseline set after the drain")
	require.Equal(t, []float64{2, 500, 1000, 0.2, 0.4}, []float64{r.BaselineSeconds, r.BaselineRowsPerS, r.BaselineInsertRowsPerS, r.LagFloorP50S, r.LagFloorP99S})
}

func TestSetSnapshot(t *testing.T) {
	r := NewResult(Config{MQ: "pulsar", Mode: "api", Dim: 768, Batch: 5000, Rows: 1000}, time.Now())
	r.SetSnapshot(1200, time.Second)
	require.Nil(t, r.SnapshotRatio, "no baseline: no ratio")
	r.SetBaseline(2*time.Second, time.Second) // 500 rows/s
	r.SetSnapshot(1200, 2*time.Second)        // 600 rows/s
	require.NotNil(t, r.SnapshotRatio)
	require.InDelta(t, 1.2, *r.SnapshotRatio, 1e-9)
	require.Equal(t, []float64{1200, 2}, []float64{float64(r.SnapshotRows), r.SnapshotSeconds})
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
	ok := Result{Config: "pulsar/api/dim768/batch5000/rows100000", MQ: "pulsar", Mode: "api", Dim: 768, Batch: 5000,
		DrainRatio: 0.85, DrainSeconds: 2, BaselineSeconds: 1.7, LagP50S: 0.3, LagP99S: 1.1, CPUSPer10kRows: 0.08,
		CDCPeakRSSMiB: 120, LoadAvg: "1.00 2.00 3.00"}
	nan := Result{Config: "kafka/api/dim128/batch100/rows10", DrainRatio: math.NaN(), DrainSeconds: math.Inf(1),
		SnapshotRatio: ptr(math.NaN()), Error: "bed down"}
	snap := Result{Config: "pulsar/api/dim128/batch100/rows10", SnapshotRatio: ptr(0.75)}
	curve := CostCurve{MQ: "pulsar", Mode: "api", IdleMiBPerExtraTask: math.NaN(),
		Points: []CostPoint{{Kind: CostTasks, Tasks: 1, Collections: 1, IdleRSSMiB: 40, IdleCPUCores: math.Inf(-1)}}}
	tests := []struct {
		name  string
		rep   Report
		check func(t *testing.T, got map[string]any)
	}{
		{"the required keys with their values, snapshot_ratio null, an empty cost curve", Report{Commit: "abc", Results: []Result{ok}},
			func(t *testing.T, got map[string]any) {
				objs := got["results"].([]any)
				require.Len(t, objs, 1)
				obj := objs[0].(map[string]any)
				want := map[string]any{"config": ok.Config, "mq": "pulsar", "mode": "api", "dim": 768.0, "batch": 5000.0,
					"drain_ratio": 0.85, "drain_s": 2.0, "baseline_s": 1.7, "lag_p50_s": 0.3, "lag_p99_s": 1.1,
					"cpu_s_per_10k_rows": 0.08, "cdc_peak_rss_mib": 120.0, "load_avg": "1.00 2.00 3.00"}
				for k, v := range want {
					require.Equal(t, v, obj[k], k)
				}
				require.Contains(t, obj, "snapshot_ratio")
				require.Nil(t, obj["snapshot_ratio"], "no snapshot phase yet")
				require.NotContains(t, obj, "error", "no error key on success")
				require.Equal(t, []any{}, got["cost_curve"], "the cost-curve key is always there")
			}},
		{"non-finite numbers become 0 and the error is kept", Report{Results: []Result{nan}, CostCurves: []CostCurve{curve}},
			func(t *testing.T, got map[string]any) {
				obj := got["results"].([]any)[0].(map[string]any)
				require.Equal(t, 0.0, obj["drain_ratio"])
				require.Equal(t, 0.0, obj["drain_s"])
				require.Equal(t, 0.0, obj["snapshot_ratio"])
				require.Equal(t, "bed down", obj["error"])
				c := got["cost_curve"].([]any)[0].(map[string]any)
				require.Equal(t, 0.0, c["idle_mib_per_extra_task"])
				pt := c["points"].([]any)[0].(map[string]any)
				require.Equal(t, 0.0, pt["idle_cpu_cores"])
				require.Equal(t, 40.0, pt["idle_rss_mib"])
			}},
		{"a snapshot ratio, once measured, is a number", Report{Results: []Result{snap}}, func(t *testing.T, got map[string]any) {
			require.Equal(t, 0.75, got["results"].([]any)[0].(map[string]any)["snapshot_ratio"])
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]Result(nil), tc.rep.Results...)
			path := filepath.Join(t.TempDir(), "results", "latest.json")
			require.NoError(t, WriteJSON(path, tc.rep))
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(raw, &got))
			require.Equal(t, tc.rep.Commit, got["commit"])
			tc.check(t, got)
			for i := range before {
				require.Equal(t, math.IsNaN(before[i].DrainRatio), math.IsNaN(tc.rep.Results[i].DrainRatio), "the caller's results are not changed")
			}
		})
	}
}

func ptr(v float64) *float64 { return &v }

func TestTables(t *testing.T) {
	ok := Result{Config: "pulsar/api/dim768/batch5000/rows100000", DrainRatio: 0.85, DrainSeconds: 2, BaselineSeconds: 1.7,
		DrainRowsPerS: 50000, DrainStartupSeconds: 0.25, TargetBusy: 0.6, CPUSPer10kRows: 0.08, SourceRowsPerS: 9000,
		LagP50S: 0.3, LagP99S: 1.1, CDCPeakRSSMiB: 120, LoadAvg: "1.00 2.00 3.00",
		BaselineRowsPerS: 58824, IdleWaitSeconds: 12.5, BedIdle: true, DrainCPUS: 0.8, TargetCalls: 40, TargetCallSeconds: 7.25,
		DrainPeakRSSMiB: 250, LagLoadRowsPerS: 4500, LagLoadAchievedRowsPerS: 4400, LagP95S: 0.9, LagMaxS: 1.3, LagLost: 2,
		LagFloorP50S: 0.2, LagFloorP99S: 0.4, LagPeakRSSMiB: 260, LoadAvgEnd: "4.00 5.00 6.00"}
	bad := Result{Config: "kafka/api/dim128/batch100/rows10", Error: "bed down"}
	tests := []struct {
		name  string
		write func(*bytes.Buffer, []Result) error
		lines int // header (+ separator) + one line per result
		want  []string
	}{
		{"text", func(b *bytes.Buffer, r []Result) error { return WriteTable(b, r) }, 3,
			[]string{"drain ratio", "0.85", "2.00", "1.70", "50000", "0.25", "0.60", "0.080", "9000", "0.300", "1.100", "120", "1.00 2.00 3.00", "error: bed down"}},
		{"details", func(b *bytes.Buffer, r []Result) error { return WriteDetailMarkdown(b, r) }, 4,
			[]string{"| config | baseline rows/s |", "| pulsar/api/dim768/batch5000/rows100000 | 58824 | 0 | 12.5 | true | 0.80 | 40 | 7.25 | 250 | 4500 → 4400 |",
				"| 0.900 | 1.300 | 2 | 0.200 / 0.400 | 260 | 4.00 5.00 6.00 |", "| kafka/api/dim128/batch100/rows10 | - | - |"}},
		{"markdown", func(b *bytes.Buffer, r []Result) error { return WriteMarkdown(b, r) }, 4,
			[]string{"| config | drain ratio |", "| --- | ---: |",
				"| pulsar/api/dim768/batch5000/rows100000 | 0.85 | - | 2.00 | 1.70 | 50000 | 0.25 | 0.60 | 0.080 | 9000 | 0.300 | 1.100 | 120 | 1.00 2.00 3.00 |",
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
	require.Empty(t, rep.CostCurves)

	a2 := a
	a2.BaselineRowsPerS = 300
	r := Result{Config: "pulsar/replicate/dim8/batch1/rows1", Mode: "replicate"}
	got := Carry(rep.Results, []Result{a2, r})
	require.Equal(t, []Result{b, a2, r}, got, "a re-measured configuration replaces the old one")

	_, err = ReadReport(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorContains(t, err, "read results")
}
