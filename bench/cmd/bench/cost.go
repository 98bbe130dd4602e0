package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"

	"github.com/milvus-cdc/milvus-cdc/bench"
)

const (
	// costSettle is the pause between every task replicating and the idle
	// window: start-up work (catalog listing, first packs) is over by then.
	costSettle = 5 * time.Second
	// costSyncBound is how long the tasks get to report synced after the load.
	costSyncBound = time.Minute
	rssEvery      = 100 * time.Millisecond
)

// runCostCurve measures the daemon's memory and CPU with 1, 4, 16 tasks (one
// collection each) and 1, 16, 64 collections under one task (the -cost-tasks
// and -cost-collections lists), idle and under a fixed small load.
// saved gets the curve after each point.
func runCostCurve(ctx context.Context, o options, p plan, b *bed, bin, work string, idle idleCheck, saved func(bench.CostCurve)) bench.CostCurve {
	curve := bench.CostCurve{MQ: b.MQ, Mode: b.TargetMode, Dim: o.costDim, Batch: o.costBatch, LoadRowsPerS: o.costLoad,
		IdleSeconds: o.costIdle.Seconds(), LoadSeconds: o.costLoadFor.Seconds()}
	type point struct {
		kind         string
		tasks, colls int
	}
	var points []point
	for _, n := range p.costTasks {
		points = append(points, point{bench.CostTasks, n, n})
	}
	for _, n := range p.costColls {
		points = append(points, point{bench.CostCollections, 1, n})
	}
	for _, pt := range points {
		if ctx.Err() != nil {
			break
		}
		cp := measureCostPoint(ctx, o, p, b, bin, work, pt.kind, pt.tasks, pt.colls, idle)
		if cp.Error != "" {
			logf("cost curve %s %d tasks / %d collections: %s", pt.kind, pt.tasks, pt.colls, cp.Error)
		}
		curve.Points = append(curve.Points, cp)
		curve.Derive()
		saved(curve)
	}
	curve.Derive()
	logf("cost curve %s: idle %.2f MiB per extra task, %.2f MiB per extra collection", curve.MQ, curve.IdleMiBPerExtraTask, curve.IdleMiBPerExtraCollection)
	return curve
}

