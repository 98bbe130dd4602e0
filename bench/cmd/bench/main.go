// Command bench measures what milvus-cdc itself controls, against the
// target's own limit measured in the same run: for each configuration the
// drain of a backlog written while the task was paused (against the same rows
// inserted straight into the target), the daemon's CPU and peak memory, and
// the end-to-end lag at half the rate the source sustains alone; then the
// cost curve (memory and CPU for more tasks and collections). See
// docs/benchmarks.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/milvus-cdc/milvus-cdc/bench"
)

type options struct {
	quick       bool
	mqs         string
	modes       string
	dims        string
	batches     string
	rows        int
	shards      int
	lagFor      time.Duration
	lagFrac     float64
	timeout     time.Duration
	bedMode     string
	out         string
	md          string
	daemonBin   string
	daemonRev   string
	daemonEnv   string
	floorFor    time.Duration
	profile     bool
	with        string
	skipDrain   bool
	render      string
	baseWriters int

	idleCores   float64
	idleWindow  time.Duration
	idleTimeout time.Duration

	costMQs     string
	costTasks   string
	costColls   string
	costLoad    float64
	costDim     int
	costBatch   int
	costIdle    time.Duration
	costLoadFor time.Duration
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "the quick set: pulsar, api mode, dim 768, batch 5000, 20 s of lag, no cost curve (explicit flags still win)")
	flag.StringVar(&o.mqs, "mq", "pulsar,kafka", "source MQs, comma-separated (pulsar,kafka); the bed is brought up once per MQ and writer mode")
	flag.StringVar(&o.modes, "modes", "api,replicate", "writer modes, comma-separated (api,replicate); replicate runs on a bed whose target has common.ttMsgEnabled=false and takes its baseline from the api configuration of the same MQ, dim and batch")
	flag.StringVar(&o.dims, "dims", "128,768", "float vector dimensions, comma-separated")
	flag.StringVar(&o.batches, "batches", "100,5000", "rows per insert call, comma-separated")
	flag.IntVar(&o.rows, "rows", 100000, "rows of each baseline and drain")
	flag.IntVar(&o.shards, "shards", 2, "shards of the benchmark collections")
	flag.DurationVar(&o.lagFor, "lag-duration", 30*time.Second, "how long the source is written during the lag run")
	flag.Float64Var(&o.lagFrac, "lag-fraction", 0.5, "load of the lag run as a fraction of the rate the source sustained alone (measured in the same configuration)")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "longest wait for one run's rows to become visible")
	flag.StringVar(&o.bedMode, "bed", "up", "up: bring the bed up (testbed.sh up --mq X --target-mode M) and down around each group; running: use the bed already up (its MQ and mode only)")
	flag.StringVar(&o.out, "out", "bench/results/latest.json", "results JSON")
	flag.StringVar(&o.md, "md", "bench/results/latest.md", "results as Markdown tables (for docs/benchmarks.md)")
	flag.StringVar(&o.daemonBin, "daemon-bin", "", "daemon binary (default: build ./cmd/milvus-cdc)")
	flag.StringVar(&o.daemonRev, "daemon-rev", "", "build the daemon from this git revision instead of the working tree (e.g. to measure before and after a change)")
	flag.StringVar(&o.daemonEnv, "daemon-env", "", "extra KEY=VALUE environment of the daemon, comma-separated (e.g. GOMEMLIMIT=192MiB)")
	flag.DurationVar(&o.floorFor, "lag-floor-duration", 5*time.Second, "how long the probe runs straight against the target, without load, to measure the floor of the lag measurement (0: skip)")
	flag.BoolVar(&o.profile, "profile", false, "run the daemon with debug.pprof on and save CPU profiles (drain and lag) and heap profiles (after each) in the work directory")
	flag.StringVar(&o.with, "with", "", "results JSON of an earlier run: its results are carried into this run's output (those measured again are replaced) and its api-mode baselines serve replicate-mode configurations")
	flag.BoolVar(&o.skipDrain, "skip-drain", false, "run only the cost curve")
	flag.IntVar(&o.baseWriters, "baseline-writers", 1, "clients inserting the baseline at once, each its own share of the keys (1: one client, calls back to back, like the source's writer)")
	flag.StringVar(&o.render, "render", "", "measure nothing: read this results JSON and write its Markdown tables to -md")
	flag.Float64Var(&o.idleCores, "idle-cpu", 0.10, "the bed is idle when each of its processes uses at most this many cores over -idle-window, twice in a row")
	flag.DurationVar(&o.idleWindow, "idle-window", 2*time.Second, "window of the idle check")
	flag.DurationVar(&o.idleTimeout, "idle-timeout", 2*time.Minute, "longest wait for the bed to go idle before a timed step (0: do not wait)")
	flag.StringVar(&o.costMQs, "cost-curve", "pulsar,kafka", "MQs whose api-mode bed also measures the cost curve, comma-separated (empty: none)")
	flag.StringVar(&o.costTasks, "cost-tasks", "1,4,16", "task counts of the cost curve (one collection each)")
	flag.StringVar(&o.costColls, "cost-collections", "1,16,64", "collection counts of the cost curve (under one task)")
	flag.Float64Var(&o.costLoad, "cost-load", 1000, "rows/s written during the cost curve's load window, over all its collections")
	flag.IntVar(&o.costDim, "cost-dim", 128, "vector dimension of the cost curve's collections")
	flag.IntVar(&o.costBatch, "cost-batch", 100, "rows per insert call of the cost curve's load")
	flag.DurationVar(&o.costIdle, "cost-idle", 20*time.Second, "idle window of each cost-curve point")
	flag.DurationVar(&o.costLoadFor, "cost-load-duration", 20*time.Second, "load window of each cost-curve point")
	flag.Parse()
	if o.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"mq": func() { o.mqs = "pulsar" }, "modes": func() { o.modes = "api" }, "dims": func() { o.dims = "768" }, "batches": func() { o.batches = "5000" },
			"lag-duration": func() { o.lagFor = 20 * time.Second }, "cost-curve": func() { o.costMQs = "" },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, o); err != nil {
		logf("FAILED: %v", err)
		os.Exit(1)
	}
}

