package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/rows"
)

// The initial snapshot (TaskSpec.InitialSync) copies the rows the in-scope
// collections hold, chunk by chunk in primary-key order through the source's
// query API, before the follow phase replays the channels from the positions
// captured when the task was created. Every row the snapshot reads is at
// least as new as those positions (it reads with strong consistency, after
// create), and every change after them is replayed afterwards, in order, as
// upserts and deletes by key: whatever the snapshot wrote for a key is
// overwritten by the key's later changes, so the target converges to the
// source (docs/replication.md, "Initial sync").

// RowSource reads the source's rows (rows.Reader).
type RowSource interface {
	Count(ctx context.Context, t rows.Table) (int64, error)
	Next(ctx context.Context, t rows.Table, after *rows.Key, limit int) (*rows.Chunk, error)
	Indexes(ctx context.Context, db, coll string) ([]rows.Index, error)
	Loaded(ctx context.Context, db, coll string) (bool, error)
}

// Chunk sizes of the snapshot: rows per query, adapted so a chunk carries
// about snapshotChunkBytes (the query answers at most 16,384 rows).
const (
	snapshotChunkBytes = 4 << 20
	snapshotMinRows    = 100
	snapshotMaxRows    = 16384
	snapshotFirstRows  = 1000
)

// ErrNoRowSource: a task asks for an initial snapshot from a daemon that
// cannot read the source's rows (no source Milvus address configured).
var ErrNoRowSource = errors.New("this daemon cannot read the source's rows: set source.milvus.address")

// snapshotter runs one run's part of the initial snapshot.
type snapshotter struct {
	p     *Pipeline
	r     *run
	rows  RowSource
	prog  corelib.SnapshotProgress
	start time.Time
	// copied this run, for the rate
	mu         sync.Mutex
	copiedHere int64
}

// snapshot is the phase between bootstrap and follow for a task with
// InitialSync: it copies what is left to copy and records it done.
func (p *Pipeline) snapshot(ctx context.Context, b *boot) error {
	if !p.spec.InitialSync {
		return nil
	}
	h := b.r.health
	if p.deps.Snapshots == nil || p.rows == nil {
		return h.givePermanent(stageRead, ErrNoRowSource)
	}
	s := &snapshotter{p: p, r: b.r, start: time.Now()}
	p.setStage("initial snapshot: reading its progress")
	var found bool
	if err := retry(ctx, h, p.log, stageRead, "load the snapshot progress", func(ctx context.Context) (err error) {
		s.prog, found, err = p.deps.Snapshots.LoadSnapshot(ctx, p.spec.ID)
		return err
	}); err != nil {
		return err
	}
	if found && s.prog.Done {
		b.r.snapshotEnd = s.prog.EndTs
		return nil
	}
	p.mu.Lock()
	p.snap = s
	p.mu.Unlock()
	if !found {
		s.prog = corelib.SnapshotProgress{Collections: s.plan(b.snap)}
		if err := s.save(ctx); err != nil {
			return err
		}
	}
	p.setStage("initial snapshot: connecting to the source")
	var closeRows func() error
	if err := retry(ctx, h, p.log, stageRead, "connect to the source Milvus", func(ctx context.Context) (err error) {
		s.rows, closeRows, err = p.rows(ctx)
		return err
	}); err != nil {
		return err
	}
	defer closeRows()
	for i := range s.prog.Collections {
		if err := s.copyCollection(ctx, i); err != nil {
			return err
		}
	}
	end := s.endTs(ctx)
	s.set(func(pr *corelib.SnapshotProgress) { pr.Done, pr.EndTs = true, end })
	if err := s.save(ctx); err != nil {
		return err
	}
	b.r.snapshotEnd = end
	p.log.Info("initial snapshot done", zap.Int64("rows", s.totalCopied()), zap.Duration("took", time.Since(s.start)))
	return nil
}

// plan lists the collections to copy: the in-scope collections the source
// has when the first run of the task begins.
func (s *snapshotter) plan(snap *source.Snapshot) []corelib.CollectionSnapshot {
	var out []corelib.CollectionSnapshot
	for _, c := range existingInScope(s.r, snap) {
		v := s.r.colls.resolve(c.ID, "", "").coll()
		out = append(out, corelib.CollectionSnapshot{ID: c.ID, Database: v.Database, Name: v.Name, State: corelib.SnapshotPending})
	}
	return out
}

