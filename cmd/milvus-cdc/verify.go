package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/config"
	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/milvusconn"
	"github.com/milvus-cdc/milvus-cdc/corelib/pipeline"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/rows"
	"github.com/milvus-cdc/milvus-cdc/corelib/verify"
)

// verifyingFactory is the pipeline factory that also verifies tasks
// (corelib.TaskVerifier): the control plane finds verification on the
// factory it already holds.
type verifyingFactory struct {
	*pipeline.Factory
	verifier *verify.Service
}

func (f verifyingFactory) VerifyTask(ctx context.Context, spec corelib.TaskSpec, opts corelib.VerifyOptions) (corelib.VerifyReport, error) {
	return f.verifier.VerifyTask(ctx, spec, opts)
}

// newVerifier reads the source through its proxy (source.milvus: address,
// credential and TLS, as the initial sync does) and each task's target with
// the task's token and TLS, both with rows.Reader.
func newVerifier(source config.SourceMilvus, factory *pipeline.Factory, reg prometheus.Registerer, lg *zap.Logger) (*verify.Service, error) {
	metrics, err := verify.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	connect := func(ctx context.Context, t corelib.Target) (verify.RowSource, func() error, error) {
		c, err := milvusconn.Connect(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		return rows.New(c.Service), c.Close, nil
	}
	return &verify.Service{
		Source: func(ctx context.Context) (verify.RowSource, func() error, error) {
			rs, closeFn, err := connect(ctx, sourceTarget(source))
			if err != nil {
				return nil, nil, fmt.Errorf("source.milvus: %v", err) // not the target's ErrTargetUnreachable
			}
			return rs, closeFn, nil
		},
		Target: connect,
		Scope: func(ctx context.Context, spec corelib.TaskSpec) ([]verify.Collection, error) {
			colls, err := factory.InScope(ctx, spec)
			if err != nil {
				return nil, err
			}
			out := make([]verify.Collection, 0, len(colls))
			for _, c := range colls {
				out = append(out, verify.Collection{Database: c.Database, Name: c.Name, TargetDatabase: c.TargetDatabase, TargetName: c.TargetName})
			}
			return out, nil
		},
		Metrics: metrics,
		Log:     lg.Named("verify"),
	}, nil
}

var (
	_ corelib.TaskVerifier    = verifyingFactory{}
	_ corelib.StartPositioner = verifyingFactory{}
)
