// Package verify has one job: to tell whether a task's target holds what its
// source holds. Per collection in the task's scope it compares the row counts
// (of the collection and of each partition), a digest of the set of primary
// keys, and the field values of a sample of rows (mode "sample") or of every
// row (mode "full"), and reports the collection equal or names the first
// keys that differ: missing on the target, extra on the target, or with
// differing values.
//
// Both sides are Milvus and are read the same way, through the query API in
// primary-key order, a chunk at a time (rows.Reader), and merged as they are
// read: memory holds one chunk per side and the sampled keys, never every
// key of a collection. The control plane calls it once the task is synced,
// without pausing it: rows written while the comparison runs may show as
// differences, and a second run tells them apart from real ones.
package verify

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// Service compares the collections of tasks. It implements
// corelib.TaskVerifier.
type Service struct {
	// Source connects to the source Milvus; Target to a task's target.
	// Both return the reader and how to close it.
	Source func(ctx context.Context) (RowSource, func() error, error)
	Target func(ctx context.Context, t corelib.Target) (RowSource, func() error, error)
	// Scope lists the source collections a task replicates, with their
	// names on the target.
	Scope func(ctx context.Context, spec corelib.TaskSpec) ([]Collection, error)
	// ChunkRows fixes how many whole rows a query reads (zero: sized to
	// about 4 MiB per chunk).
	ChunkRows int
	Metrics   *Metrics
	Log       *zap.Logger
}

var _ corelib.TaskVerifier = (*Service)(nil)

// Normalize fills the defaults of opts and checks them; the error names the
// field ("mode" or "sample").
func Normalize(opts corelib.VerifyOptions) (corelib.VerifyOptions, *FieldError) {
	switch opts.Mode {
	case "":
		opts.Mode = corelib.VerifyModeSample
	case corelib.VerifyModeSample, corelib.VerifyModeFull:
	default:
		return opts, &FieldError{Field: "mode", Message: fmt.Sprintf("mode must be %q or %q, got %q", corelib.VerifyModeSample, corelib.VerifyModeFull, opts.Mode)}
	}
	switch {
	case opts.Sample < 0 || opts.Sample > corelib.MaxVerifySample:
		return opts, &FieldError{Field: "sample", Message: fmt.Sprintf("sample must be from 1 to %d rows, got %d", corelib.MaxVerifySample, opts.Sample)}
	case opts.Sample != 0 && opts.Mode == corelib.VerifyModeFull:
		return opts, &FieldError{Field: "sample", Message: "sample applies to mode sample only: mode full compares every row"}
	case opts.Sample == 0 && opts.Mode == corelib.VerifyModeSample:
		opts.Sample = corelib.DefaultVerifySample
	}
	return opts, nil
}

// FieldError is a refused option.
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Message }

// VerifyTask compares every in-scope collection of the task.
func (s *Service) VerifyTask(ctx context.Context, spec corelib.TaskSpec, opts corelib.VerifyOptions) (corelib.VerifyReport, error) {
	if spec.WriterMode == corelib.WriterModeKafka || spec.Target.Kafka != nil {
		return corelib.VerifyReport{}, fmt.Errorf("%w: writer mode kafka publishes change events, there is no target Milvus to compare", corelib.ErrNoMilvusTarget)
	}
	opts, ferr := Normalize(opts)
	if ferr != nil {
		return corelib.VerifyReport{}, ferr
	}
	log := s.Log
	if log == nil {
		log = zap.NewNop()
	}
	colls, err := s.Scope(ctx, spec)
	if err != nil {
		return corelib.VerifyReport{}, fmt.Errorf("list the task's collections on the source: %w", err)
	}
	src, closeSrc, err := s.Source(ctx)
	if err != nil {
		return corelib.VerifyReport{}, fmt.Errorf("connect to the source Milvus: %v", err) // not the target's ErrTargetUnreachable
	}
	defer func() { _ = closeSrc() }()
	dst, closeDst, err := s.Target(ctx, spec.Target)
	if err != nil {
		return corelib.VerifyReport{}, fmt.Errorf("connect to the target Milvus: %w", err)
	}
	defer func() { _ = closeDst() }()

	// A report lists its collections by database and name, the same order
	// every run (the scope comes from a map of the catalog).
	sort.SliceStable(colls, func(i, j int) bool {
		if colls[i].Database != colls[j].Database {
			return colls[i].Database < colls[j].Database
		}
		return colls[i].Name < colls[j].Name
	})
	cmp := &Comparer{Source: src, Target: dst, ChunkRows: s.ChunkRows}
	rep := corelib.VerifyReport{Equal: true, Mode: opts.Mode, Sample: opts.Sample, Collections: []corelib.CollectionVerify{}}
	started := time.Now()
	for _, c := range colls {
		cv, err := cmp.Compare(ctx, c, opts)
		if err != nil {
			return corelib.VerifyReport{}, err
		}
		s.Metrics.set(spec.ID, c.Database+"."+c.Name, cv.Mismatched())
		rep.Equal = rep.Equal && cv.Equal
		rep.Collections = append(rep.Collections, cv)
		log.Info("collection verified", zap.String("task_id", spec.ID), zap.String("collection", c.Database+"."+c.Name),
			zap.Bool("equal", cv.Equal), zap.Int64("source_rows", cv.SourceRows), zap.Int64("target_rows", cv.TargetRows),
			zap.Int64("compared", cv.Compared), zap.Int64("missing", cv.Missing), zap.Int64("extra", cv.Extra), zap.Int64("differing", cv.Differing))
	}
	log.Info("task verified", zap.String("task_id", spec.ID), zap.Bool("equal", rep.Equal), zap.Int("collections", len(colls)), zap.Duration("took", time.Since(started)))
	return rep, nil
}

// Metrics are the verification metrics (milvus_cdc_daemon_verify_*). A nil
// *Metrics records nothing.
type Metrics struct {
	mismatched *prometheus.GaugeVec // task_id, collection
}

// NewMetrics creates the verification metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{mismatched: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "milvus_cdc_daemon", Subsystem: "verify", Name: "mismatched_rows",
		Help: "Rows that differed between source and target at the task's last verification (missing, extra and with differing values), by source collection (db.name).",
	}, []string{"task_id", "collection"})}
	if err := reg.Register(m.mismatched); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) set(task, coll string, n int64) {
	if m == nil {
		return
	}
	m.mismatched.WithLabelValues(task, coll).Set(float64(n))
}
