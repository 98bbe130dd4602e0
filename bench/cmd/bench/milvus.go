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
	if err := createCollection(ctx, c, name, dim, shards); err != nil {
		return err
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

// createCollection creates id (int64 key, no autoID) + vec (float vector),
// without index or load (the cost curve only writes it).
func createCollection(ctx context.Context, c client.Client, name string, dim, shards int) error {
	schema := entity.NewSchema().WithName(name).
		WithField(entity.NewField().WithName(pkField).WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName(vecField).WithDataType(entity.FieldTypeFloatVector).WithDim(int64(dim)))
	if err := c.CreateCollection(ctx, schema, int32(shards)); err != nil {
		return fmt.Errorf("create collection %s: %w", name, err)
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

// insertRows inserts keys [first, first+rows) into coll, batch after batch,
// each call after the previous one returned; key k gets pool[(k-first)%batch].
// It returns when the first call started and when the last one returned.
func insertRows(ctx context.Context, cfg bench.Config, pool [][]float32, c client.Client, coll string, first int64) (start, last time.Time, err error) {
	start = time.Now()
	for off := 0; off < cfg.Rows; off += cfg.Batch {
		n := min(cfg.Batch, cfg.Rows-off)
		if err := insertBatch(ctx, c, coll, first+int64(off), pool[:n], cfg.Dim); err != nil {
			return start, time.Now(), err
		}
	}
	return start, time.Now(), nil
}

// insertRowsConcurrently is insertRows with writers clients at once, each
// inserting its own contiguous share of the keys (shares start at multiples
// of the batch, so every key holds the same vector as with one writer).
func insertRowsConcurrently(ctx context.Context, cfg bench.Config, pool [][]float32, c client.Client, coll string, first int64, writers int) (start, last time.Time, err error) {
	if writers <= 1 {
		return insertRows(ctx, cfg, pool, c, coll, first)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start = time.Now()
	for _, sh := range keyShares(cfg.Rows, cfg.Batch, writers) {
		from := sh[0]
		share := cfg
		share.Rows = sh[1] - sh[0]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := insertRows(ctx, share, pool, c, coll, first+int64(from)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return start, time.Now(), errors.Join(errs...)
}

// keyShares splits [0, rows) into at most writers contiguous [from, to)
// ranges of whole batches (the last may be short).
func keyShares(rows, batch, writers int) [][2]int {
	if rows <= 0 || batch <= 0 || writers <= 0 {
		return nil
	}
	batches := (rows + batch - 1) / batch
	per := (batches + writers - 1) / writers
	var out [][2]int
	for w := 0; w < writers; w++ {
		from, to := w*per*batch, min(rows, (w+1)*per*batch)
		if from >= to {
			break
		}
		out = append(out, [2]int{from, to})
	}
	return out
}

// visibility is when strong count(*) answers on the watched collection
// first saw any row and every row.
type visibility struct {
	First, All time.Time
	Count      int64
}

// visibilityWatch polls count(*) with strong consistency: a new query every
// pollEvery with up to maxInflight in flight, so an answer that sees every
// row comes soon after they became queryable even though each strong query
// waits for the target's next time tick.
type visibilityWatch struct {
	done chan struct{}
	vis  visibility
	err  error
}

const (
	pollEvery   = 50 * time.Millisecond
	maxInflight = 3
)

// watchVisible starts watching coll on c until want rows are visible or the
// timeout passes; call it before the step that is timed.
func watchVisible(ctx context.Context, c client.Client, coll string, want int64, timeout time.Duration) *visibilityWatch {
	w := &visibilityWatch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		type answer struct {
			n   int64
			at  time.Time
			err error
		}
		answers := make(chan answer, maxInflight)
		tick := time.NewTicker(pollEvery)
		defer tick.Stop()
		inflight := 0
		var last answer
		for {
			if inflight < maxInflight {
				inflight++
				go func() {
					n, err := countRows(ctx, c, coll)
					answers <- answer{n, time.Now(), err}
				}()
			}
			select {
			case <-ctx.Done():
				w.err = fmt.Errorf("rows visible on %s: %d of %d when the %s deadline passed (last error: %v)", coll, last.n, want, timeout, last.err)
				return
			case a := <-answers:
				inflight--
				last = a
				if a.err == nil && a.n > 0 && w.vis.First.IsZero() {
					w.vis.First = a.at
				}
				if a.err == nil && a.n >= want {
					w.vis.All, w.vis.Count = a.at, a.n
					return
				}
			case <-tick.C:
			}
		}
	}()
	return w
}

// wait returns the visibility times once every row was seen.
func (w *visibilityWatch) wait() (visibility, error) {
	<-w.done
	return w.vis, w.err
}

// spotCheck reads keys back from coll on c (strong) and compares their
// vectors with the ones inserted (key k holds pool[(k-first)%len(pool)]).
func spotCheck(ctx context.Context, c client.Client, coll string, cfg bench.Config, pool [][]float32, first int64, keys []int64) error {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = strconv.FormatInt(k, 10)
	}
	rs, err := c.Query(ctx, coll, nil, pkField+" in ["+strings.Join(ids, ",")+"]", []string{pkField, vecField},
		client.WithSearchQueryConsistencyLevel(entity.ClStrong))
	if err != nil {
		return fmt.Errorf("spot check query on %s: %w", coll, err)
	}
	idCol, ok := rs.GetColumn(pkField).(*entity.ColumnInt64)
	if !ok {
		return fmt.Errorf("spot check on %s: no int64 %s column in the answer", coll, pkField)
	}
	vecCol, ok := rs.GetColumn(vecField).(*entity.ColumnFloatVector)
	if !ok {
		return fmt.Errorf("spot check on %s: no float vector %s column in the answer", coll, vecField)
	}
	got := map[int64][]float32{}
	for i, id := range idCol.Data() {
		got[id] = vecCol.Data()[i]
	}
	for _, k := range keys {
		v, ok := got[k]
		if !ok {
			return fmt.Errorf("spot check on %s: key %d missing", coll, k)
		}
		want := pool[int(k-first)%cfg.Batch]
		if len(v) != len(want) {
			return fmt.Errorf("spot check on %s: key %d has %d dimensions, want %d", coll, k, len(v), len(want))
		}
		for j := range v {
			if v[j] != want[j] {
				return fmt.Errorf("spot check on %s: key %d differs at dimension %d: %v, want %v", coll, k, j, v[j], want[j])
			}
		}
	}
	return nil
}

// spotKeys picks n keys spread over [first, first+rows): both ends and
// evenly spaced ones between.
func spotKeys(first int64, rows, n int) []int64 {
	if rows <= 0 || n <= 0 {
		return nil
	}
	n = min(n, rows)
	out := make([]int64, 0, n)
	seen := map[int64]bool{}
	for i := 0; i < n; i++ {
		k := first
		if n > 1 {
			k += int64(i) * int64(rows-1) / int64(n-1)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
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