// plan is what one run measures, parsed from the flags.
type plan struct {
	cfgs       []bench.Config
	costMQs    map[string]bool
	costTasks  []int
	costColls  []int
	daemonEnv  []string
	daemonName string
	// save writes what the run measured so far (the report as it stands plus
	// the group in progress), so an interrupted or crashed run keeps it.
	save func(groupResult)
}

func parsePlan(o options) (plan, error) {
	var p plan
	dims, err := bench.ParsePositiveInts("dims", o.dims)
	if err != nil {
		return p, err
	}
	batches, err := bench.ParsePositiveInts("batches", o.batches)
	if err != nil {
		return p, err
	}
	if p.cfgs, err = bench.Expand(bench.ParseList(o.mqs), bench.ParseList(o.modes), dims, batches, o.rows); err != nil {
		return p, err
	}
	if o.bedMode != "up" && o.bedMode != "running" {
		return p, fmt.Errorf("%w: -bed %q: want up or running", bench.ErrBadFlag, o.bedMode)
	}
	if p.costTasks, err = bench.ParsePositiveInts("cost-tasks", o.costTasks); err != nil {
		return p, err
	}
	if p.costColls, err = bench.ParsePositiveInts("cost-collections", o.costColls); err != nil {
		return p, err
	}
	if o.costLoad <= 0 || o.costDim <= 0 || o.costBatch <= 0 {
		return p, fmt.Errorf("%w: -cost-load, -cost-dim and -cost-batch must be positive", bench.ErrBadFlag)
	}
	p.costMQs = map[string]bool{}
	for _, mq := range bench.ParseList(o.costMQs) {
		if mq != "pulsar" && mq != "kafka" {
			return p, fmt.Errorf("%w: -cost-curve %q: want pulsar and/or kafka", bench.ErrBadFlag, mq)
		}
		p.costMQs[mq] = true
	}
	if o.skipDrain && len(p.costMQs) == 0 {
		return p, fmt.Errorf("%w: -skip-drain without -cost-curve measures nothing", bench.ErrBadFlag)
	}
	if o.daemonBin != "" && o.daemonRev != "" {
		return p, fmt.Errorf("%w: give -daemon-bin or -daemon-rev, not both", bench.ErrBadFlag)
	}
	p.daemonEnv = bench.ParseList(o.daemonEnv)
	switch {
	case o.daemonBin != "":
		p.daemonName = "binary " + o.daemonBin
	case o.daemonRev != "":
		p.daemonName = "revision " + o.daemonRev
	default:
		p.daemonName = "working tree"
	}
	return p, nil
}