// measureCostPoint runs one point on a fresh daemon: tasks tasks over colls
// fresh collections (kind tasks: one collection per task; kind collections:
// one task over all of them).
func measureCostPoint(ctx context.Context, o options, p plan, b *bed, bin, work, kind string, tasks, colls int, idle idleCheck) (cp bench.CostPoint) {
	cp = bench.CostPoint{Kind: kind, Tasks: tasks, Collections: colls, LoadAvg: loadAvg()}
	fail := func(err error) bench.CostPoint { cp.Error = err.Error(); return cp }
	logf("=== cost curve %s/%s: %d tasks, %d collections (load average %s)", b.MQ, b.TargetMode, tasks, colls, cp.LoadAvg)
	src, err := connect(ctx, b.SourceURI)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	tgt, err := connect(ctx, b.TargetURI)
	if err != nil {
		return fail(err)
	}
	defer tgt.Close()
	suffix := fmt.Sprintf("%s%d_%d", kind[:1], colls, time.Now().UnixNano()%1_000_000_000)
	names := make([]string, colls)
	for i := range names {
		names[i] = fmt.Sprintf("bench_cost_%s_%d", suffix, i)
	}
	defer func() {
		for _, n := range names {
			dropCollection(src, n)
			dropCollection(tgt, n)
		}
	}()
	d, err := startDaemon(bin, b.CDCConfig, filepath.Join(work, fmt.Sprintf("cost_%s_%d", kind, colls)), p.daemonEnv)
	if err != nil {
		return fail(err)
	}
	defer d.stop()

	// Tasks first, then the collections: a task starts a collection created
	// later at its creation, so no row is missed.
	t0 := time.Now()
	var ids []string
	defer func() {
		for _, id := range ids {
			d.deleteTask(id)
		}
	}()
	for i := 0; i < tasks; i++ {
		scope := names
		if kind == bench.CostTasks {
			scope = names[i : i+1]
		}
		id, err := d.createTask(ctx, b.TargetURI, b.TargetMode, scope...)
		if err != nil {
			return fail(err)
		}
		ids = append(ids, id)
	}
	for _, n := range names {
		if err := createCollection(ctx, src, n, o.costDim, 1); err != nil {
			return fail(err)
		}
	}
	if err := waitCollections(ctx, tgt, names, 3*time.Minute); err != nil {
		return fail(fmt.Errorf("%w (daemon log %s)", err, d.logPath))
	}
	if err := d.waitReplicating(ctx, ids, time.Minute); err != nil {
		return fail(err)
	}
	cp.StartupSeconds = time.Since(t0).Seconds()
	time.Sleep(costSettle)
	idle.waitIdle(ctx, "the idle window")

	// Idle window.
	cpu0, err := d.proc.cpuSeconds()
	if err != nil {
		return fail(err)
	}
	s := sampleRSS(d.proc, rssEvery)
	w0 := time.Now()
	select {
	case <-ctx.Done():
		s.stop()
		return fail(ctx.Err())
	case <-time.After(o.costIdle):
	}
	win := s.stop()
	cpu1, err := d.proc.cpuSeconds()
	if err != nil {
		return fail(err)
	}
	cp.IdleRSSMiB = win.Mean()
	cp.IdleCPUCores = (cpu1 - cpu0) / time.Since(w0).Seconds()

	// Load window: a fixed total rate spread round-robin over the collections.
	peaks := phasePeak{p: d.proc}
	peaks.next()
	s = sampleRSS(d.proc, rssEvery)
	w0 = time.Now()
	rows, err := roundRobinLoad(ctx, src, names, o.costDim, o.costBatch, o.costLoad, o.costLoadFor)
	wall := time.Since(w0).Seconds()
	win = s.stop()
	if err != nil {
		return fail(err)
	}
	cpu2, err := d.proc.cpuSeconds()
	if err != nil {
		return fail(err)
	}
	cp.LoadRSSMiB = win.Mean()
	cp.LoadPeakRSSMiB = peaks.next()
	// cpu1 was read at the end of the idle window, right before the load.
	cp.SetLoad(cpu2-cpu1, wall, rows)

	// The load reached the target: every task synced.
	ts := time.Now()
	cp.Synced = allSynced(ctx, d, ids, costSyncBound)
	cp.SyncSeconds = time.Since(ts).Seconds()
	logf("cost %d tasks / %d collections: start-up %.1f s; idle RSS %.1f MiB, CPU %.1f %%; load %d rows (%.0f rows/s) RSS %.1f MiB (peak %.1f), CPU %.1f %% (%.3f s per 10k rows); synced %v after %.1f s",
		tasks, colls, cp.StartupSeconds, cp.IdleRSSMiB, 100*cp.IdleCPUCores, cp.LoadRows, cp.LoadAchievedRowsPerS, cp.LoadRSSMiB, cp.LoadPeakRSSMiB,
		100*cp.LoadCPUCores, cp.LoadCPUSPer10kRows, cp.Synced, cp.SyncSeconds)
	if !cp.Synced {
		cp.Error = fmt.Sprintf("not every task synced within %s after the load (daemon log %s)", costSyncBound, d.logPath)
	}
	return cp
}

// waitCollections waits until every named collection exists on the target.
func waitCollections(ctx context.Context, c client.Client, names []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for i := 0; i < len(names); {
		ok, err := c.HasCollection(ctx, names[i])
		if err == nil && ok {
			i++
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("collection %s not on the target within %s (%d of %d there; last error %v)", names[i], timeout, i, len(names), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// roundRobinLoad writes rowsPerS rows per second for d, in batches of batch,
// each batch to the next collection in turn, and returns the rows written.
func roundRobinLoad(ctx context.Context, c client.Client, names []string, dim, batch int, rowsPerS float64, d time.Duration) (int, error) {
	pool := vectorPool(batch, dim)
	interval := time.Duration(float64(batch) / rowsPerS * float64(time.Second))
	end := time.Now().Add(d)
	next := time.Now()
	rows := 0
	for i := 0; time.Now().Before(end); i++ {
		coll := names[i%len(names)]
		key := int64(i/len(names)) * int64(batch)
		if err := insertBatch(ctx, c, coll, key, pool, dim); err != nil {
			return rows, err
		}
		rows += batch
		next = next.Add(interval)
		select {
		case <-ctx.Done():
			return rows, ctx.Err()
		case <-time.After(time.Until(next)):
		}
	}
	return rows, nil
}

// allSynced asks every task, in parallel, until each says synced or the
// bound passes.
func allSynced(ctx context.Context, d *daemon, ids []string, bound time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var wg sync.WaitGroup
	ok := make([]bool, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if s, err := d.synced(ctx, id, 5*time.Second); err == nil && s {
					ok[i] = true
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
	}
	wg.Wait()
	for _, v := range ok {
		if !v {
			return false
		}
	}
	return true
}
