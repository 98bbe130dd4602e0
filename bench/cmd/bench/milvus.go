package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"

	"github.com/milvus-cdc/milvus-cdc/bench"
)

const (
	pkField  = "id"
	vecField = "vec"
	// markerBase keeps the probe's marker keys apart from the load's keys.
	markerBase = int64(1) << 40
)

func connect(ctx context.Context, addr string) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.NewClient(ctx, client.Config{Address: addr})
	if err != nil {
		return nil, fmt.Errorf("connect to Milvus at %s: %w", addr, err)
	}
	return c, nil
}

// createLoadedCollection creates id (int64 key, no autoID) + vec (float
// vector), a FLAT index, and loads it, so that count(*) can be queried.
func createLoadedCollection(ctx context.Context, c client.Client, name string, dim, shards int) error {
	schema := entity.NewSchema().WithName(name).
		WithField(entity.NewField().WithName(pkField).WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName(vecField).WithDataType(entity.FieldTypeFloatVector).WithDim(int64(dim)))
	if err := c.CreateCollection(ctx, schema, int32(shards)); err != nil {
		return fmt.Errorf("create collection %s: %w", name, err)
	}
	idx, err := entity.NewIndexFlat(entity.L2)
	if err != nil {
		return err
	}
	if err := c.CreateIndex(ctx, name, vecField, idx, false); err != nil {
		return fmt.Errorf("create index on %s: %w", name, err)
	}
	if err := c.LoadCollection(ctx, name, false); err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}

// dropCollection drops name if it exists (best effort, frees the bed's memory).
func dropCollection(c client.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if ok, err := c.HasCollection(ctx, name); err == nil && ok {
		if err := c.DropCollection(ctx, name); err != nil {
			logf("drop %s: %v", name, err)
		}
	}
}

