package verify

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/rows"
)

// RowSource reads one Milvus's collections (rows.Reader); both the source
// and the target are read through one.
type RowSource interface {
	Schema(ctx context.Context, db, coll string) (*schemapb.CollectionSchema, error)
	Partitions(ctx context.Context, db, coll string) ([]string, error)
	Count(ctx context.Context, t rows.Table) (int64, error)
	NextFields(ctx context.Context, t rows.Table, after *rows.Key, limit int, fields []string) (*rows.Chunk, error)
	Lookup(ctx context.Context, t rows.Table, keys []rows.Key) (*rows.Chunk, error)
}

// Collection is one collection to compare: its names on both sides.
type Collection struct {
	Database, Name             string
	TargetDatabase, TargetName string
}

// Chunk sizes: keys per query when only keys are read; whole rows are read
// 1,000 first, then as many as make about chunkBytes (the query API
// answers at most 16,384 rows).
const (
	keyChunkRows   = 16384
	firstChunkRows = 1000
	minChunkRows   = 100
	chunkBytes     = 4 << 20
)

// Comparer compares collections of two Milvus.
type Comparer struct {
	Source, Target RowSource
	// ChunkRows fixes how many whole rows a query reads; zero adapts it to
	// the rows' size.
	ChunkRows int
}

// side is one Milvus's part of a comparison.
type side struct {
	name string // "source" or "target", for errors
	rs   RowSource
	t    rows.Table
}

// Compare compares one collection. opts must be validated (Mode set).
func (c *Comparer) Compare(ctx context.Context, coll Collection, opts corelib.VerifyOptions) (corelib.CollectionVerify, error) {
	out := corelib.CollectionVerify{Database: coll.Database, Name: coll.Name, TargetDatabase: coll.TargetDatabase, TargetName: coll.TargetName}
	schema, err := c.Source.Schema(ctx, coll.Database, coll.Name)
	if err != nil {
		return out, fmt.Errorf("describe %s.%s on the source: %w", coll.Database, coll.Name, err)
	}
	pk := primaryField(schema)
	if pk == nil {
		return out, fmt.Errorf("%s.%s on the source has no primary key field", coll.Database, coll.Name)
	}
	src := side{name: "source", rs: c.Source, t: rows.Table{Database: coll.Database, Collection: coll.Name, PK: pk}}
	dst := side{name: "target", rs: c.Target, t: rows.Table{Database: coll.TargetDatabase, Collection: coll.TargetName, PK: pk}}
	targetGone := false
	if _, err := c.Target.Schema(ctx, coll.TargetDatabase, coll.TargetName); err != nil {
		if !errors.Is(err, rows.ErrGone) {
			return out, fmt.Errorf("describe %s.%s on the target: %w", coll.TargetDatabase, coll.TargetName, err)
		}
		targetGone = true
		out.Reason = "the collection is missing on the target"
	}
	if out.SourceRows, err = src.count(ctx, ""); err != nil {
		return notLoaded(out, "source", err)
	}
	if !targetGone {
		if out.TargetRows, err = dst.count(ctx, ""); err != nil {
			return notLoaded(out, "target", err)
		}
		if out.Partitions, err = c.partitions(ctx, src, dst); err != nil {
			return out, err
		}
	}

	fields := comparedFields(schema)
	w := walk{c: c, opts: opts, fields: fields, pk: pk.GetName(), out: &out}
	if opts.Mode == corelib.VerifyModeSample {
		w.sample = &bottomK{k: opts.Sample}
	}
	var target *stream
	if !targetGone {
		target = w.stream(dst)
	}
	if err := w.run(ctx, w.stream(src), target); err != nil {
		return out, err
	}
	if w.sample != nil {
		if err := w.compareSample(ctx, src, dst); err != nil {
			return out, err
		}
	}
	out.SourceKeyHash, out.TargetKeyHash = w.srcSet.String(), w.dstSet.String()
	out.Equal = !targetGone && out.Mismatched() == 0 && out.SourceRows == out.TargetRows &&
		out.SourceKeyHash == out.TargetKeyHash && partitionsEqual(out.Partitions)
	if !out.Equal && out.Reason == "" && out.Mismatched() == 0 {
		out.Reason = "the row counts differ while every key and value read matches: the source or the target changed during the comparison"
		if p := firstPartitionDiff(out.Partitions); p != nil {
			out.Reason = fmt.Sprintf("partition %s holds %s on the source and %s on the target", p.Name, rowsOf(p.SourceRows), rowsOf(p.TargetRows))
		}
	}
	return out, nil
}

// notLoaded reports a collection that cannot be queried on one side as not
// equal, with the reason; any other error is returned.
func notLoaded(out corelib.CollectionVerify, side string, err error) (corelib.CollectionVerify, error) {
	if !errors.Is(err, rows.ErrNotLoaded) {
		return out, err
	}
	out.Reason = fmt.Sprintf("the collection is not loaded on the %s, so its rows cannot be compared; load it", side)
	return out, nil
}

