package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
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
// "pulsar/api/dim768/batch5000/rows20000".
func (c Config) Name() string {
	return fmt.Sprintf("%s/%s/dim%d/batch%d/rows%d", c.MQ, c.Mode, c.Dim, c.Batch, c.Rows)
}

// RowBytes is the payload size of one row: an int64 key and dim float32s.
func (c Config) RowBytes() int { return 8 + 4*c.Dim }

// Result is one configuration's measurements. Field names are the JSON keys of
// bench/results/latest.json; rates are rows (or MiB) per second, times in
// seconds. An Error records a configuration that could not be measured.
type Result struct {
	Config string `json:"config"`
	MQ     string `json:"mq"`
	Mode   string `json:"mode"`
	Dim    int    `json:"dim"`
	Batch  int    `json:"batch"`
	Rows   int    `json:"rows"`

	BaselineRowsPerS       float64 `json:"baseline_rows_per_s"`
	BaselineMiBPerS        float64 `json:"baseline_mib_per_s"`
	BaselineInsertRowsPerS float64 `json:"baseline_insert_rows_per_s"`
	// BaselineFrom names the configuration whose baseline this one uses: a
	// target in replicate mode refuses direct inserts, so replicate-mode
	// configurations take the api-mode baseline of the same MQ, dim and batch
	// measured earlier in the run.
	BaselineFrom string `json:"baseline_from,omitempty"`

	SourceInsertRowsPerS float64 `json:"source_insert_rows_per_s"`
	ReplicationRowsPerS  float64 `json:"replication_rows_per_s"`
	ReplicationMiBPerS   float64 `json:"replication_mib_per_s"`
	Ratio                float64 `json:"ratio"`
	CatchUpSeconds       float64 `json:"catch_up_seconds"`

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

	LagFloorP50S float64 `json:"lag_floor_p50_s"`
	LagFloorP99S float64 `json:"lag_floor_p99_s"`

	SourceRatio float64 `json:"replication_vs_source_ratio"`

	CDCCPUSeconds     float64 `json:"cdc_cpu_s"`
	CDCCPUSPer10kRows float64 `json:"cdc_cpu_s_per_10k_rows"`
	CDCPeakRSSMiB     float64 `json:"cdc_peak_rss_mib"`
	// TargetCallSeconds and TargetCalls: time the daemon spent waiting in
	// calls to the target, and their number, during the replication run
	// (from its apply_duration_seconds histogram). TargetBusy divides the
	// seconds by shards x run time: near 1 means every channel was waiting
	// on the target all the time.
	TargetCallSeconds float64 `json:"target_call_s"`
	TargetCalls       float64 `json:"target_calls"`
	TargetBusy        float64 `json:"target_busy"`
	StartedAt         string  `json:"started_at"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute load when the
	// configuration started: the machine is shared, this says how busy it was.
	LoadAvg string `json:"load_avg"`
	Error   string `json:"error,omitempty"`
}

// NewResult starts the record of cfg.
func NewResult(cfg Config, started time.Time) Result {
	return Result{Config: cfg.Name(), MQ: cfg.MQ, Mode: cfg.Mode, Dim: cfg.Dim, Batch: cfg.Batch,
		Rows: cfg.Rows, StartedAt: started.UTC().Format(time.RFC3339)}
}

// SetReplication records the replication run and derives the ratio to the
// baseline and the CPU cost per 10k rows. cpuSeconds covers the replication
// run only (the lag run is reported by its percentiles).
func (r *Result) SetReplication(rowsPerS, rowBytes, catchUp, cpuSeconds float64) {
	r.ReplicationRowsPerS = rowsPerS
	r.ReplicationMiBPerS = rowsPerS * rowBytes / (1 << 20)
	if r.BaselineRowsPerS > 0 {
		r.Ratio = rowsPerS / r.BaselineRowsPerS
	}
	if r.SourceInsertRowsPerS > 0 {
		r.SourceRatio = rowsPerS / r.SourceInsertRowsPerS
	}
	r.CatchUpSeconds = catchUp
	r.CDCCPUSeconds = cpuSeconds
	if r.Rows > 0 {
		r.CDCCPUSPer10kRows = cpuSeconds / float64(r.Rows) * 10000
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
	// Included names an earlier report whose results were carried over
	// (-with): "date, commit"; those results keep their own started_at.
	Included string   `json:"included,omitempty"`
	Results  []Result `json:"results"`
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
// JSON has no NaN.
func WriteJSON(path string, rep Report) error {
	for i := range rep.Results {
		sanitize(&rep.Results[i])
	}
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

func sanitize(r *Result) {
	for _, f := range []*float64{&r.BaselineRowsPerS, &r.BaselineMiBPerS, &r.BaselineInsertRowsPerS,
		&r.SourceInsertRowsPerS, &r.ReplicationRowsPerS, &r.ReplicationMiBPerS, &r.Ratio, &r.CatchUpSeconds,
		&r.LagLoadRowsPerS, &r.LagLoadAchievedRowsPerS, &r.LagSeconds, &r.LagP50S, &r.LagP95S, &r.LagP99S, &r.LagMaxS, &r.LagFloorP50S, &r.LagFloorP99S, &r.SourceRatio,
		&r.CDCCPUSeconds, &r.CDCCPUSPer10kRows, &r.CDCPeakRSSMiB, &r.TargetCallSeconds, &r.TargetCalls, &r.TargetBusy} {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			*f = 0
		}
	}
}

var tableHeader = []string{"config", "baseline rows/s", "baseline MiB/s", "source rows/s", "replication rows/s", "ratio",
	"catch-up s", "lag p50 s", "lag p95 s", "lag p99 s", "lag max s", "CPU s/10k rows", "peak RSS MiB"}

func tableRow(r Result) []string {
	if r.Error != "" {
		row := make([]string, len(tableHeader))
		row[0] = r.Config
		for i := 1; i < len(row); i++ {
			row[i] = "-"
		}
		row[len(row)-1] = "error: " + r.Error
		return row
	}
	return []string{r.Config,
		fmt.Sprintf("%.0f", r.BaselineRowsPerS), fmt.Sprintf("%.1f", r.BaselineMiBPerS),
		fmt.Sprintf("%.0f", r.SourceInsertRowsPerS), fmt.Sprintf("%.0f", r.ReplicationRowsPerS), fmt.Sprintf("%.2f", r.Ratio),
		fmt.Sprintf("%.2f", r.CatchUpSeconds),
		fmt.Sprintf("%.3f", r.LagP50S), fmt.Sprintf("%.3f", r.LagP95S),
		fmt.Sprintf("%.3f", r.LagP99S), fmt.Sprintf("%.3f", r.LagMaxS),
		fmt.Sprintf("%.2f", r.CDCCPUSPer10kRows), fmt.Sprintf("%.0f", r.CDCPeakRSSMiB)}
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
	line := func(cells []string) string { return "| " + strings.Join(cells, " | ") + " |\n" }
	sep := make([]string, len(tableHeader))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0] = "---"
	out := line(tableHeader) + line(sep)
	for _, r := range results {
		out += line(tableRow(r))
	}
	_, err := io.WriteString(w, out)
	return err
}
