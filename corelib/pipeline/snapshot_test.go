package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/rows"
)

// fakeRows is a source whose collections hold the given keys per partition.
type fakeRows struct {
	mu       sync.Mutex
	keys     map[string][]int64 // "coll/partition" → sorted keys
	gone     map[string]bool    // collection dropped
	unloaded map[string]bool
	reads    int
	loaded   map[string]bool
	indexes  map[string][]rows.Index
	// failAfter ends the run (as a kill would) after that many reads.
	failAfter int
	kill      func()
}

func (f *fakeRows) Count(_ context.Context, t rows.Table) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for k, keys := range f.keys {
		if len(k) > len(t.Collection) && k[:len(t.Collection)+1] == t.Collection+"/" {
			n += int64(len(keys))
		}
	}
	return n, nil
}

func (f *fakeRows) Next(_ context.Context, t rows.Table, after *rows.Key, limit int) (*rows.Chunk, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.failAfter > 0 && f.reads > f.failAfter {
		f.kill()
		return nil, context.Canceled
	}
	if f.gone[t.Collection] {
		return nil, fmt.Errorf("%s: %w", t.Collection, rows.ErrGone)
	}
	if f.unloaded[t.Collection] {
		return nil, fmt.Errorf("%s: %w", t.Collection, rows.ErrNotLoaded)
	}
	var out []int64
	for _, k := range f.keys[t.Collection+"/"+t.Partition] {
		if (after == nil || k > after.Int) && len(out) < limit {
			out = append(out, k)
		}
	}
	c := &rows.Chunk{Rows: len(out), Columns: []*schemapb.FieldData{{FieldName: "id", Type: schemapb.DataType_Int64,
		Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: out}}}}}}}
	if len(out) > 0 {
		c.Last = rows.Key{Int: out[len(out)-1]}
	}
	return c, nil
}

func (f *fakeRows) Indexes(_ context.Context, _, coll string) ([]rows.Index, error) {
	return f.indexes[coll], nil
}

func (f *fakeRows) Loaded(_ context.Context, _, coll string) (bool, error) {
	return f.loaded[coll], nil
}

// memSnapshots is a SnapshotStore with the compare-and-swap contract.
type memSnapshots struct {
	mu    sync.Mutex
	rev   int64
	p     corelib.SnapshotProgress
	saved bool
	saves int
}

func (s *memSnapshots) LoadSnapshot(context.Context, string) (corelib.SnapshotProgress, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, s.saved, nil
}

func (s *memSnapshots) SaveSnapshot(_ context.Context, _ string, p corelib.SnapshotProgress) (corelib.SnapshotProgress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Revision != s.p.Revision {
		return corelib.SnapshotProgress{}, corelib.ErrConflict
	}
	s.rev++
	p.Revision = s.rev
	s.p, s.saved = p, true
	s.saves++
	return p, nil
}

func (s *memSnapshots) get() corelib.SnapshotProgress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

func keyRange(from, to int64) []int64 {
	var out []int64
	for k := from; k < to; k++ {
		out = append(out, k)
	}
	return out
}

func snapshotPipeline(src Source, store *memStore, snaps *memSnapshots, rec *recorder, fr *fakeRows, scope ...corelib.CollectionScope) *Pipeline {
	p := newTestPipeline(src, store, rec, nil)
	p.spec.InitialSync = true
	if len(scope) > 0 {
		p.spec.Scope = scope
	}
	p.deps.Snapshots = snaps
	p.rows = func(context.Context) (RowSource, func() error, error) { return fr, func() error { return nil }, nil }
	return p
}

func sortedUpserts(rec *recorder, key string) []int64 {
	got := upserted(rec, key)
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	return got
}

// TestSnapshotCopiesEveryRowThenFollows: the rows the in-scope collections
// hold are copied in chunks with their indexes and load state, the progress
// ends done, and the changes after the task's start follow.
func TestSnapshotCopiesEveryRowThenFollows(t *testing.T) {
	src, store, rec, snaps := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder(), &memSnapshots{}
	fr := &fakeRows{keys: map[string][]int64{"logs/_default": keyRange(0, 2500)},
		loaded:  map[string]bool{"logs": true},
		indexes: map[string][]rows.Index{"logs": {{Field: "vec", Name: "idx", Params: []*commonpb.KeyValuePair{{Key: "index_type", Value: "FLAT"}}}}}}
	p := snapshotPipeline(src, store, snaps, rec, fr)
	require.NoError(t, p.Start(context.Background()))
	defer func() { require.NoError(t, p.Stop(context.Background())) }()
	waitFor(t, "the snapshot done", func() bool { return snaps.get().Done })
	require.Equal(t, keyRange(0, 2500), sortedUpserts(rec, "db1.logs"), "every row once")
	calls := rec.Calls()
	require.Contains(t, calls, "CreateIndex db1.logs.vec idx")
	require.Contains(t, calls, "LoadCollection db1.logs")

	prog := snaps.get()
	require.Len(t, prog.Collections, 1)
	c := prog.Collections[0]
	require.Equal(t, corelib.SnapshotDone, c.State)
	require.EqualValues(t, 2500, c.Total)
	require.EqualValues(t, 2500, c.Copied)
	require.Equal(t, "2499", c.Partitions[0].After)

	src.add(t, "dml_0", ts(time.Now()), insertMsg(ts(time.Now()), 11, "logs", 9000))
	waitFor(t, "the change after the snapshot", func() bool { return len(upserted(rec, "db1.logs")) == 2501 })
	st := p.Status()
	require.Equal(t, phaseFollowing, st.Phase)
	require.True(t, st.Snapshot.Done)
	require.Zero(t, st.Snapshot.Remaining)
}

