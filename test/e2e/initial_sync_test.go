//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
)

// Initial sync: a task created with initial_sync copies the rows a
// collection holds before following its changes, while a writer keeps
// changing pre-existing keys; the target ends equal key by key.

const (
	syncDim        = 128
	syncPartitions = 2
	snapshotEnd    = 10 * time.Minute
)

// initialSyncSchema: a primary key (int64 or varchar), an int64, a varchar,
// a JSON field, a 128-dimension vector and the dynamic field.
func initialSyncSchema(name string, varcharPK bool) *entity.Schema {
	pk := entity.NewField().WithName(FieldID).WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)
	if varcharPK {
		pk = entity.NewField().WithName(FieldID).WithDataType(entity.FieldTypeVarChar).WithMaxLength(64).WithIsPrimaryKey(true)
	}
	return &entity.Schema{
		CollectionName:     name,
		Description:        "milvus-cdc e2e: initial sync",
		EnableDynamicField: true,
		Fields: []*entity.Field{
			pk,
			entity.NewField().WithName(FieldInt64).WithDataType(entity.FieldTypeInt64),
			entity.NewField().WithName(FieldVarChar).WithDataType(entity.FieldTypeVarChar).WithMaxLength(varCharMaxLen),
			entity.NewField().WithName(FieldJSON).WithDataType(entity.FieldTypeJSON),
			entity.NewField().WithName(FieldFloatVector).WithDataType(entity.FieldTypeFloatVector).WithDim(syncDim),
		},
	}
}

// syncPartition is where row i lives: partitions p0 and p1 alternate in
// blocks of 1000 keys.
func syncPartition(i int) string { return fmt.Sprintf("p%d", (i/1000)%syncPartitions) }

// keyColumn is the primary-key column of rows ids, as Dataset writes it.
func keyColumn(schema *entity.Schema, ids []int) entity.Column {
	if primaryField(schema).DataType == entity.FieldTypeVarChar {
		v := make([]string, len(ids))
		for k, i := range ids {
			v[k] = fmt.Sprintf("pk-%08d", i)
		}
		return entity.NewColumnVarChar(FieldID, v)
	}
	v := make([]int64, len(ids))
	for k, i := range ids {
		v[k] = int64(i)
	}
	return entity.NewColumnInt64(FieldID, v)
}

// preloadPartitioned creates the collection with its partitions on the
// source, inserts rows [0, n) into their partitions, indexes and loads it.
func preloadPartitioned(t *testing.T, ctx context.Context, src client.Client, schema *entity.Schema, n int) {
	t.Helper()
	coll := schema.CollectionName
	require.NoError(t, CreateCollection(ctx, src, schema, 2))
	DropCollectionOnCleanup(t, src, coll)
	for p := 0; p < syncPartitions; p++ {
		require.NoError(t, src.CreatePartition(ctx, coll, fmt.Sprintf("p%d", p)))
	}
	start := time.Now()
	const block = 1000
	for from := 0; from < n; from += block {
		cols, err := NewDataset(schema, from, min(block, n-from)).Columns()
		require.NoError(t, err)
		_, err = src.Insert(ctx, coll, syncPartition(from), cols...)
		require.NoError(t, err, "insert rows %d..", from)
	}
	require.NoError(t, src.Flush(ctx, coll, false))
	require.NoError(t, EnsureLoaded(ctx, src, coll))
	got, err := CountRows(ctx, src, coll)
	require.NoError(t, err)
	require.EqualValues(t, n, got)
	t.Logf("source %s: %d rows in %d partitions written in %s", coll, n, syncPartitions, time.Since(start).Round(time.Millisecond))
}

// churn changes the source until stop is closed: it upserts pre-existing
// keys with other values, deletes pre-existing keys and inserts new ones,
// each in the key's partition.
type churn struct {
	upserted, deleted, inserted atomic.Int64
	err                         error
	stop                        chan struct{}
	done                        chan struct{}
}