func run(ctx context.Context, o options) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if o.render != "" {
		rep, err := bench.ReadReport(underRoot(root, o.render))
		if err != nil {
			return err
		}
		return writeMarkdown(underRoot(root, o.md), rep)
	}
	p, err := parsePlan(o)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "milvus-cdc-bench")
	if err != nil {
		return err
	}
	logf("work directory (daemon logs): %s", work)
	bin := o.daemonBin
	if bin == "" {
		if bin, err = buildDaemon(root, o.daemonRev, work); err != nil {
			return err
		}
	}
	if o.daemonRev != "" {
		p.daemonName += " (" + gitCommitOf(root, o.daemonRev) + ")"
	}
	rep := bench.Report{Date: time.Now().UTC().Format(time.RFC3339), Commit: gitCommit(root), Machine: machine(),
		Daemon: p.daemonName, DaemonEnv: p.daemonEnv}
	var failed bool
	baselines := map[string]bench.Result{} // api-mode results, for replicate mode
	var carried []bench.Result
	if o.with != "" {
		prev, err := bench.ReadReport(underRoot(root, o.with))
		if err != nil {
			return err
		}
		for _, r := range prev.Results {
			if r.Error == "" && r.Mode == bench.ModeAPI {
				baselines[baselineKey(bench.Config{MQ: r.MQ, Dim: r.Dim, Batch: r.Batch, Rows: r.Rows})] = r
			}
		}
		carried = prev.Results
		rep.Included = prev.Date + ", commit " + prev.Commit
		logf("carrying %d results of %s (%s)", len(carried), o.with, rep.Included)
	}
	out := underRoot(root, o.out)
	p.save = func(g groupResult) {
		snap := rep
		snap.Results = bench.Carry(carried, append(append([]bench.Result(nil), rep.Results...), g.results...))
		if g.cost != nil {
			snap.CostCurves = append(append([]bench.CostCurve(nil), rep.CostCurves...), *g.cost)
		}
		if err := bench.WriteJSON(out, snap); err != nil {
			logf("saving the results so far: %v", err)
		}
	}
	started := time.Now()
	for _, group := range groupByBed(p.cfgs) {
		g := runGroup(ctx, o, p, root, bin, work, group, baselines)
		for _, r := range g.results {
			failed = failed || r.Error != ""
		}
		rep.Results = append(rep.Results, g.results...)
		if g.cost != nil {
			for _, pt := range g.cost.Points {
				failed = failed || pt.Error != ""
			}
			rep.CostCurves = append(rep.CostCurves, *g.cost)
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.Results = bench.Carry(carried, rep.Results)
	logf("measurements took %.1f min", time.Since(started).Minutes())
	fmt.Println()
	fmt.Printf("milvus-cdc benchmark, %s, commit %s, daemon %s, %s\n", rep.Date, rep.Commit, rep.Daemon, rep.Machine)
	if err := bench.WriteTable(os.Stdout, rep.Results); err != nil {
		return err
	}
	if err := bench.WriteJSON(underRoot(root, o.out), rep); err != nil {
		return err
	}
	if err := writeMarkdown(underRoot(root, o.md), rep); err != nil {
		return err
	}
	logf("wrote %s and %s", o.out, o.md)
	if failed {
		return errors.New("at least one configuration failed (see the error column)")
	}
	return ctx.Err()
}

func writeMarkdown(path string, rep bench.Report) error {
	mdf, err := os.Create(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(mdf, "Run %s, commit %s, daemon %s, %s.\n\n", rep.Date, rep.Commit, rep.Daemon, rep.Machine)
	if len(rep.DaemonEnv) > 0 {
		fmt.Fprintf(mdf, "Daemon environment: `%s`.\n\n", strings.Join(rep.DaemonEnv, " "))
	}
	if rep.Included != "" {
		fmt.Fprintf(mdf, "Includes results of the run of %s (see started_at in the JSON).\n\n", rep.Included)
	}
	if len(rep.Results) > 0 {
		err = bench.WriteMarkdown(mdf, rep.Results)
		if err == nil {
			fmt.Fprint(mdf, "\nDetails:\n\n")
			err = bench.WriteDetailMarkdown(mdf, rep.Results)
		}
	}
	if err == nil && len(rep.CostCurves) > 0 {
		fmt.Fprint(mdf, "\nCost curve:\n\n")
		err = bench.WriteCostMarkdown(mdf, rep.CostCurves)
	}
	if cerr := mdf.Close(); err == nil {
		err = cerr
	}
	return err
}

// underRoot resolves a relative output path against the repository root
// (make runs the program from there; go run from elsewhere should agree).
func underRoot(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// groupByBed splits the configurations into runs of one bed each: same MQ
// and same writer mode (the target's mode is fixed when it starts).
func groupByBed(cfgs []bench.Config) [][]bench.Config {
	var out [][]bench.Config
	for _, c := range cfgs {
		if n := len(out); n > 0 && out[n-1][0].MQ == c.MQ && out[n-1][0].Mode == c.Mode {
			out[n-1] = append(out[n-1], c)
			continue
		}
		out = append(out, []bench.Config{c})
	}
	return out
}

// groupResult is what one bed measured.
type groupResult struct {
	results []bench.Result
	cost    *bench.CostCurve
}

// runGroup runs every configuration of one MQ and writer mode on one bed,
// which it brings up and always takes down (with -bed up), then the cost
// curve when this is the api-mode bed of an MQ of -cost-curve.
func runGroup(ctx context.Context, o options, p plan, root, bin, work string, cfgs []bench.Config, baselines map[string]bench.Result) groupResult {
	var g groupResult
	mq, mode := cfgs[0].MQ, cfgs[0].Mode
	withCost := p.costMQs[mq] && mode == bench.ModeAPI
	fail := func(err error) groupResult {
		if !o.skipDrain {
			for _, c := range cfgs {
				r := bench.NewResult(c, time.Now())
				r.Error = err.Error()
				g.results = append(g.results, r)
			}
		}
		if withCost {
			g.cost = &bench.CostCurve{MQ: mq, Mode: mode, Points: []bench.CostPoint{{Kind: bench.CostTasks, Error: err.Error()}}}
		}
		return g
	}
	if o.skipDrain && !withCost {
		return g
	}
	if o.bedMode == "up" {
		// A failed up cleans up after itself; a down then could stop a bed
		// that someone else started with the same state directory.
		if err := runTestbed(ctx, root, "up", "--mq", mq, "--target-mode", mode); err != nil {
			return fail(err)
		}
		defer func() { _ = runTestbed(context.Background(), root, "down") }()
	}
	b, err := loadBed(bedEnvPath(root))
	if err != nil {
		return fail(err)
	}
	if b.MQ != mq || b.TargetMode != mode {
		return fail(fmt.Errorf("the running bed is %s with a target in %s mode, not %s/%s", b.MQ, b.TargetMode, mq, mode))
	}
	idle := idleCheck{maxCores: o.idleCores, window: o.idleWindow, timeout: o.idleTimeout}
	if idle.procs, err = bedProcs(b.State); err != nil {
		logf("idle check off: %v", err)
	}
	if !o.skipDrain {
		for _, c := range cfgs {
			if ctx.Err() != nil {
				break
			}
			r := runConfig(ctx, o, p, b, bin, work, c, baselines, idle)
			if r.Error != "" {
				logf("%s: %s", c.Name(), r.Error)
			} else if c.Mode == bench.ModeAPI {
				baselines[baselineKey(c)] = r
			}
			g.results = append(g.results, r)
			p.save(g)
		}
	}
	if withCost && ctx.Err() == nil {
		curve := runCostCurve(ctx, o, p, b, bin, work, idle, func(c bench.CostCurve) { g.cost = &c; p.save(g) })
		g.cost = &curve
	}
	return g
}

// baselineKey identifies the data of a configuration regardless of mode.
func baselineKey(c bench.Config) string {
	return fmt.Sprintf("%s/dim%d/batch%d/rows%d", c.MQ, c.Dim, c.Batch, c.Rows)
}

// gitCommit is HEAD's short hash, with "-dirty" when tracked files outside
// the results and docs differ from it (the daemon built is not HEAD's then).
func gitCommit(root string) string {
	c := gitCommitOf(root, "HEAD")
	out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results", ":!docs").Output()
	if err == nil && len(strings.TrimSpace(string(out))) > 0 {
		c += "-dirty"
	}
	return c
}

// gitCommitOf is the short commit hash of rev, "unknown" when git cannot say.
func gitCommitOf(root, rev string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", rev).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// machine describes the host: CPUs and total memory.
func machine() string {
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kib, err := bench.ParseStatusKiB(string(b), "MemTotal"); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
		}
	}
	return fmt.Sprintf("%d CPUs, %s, %s/%s", runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}