// TestSnapshotResumesFromTheLastChunk: a run that ends in the middle of the
// copy leaves the progress at its last chunk; the next run copies only what
// is left.
func TestSnapshotResumesFromTheLastChunk(t *testing.T) {
	src, store, rec, snaps := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder(), &memSnapshots{}
	fr := &fakeRows{keys: map[string][]int64{"logs/_default": keyRange(0, 5000)}}
	p := snapshotPipeline(src, store, snaps, rec, fr)
	fr.failAfter, fr.kill = 1, func() { go func() { _ = p.Stop(context.Background()) }() }
	require.NoError(t, p.Start(context.Background()))
	waitFor(t, "the first run to end", func() bool { return p.Status().State == stateStopped })
	first := snaps.get().Collections[0]
	require.EqualValues(t, 1000, first.Copied, "the first chunk of 1,000 copied and recorded")
	require.Equal(t, keyRange(0, 1000), sortedUpserts(rec, "db1.logs"))

	fr.mu.Lock()
	fr.failAfter, fr.reads = 0, 0
	fr.mu.Unlock()
	p2 := snapshotPipeline(src, store, snaps, rec, fr)
	require.NoError(t, p2.Start(context.Background()))
	defer func() { require.NoError(t, p2.Stop(context.Background())) }()
	waitFor(t, "the snapshot done", func() bool { return snaps.get().Done })
	require.Equal(t, keyRange(0, 5000), sortedUpserts(rec, "db1.logs"), "no row copied twice")
	require.EqualValues(t, 5000, snaps.get().Collections[0].Copied)
}

// TestSnapshotSkipsWhatTheSourceCannotGive: a collection dropped on the
// source during its copy, and one not loaded there, are skipped with the
// reason (counted as skips in scope); the others are copied.
func TestSnapshotSkipsWhatTheSourceCannotGive(t *testing.T) {
	src, store, rec, snaps := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}, newRecorder(), &memSnapshots{}
	fr := &fakeRows{
		keys:     map[string][]int64{"logs/_default": keyRange(0, 10), "orders/_default": keyRange(0, 10), "users/_default": keyRange(0, 10)},
		gone:     map[string]bool{"orders": true},
		unloaded: map[string]bool{"users": true},
	}
	p := snapshotPipeline(src, store, snaps, rec, fr, corelib.CollectionScope{Database: "*", Collection: "*"})
	require.NoError(t, p.Start(context.Background()))
	defer func() { require.NoError(t, p.Stop(context.Background())) }()
	waitFor(t, "the snapshot done", func() bool { return snaps.get().Done })
	byName := map[string]corelib.CollectionSnapshot{}
	for _, c := range snaps.get().Collections {
		byName[c.Name] = c
	}
	require.Equal(t, corelib.SnapshotDone, byName["logs"].State)
	require.Equal(t, corelib.SnapshotSkipped, byName["orders"].State)
	require.Contains(t, byName["orders"].Reason, "dropped on the source")
	require.Equal(t, corelib.SnapshotSkipped, byName["users"].State)
	require.Contains(t, byName["users"].Reason, "load it there and resume the task")
	require.Equal(t, keyRange(0, 10), sortedUpserts(rec, "db1.logs"))
	var skips int64
	for _, s := range p.Status().Skipped {
		require.True(t, s.InScope)
		skips += s.Count
	}
	require.EqualValues(t, 2, skips)
}

// TestSnapshotNeedsARowSource: a daemon that cannot read the source's rows
// fails such a task at once, saying which setting is missing.
func TestSnapshotNeedsARowSource(t *testing.T) {
	failed := make(chan error, 1)
	src, store := newFakeSource(), &memStore{cps: map[string]corelib.Checkpoint{}}
	p := newTestPipeline(src, store, newRecorder(), func(err error) { failed <- err })
	p.spec.InitialSync = true
	require.NoError(t, p.Start(context.Background()))
	select {
	case err := <-failed:
		require.True(t, errors.Is(err, corelib.ErrPermanent))
		require.ErrorIs(t, err, ErrNoRowSource)
		require.ErrorContains(t, err, "source.milvus.address")
	case <-time.After(5 * time.Second):
		t.Fatal("no failure reported")
	}
}
