package bench

import (
	"fmt"
	"io"
	"sort"
)

// Kinds of cost-curve point: several tasks of one collection each, or one
// task over several collections.
const (
	CostTasks       = "tasks"
	CostCollections = "collections"
)

// CostPoint is the daemon's cost with one amount of work: Tasks tasks
// replicating Collections collections in all, idle and then under the
// curve's fixed load. RSS figures are MiB, CPU in cores (CPU seconds per
// wall second).
type CostPoint struct {
	Kind        string `json:"kind"`
	Tasks       int    `json:"tasks"`
	Collections int    `json:"collections"`
	// StartupSeconds runs from the first create to every task replicating.
	StartupSeconds float64 `json:"startup_s"`
	// IdleRSSMiB is the mean of VmRSS samples over the idle window,
	// IdleCPUCores the daemon's CPU over it.
	IdleRSSMiB   float64 `json:"idle_rss_mib"`
	IdleCPUCores float64 `json:"idle_cpu_cores"`
	// Load*: the same over the load window; LoadPeakRSSMiB is VmHWM over it.
	LoadRSSMiB           float64 `json:"load_rss_mib"`
	LoadPeakRSSMiB       float64 `json:"load_peak_rss_mib"`
	LoadCPUCores         float64 `json:"load_cpu_cores"`
	LoadRows             int     `json:"load_rows"`
	LoadAchievedRowsPerS float64 `json:"load_achieved_rows_per_s"`
	LoadCPUSPer10kRows   float64 `json:"load_cpu_s_per_10k_rows"`
	// Synced says whether every task reported synced (GET .../synced)
	// within the bound after the load: the load did reach the target.
	Synced      bool    `json:"synced"`
	SyncSeconds float64 `json:"sync_s"`
	LoadAvg     string  `json:"load_avg"`
	Error       string  `json:"error,omitempty"`
}

// SetLoad records the load window: the daemon's CPU seconds over wall
// seconds while rows rows were written.
func (p *CostPoint) SetLoad(cpuSeconds, wallSeconds float64, rows int) {
	p.LoadRows = rows
	p.LoadCPUCores, p.LoadAchievedRowsPerS, p.LoadCPUSPer10kRows = 0, 0, 0
	if wallSeconds > 0 {
		p.LoadCPUCores = cpuSeconds / wallSeconds
		p.LoadAchievedRowsPerS = float64(rows) / wallSeconds
	}
	if rows > 0 {
		p.LoadCPUSPer10kRows = cpuSeconds / float64(rows) * 10000
	}
}

// CostCurve is the cost curve measured on one bed.
type CostCurve struct {
	MQ           string  `json:"mq"`
	Mode         string  `json:"mode"`
	Dim          int     `json:"dim"`
	Batch        int     `json:"batch"`
	LoadRowsPerS float64 `json:"load_rows_per_s"`
	IdleSeconds  float64 `json:"idle_s"`
	LoadSeconds  float64 `json:"load_s"`
	// IdleMiBPerExtraTask is the least-squares slope of idle RSS over the
	// number of tasks (tasks points); IdleMiBPerExtraCollection the same over
	// collections under one task. LoadMiBPerExtraTask uses the load RSS.
	IdleMiBPerExtraTask       float64     `json:"idle_mib_per_extra_task"`
	IdleMiBPerExtraCollection float64     `json:"idle_mib_per_extra_collection"`
	LoadMiBPerExtraTask       float64     `json:"load_mib_per_extra_task"`
	IdleCPUPerExtraTask       float64     `json:"idle_cpu_cores_per_extra_task"`
	Points                    []CostPoint `json:"points"`
}

// Derive computes the per-task and per-collection slopes from the points
// that have no error.
func (c *CostCurve) Derive() {
	var tn, tIdle, tLoad, tCPU, cn, cIdle []float64
	for _, p := range c.Points {
		if p.Error != "" {
			continue
		}
		switch p.Kind {
		case CostTasks:
			tn = append(tn, float64(p.Tasks))
			tIdle = append(tIdle, p.IdleRSSMiB)
			tLoad = append(tLoad, p.LoadRSSMiB)
			tCPU = append(tCPU, p.IdleCPUCores)
		case CostCollections:
			cn = append(cn, float64(p.Collections))
			cIdle = append(cIdle, p.IdleRSSMiB)
		}
	}
	c.IdleMiBPerExtraTask = Slope(tn, tIdle)
	c.LoadMiBPerExtraTask = Slope(tn, tLoad)
	c.IdleCPUPerExtraTask = Slope(tn, tCPU)
	c.IdleMiBPerExtraCollection = Slope(cn, cIdle)
}

// Slope is the least-squares slope of y over x; 0 with fewer than two
// distinct x values.
func Slope(x, y []float64) float64 {
	n := len(x)
	if n < 2 || len(y) != n {
		return 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

var costHeader = []string{"MQ", "tasks", "collections", "start-up s", "idle RSS MiB", "idle CPU %", "load RSS MiB",
	"load peak RSS MiB", "load CPU %", "load CPU s/10k rows", "synced", "load avg"}

func costRow(c CostCurve, p CostPoint) []string {
	if p.Error != "" {
		return dashRow(len(costHeader), []string{c.MQ, fmt.Sprint(p.Tasks), fmt.Sprint(p.Collections)}, "error: "+p.Error)
	}
	return []string{c.MQ, fmt.Sprint(p.Tasks), fmt.Sprint(p.Collections), fmt.Sprintf("%.1f", p.StartupSeconds),
		fmt.Sprintf("%.1f", p.IdleRSSMiB), fmt.Sprintf("%.1f", 100*p.IdleCPUCores),
		fmt.Sprintf("%.1f", p.LoadRSSMiB), fmt.Sprintf("%.1f", p.LoadPeakRSSMiB), fmt.Sprintf("%.1f", 100*p.LoadCPUCores),
		fmt.Sprintf("%.3f", p.LoadCPUSPer10kRows), fmt.Sprint(p.Synced), p.LoadAvg}
}

// WriteCostMarkdown prints every curve's points as one Markdown table (tasks
// points first, then collections, each by count) and a line per curve with
// the derived slopes.
func WriteCostMarkdown(w io.Writer, curves []CostCurve) error {
	var rows [][]string
	for _, c := range curves {
		pts := append([]CostPoint(nil), c.Points...)
		sort.SliceStable(pts, func(i, j int) bool {
			if pts[i].Kind != pts[j].Kind {
				return pts[i].Kind == CostTasks
			}
			return pts[i].Tasks+pts[i].Collections < pts[j].Tasks+pts[j].Collections
		})
		for _, p := range pts {
			rows = append(rows, costRow(c, p))
		}
	}
	if _, err := io.WriteString(w, markdownTable(costHeader, rows)); err != nil {
		return err
	}
	for _, c := range curves {
		if _, err := fmt.Fprintf(w, "\n%s/%s: idle cost per extra task %.2f MiB (under load %.2f MiB), per extra collection %.2f MiB; idle CPU per extra task %.2f %% of a core. Load: %.0f rows/s of dim %d in batches of %d, %.0f s; idle window %.0f s.\n",
			c.MQ, c.Mode, c.IdleMiBPerExtraTask, c.LoadMiBPerExtraTask, c.IdleMiBPerExtraCollection, 100*c.IdleCPUPerExtraTask,
			c.LoadRowsPerS, c.Dim, c.Batch, c.LoadSeconds, c.IdleSeconds); err != nil {
			return err
		}
	}
	return nil
}
