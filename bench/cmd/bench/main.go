// Command bench measures milvus-cdc against the physical limit of the test
// bed (issue 7): for each configuration the direct-insert baseline into the
// target Milvus, the replication rate, catch-up time and daemon cost, and the
// end-to-end lag at half the baseline rate. See docs/benchmarks.md.
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

	"github.com/milvus-io/milvus-sdk-go/v2/client"

	"github.com/milvus-cdc/milvus-cdc/bench"
)

type options struct {
	quick     bool
	mqs       string
	modes     string
	dims      string
	batches   string
	rows      int
	shards    int
	lagFor    time.Duration
	lagFrac   float64
	timeout   time.Duration
	bedMode   string
	out       string
	md        string
	daemonBin string
	daemonEnv string
	floorFor  time.Duration
	profile   bool
	with      string
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "the quick set: pulsar, api mode, dim 768, batch 5000, 20000 rows, 20 s of lag (explicit flags still win)")
	flag.StringVar(&o.mqs, "mq", "pulsar,kafka", "source MQs, comma-separated (pulsar,kafka); the bed is brought up once per MQ")
	flag.StringVar(&o.modes, "modes", "api,replicate", "writer modes, comma-separated (api,replicate); replicate runs on a bed whose target has common.ttMsgEnabled=false and takes its baseline from the api configuration of the same MQ, dim and batch")
	flag.StringVar(&o.dims, "dims", "128,768", "float vector dimensions, comma-separated")
	flag.StringVar(&o.batches, "batches", "100,5000", "rows per insert call, comma-separated")
	flag.IntVar(&o.rows, "rows", 100000, "rows per baseline and replication run")
	flag.IntVar(&o.shards, "shards", 2, "shards of the benchmark collections")
	flag.DurationVar(&o.lagFor, "lag-duration", 30*time.Second, "how long the source is written during the lag run")
	flag.Float64Var(&o.lagFrac, "lag-fraction", 0.5, "load of the lag run as a fraction of the baseline rate")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "longest wait for one run's rows to become visible")
	flag.StringVar(&o.bedMode, "bed", "up", "up: bring the bed up (testbed.sh up --mq X) and down around each MQ; running: use the bed already up (its MQ only)")
	flag.StringVar(&o.out, "out", "bench/results/latest.json", "results JSON")
	flag.StringVar(&o.md, "md", "bench/results/latest.md", "results as a Markdown table (for docs/benchmarks.md)")
	flag.StringVar(&o.daemonBin, "daemon-bin", "", "daemon binary (default: build ./cmd/milvus-cdc)")
	flag.StringVar(&o.daemonEnv, "daemon-env", "", "extra KEY=VALUE environment of the daemon, comma-separated (e.g. GODEBUG=gctrace=1)")
	flag.DurationVar(&o.floorFor, "lag-floor-duration", 5*time.Second, "how long the probe runs straight against the target, without load, to measure the floor of the lag measurement (0: skip)")
	flag.BoolVar(&o.profile, "profile", false, "run the daemon with debug.pprof on and save CPU profiles (replication and lag runs) and heap profiles (after each) in the work directory")
	flag.StringVar(&o.with, "with", "", "results JSON of an earlier run: its results are carried into this run's output (those measured again are replaced) and its api-mode baselines serve replicate-mode configurations")
	flag.Parse()
	if o.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"mq": func() { o.mqs = "pulsar" }, "modes": func() { o.modes = "api" }, "dims": func() { o.dims = "768" }, "batches": func() { o.batches = "5000" },
			"rows": func() { o.rows = 20000 }, "lag-duration": func() { o.lagFor = 20 * time.Second },
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