// set changes the progress under the lock the status reads it with.
func (s *snapshotter) set(fn func(*corelib.SnapshotProgress)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.prog)
}

// save stores the progress, retrying a store that fails; a conflict means
// another daemon runs the task.
func (s *snapshotter) save(ctx context.Context) error {
	s.mu.Lock()
	prog := s.prog
	prog.Collections = append([]corelib.CollectionSnapshot(nil), s.prog.Collections...)
	s.mu.Unlock()
	var conflict error
	err := retry(ctx, s.r.health, s.p.log, stageSave, "save the snapshot progress", func(ctx context.Context) error {
		saved, err := s.p.deps.Snapshots.SaveSnapshot(ctx, s.p.spec.ID, prog)
		switch {
		case errors.Is(err, corelib.ErrConflict):
			conflict = err
			return nil
		case errors.Is(err, corelib.ErrTaskGone):
			return nil
		case err != nil:
			return err
		}
		s.set(func(pr *corelib.SnapshotProgress) { pr.Revision = saved.Revision })
		return nil
	})
	if errors.Is(conflict, corelib.ErrNotOwner) {
		return fmt.Errorf("snapshot progress not saved: %w", conflict)
	}
	if conflict != nil {
		return fmt.Errorf("the snapshot progress of task %s was changed by another writer; is a second daemon running it? %w", s.p.spec.ID, conflict)
	}
	return err
}

// skip records that a collection cannot be copied, and why.
func (s *snapshotter) skip(ctx context.Context, i int, reason string) error {
	s.set(func(pr *corelib.SnapshotProgress) {
		pr.Collections[i].State, pr.Collections[i].Reason = corelib.SnapshotSkipped, reason
	})
	c := s.prog.Collections[i]
	s.p.log.Warn("initial snapshot skips a collection", zap.String("collection", c.Database+"."+c.Name), zap.String("reason", reason))
	s.r.health.skip("initial snapshot of a collection: "+reason, true)
	return s.save(ctx)
}

// copyCollection copies one collection: its indexes, its rows partition by
// partition from where the last run stopped, then its load state.
func (s *snapshotter) copyCollection(ctx context.Context, i int) error {
	cs := s.prog.Collections[i]
	if cs.State == corelib.SnapshotDone || cs.State == corelib.SnapshotSkipped {
		return nil
	}
	r := s.r
	c, ok := r.meta.collection(cs.ID)
	if !ok || c.State != metapb.CollectionState_CollectionCreated {
		return s.skip(ctx, i, "dropped on the source before its rows were copied")
	}
	st := r.colls.resolve(cs.ID, "", "")
	if err := r.ensureCollection(ctx, st, nil, c.CreateTime); err != nil {
		return err
	}
	coll := st.coll()
	pk := primaryKey(c.Schema)
	if pk == nil {
		return s.skip(ctx, i, "the source schema has no primary key")
	}
	s.p.setStage(fmt.Sprintf("initial snapshot: copying %s", coll))
	gone, err := s.prepare(ctx, i, st, c, pk)
	if err != nil || gone != "" {
		if gone != "" {
			return s.skip(ctx, i, gone)
		}
		return err
	}
	for j := range s.prog.Collections[i].Partitions {
		gone, err := s.copyPartition(ctx, i, j, st, pk)
		if err != nil {
			return err
		}
		if gone != "" {
			return s.skip(ctx, i, gone)
		}
	}
	if err := s.loadAsTheSource(ctx, st); err != nil {
		return err
	}
	s.set(func(pr *corelib.SnapshotProgress) { pr.Collections[i].State = corelib.SnapshotDone })
	return s.save(ctx)
}