func (s side) count(ctx context.Context, partition string) (int64, error) {
	t := s.t
	t.Partition = partition
	n, err := s.rs.Count(ctx, t)
	if err != nil {
		return 0, fmt.Errorf("count %s.%s on the %s: %w", t.Database, t.Collection, s.name, err)
	}
	return n, nil
}

// partitions counts the rows of every partition either side has.
func (c *Comparer) partitions(ctx context.Context, src, dst side) ([]corelib.PartitionVerify, error) {
	names := map[string]bool{}
	on := map[string]map[string]bool{}
	for _, s := range []side{src, dst} {
		list, err := s.rs.Partitions(ctx, s.t.Database, s.t.Collection)
		if err != nil {
			return nil, fmt.Errorf("list the partitions of %s.%s on the %s: %w", s.t.Database, s.t.Collection, s.name, err)
		}
		on[s.name] = map[string]bool{}
		for _, n := range list {
			names[n], on[s.name][n] = true, true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	out := make([]corelib.PartitionVerify, 0, len(sorted))
	for _, n := range sorted {
		p := corelib.PartitionVerify{Name: n, SourceRows: -1, TargetRows: -1}
		var err error
		if on[src.name][n] {
			if p.SourceRows, err = src.count(ctx, n); err != nil {
				return nil, err
			}
		}
		if on[dst.name][n] {
			if p.TargetRows, err = dst.count(ctx, n); err != nil {
				return nil, err
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func partitionsEqual(ps []corelib.PartitionVerify) bool {
	for _, p := range ps {
		if p.SourceRows != p.TargetRows {
			return false
		}
	}
	return true
}

func firstPartitionDiff(ps []corelib.PartitionVerify) *corelib.PartitionVerify {
	for i := range ps {
		if ps[i].SourceRows != ps[i].TargetRows {
			return &ps[i]
		}
	}
	return nil
}

func rowsOf(n int64) string {
	if n < 0 {
		return "no such partition"
	}
	return fmt.Sprintf("%d rows", n)
}

func primaryField(s *schemapb.CollectionSchema) *schemapb.FieldSchema {
	for _, f := range s.GetFields() {
		if f.GetIsPrimaryKey() {
			return f
		}
	}
	return nil
}

// comparedFields are the fields whose values are compared: every field of
// the schema (the primary key included) and the dynamic field.
func comparedFields(s *schemapb.CollectionSchema) []string {
	var out []string
	for _, f := range s.GetFields() {
		if f.GetIsDynamic() {
			continue
		}
		out = append(out, f.GetName())
	}
	if s.GetEnableDynamicField() {
		out = append(out, dynamicField)
	}
	return out
}

// keySet digests a set of keys independently of their order.
type keySet struct {
	n   int64
	sum uint64
}

func (s *keySet) add(k rows.Key) { s.n++; s.sum += keyHash(k) }

func (s keySet) String() string { return fmt.Sprintf("%d:%016x", s.n, s.sum) }

// stream reads one side in key order, chunk by chunk.
type stream struct {
	s      side
	fields []string // nil: every field
	limit  int
	adapt  bool // size chunks by their bytes
	after  *rows.Key
	cols   columns
	order  []int
	i      int
	done   bool
}

func (w *walk) stream(s side) *stream {
	st := &stream{s: s, limit: firstChunkRows, adapt: w.c.ChunkRows <= 0}
	if !st.adapt {
		st.limit = w.c.ChunkRows
	}
	if w.sample != nil { // keys only
		st.fields, st.limit, st.adapt = []string{w.pk}, keyChunkRows, false
	}
	return st
}

// adaptLimit sizes the next chunk after the bytes per row of the last one.
func (st *stream) adaptLimit(ch *rows.Chunk) {
	size := 0
	for _, c := range ch.Columns {
		size += proto.Size(c)
	}
	perRow := max(size/ch.Rows, 1)
	st.limit = min(max(chunkBytes/perRow, minChunkRows), keyChunkRows)
}

// peek returns the current row's key; ok is false at the end.
func (st *stream) peek(ctx context.Context) (rows.Key, bool, error) {
	if st == nil {
		return rows.Key{}, false, nil
	}
	for !st.done && st.i >= len(st.order) {
		ch, err := st.s.rs.NextFields(ctx, st.s.t, st.after, st.limit, st.fields)
		if err != nil {
			return rows.Key{}, false, fmt.Errorf("read %s.%s on the %s: %w", st.s.t.Database, st.s.t.Collection, st.s.name, err)
		}
		if ch.Rows == 0 {
			st.done = true
			break
		}
		if st.adapt {
			st.adaptLimit(ch)
		}
		st.cols = index(ch, st.s.t.PK.GetName())
		st.order, st.i = sortedIndex(st.cols.keys), 0
		last := st.cols.keys[st.order[len(st.order)-1]]
		if st.after != nil && compareKeys(last, *st.after) <= 0 {
			return rows.Key{}, false, fmt.Errorf("read %s.%s on the %s: the query returned no key above %s", st.s.t.Database, st.s.t.Collection, st.s.name, st.after)
		}
		st.after = &last
	}
	if st.done {
		return rows.Key{}, false, nil
	}
	return st.cols.keys[st.order[st.i]], true, nil
}

func (st *stream) row() int { return st.order[st.i] }

// walk is one collection's merge of the two sides in key order.
type walk struct {
	c              *Comparer
	opts           corelib.VerifyOptions
	fields         []string
	pk             string
	out            *corelib.CollectionVerify
	srcSet, dstSet keySet
	sample         *bottomK
}

func (w *walk) run(ctx context.Context, src, dst *stream) error {
	for {
		sk, sok, err := src.peek(ctx)
		if err != nil {
			return err
		}
		dk, dok, err := dst.peek(ctx)
		if err != nil {
			return err
		}
		switch {
		case !sok && !dok:
			return nil
		case sok && (!dok || compareKeys(sk, dk) < 0):
			w.srcSet.add(sk)
			w.missing(sk)
			src.i++
		case dok && (!sok || compareKeys(dk, sk) < 0):
			w.dstSet.add(dk)
			w.extra(dk)
			dst.i++
		default:
			w.srcSet.add(sk)
			w.dstSet.add(dk)
			if w.sample != nil {
				w.sample.offer(sk)
			} else {
				w.out.Compared++
				w.values(sk, src.cols.digest(w.fields, src.row()), dst.cols.digest(w.fields, dst.row()))
			}
			src.i++
			dst.i++
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (w *walk) missing(k rows.Key) {
	w.out.Missing++
	if len(w.out.MissingKeys) < corelib.MaxVerifyKeys {
		w.out.MissingKeys = append(w.out.MissingKeys, k.String())
	}
}

func (w *walk) extra(k rows.Key) {
	w.out.Extra++
	if len(w.out.ExtraKeys) < corelib.MaxVerifyKeys {
		w.out.ExtraKeys = append(w.out.ExtraKeys, k.String())
	}
}

func (w *walk) values(k rows.Key, a, b rowDigest) {
	diff := differingFields(w.fields, a, b)
	if len(diff) == 0 {
		return
	}
	w.out.Differing++
	if len(w.out.DifferingKeys) < corelib.MaxVerifyKeys {
		w.out.DifferingKeys = append(w.out.DifferingKeys, k.String())
		w.out.DifferingFields = append(w.out.DifferingFields, k.String()+": "+strings.Join(diff, ","))
	}
}

// compareSample reads the sampled rows on both sides and compares their
// values, in key order.
func (w *walk) compareSample(ctx context.Context, src, dst side) error {
	keys := w.sample.sorted()
	for start := 0; start < len(keys); start += rows.MaxLookup {
		batch := keys[start:min(start+rows.MaxLookup, len(keys))]
		a, err := lookup(ctx, src, batch)
		if err != nil {
			return err
		}
		b, err := lookup(ctx, dst, batch)
		if err != nil {
			return err
		}
		for _, k := range batch {
			ia, oka := a.at[k]
			ib, okb := b.at[k]
			switch {
			case !oka: // deleted on the source since the walk: changes after the synced point are not compared
			case !okb:
				w.missing(k)
			default:
				w.out.Compared++
				w.values(k, a.cols.digest(w.fields, ia), b.cols.digest(w.fields, ib))
			}
		}
	}
	return nil
}

type lookedUp struct {
	cols columns
	at   map[rows.Key]int
}

func lookup(ctx context.Context, s side, keys []rows.Key) (lookedUp, error) {
	ch, err := s.rs.Lookup(ctx, s.t, keys)
	if err != nil {
		return lookedUp{}, fmt.Errorf("read sampled rows of %s.%s on the %s: %w", s.t.Database, s.t.Collection, s.name, err)
	}
	cols := index(ch, s.t.PK.GetName())
	at := make(map[rows.Key]int, len(cols.keys))
	for i, k := range cols.keys {
		at[k] = i
	}
	return lookedUp{cols: cols, at: at}, nil
}

// bottomK keeps the k keys of smallest hash seen: a uniform sample, the same
// for the same set of keys, in O(k) memory.
type bottomK struct {
	k int
	h keyHeap
}

func (b *bottomK) offer(k rows.Key) {
	e := hashedKey{hash: mix(keyHash(k) + 1), key: k}
	if len(b.h) < b.k {
		heap.Push(&b.h, e)
		return
	}
	if b.k > 0 && e.hash < b.h[0].hash {
		b.h[0] = e
		heap.Fix(&b.h, 0)
	}
}

func (b *bottomK) sorted() []rows.Key {
	out := make([]rows.Key, len(b.h))
	for i, e := range b.h {
		out[i] = e.key
	}
	sort.Slice(out, func(i, j int) bool { return compareKeys(out[i], out[j]) < 0 })
	return out
}

type hashedKey struct {
	hash uint64
	key  rows.Key
}

// keyHeap is a max-heap by hash.
type keyHeap []hashedKey

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].hash > h[j].hash }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(hashedKey)) }
func (h *keyHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
