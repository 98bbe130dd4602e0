package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"
)

// Config is one benchmark configuration.
type Config struct {
	MQ    string // pulsar | kafka
	Mode  string // writer mode: ModeAPI or ModeReplicate
	Dim   int    // float vector dimension
	Batch int    // rows per insert call
	Rows  int    // rows per run
}

// Name identifies the configuration in the table and the JSON, e.g.
// "pulsar/api/dim768/batch5000/rows100000".
func (c Config) Name() string {
	return fmt.Sprintf("%s/%s/dim%d/batch%d/rows%d", c.MQ, c.Mode, c.Dim, c.Batch, c.Rows)
}

// RowBytes is the payload size of one row: an int64 key and dim float32s.
func (c Config) RowBytes() int { return 8 + 4*c.Dim }

// Result is one configuration's measurements. Field names are the JSON keys of
// bench/results/latest.json; rates are rows per second, times in seconds,
// memory in MiB. An Error records a configuration that could not be measured.
type Result struct {
	Config string `json:"config"`
	MQ     string `json:"mq"`
	Mode   string `json:"mode"`
	Dim    int    `json:"dim"`
	Batch  int    `json:"batch"`
	Rows   int    `json:"rows"`

	// DrainRatio is BaselineSeconds / DrainSeconds: 1 means the daemon
	// drained its backlog into the target as fast as a client inserting the
	// same rows straight into the target.
	DrainRatio float64 `json:"drain_ratio"`
	// DrainSeconds runs from the resume request to the first strong
	// count(*) on the target that sees every row; DrainStartupSeconds to the
	// first answer that sees any row (task start-up: catalog, target
	// connection, first pack).
	DrainSeconds        float64 `json:"drain_s"`
	DrainRowsPerS       float64 `json:"drain_rows_per_s"`
	DrainStartupSeconds float64 `json:"drain_startup_s"`
	// BaselineSeconds runs from the first direct insert into the target to
	// the first strong count(*) that sees every row, with the source idle.
	BaselineSeconds        float64 `json:"baseline_s"`
	BaselineRowsPerS       float64 `json:"baseline_rows_per_s"`
	BaselineInsertRowsPerS float64 `json:"baseline_insert_rows_per_s"`
	// BaselineWriters is how many clients inserted the baseline at once
	// (-baseline-writers; 1 = one client, calls back to back).
	BaselineWriters int `json:"baseline_writers"`
	// BaselineFrom names the configuration whose baseline this one uses: a
	// target in replicate mode refuses direct inserts, so replicate-mode
	// configurations take the api-mode baseline of the same MQ, dim and batch
	// measured earlier in the run.
	BaselineFrom string `json:"baseline_from,omitempty"`
	// SnapshotRatio is the initial-sync copy's rate (rows/s from the
	// create of a task with initialSync until its snapshot phase ended) over
	// the baseline's direct-insert rate; null where no copy was measured
	// (replicate mode refuses initialSync).
	SnapshotRatio *float64 `json:"snapshot_ratio"`
	// SnapshotRows and SnapshotSeconds are that copy's rows and duration.
	SnapshotRows    int64   `json:"snapshot_rows,omitempty"`
	SnapshotSeconds float64 `json:"snapshot_s,omitempty"`

	// SourceRowsPerS is the rate at which the source acknowledged the rows
	// written while the task was paused: what the source sustains alone.
	SourceRowsPerS float64 `json:"source_rows_per_s"`
	// IdleWaitSeconds is how long the bench waited for the bed to go idle
	// before the timed step that followed (the drain); BedIdle says whether
	// it did within the bound (false: the drain started anyway).
	IdleWaitSeconds float64 `json:"idle_wait_s"`
	BedIdle         bool    `json:"bed_idle"`
	SpotChecked     int     `json:"spot_checked_rows"`

	// CPUSPer10kRows is the daemon's CPU time (utime+stime) during the drain
	// per 10,000 rows.
	CPUSPer10kRows float64 `json:"cpu_s_per_10k_rows"`
	DrainCPUS      float64 `json:"drain_cpu_s"`
	// TargetCallSeconds and TargetCalls: time the daemon spent in calls to
	// the target during the drain, and their number (its
	// apply_duration_seconds histogram). TargetBusy divides the seconds by
	// shards x drain time: near 1 means every channel was waiting on the
	// target the whole drain, near 0 that the daemon's own work (or the
	// source) was the bound.
	TargetCallSeconds float64 `json:"target_call_s"`
	TargetCalls       float64 `json:"target_calls"`
	TargetBusy        float64 `json:"target_busy"`

	LagLoadRowsPerS float64 `json:"lag_load_rows_per_s"`
	// LagLoadAchievedRowsPerS is the load rows written divided by the lag
	// duration: below LagLoadRowsPerS when the source could not take the load.
	LagLoadAchievedRowsPerS float64 `json:"lag_load_achieved_rows_per_s"`
	LagSeconds              float64 `json:"lag_duration_s"`
	LagMarkers              int     `json:"lag_markers"`
	LagLost                 int     `json:"lag_markers_lost"`
	LagP50S                 float64 `json:"lag_p50_s"`
	LagP95S                 float64 `json:"lag_p95_s"`
	LagP99S                 float64 `json:"lag_p99_s"`
	LagMaxS                 float64 `json:"lag_max_s"`
	LagFloorP50S            float64 `json:"lag_floor_p50_s"`
	LagFloorP99S            float64 `json:"lag_floor_p99_s"`

	// CDCPeakRSSMiB is the daemon's peak resident set over the whole
	// configuration (the kernel's VmHWM; the daemon is started fresh for each
	// configuration); DrainPeakRSSMiB and LagPeakRSSMiB the peaks of those
	// phases alone (VmHWM reset at the start of each, see docs).
	CDCPeakRSSMiB   float64 `json:"cdc_peak_rss_mib"`
	DrainPeakRSSMiB float64 `json:"drain_peak_rss_mib"`
	LagPeakRSSMiB   float64 `json:"lag_peak_rss_mib"`

	StartedAt string `json:"started_at"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute load when the
	// configuration started, LoadAvgEnd when it ended: the machine is
	// shared, this says how busy it was.
	LoadAvg    string `json:"load_avg"`
	LoadAvgEnd string `json:"load_avg_end"`
	Error      string `json:"error,omitempty"`
}

// NewResult starts the record of cfg.
func NewResult(cfg Config, started time.Time) Result {
	return Result{Config: cfg.Name(), MQ: cfg.MQ, Mode: cfg.Mode, Dim: cfg.Dim, Batch: cfg.Batch,
		Rows: cfg.Rows, StartedAt: started.UTC().Format(time.RFC3339)}
}

// SetBaseline records the direct insert into the target: d is first insert
// to all rows visible, inserts first insert to the last acknowledgement.
func (r *Result) SetBaseline(d, inserts time.Duration) {
	r.BaselineSeconds = d.Seconds()
	r.BaselineRowsPerS = Rate(float64(r.Rows), d)
	r.BaselineInsertRowsPerS = Rate(float64(r.Rows), inserts)
	r.deriveRatio()
}

// SetSnapshot records an initial-sync copy of rows taking d and derives its
// ratio to the baseline's rate.
func (r *Result) SetSnapshot(rows int64, d time.Duration) {
	r.SnapshotRows, r.SnapshotSeconds = rows, d.Seconds()
	r.SnapshotRatio = nil
	if r.BaselineRowsPerS > 0 && d > 0 {
		ratio := Rate(float64(rows), d) / r.BaselineRowsPerS
		r.SnapshotRatio = &ratio
	}
}

// UseBaseline copies the baseline of another configuration (replicate mode
// takes the api-mode one).
func (r *Result) UseBaseline(from Result) {
	r.BaselineFrom = from.Config
	r.BaselineSeconds, r.BaselineRowsPerS, r.BaselineInsertRowsPerS = from.BaselineSeconds, from.BaselineRowsPerS, from.BaselineInsertRowsPerS
	r.BaselineWriters = from.BaselineWriters
	r.LagFloorP50S, r.LagFloorP99S = from.LagFloorP50S, from.LagFloorP99S
	r.deriveRatio()
}

// SetDrain records the drain: its duration, start-up part and the daemon's
// CPU seconds during it, and derives the rate, the ratio and CPU per 10k rows.
func (r *Result) SetDrain(d, startup time.Duration, cpuSeconds float64) {
	r.DrainSeconds = d.Seconds()
	r.DrainStartupSeconds = startup.Seconds()
	r.DrainRowsPerS = Rate(float64(r.Rows), d)
	r.DrainCPUS = cpuSeconds
	if r.Rows > 0 {
		r.CPUSPer10kRows = cpuSeconds / float64(r.Rows) * 10000
	}
	r.deriveRatio()
}

// SetTargetCalls records the target-call time of the drain over channels
// channels and derives the busy share.
func (r *Result) SetTargetCalls(seconds, calls float64, channels int) {
	r.TargetCallSeconds, r.TargetCalls = seconds, calls
	r.TargetBusy = 0
	if channels > 0 && r.DrainSeconds > 0 {
		r.TargetBusy = seconds / (float64(channels) * r.DrainSeconds)
	}
}

func (r *Result) deriveRatio() {
	r.DrainRatio = 0
	if r.BaselineSeconds > 0 && r.DrainSeconds > 0 {
		r.DrainRatio = r.BaselineSeconds / r.DrainSeconds
	}
}

// SetLag records the lag run.
func (r *Result) SetLag(s LagSummary) {
	r.LagMarkers, r.LagLost = s.Count, s.Lost
	r.LagP50S, r.LagP95S = s.P50.Seconds(), s.P95.Seconds()
	r.LagP99S, r.LagMaxS = s.P99.Seconds(), s.Max.Seconds()
}

// SetLagFloor records the probe run straight against the target: the part
// of the lag that the measurement itself (a strong query) costs.
func (r *Result) SetLagFloor(s LagSummary) {
	r.LagFloorP50S, r.LagFloorP99S = s.P50.Seconds(), s.P99.Seconds()
}

// Report is the whole content of latest.json.
type Report struct {
	Date    string `json:"date"`
	Commit  string `json:"commit"`
	Machine string `json:"machine"`
	// Daemon says which daemon was measured: "working tree" or the git
	// revision given with -daemon-rev, or the binary of -daemon-bin;
	// DaemonEnv the extra environment it got (-daemon-env).
	Daemon    string   `json:"daemon"`
	DaemonEnv []string `json:"daemon_env,omitempty"`
	// Included names an earlier report whose results were carried over
	// (-with): "date, commit"; those results keep their own started_at.
	Included   string      `json:"included,omitempty"`
	Results    []Result    `json:"results"`
	CostCurves []CostCurve `json:"cost_curve"`
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(path string) (Report, error) {
	var rep Report
	b, err := os.ReadFile(path)
	if err != nil {
		return rep, fmt.Errorf("read results: %w", err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("results %s: %w", path, err)
	}
	return rep, nil
}

// Carry returns the results of prev whose configuration is not in fresh,
// in their order, followed by fresh.
func Carry(prev, fresh []Result) []Result {
	again := map[string]bool{}
	for _, r := range fresh {
		again[r.Config] = true
	}
	var out []Result
	for _, r := range prev {
		if !again[r.Config] {
			out = append(out, r)
		}
	}
	return append(out, fresh...)
}

// WriteJSON writes the report, indented, creating the directory if needed.
// Non-finite numbers (a division by a zero duration) are written as 0, since
// JSON has no NaN. An absent cost curve is written as an empty list, so the
// key is always there.
func WriteJSON(path string, rep Report) error {
	rep.Results = append([]Result(nil), rep.Results...)
	for i := range rep.Results {
		sanitizeFloats(&rep.Results[i])
	}
	curves := make([]CostCurve, len(rep.CostCurves))
	for i, c := range rep.CostCurves {
		c.Points = append([]CostPoint(nil), c.Points...)
		for j := range c.Points {
			sanitizeFloats(&c.Points[j])
		}
		sanitizeFloats(&c)
		curves[i] = c
	}
	rep.CostCurves = curves
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// sanitizeFloats sets every NaN or infinite float64 field (and *float64
// target) of the struct p points to to 0.
func sanitizeFloats(p any) {
	v := reflect.ValueOf(p).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Float64:
			if math.IsNaN(f.Float()) || math.IsInf(f.Float(), 0) {
				f.SetFloat(0)
			}
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Float64 && !f.IsNil():
			if x := f.Elem().Float(); math.IsNaN(x) || math.IsInf(x, 0) {
				f.Set(reflect.ValueOf(new(float64)))
			}
		}
	}
}

var tableHeader = []string{"config", "drain ratio", "snapshot ratio", "drain s", "baseline s", "drain rows/s", "startup s", "target busy",
	"CPU s/10k rows", "source rows/s", "lag p50 s", "lag p99 s", "peak RSS MiB", "load avg"}

func tableRow(r Result) []string {
	if r.Error != "" {
		return dashRow(len(tableHeader), []string{r.Config}, "error: "+r.Error)
	}
	snapshot := "-"
	if r.SnapshotRatio != nil {
		snapshot = fmt.Sprintf("%.2f", *r.SnapshotRatio)
	}
	return []string{r.Config,
		fmt.Sprintf("%.2f", r.DrainRatio), snapshot, fmt.Sprintf("%.2f", r.DrainSeconds), fmt.Sprintf("%.2f", r.BaselineSeconds),
		fmt.Sprintf("%.0f", r.DrainRowsPerS), fmt.Sprintf("%.2f", r.DrainStartupSeconds), fmt.Sprintf("%.2f", r.TargetBusy),
		fmt.Sprintf("%.3f", r.CPUSPer10kRows), fmt.Sprintf("%.0f", r.SourceRowsPerS),
		fmt.Sprintf("%.3f", r.LagP50S), fmt.Sprintf("%.3f", r.LagP99S),
		fmt.Sprintf("%.0f", r.CDCPeakRSSMiB), r.LoadAvg}
}

// WriteTable prints the results as an aligned text table.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t")+"\t")
	for _, r := range results {
		fmt.Fprintln(tw, strings.Join(tableRow(r), "\t")+"\t")
	}
	return tw.Flush()
}

// WriteMarkdown prints the results as a Markdown table (docs/benchmarks.md).
func WriteMarkdown(w io.Writer, results []Result) error {
	rows := make([][]string, len(results))
	for i, r := range results {
		rows[i] = tableRow(r)
	}
	_, err := io.WriteString(w, markdownTable(tableHeader, rows))
	return err
}

// dashRow is the row of something that was not measured: the first cells,
// dashes, and last as the final cell.
func dashRow(n int, first []string, last string) []string {
	row := make([]string, n)
	for i := range row {
		row[i] = "-"
	}
	copy(row, first)
	row[n-1] = last
	return row
}

// markdownTable renders a header and rows, the first column left-aligned and
// the others right-aligned.
func markdownTable(header []string, rows [][]string) string {
	line := func(cells []string) string { return "| " + strings.Join(cells, " | ") + " |\n" }
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0] = "---"
	var b strings.Builder
	b.WriteString(line(header))
	b.WriteString(line(sep))
	for _, r := range rows {
		b.WriteString(line(r))
	}
	return b.String()
}

var detailHeader = []string{"config", "baseline rows/s", "baseline inserts rows/s", "idle wait s", "bed idle", "drain CPU s",
	"target calls", "target call s", "drain peak RSS MiB", "lag load → written rows/s", "lag p95 s", "lag max s", "lost",
	"lag floor p50/p99 s", "lag peak RSS MiB", "load avg end"}

func detailRow(r Result) []string {
	if r.Error != "" {
		return dashRow(len(detailHeader), []string{r.Config}, "-")
	}
	return []string{r.Config, fmt.Sprintf("%.0f", r.BaselineRowsPerS), fmt.Sprintf("%.0f", r.BaselineInsertRowsPerS),
		fmt.Sprintf("%.1f", r.IdleWaitSeconds), fmt.Sprint(r.BedIdle), fmt.Sprintf("%.2f", r.DrainCPUS),
		fmt.Sprintf("%.0f", r.TargetCalls), fmt.Sprintf("%.2f", r.TargetCallSeconds), fmt.Sprintf("%.0f", r.DrainPeakRSSMiB),
		fmt.Sprintf("%.0f → %.0f", r.LagLoadRowsPerS, r.LagLoadAchievedRowsPerS), fmt.Sprintf("%.3f", r.LagP95S),
		fmt.Sprintf("%.3f", r.LagMaxS), fmt.Sprint(r.LagLost),
		fmt.Sprintf("%.3f / %.3f", r.LagFloorP50S, r.LagFloorP99S), fmt.Sprintf("%.0f", r.LagPeakRSSMiB), r.LoadAvgEnd}
}

// WriteDetailMarkdown prints the figures behind the main table, one row per
// configuration (failed ones as dashes; their error is in the main table).
func WriteDetailMarkdown(w io.Writer, results []Result) error {
	rows := make([][]string, len(results))
	for i, r := range results {
		rows[i] = detailRow(r)
	}
	_, err := io.WriteString(w, markdownTable(detailHeader, rows))
	return err
}