func run(ctx context.Context, o options) error {
	dims, err := bench.ParsePositiveInts("dims", o.dims)
	if err != nil {
		return err
	}
	batches, err := bench.ParsePositiveInts("batches", o.batches)
	if err != nil {
		return err
	}
	cfgs, err := bench.Expand(bench.ParseList(o.mqs), bench.ParseList(o.modes), dims, batches, o.rows)
	if err != nil {
		return err
	}
	if o.bedMode != "up" && o.bedMode != "running" {
		return fmt.Errorf("%w: -bed %q: want up or running", bench.ErrBadFlag, o.bedMode)
	}
	root, err := repoRoot()
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
		if bin, err = buildDaemon(root, work); err != nil {
			return err
		}
	}
	rep := bench.Report{Date: time.Now().UTC().Format(time.RFC3339), Commit: gitCommit(root), Machine: machine()}
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
	for _, group := range groupByBed(cfgs) {
		results := runGroup(ctx, o, root, bin, work, group, baselines)
		for _, r := range results {
			failed = failed || r.Error != ""
		}
		rep.Results = append(rep.Results, results...)
		if ctx.Err() != nil {
			break
		}
	}
	rep.Results = bench.Carry(carried, rep.Results)
	fmt.Println()
	fmt.Printf("milvus-cdc benchmark, %s, commit %s, %s\n", rep.Date, rep.Commit, rep.Machine)
	if err := bench.WriteTable(os.Stdout, rep.Results); err != nil {
		return err
	}
	if err := bench.WriteJSON(underRoot(root, o.out), rep); err != nil {
		return err
	}
	mdf, err := os.Create(underRoot(root, o.md))
	if err != nil {
		return err
	}
	fmt.Fprintf(mdf, "Run %s, commit %s, %s.\n\n", rep.Date, rep.Commit, rep.Machine)
	if rep.Included != "" {
		fmt.Fprintf(mdf, "Includes results of the run of %s (see started_at in the JSON).\n\n", rep.Included)
	}
	if err := bench.WriteMarkdown(mdf, rep.Results); err != nil {
		mdf.Close()
		return err
	}
	if err := mdf.Close(); err != nil {
		return err
	}
	logf("wrote %s and %s", o.out, o.md)
	if failed {
		return errors.New("at least one configuration failed (see the error column)")
	}
	return ctx.Err()
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

// runGroup runs every configuration of one MQ on one bed, which it brings up
// and always takes down (with -bed up).
func runGroup(ctx context.Context, o options, root, bin, work string, cfgs []bench.Config, baselines map[string]bench.Result) []bench.Result {
	fail := func(err error) []bench.Result {
		out := make([]bench.Result, len(cfgs))
		for i, c := range cfgs {
			out[i] = bench.NewResult(c, time.Now())
			out[i].Error = err.Error()
		}
		return out
	}
	mq, mode := cfgs[0].MQ, cfgs[0].Mode
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
	var out []bench.Result
	for _, c := range cfgs {
		if ctx.Err() != nil {
			break
		}
		r := runConfig(ctx, o, b, bin, work, c, baselines)
		if r.Error != "" {
			logf("%s: %s", c.Name(), r.Error)
		} else if c.Mode == bench.ModeAPI {
			baselines[baselineKey(c)] = r
		}
		out = append(out, r)
	}
	return out
}

// runConfig measures one configuration: baseline, replication and lag, back
// to back, each on fresh collections, with a fresh daemon.
// baselineKey identifies the data of a configuration regardless of mode.
func baselineKey(c bench.Config) string {
	return fmt.Sprintf("%s/dim%d/batch%d/rows%d", c.MQ, c.Dim, c.Batch, c.Rows)
}

