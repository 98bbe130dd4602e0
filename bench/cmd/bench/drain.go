package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"

	"github.com/milvus-cdc/milvus-cdc/bench"
)

// spotCheckRows is how many rows each timed run reads back and compares.
const spotCheckRows = 16

// runConfig measures one configuration, on fresh collections and with a
// fresh daemon: the baseline (rows straight into the target, bed idle), the
// drain (the same rows written to the source while the task is paused, the
// bed left to go idle, then resume and time until every row is queryable on
// the target), and the lag at a fraction of the rate the source sustained
// alone while the task was paused.
func runConfig(ctx context.Context, o options, p plan, b *bed, bin, work string, cfg bench.Config,
	baselines map[string]bench.Result, idle idleCheck) (res bench.Result) {
	res = bench.NewResult(cfg, time.Now())
	fail := func(err error) bench.Result { res.Error = err.Error(); res.LoadAvgEnd = loadAvg(); return res }
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

	// 1. Baseline: the same rows straight into the target. A target in
	// replicate mode refuses direct inserts: use the api run's baseline.
	if cfg.Mode == bench.ModeReplicate {
		api, ok := baselines[baselineKey(cfg)]
		if !ok {
			return fail(fmt.Errorf("replicate mode needs the baseline of %s in the same run (a replicate-mode target refuses direct inserts); add -modes api,replicate", baselineKey(cfg)))
		}
		res.UseBaseline(api)
		logf("baseline of %s (measured earlier in this run): %.2f s", api.Config, res.BaselineSeconds)
	} else if err := measureBaseline(ctx, o, cfg, pool, clients, suffix, idle, &res); err != nil {
		return fail(err)
	}

	// 2. A fresh daemon and a task for one fresh collection, paused once the
	// collection is replicated (created, indexed and loaded on the target).
	dir := filepath.Join(work, strings.ReplaceAll(cfg.Name(), "/", "_"))
	env := p.daemonEnv
	if o.profile {
		env = append(append([]string(nil), env...), "MILVUS_CDC_DEBUG_PPROF=true")
	}
	d, err := startDaemon(bin, b.CDCConfig, dir, env)
	if err != nil {
		return fail(err)
	}
	defer d.stop()
	peaks := phasePeak{p: d.proc}
	coll := "bench_drain_" + suffix
	defer dropCollection(tgt, coll)
	defer dropCollection(src, coll)
	taskID, err := d.createTask(ctx, b.TargetURI, cfg.Mode, coll)
	if err != nil {
		return fail(err)
	}
	defer d.deleteTask(taskID)
	if err := createLoadedCollection(ctx, src, coll, cfg.Dim, o.shards); err != nil {
		return fail(err)
	}
	if err := waitLoaded(ctx, tgt, coll, 2*time.Minute); err != nil {
		return fail(fmt.Errorf("replicated collection: %w (daemon log %s)", err, d.logPath))
	}
	if err := d.waitReplicating(ctx, []string{taskID}, time.Minute); err != nil {
		return fail(err)
	}
	if err := d.pause(ctx, taskID); err != nil {
		return fail(err)
	}

	// 3. The backlog: the rows written to the source while nothing reads it,
	// which is also the rate the source sustains alone.
	start, last, err := insertRows(ctx, cfg, pool, src, coll, 0)
	if err != nil {
		return fail(fmt.Errorf("source inserts: %w", err))
	}
	res.SourceRowsPerS = bench.Rate(float64(cfg.Rows), last.Sub(start))
	logf("source: %d rows acknowledged at %.0f rows/s with the task paused", cfg.Rows, res.SourceRowsPerS)
	waited, ok := idle.waitIdle(ctx, "the drain")
	res.IdleWaitSeconds, res.BedIdle = waited.Seconds(), ok

	// 4. The drain.
	callS0, calls0, err := d.targetCalls(ctx)
	if err != nil {
		return fail(err)
	}
	cpu0, err := d.proc.cpuSeconds()
	if err != nil {
		return fail(err)
	}
	setupPeak := peaks.next()
	var prof *profiler
	if o.profile {
		prof = startCPU(d.addr, dir)
		defer prof.stop()
		logf("profiles of this configuration: %s", dir)
	}
	w := watchVisible(ctx, watch, coll, int64(cfg.Rows), o.timeout)
	resumed := time.Now()
	if err := d.resume(ctx, taskID); err != nil {
		return fail(err)
	}
	vis, err := w.wait()
	if err != nil {
		return fail(fmt.Errorf("drain: %w (daemon log %s)", err, d.logPath))
	}
	cpu1, err := d.proc.cpuSeconds()
	if err != nil {
		return fail(err)
	}
	res.DrainPeakRSSMiB = peaks.next()
	prof.snapshot("heap", "heap-after-drain.pb.gz")
	callS1, calls1, err := d.targetCalls(ctx)
	if err != nil {
		return fail(err)
	}
	res.SetDrain(vis.All.Sub(resumed), vis.First.Sub(resumed), cpu1-cpu0)
	res.SetTargetCalls(callS1-callS0, calls1-calls0, o.shards)
	keys := spotKeys(0, cfg.Rows, spotCheckRows)
	if err := spotCheck(ctx, watch, coll, cfg, pool, 0, keys); err != nil {
		return fail(fmt.Errorf("drain: %w", err))
	}
	res.SpotChecked = len(keys)
	logf("drain: %.2f s (%.0f rows/s, first rows after %.2f s; baseline %.2f s, ratio %.2f), CPU %.2f s (%.3f s per 10k rows), %.0f target calls taking %.2f s (busy %.2f), peak RSS %.0f MiB, %d rows spot-checked",
		res.DrainSeconds, res.DrainRowsPerS, res.DrainStartupSeconds, res.BaselineSeconds, res.DrainRatio, res.DrainCPUS, res.CPUSPer10kRows,
		res.TargetCalls, res.TargetCallSeconds, res.TargetBusy, res.DrainPeakRSSMiB, res.SpotChecked)

	// 5. Lag at a fraction of the source's own rate.
	res.LagLoadRowsPerS = o.lagFrac * res.SourceRowsPerS
	res.LagSeconds = o.lagFor.Seconds()
	lags, lost, loadRows, err := lagRun(ctx, cfg, pool, src, clients["probe"], watch, coll, res.LagLoadRowsPerS, o.lagFor, time.Minute)
	if err != nil {
		return fail(fmt.Errorf("lag: %w (daemon log %s)", err, d.logPath))
	}
	prof.stop()
	prof.snapshot("heap", "heap-after-lag.pb.gz")
	prof.snapshot("allocs", "allocs.pb.gz")
	res.LagPeakRSSMiB = peaks.next()
	res.CDCPeakRSSMiB = max(setupPeak, res.DrainPeakRSSMiB, res.LagPeakRSSMiB, peaks.overall)
	res.LagLoadAchievedRowsPerS = bench.Rate(float64(loadRows), o.lagFor)
	res.SetLag(bench.SummarizeLags(lags, lost))
	if cfg.Mode == bench.ModeAPI {
		// The copy task covers the same source collection: the replicating
		// task goes first (a target takes one task per collection).
		d.deleteTask(taskID)
		if err := measureSnapshot(ctx, o, b, d, src, tgt, coll, &res); err != nil {
			return fail(fmt.Errorf("snapshot: %w", err))
		}
	}
	res.LoadAvgEnd = loadAvg()
	logf("lag at %.0f rows/s (written: %.0f rows/s): %d markers, %d lost, p50 %.3f s, p95 %.3f s, p99 %.3f s, max %.3f s; peak RSS %.0f MiB (lag %.0f)",
		res.LagLoadRowsPerS, res.LagLoadAchievedRowsPerS, res.LagMarkers, res.LagLost, res.LagP50S, res.LagP95S, res.LagP99S, res.LagMaxS,
		res.CDCPeakRSSMiB, res.LagPeakRSSMiB)
	return res
}