// prepare builds the index of a collection as the source has it, and on the
// collection's first visit its partition list and row count.
func (s *snapshotter) prepare(ctx context.Context, i int, st *collState, c *source.Collection, pk *schemapb.FieldSchema) (string, error) {
	coll := st.coll()
	var indexes []rows.Index
	gone, err := s.read(ctx, "describe the indexes of "+coll.String(), func(ctx context.Context) (err error) {
		indexes, err = s.rows.Indexes(ctx, coll.Database, coll.Name)
		return err
	})
	if err != nil || gone != "" {
		return gone, err
	}
	for _, idx := range indexes {
		if err := s.r.apply(ctx, st, &sink.CreateIndex{At: sink.At{Ts: source.ComposeTSByTime(time.Now())}, Coll: coll,
			Field: idx.Field, Index: idx.Name, Params: idx.Params}); err != nil {
			return "", err
		}
	}
	if s.prog.Collections[i].State != corelib.SnapshotPending {
		return "", nil
	}
	var total int64
	gone, err = s.read(ctx, "count the rows of "+coll.String(), func(ctx context.Context) (err error) {
		total, err = s.rows.Count(ctx, rows.Table{Database: coll.Database, Collection: coll.Name, PK: pk})
		return err
	})
	if err != nil || gone != "" {
		return gone, err
	}
	parts := []corelib.PartitionSnapshot{{}} // a partition-key collection is read whole
	if !coll.PartitionKey {
		parts = parts[:0]
		for _, p := range c.Partitions {
			if p.State == metapb.PartitionState_PartitionCreated {
				parts = append(parts, corelib.PartitionSnapshot{Name: p.Name})
			}
		}
	}
	s.set(func(pr *corelib.SnapshotProgress) {
		cs := &pr.Collections[i]
		cs.State, cs.Total, cs.Partitions = corelib.SnapshotCopying, total, parts
	})
	return "", s.save(ctx)
}

// read runs one read of the source, retried like any failure; a
// collection dropped or released on the source is not an error but the
// reason its copy ends ("" otherwise).
func (s *snapshotter) read(ctx context.Context, what string, fn func(context.Context) error) (string, error) {
	var gone string
	err := retry(ctx, s.r.health, s.p.log, stageRead, what, func(ctx context.Context) error {
		err := fn(ctx)
		switch {
		case errors.Is(err, rows.ErrGone):
			gone = "dropped on the source while its rows were copied"
			return nil
		case errors.Is(err, rows.ErrNotLoaded):
			gone = "not loaded on the source, so its rows cannot be read: load it there and resume the task"
			return nil
		}
		return err
	})
	return gone, err
}

// copyPartition copies the rows of one partition, chunk after chunk from
// the last key copied, saving the progress after every chunk.
func (s *snapshotter) copyPartition(ctx context.Context, i, j int, st *collState, pk *schemapb.FieldSchema) (string, error) {
	coll := st.coll()
	part := s.prog.Collections[i].Partitions[j]
	if part.Done {
		return "", nil
	}
	var after *rows.Key
	if part.After != "" {
		k, err := rows.ParseKey(part.After, pk.GetDataType())
		if err != nil {
			return "", err
		}
		after = &k
	}
	table := rows.Table{Database: coll.Database, Collection: coll.Name, Partition: part.Name, PK: pk}
	limit := snapshotFirstRows
	for {
		var chunk *rows.Chunk
		gone, err := s.read(ctx, "read the rows of "+coll.String(), func(ctx context.Context) (err error) {
			chunk, err = s.rows.Next(ctx, table, after, limit)
			return err
		})
		if err != nil || gone != "" {
			return gone, err
		}
		if chunk.Rows == 0 {
			s.set(func(pr *corelib.SnapshotProgress) { pr.Collections[i].Partitions[j].Done = true })
			return "", s.save(ctx)
		}
		if err := s.write(ctx, st, part.Name, chunk); err != nil {
			return "", err
		}
		last := chunk.Last
		after = &last
		s.set(func(pr *corelib.SnapshotProgress) {
			p := &pr.Collections[i].Partitions[j]
			p.After, p.Copied = last.String(), p.Copied+int64(chunk.Rows)
			pr.Collections[i].Copied += int64(chunk.Rows)
		})
		if err := s.save(ctx); err != nil {
			return "", err
		}
		limit = nextChunkRows(chunk)
	}
}