func runConfig(ctx context.Context, o options, b *bed, bin, work string, cfg bench.Config, baselines map[string]bench.Result) (res bench.Result) {
	res = bench.NewResult(cfg, time.Now())
	fail := func(err error) bench.Result { res.Error = err.Error(); return res }
	res.LoadAvg = loadAvg()
	logf("=== %s (load average %s)", cfg.Name(), res.LoadAvg)
	clients := map[string]client.Client{}
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	for _, k := range []string{"target", "targetWatch", "probeTarget", "source", "probe"} {
		addr := b.TargetURI
		if k == "source" || k == "probe" {
			addr = b.SourceURI
		}
		c, err := connect(ctx, addr)
		if err != nil {
			return fail(err)
		}
		clients[k] = c
	}
	tgt, watch, src := clients["target"], clients["targetWatch"], clients["source"]
	pool := vectorPool(cfg.Batch, cfg.Dim)
	suffix := fmt.Sprintf("d%d_b%d_%d", cfg.Dim, cfg.Batch, time.Now().UnixNano()%1_000_000_000)
	rowBytes := float64(cfg.RowBytes())

	// 1. Baseline: the same data straight into the target. A target in
	// replicate mode refuses direct inserts: use the api run's baseline.
	if cfg.Mode == bench.ModeReplicate {
		api, ok := baselines[baselineKey(cfg)]
		if !ok {
			return fail(fmt.Errorf("replicate mode needs the baseline of %s in the same run (a replicate-mode target refuses direct inserts); add -modes api,replicate", baselineKey(cfg)))
		}
		res.BaselineFrom = api.Config
		res.BaselineRowsPerS, res.BaselineMiBPerS, res.BaselineInsertRowsPerS = api.BaselineRowsPerS, api.BaselineMiBPerS, api.BaselineInsertRowsPerS
		res.LagFloorP50S, res.LagFloorP99S = api.LagFloorP50S, api.LagFloorP99S
		logf("baseline of %s (measured earlier in this run): %.0f rows/s", api.Config, res.BaselineRowsPerS)
	} else if err := measureBaseline(ctx, o, cfg, pool, clients, suffix, &res); err != nil {
		return fail(err)
	}

	// 2. Replication: a fresh daemon and a task for one fresh collection.
	dir := filepath.Join(work, strings.ReplaceAll(cfg.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	env := bench.ParseList(o.daemonEnv)
	if o.profile {
		env = append(env, "MILVUS_CDC_DEBUG_PPROF=true")
	}
	d, err := startDaemon(bin, b.CDCConfig, dir, env)
	if err != nil {
		return fail(err)
	}
	defer d.stop()
	coll := "bench_repl_" + suffix
	defer dropCollection(tgt, coll)
	defer dropCollection(src, coll)
	taskID, err := d.createTask(ctx, b.TargetURI, coll, cfg.Mode)
	if err != nil {
		return fail(err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = d.cdc(dctx, "delete", map[string]any{"task_id": taskID, "ignore_not_found": true})
	}()
	if err := createLoadedCollection(ctx, src, coll, cfg.Dim, o.shards); err != nil {
		return fail(err)
	}
	if err := waitLoaded(ctx, tgt, coll, 2*time.Minute); err != nil {
		return fail(fmt.Errorf("replicated collection: %w (daemon log %s)", err, d.logPath))
	}
	cpu0, err := d.cpuSeconds()
	if err != nil {
		return fail(err)
	}
	callS0, calls0, err := d.targetCalls(ctx)
	if err != nil {
		return fail(err)
	}
	var prof *profiler
	if o.profile {
		prof = startCPU(d.addr, dir)
		defer prof.stop()
		logf("profiles of this configuration: %s", dir)
	}
	repl, err := insertAndWatch(ctx, cfg, pool, src, coll, watch, coll, o.timeout)
	prof.snapshot("heap", "heap-after-replication.pb.gz")
	if err != nil {
		return fail(fmt.Errorf("replication: %w (daemon log %s)", err, d.logPath))
	}
	cpu1, err := d.cpuSeconds()
	if err != nil {
		return fail(err)
	}
	callS1, calls1, err := d.targetCalls(ctx)
	if err != nil {
		return fail(err)
	}
	res.TargetCallSeconds, res.TargetCalls = callS1-callS0, calls1-calls0
	if wall := repl.AllVisible.Sub(repl.Start).Seconds(); wall > 0 {
		res.TargetBusy = res.TargetCallSeconds / (float64(o.shards) * wall)
	}
	res.SourceInsertRowsPerS = bench.Rate(float64(cfg.Rows), repl.LastInsert.Sub(repl.Start))
	res.SetReplication(bench.Rate(float64(cfg.Rows), repl.AllVisible.Sub(repl.Start)), rowBytes,
		repl.AllVisible.Sub(repl.LastInsert).Seconds(), cpu1-cpu0)
	logf("replication: %.0f rows/s visible on the target (ratio %.2f), source accepted %.0f rows/s, catch-up %.2f s, CPU %.2f s, %.0f target calls taking %.2f s (busy %.2f)",
		res.ReplicationRowsPerS, res.Ratio, res.SourceInsertRowsPerS, res.CatchUpSeconds, res.CDCCPUSeconds, res.TargetCalls, res.TargetCallSeconds, res.TargetBusy)

	// 3. Lag at a fraction of the baseline rate.
	res.LagLoadRowsPerS = o.lagFrac * res.BaselineRowsPerS
	res.LagSeconds = o.lagFor.Seconds()
	lags, lost, loadRows, err := lagRun(ctx, cfg, pool, src, clients["probe"], watch, coll, res.LagLoadRowsPerS, o.lagFor, time.Minute)
	if err != nil {
		return fail(fmt.Errorf("lag: %w (daemon log %s)", err, d.logPath))
	}
	prof.stop()
	prof.snapshot("heap", "heap-after-lag.pb.gz")
	prof.snapshot("allocs", "allocs.pb.gz")
	res.LagLoadAchievedRowsPerS = bench.Rate(float64(loadRows), o.lagFor)
	res.SetLag(bench.SummarizeLags(lags, lost))
	logf("lag at %.0f rows/s (written: %.0f rows/s): %d markers, %d lost, p50 %.3f s, p95 %.3f s, p99 %.3f s, max %.3f s",
		res.LagLoadRowsPerS, res.LagLoadAchievedRowsPerS, res.LagMarkers, res.LagLost, res.LagP50S, res.LagP95S, res.LagP99S, res.LagMaxS)
	if res.CDCPeakRSSMiB, err = d.peakRSSMiB(); err != nil {
		return fail(err)
	}
	logf("daemon peak RSS %.0f MiB", res.CDCPeakRSSMiB)
	return res
}

// measureBaseline inserts the rows straight into the target (the physical
// limit of replication) and runs the lag probe against it without load (the
// floor of the lag measurement).
func measureBaseline(ctx context.Context, o options, cfg bench.Config, pool [][]float32, clients map[string]client.Client, suffix string, res *bench.Result) error {
	tgt, watch := clients["target"], clients["targetWatch"]
	rowBytes := float64(cfg.RowBytes())
	baseColl := "bench_base_" + suffix
	if err := createLoadedCollection(ctx, tgt, baseColl, cfg.Dim, o.shards); err != nil {
		return err
	}
	base, err := insertAndWatch(ctx, cfg, pool, tgt, baseColl, watch, baseColl, o.timeout)
	if err != nil {
		dropCollection(tgt, baseColl)
		return fmt.Errorf("baseline: %w", err)
	}
	// The lag floor: markers written straight into the target and found by
	// the same strong query; what the replication lag adds is above it.
	if o.floorFor > 0 {
		lags, lost, _, err := lagRun(ctx, cfg, pool, nil, clients["probeTarget"], watch, baseColl, 0, o.floorFor, 30*time.Second)
		if err != nil {
			dropCollection(tgt, baseColl)
			return fmt.Errorf("lag floor: %w", err)
		}
		res.SetLagFloor(bench.SummarizeLags(lags, lost))
		logf("lag floor (probe straight into the target, no load): p50 %.3f s, p99 %.3f s", res.LagFloorP50S, res.LagFloorP99S)
	}
	dropCollection(tgt, baseColl)
	res.BaselineRowsPerS = bench.Rate(float64(cfg.Rows), base.AllVisible.Sub(base.Start))
	res.BaselineMiBPerS = res.BaselineRowsPerS * rowBytes / (1 << 20)
	res.BaselineInsertRowsPerS = bench.Rate(float64(cfg.Rows), base.LastInsert.Sub(base.Start))
	logf("baseline: %.0f rows/s visible (%.1f MiB/s), inserts acknowledged at %.0f rows/s",
		res.BaselineRowsPerS, res.BaselineMiBPerS, res.BaselineInsertRowsPerS)

	return nil
}

func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
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