// measureSnapshot times the initial sync of the drain collection (its rows
// and the lag run's) into a new target collection: from the create of a task
// with initialSync until its status says it follows the source. Compared
// with the baseline's direct inserts of the same batches, it shows what the
// copy costs beyond the target's own limit.
func measureSnapshot(ctx context.Context, o options, b *bed, d *daemon, src, tgt client.Client, coll string, res *bench.Result) error {
	rows, err := countRows(ctx, src, coll)
	if err != nil {
		return err
	}
	copyName := coll + "_copy"
	defer dropCollection(tgt, copyName)
	start := time.Now()
	id, err := d.createCopyTask(ctx, b.TargetURI, coll, copyName)
	if err != nil {
		return err
	}
	defer d.deleteTask(id)
	done, err := d.waitSnapshotDone(ctx, id, o.timeout)
	if err != nil {
		return err
	}
	got, err := countRows(ctx, tgt, copyName)
	if err != nil {
		return err
	}
	if got != rows {
		return fmt.Errorf("the copy holds %d rows, the source %d", got, rows)
	}
	res.SetSnapshot(rows, done.Sub(start))
	logf("snapshot: %d rows copied in %.2f s (%.0f rows/s, ratio to the baseline %.2f)",
		rows, res.SnapshotSeconds, bench.Rate(float64(rows), done.Sub(start)), *res.SnapshotRatio)
	return nil
}

// measureBaseline inserts the rows straight into the target with the bed
// idle (the target's own limit) and runs the lag probe against it without
// load (the floor of the lag measurement).
func measureBaseline(ctx context.Context, o options, cfg bench.Config, pool [][]float32, clients map[string]client.Client,
	suffix string, idle idleCheck, res *bench.Result) error {
	tgt, watch := clients["target"], clients["targetWatch"]
	baseColl := "bench_base_" + suffix
	if err := createLoadedCollection(ctx, tgt, baseColl, cfg.Dim, o.shards); err != nil {
		return err
	}
	defer dropCollection(tgt, baseColl)
	idle.waitIdle(ctx, "the baseline")
	w := watchVisible(ctx, watch, baseColl, int64(cfg.Rows), o.timeout)
	res.BaselineWriters = max(1, o.baseWriters)
	start, last, err := insertRowsConcurrently(ctx, cfg, pool, tgt, baseColl, 0, res.BaselineWriters)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	vis, err := w.wait()
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	res.SetBaseline(vis.All.Sub(start), last.Sub(start))
	if err := spotCheck(ctx, watch, baseColl, cfg, pool, 0, spotKeys(0, cfg.Rows, spotCheckRows)); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	logf("baseline (%d writer(s)): %.2f s to all %d rows visible (%.0f rows/s), inserts acknowledged at %.0f rows/s",
		res.BaselineWriters, res.BaselineSeconds, cfg.Rows, res.BaselineRowsPerS, res.BaselineInsertRowsPerS)
	// The lag floor: markers written straight into the target and found by
	// the same strong query; what the replication lag adds is above it.
	if o.floorFor > 0 {
		lags, lost, _, err := lagRun(ctx, cfg, pool, nil, clients["probeTarget"], watch, baseColl, 0, o.floorFor, 30*time.Second)
		if err != nil {
			return fmt.Errorf("lag floor: %w", err)
		}
		res.SetLagFloor(bench.SummarizeLags(lags, lost))
		logf("lag floor (probe straight into the target, no load): p50 %.3f s, p99 %.3f s", res.LagFloorP50S, res.LagFloorP99S)
	}
	return nil
}
