package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSlope(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		{"exact line", []float64{1, 4, 16}, []float64{42, 48, 72}, 2},
		{"noisy points: least squares", []float64{1, 2, 3}, []float64{1, 3, 2}, 0.5},
		{"flat", []float64{1, 16, 64}, []float64{50, 50, 50}, 0},
		{"one point", []float64{1}, []float64{50}, 0},
		{"same x twice", []float64{4, 4}, []float64{1, 9}, 0},
		{"lengths differ", []float64{1, 2}, []float64{1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, Slope(tc.x, tc.y), 1e-9)
		})
	}
}

func TestCostCurveDerive(t *testing.T) {
	c := CostCurve{Points: []CostPoint{
		{Kind: CostTasks, Tasks: 1, Collections: 1, IdleRSSMiB: 40, LoadRSSMiB: 50, IdleCPUCores: 0.01},
		{Kind: CostTasks, Tasks: 4, Collections: 4, IdleRSSMiB: 46, LoadRSSMiB: 62, IdleCPUCores: 0.025},
		{Kind: CostTasks, Tasks: 16, Collections: 16, IdleRSSMiB: 70, LoadRSSMiB: 110, IdleCPUCores: 0.085},
		{Kind: CostTasks, Tasks: 64, Collections: 64, IdleRSSMiB: 9999, Error: "bed down"},
		{Kind: CostCollections, Tasks: 1, Collections: 1, IdleRSSMiB: 40},
		{Kind: CostCollections, Tasks: 1, Collections: 16, IdleRSSMiB: 41.5},
		{Kind: CostCollections, Tasks: 1, Collections: 64, IdleRSSMiB: 46.3},
	}}
	c.Derive()
	require.InDelta(t, 2, c.IdleMiBPerExtraTask, 1e-9, "a failed point is left out")
	require.InDelta(t, 4, c.LoadMiBPerExtraTask, 1e-9)
	require.InDelta(t, 0.005, c.IdleCPUPerExtraTask, 1e-9)
	require.InDelta(t, 0.1, c.IdleMiBPerExtraCollection, 1e-9)
}

func TestCostPointSetLoad(t *testing.T) {
	var p CostPoint
	p.SetLoad(0.5, 20, 20000)
	require.InDelta(t, 0.025, p.LoadCPUCores, 1e-9)
	require.InDelta(t, 1000, p.LoadAchievedRowsPerS, 1e-9)
	require.InDelta(t, 0.25, p.LoadCPUSPer10kRows, 1e-9)
	p.SetLoad(0.5, 0, 0)
	require.Zero(t, p.LoadCPUCores)
	require.Zero(t, p.LoadAchievedRowsPerS)
	require.Zero(t, p.LoadCPUSPer10kRows)
}

func TestWriteCostMarkdown(t *testing.T) {
	c := CostCurve{MQ: "pulsar", Mode: "api", Dim: 128, Batch: 100, LoadRowsPerS: 1000, IdleSeconds: 20, LoadSeconds: 20,
		IdleMiBPerExtraTask: 1.5, IdleMiBPerExtraCollection: 0.1, LoadMiBPerExtraTask: 2.25,
		Points: []CostPoint{
			{Kind: CostCollections, Tasks: 1, Collections: 16, IdleRSSMiB: 41.5, Synced: true, LoadAvg: "1 1 1"},
			{Kind: CostTasks, Tasks: 4, Collections: 4, IdleRSSMiB: 46, IdleCPUCores: 0.025, LoadRSSMiB: 62, LoadPeakRSSMiB: 70,
				LoadCPUCores: 0.05, LoadCPUSPer10kRows: 0.1, StartupSeconds: 3.25, Synced: true, LoadAvg: "2 2 2"},
			{Kind: CostTasks, Tasks: 1, Collections: 1, Error: "bed down"},
		}}
	var b bytes.Buffer
	require.NoError(t, WriteCostMarkdown(&b, []CostCurve{c}))
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "| MQ | tasks | collections | start-up s | idle RSS MiB | idle CPU % | load RSS MiB | load peak RSS MiB | load CPU % | load CPU s/10k rows | synced | load avg |", lines[0])
	require.Equal(t, "| pulsar | 1 | 1 | - | - | - | - | - | - | - | - | error: bed down |", lines[2], "tasks points first, by count")
	require.Equal(t, "| pulsar | 4 | 4 | 3.2 | 46.0 | 2.5 | 62.0 | 70.0 | 5.0 | 0.100 | true | 2 2 2 |", lines[3])
	require.True(t, strings.HasPrefix(lines[4], "| pulsar | 1 | 16 |"), lines[4])
	require.Contains(t, out, "pulsar/api: idle cost per extra task 1.50 MiB (under load 2.25 MiB), per extra collection 0.10 MiB")
}