func startChurn(ctx context.Context, src client.Client, schema *entity.Schema, preexisting int) *churn {
	c := &churn{stop: make(chan struct{}), done: make(chan struct{})}
	coll := schema.CollectionName
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	go func() {
		defer close(c.done)
		next := preexisting // new keys from here
		deleted := map[int]bool{}
		for round := 0; ; round++ {
			select {
			case <-c.stop:
				return
			default:
			}
			// 100 upserts of live pre-existing keys of one partition.
			part := round % syncPartitions
			// Distinct keys: Milvus 2.3 keeps both rows of a key given twice
			// in one upsert.
			var ids []int
			picked := map[int]bool{}
			for len(ids) < 100 {
				i := rnd.Intn(preexisting)
				if syncPartition(i) == fmt.Sprintf("p%d", part) && !deleted[i] && !picked[i] {
					picked[i] = true
					ids = append(ids, i)
				}
			}
			cols, err := NewDataset(schema, 10_000_000+round*100, len(ids)).Columns()
			if err == nil {
				for k, col := range cols {
					if col.Name() == FieldID {
						cols[k] = keyColumn(schema, ids)
					}
				}
				_, err = src.Upsert(ctx, coll, fmt.Sprintf("p%d", part), cols...)
			}
			if err != nil {
				c.err = fmt.Errorf("upsert: %w", err)
				return
			}
			c.upserted.Add(int64(len(ids)))
			// 50 deletes of pre-existing keys.
			var dels []int
			for len(dels) < 50 {
				i := rnd.Intn(preexisting)
				if !deleted[i] {
					deleted[i] = true
					dels = append(dels, i)
				}
			}
			if err := src.DeleteByPks(ctx, coll, "", keyColumn(schema, dels)); err != nil {
				c.err = fmt.Errorf("delete: %w", err)
				return
			}
			c.deleted.Add(int64(len(dels)))
			// 100 new keys.
			cols, err = NewDataset(schema, next, 100).Columns()
			if err == nil {
				_, err = src.Insert(ctx, coll, syncPartition(next), cols...)
			}
			if err != nil {
				c.err = fmt.Errorf("insert: %w", err)
				return
			}
			next += 100
			c.inserted.Add(100)
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return c
}

func (c *churn) end(t *testing.T) {
	t.Helper()
	close(c.stop)
	<-c.done
	require.NoError(t, c.err)
	t.Logf("writer during the snapshot: %d upserts and %d deletes of pre-existing keys, %d new keys", c.upserted.Load(), c.deleted.Load(), c.inserted.Load())
}

// syncStatus is the part of the REST status the tests read.
type syncStatus struct {
	Pipeline *struct {
		Phase    string `json:"phase"`
		Snapshot *struct {
			Done        bool `json:"done"`
			Collections []struct {
				Name   string `json:"name"`
				State  string `json:"state"`
				Total  int64  `json:"rowsTotal"`
				Copied int64  `json:"rowsCopied"`
			} `json:"collections"`
		} `json:"snapshot"`
	} `json:"pipeline"`
}

func (s syncStatus) copied() (copied, total int64) {
	if s.Pipeline == nil || s.Pipeline.Snapshot == nil {
		return 0, 0
	}
	for _, c := range s.Pipeline.Snapshot.Collections {
		copied += c.Copied
		total += c.Total
	}
	return copied, total
}

func (d *Daemon) syncStatus(t *testing.T, id string) syncStatus {
	t.Helper()
	var s syncStatus
	d.getJSON(t, "/api/v1/tasks/"+id+"/status", &s)
	return s
}

func (d *Daemon) synced(t *testing.T, id string, wait int) bool {
	t.Helper()
	var s struct {
		Synced bool `json:"synced"`
	}
	d.getJSON(t, fmt.Sprintf("/api/v1/tasks/%s/synced?waitSeconds=%d", id, wait), &s)
	return s.Synced
}

// snapshotRowsMetric is milvus_cdc_daemon_pipeline_snapshot_rows_total of a
// task: the rows this daemon process copied.
func (d *Daemon) snapshotRowsMetric(t *testing.T, id string) int64 {
	t.Helper()
	resp, err := http.Get("http://" + d.addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	want := `snapshot_rows_total{task_id="` + id + `"} `
	for sc.Scan() {
		if i := strings.Index(sc.Text(), want); i >= 0 {
			v, err := strconv.ParseFloat(strings.TrimSpace(sc.Text()[i+len(want):]), 64)
			require.NoError(t, err)
			return int64(v)
		}
	}
	return 0
}

// requireFullComparison: the target holds the source's rows key by key with
// equal values (every field), as many keys as the writer left (wantKeys),
// and as many rows (count(*)) as the source. It retries while the target
// catches up, reading both sides once per attempt.
func requireFullComparison(t *testing.T, ctx context.Context, src, dst client.Client, coll string, wantKeys int) {
	t.Helper()
	start := time.Now()
	var srcN, dstN int64
	var srcRows, dstRows map[string]Row
	Eventually(t, ctx, catchUp, 2*time.Second, "target equals source key by key", func(ctx context.Context) (bool, string, error) {
		var err error
		if srcN, err = CountRows(ctx, src, coll); err != nil {
			return false, "", err
		}
		if dstN, err = CountRows(ctx, dst, coll); err != nil {
			return false, "", err
		}
		if srcRows, err = queryAllRowsBatched(ctx, src, coll); err != nil {
			return false, "", err
		}
		if dstRows, err = queryAllRowsBatched(ctx, dst, coll); err != nil {
			return false, "", err
		}
		missing, extra, values := CompareRows(srcRows, dstRows)
		status := fmt.Sprintf("count(*) source %d target %d; keys source %d target %d; %d missing, %d extra, %d different",
			srcN, dstN, len(srcRows), len(dstRows), len(missing), len(extra), len(values))
		return srcN == dstN && len(missing) == 0 && len(extra) == 0 && len(values) == 0, status, nil
	})
	require.Len(t, srcRows, wantKeys, "the source holds the keys the writer left")
	require.Len(t, dstRows, wantKeys, "the target holds every key")
	require.EqualValues(t, wantKeys, dstN, "count(*) on the target: every key once, none duplicated")
	require.EqualValues(t, srcN, dstN)
	t.Logf("compared %d keys field by field: 0 missing, 0 extra, 0 different values; count(*) %d on both (in %s)",
		len(dstRows), dstN, time.Since(start).Round(time.Millisecond))
}

// queryAllRowsBatched is QueryAllRows with 4,000 keys a query instead of
// 500 (the collections here are large).
func queryAllRowsBatched(ctx context.Context, c client.Client, name string) (map[string]Row, error) {
	return queryAllRowsBy(ctx, c, name, 4000)
}

// createWithCLI creates the task of collection coll with `milvus-cdc task
// create --initial-sync`, after checking that writer mode replicate is
// refused with the field named and nothing created.
func createWithCLI(t *testing.T, d *Daemon, coll string) string {
	t.Helper()
	body := map[string]any{
		"target": map[string]any{"uri": "http://" + d.bed.TargetAddr, "connectTimeoutSeconds": 10},
		"scope":  []any{map[string]any{"database": "default", "collection": coll}},
	}
	file := func(extra map[string]any) string {
		m := map[string]any{}
		for k, v := range body {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		raw, err := json.Marshal(m)
		require.NoError(t, err)
		p := filepath.Join(t.TempDir(), "task.json")
		require.NoError(t, os.WriteFile(p, raw, 0o600))
		return p
	}
	r := d.runCLI(t, "task", "create", "-f", file(map[string]any{"writerMode": "replicate"}), "--initial-sync")
	require.Equal(t, 1, r.code, "stdout: %s stderr: %s", r.stdout, r.stderr)
	require.Contains(t, r.stderr, `initialSync (initial_sync) cannot be used with writer mode "replicate"`)
	require.Equal(t, "no tasks\n", d.mustCLI(t, "task", "list"), "the refused create stored nothing")

	out := d.mustCLI(t, "task", "create", "-f", file(nil), "--initial-sync", "-o", "json")
	var created struct {
		ID          string `json:"id"`
		InitialSync bool   `json:"initialSync"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &created), out)
	require.True(t, created.InitialSync)
	t.Cleanup(func() {
		if d.cmd != nil {
			d.CDCRaw(t, "delete", map[string]any{"task_id": created.ID, "ignore_not_found": true})
		}
	})
	require.Equal(t, []string{"Initial sync:", "yes"}, tableCells(t, d.mustCLI(t, "task", "get", created.ID), "Initial sync:"))
	return created.ID
}

// runInitialSync is the whole scenario for one key type: preload, create
// the task with initial_sync while a writer churns, watch the snapshot,
// compare. killAt > 0 kills the daemon (SIGKILL) once that fraction of the
// rows is copied and restarts it.
// With viaCLI the task is created with `milvus-cdc task create
// --initial-sync` (after the same with writer mode replicate was refused),
// and `task status` is checked during the snapshot and `task status -w`
// after it.
func runInitialSync(t *testing.T, varcharPK bool, rows int, killAt float64, viaCLI bool) {
	bed := RequireBed(t)
	SkipInReplicateMode(t, bed, "initial sync is refused in writer mode replicate")
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := initialSyncSchema(UniqueName("e2e_isync"), varcharPK)
	coll := schema.CollectionName
	preloadPartitioned(t, ctx, src, schema, rows)
	DropCollectionOnCleanup(t, dst, coll)

	var id string
	start := time.Now()
	if viaCLI {
		id = createWithCLI(t, d, coll)
		start = time.Now()
	} else {
		id = d.createTaskNoWait(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}, "initial_sync": true})
	}
	w := startChurn(ctx, src, schema, rows)
	churning := true
	defer func() {
		if churning {
			close(w.stop)
			<-w.done
		}
	}()

	var (
		sawSnapshot, sawNotSynced, sawCLI bool
		killedAt, metricAfter             int64
		finalCopied                       int64
		killed                            bool
	)
	deadline := time.Now().Add(snapshotEnd)
	for {
		require.True(t, time.Now().Before(deadline), "the snapshot did not end within %s", snapshotEnd)
		s := d.syncStatus(t, id)
		copied, total := s.copied()
		if s.Pipeline != nil && s.Pipeline.Phase == "snapshot" && s.Pipeline.Snapshot != nil {
			sawSnapshot = true
			if !sawNotSynced && !d.synced(t, id, 0) {
				sawNotSynced = true
			}
			if viaCLI && !sawCLI && copied > 0 && !s.Pipeline.Snapshot.Done {
				out := d.mustCLI(t, "task", "status", id)
				if strings.Contains(out, "Initial sync: copying") {
					sawCLI = true
					require.Equal(t, []string{"Phase:", "snapshot"}, tableCells(t, out, "Phase:"), out)
					t.Logf("task status during the snapshot:\n%s", out[strings.Index(out, "Initial sync:"):])
				}
			}
			if killAt > 0 && !killed && total > 0 && float64(copied) >= killAt*float64(total) {
				d.Kill(t)
				killed, killedAt = true, copied
				t.Logf("daemon killed (SIGKILL) after %d of %d rows were copied (%s)", copied, total, time.Since(start).Round(time.Millisecond))
				time.Sleep(2 * time.Second) // the writer goes on while the daemon is down
				d.Start(t)
				continue
			}
		}
		if s.Pipeline != nil && s.Pipeline.Phase == "following" && s.Pipeline.Snapshot != nil && s.Pipeline.Snapshot.Done {
			// The copy reads the rows as they are while it runs: keys the
			// writer added are copied too, keys it deleted are not.
			require.Positive(t, copied)
			finalCopied = copied
			t.Logf("snapshot done in %s: %d rows copied (%d counted when the copy began)", time.Since(start).Round(time.Millisecond), copied, total)
			if killed {
				metricAfter = d.snapshotRowsMetric(t, id)
			}
			break
		}
		if s.Pipeline != nil && s.Pipeline.Phase == "following" && s.Pipeline.Snapshot == nil {
			t.Fatalf("the task follows without having taken a snapshot: %+v", s.Pipeline)
		}
		time.Sleep(250 * time.Millisecond)
	}
	require.True(t, sawSnapshot, "the status said phase snapshot with progress during the snapshot")
	require.True(t, sawNotSynced, "synced said false during the snapshot")
	if viaCLI {
		require.True(t, sawCLI, "task status showed the snapshot's progress")
		out := d.mustCLI(t, "task", "status", id, "-w", "--interval", "500ms")
		last := out[strings.LastIndex(out, "\x1b[2J"):]
		require.Contains(t, last, "Initial sync: done", "the watch ends once the snapshot is done:\n%s", last)
		require.Equal(t, []string{"Phase:", "following"}, tableCells(t, last, "Phase:"))
	}
	require.Positive(t, w.upserted.Load()+w.deleted.Load(), "the writer changed pre-existing keys during the snapshot")
	churning = false
	w.end(t)
	if killed {
		t.Logf("after the restart this process copied %d rows (snapshot_rows_total); %d were copied before the kill; %d rows copied in all, so %d copied twice",
			metricAfter, killedAt, finalCopied, killedAt+metricAfter-finalCopied)
		require.Positive(t, killedAt)
		require.Less(t, metricAfter, int64(rows), "rows copied before the kill are not copied again")
		// At most the chunk in flight at the kill is copied twice.
		require.LessOrEqual(t, metricAfter, finalCopied-killedAt+16384)
	}

	Eventually(t, ctx, catchUp, time.Second, "synced after the snapshot", func(ctx context.Context) (bool, string, error) {
		return d.synced(t, id, 5), "synced false", nil
	})
	t.Logf("synced %s after create", time.Since(start).Round(time.Millisecond))
	requireFullComparison(t, ctx, src, dst, coll, rows+int(w.inserted.Load())-int(w.deleted.Load()))
	t.Logf("scenario done in %s", time.Since(start).Round(time.Millisecond))
}

// TestInitialSyncInt64KeysUnderWrites: 100,000 pre-existing rows with int64
// keys in two partitions, copied while pre-existing keys are upserted and
// deleted and new keys inserted; after synced the target equals the source
// row by row.
func TestInitialSyncInt64KeysUnderWrites(t *testing.T) {
	runInitialSync(t, false, 100_000, 0, false)
}

// TestInitialSyncVarcharKeysUnderWrites: the same with varchar keys, the
// task created and watched with the CLI.
func TestInitialSyncVarcharKeysUnderWrites(t *testing.T) {
	runInitialSync(t, true, 20_000, 0, true)
}

// TestInitialSyncResumesAfterKill: the daemon is killed with SIGKILL at
// half of the snapshot; after the restart the snapshot resumes from the
// last stored chunk (the rows copied before the kill are not copied again)
// and the target ends equal to the source.
func TestInitialSyncResumesAfterKill(t *testing.T) {
	runInitialSync(t, false, 100_000, 0.5, false)
}