// waitLoaded waits until name exists and is loaded on c (the replicated
// collection on the target: the daemon creates it, then replays index and load).
func waitLoaded(ctx context.Context, c client.Client, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		state, err := c.GetLoadState(ctx, name, nil)
		if err == nil && state == entity.LoadStateLoaded {
			return nil
		}
		last = err
		if last == nil {
			last = fmt.Errorf("load state %v", state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not loaded on the target within %s: %v", name, timeout, last)
}

func countRows(ctx context.Context, c client.Client, name string) (int64, error) {
	rs, err := c.Query(ctx, name, nil, "", []string{"count(*)"}, client.WithSearchQueryConsistencyLevel(entity.ClStrong))
	if err != nil {
		return 0, fmt.Errorf("count(*) on %s: %w", name, err)
	}
	col := rs.GetColumn("count(*)")
	if col == nil || col.Len() != 1 {
		return 0, fmt.Errorf("count(*) on %s: unexpected result", name)
	}
	return col.GetAsInt64(0)
}

// vectorPool returns n deterministic random vectors; every batch reuses them
// under new keys, so the baseline and the source receive identical data and
// generating it costs nothing inside the timed loops.
func vectorPool(n, dim int) [][]float32 {
	r := rand.New(rand.NewSource(7))
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		for j := range v {
			v[j] = r.Float32()
		}
		out[i] = v
	}
	return out
}

func insertBatch(ctx context.Context, c client.Client, coll string, firstID int64, vecs [][]float32, dim int) error {
	ids := make([]int64, len(vecs))
	for i := range ids {
		ids[i] = firstID + int64(i)
	}
	_, err := c.Insert(ctx, coll, "", entity.NewColumnInt64(pkField, ids), entity.NewColumnFloatVector(vecField, dim, vecs))
	if err != nil {
		return fmt.Errorf("insert %d rows at key %d into %s: %w", len(vecs), firstID, coll, err)
	}
	return nil
}

// ingestRun is the timing of one full-speed insert stream and of its
// visibility on the watched side.
type ingestRun struct {
	Start, LastInsert, AllVisible time.Time
}

// insertAndWatch inserts rows keys [0, cfg.Rows) into writer's coll as fast as
// it accepts them, one batch after another, while polling count(*) (strong)
// of watchColl on watcher until every row is visible.
func insertAndWatch(ctx context.Context, cfg bench.Config, pool [][]float32, writer client.Client, coll string,
	watcher client.Client, watchColl string, timeout time.Duration) (ingestRun, error) {
	var run ingestRun
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	watchErr := make(chan error, 1)
	visible := make(chan time.Time, 1)
	go func() {
		for {
			n, err := countRows(ctx, watcher, watchColl)
			if err == nil && n >= int64(cfg.Rows) {
				visible <- time.Now()
				return
			}
			if ctx.Err() != nil {
				watchErr <- fmt.Errorf("rows visible on %s: %d of %d when the %s deadline passed (last error: %v)", watchColl, n, cfg.Rows, timeout, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	run.Start = time.Now()
	for off := 0; off < cfg.Rows; off += cfg.Batch {
		n := min(cfg.Batch, cfg.Rows-off)
		if err := insertBatch(ctx, writer, coll, int64(off), pool[:n], cfg.Dim); err != nil {
			return run, err
		}
	}
	run.LastInsert = time.Now()
	select {
	case run.AllVisible = <-visible:
		return run, nil
	case err := <-watchErr:
		return run, err
	}
}

// lagRun writes the source at rowsPerS for d while a probe writes one marker
// row every 100 ms and the target is polled (strong consistency, by primary
// key) for the markers still in flight. It returns each marker's lag from the
// acknowledged source insert to the query that first saw it on the target,
// the markers lost, and the load rows written (the source may accept less
// than rowsPerS: the load then runs back to back).
func lagRun(ctx context.Context, cfg bench.Config, pool [][]float32, loadClient, probeClient client.Client,
	target client.Client, coll string, rowsPerS float64, d, drain time.Duration) ([]time.Duration, int, int, error) {
	var (
		mu       sync.Mutex
		pending  = map[int64]time.Time{}
		lags     []time.Duration
		loadRows int
	)
	runCtx, stop := context.WithTimeout(ctx, d)
	defer stop()
	errs := make(chan error, 3)
	var wg sync.WaitGroup

	// Load: batches of cfg.Batch at a fixed pace, keys after the replication
	// run's; none when rowsPerS is 0 (the probe alone: the measurement floor).
	wg.Add(1)
	go func() {
		defer wg.Done()
		if rowsPerS <= 0 {
			return
		}
		interval := time.Duration(float64(cfg.Batch) / rowsPerS * float64(time.Second))
		next := time.Now()
		for id := int64(cfg.Rows); runCtx.Err() == nil; id += int64(cfg.Batch) {
			if err := insertBatch(ctx, loadClient, coll, id, pool[:cfg.Batch], cfg.Dim); err != nil {
				errs <- err
				return
			}
			loadRows += cfg.Batch
			next = next.Add(interval)
			select {
			case <-runCtx.Done():
			case <-time.After(time.Until(next)):
			}
		}
	}()
	// Probe: one marker every 100 ms.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for id := markerBase; ; id++ {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
			}
			if err := insertBatch(ctx, probeClient, coll, id, pool[:1], cfg.Dim); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			pending[id] = time.Now()
			mu.Unlock()
		}
	}()
	// Watcher: query the pending markers until the drain deadline.
	probesDone := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		var drainDeadline time.Time
		for {
			select {
			case <-probesDone:
				if drainDeadline.IsZero() {
					drainDeadline = time.Now().Add(drain)
				}
			default:
			}
			mu.Lock()
			ids := make([]string, 0, len(pending))
			for id := range pending {
				ids = append(ids, strconv.FormatInt(id, 10))
			}
			mu.Unlock()
			if len(ids) == 0 {
				if !drainDeadline.IsZero() {
					return
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if !drainDeadline.IsZero() && time.Now().After(drainDeadline) {
				return
			}
			rs, err := target.Query(ctx, coll, nil, pkField+" in ["+strings.Join(ids, ",")+"]", []string{pkField},
				client.WithSearchQueryConsistencyLevel(entity.ClStrong))
			seen := time.Now()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
				continue
			}
			col := rs.GetColumn(pkField)
			if col == nil {
				continue
			}
			mu.Lock()
			for i := 0; i < col.Len(); i++ {
				id, err := col.GetAsInt64(i)
				if err != nil {
					continue
				}
				if sent, ok := pending[id]; ok {
					lags = append(lags, seen.Sub(sent))
					delete(pending, id)
				}
			}
			mu.Unlock()
		}
	}()
	wg.Wait()
	close(probesDone)
	<-watchDone
	select {
	case err := <-errs:
		return nil, 0, 0, err
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lags) == 0 {
		return nil, len(pending), loadRows, errors.New("no marker arrived on the target")
	}
	return lags, len(pending), loadRows, nil
}