// nextChunkRows sizes the next query after the bytes per row of the last.
func nextChunkRows(c *rows.Chunk) int {
	size := 0
	for _, col := range c.Columns {
		size += protoSize(col)
	}
	perRow := max(size/max(c.Rows, 1), 1)
	return min(max(snapshotChunkBytes/perRow, snapshotMinRows), snapshotMaxRows)
}

// write hands one chunk to the writer as rows read from the source, and
// counts them.
func (s *snapshotter) write(ctx context.Context, st *collState, partition string, c *rows.Chunk) error {
	coll := st.coll()
	req := &msgpb.InsertRequest{
		Base:   &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert},
		DbName: coll.Database, CollectionName: coll.Name, CollectionID: coll.ID, PartitionName: partition,
		FieldsData: c.Columns, NumRows: uint64(c.Rows), Version: msgpb.InsertDataVersion_ColumnBased,
	}
	ts := source.ComposeTSByTime(time.Now())
	// A chunk copied again after a restart is written over itself.
	ins := &sink.Insert{Coll: coll, Msg: &source.Message{Type: commonpb.MsgType_Insert, Body: req, BeginTs: ts, EndTs: ts}, Read: true, Replay: true}
	if err := s.r.w.Write(ctx, &sink.Batch{Channel: "snapshot", BeginTs: ts, EndTs: ts, Changes: []sink.Change{ins}}); err != nil {
		return err
	}
	s.r.count(st, ins)
	s.r.health.metrics.addSnapshotRows(int64(c.Rows))
	s.mu.Lock()
	s.copiedHere += int64(c.Rows)
	s.mu.Unlock()
	return nil
}

// loadAsTheSource loads the target collection when the source has it loaded.
func (s *snapshotter) loadAsTheSource(ctx context.Context, st *collState) error {
	coll := st.coll()
	var loaded bool
	gone, err := s.read(ctx, "read the load state of "+coll.String(), func(ctx context.Context) (err error) {
		loaded, err = s.rows.Loaded(ctx, coll.Database, coll.Name)
		return err
	})
	if err != nil || gone != "" || !loaded {
		return err
	}
	return s.r.apply(ctx, st, &sink.LoadCollection{At: sink.At{Ts: source.ComposeTSByTime(time.Now())}, Coll: coll, Replicas: 1})
}

// endTs is a source time past every row the snapshot read: the source's
// clock when it can be read (the daemon's own otherwise), plus the apply
// bound's lead for the clocks' skew.
func (s *snapshotter) endTs(ctx context.Context) uint64 {
	now := time.Now()
	if s.p.clock != nil {
		if t, err := s.p.clock(ctx); err == nil && t.After(now) {
			now = t
		}
	}
	return applyBound(source.ComposeTSByTime(now))
}

func (s *snapshotter) totalCopied() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, c := range s.prog.Collections {
		n += c.Copied
	}
	return n
}

func protoSize(m proto.Message) int { return proto.Size(m) }

func primaryKey(s *schemapb.CollectionSchema) *schemapb.FieldSchema {
	for _, f := range s.GetFields() {
		if f.GetIsPrimaryKey() {
			return f
		}
	}
	return nil
}

// status is the snapshot's part of the pipeline status.
func (s *snapshotter) status(now time.Time) *corelib.SnapshotStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &corelib.SnapshotStatus{Done: s.prog.Done}
	elapsed := now.Sub(s.start).Seconds()
	var rate float64
	if elapsed > 0 {
		rate = float64(s.copiedHere) / elapsed
	}
	for _, c := range s.prog.Collections {
		cs := corelib.SnapshotCollectionStatus{ID: c.ID, Database: c.Database, Name: c.Name, State: c.State, Reason: c.Reason,
			Total: c.Total, Copied: c.Copied}
		if c.State == corelib.SnapshotCopying || c.State == corelib.SnapshotPending {
			out.Remaining++
			if c.State == corelib.SnapshotCopying && rate > 0 {
				cs.RowsPerSecond = rate
				eta := float64(max(c.Total-c.Copied, 0)) / rate
				cs.ETASeconds = &eta
			}
		}
		out.Collections = append(out.Collections, cs)
	}
	return out
}

func (s *snapshotter) isDone() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prog.Done
}
