package pipeline

import (
	"context"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/stream"
)

// MilvusSource is the Source of a Milvus 2.3–2.5 cluster: the catalog from
// its etcd, the channels from its Pulsar or Kafka.
type MilvusSource struct {
	Catalog              *source.MetaReader
	MQ                   mq.Client
	ReplicateChannelName string // e.g. by-dev-replicate-msg
	DefaultPartitionName string // e.g. _default
	Log                  *zap.Logger
}

var _ Source = (*MilvusSource)(nil)

func (s *MilvusSource) List(ctx context.Context) (*source.Snapshot, error) {
	return s.Catalog.List(ctx)
}

func (s *MilvusSource) Watch(ctx context.Context, from *source.Snapshot) <-chan source.MetaEvent {
	return s.Catalog.Watch(ctx, from)
}

func (s *MilvusSource) OpenChannel(ctx context.Context, channel string, from *source.Position, onSkip func(stream.Skip)) (PackReader, error) {
	return stream.OpenPacks(ctx, s.MQ, channel, from, stream.Options{Log: s.Log, OnSkip: onSkip})
}

func (s *MilvusSource) OpenReplicateChannel(ctx context.Context, from *source.Position, onSkip func(stream.Skip)) (OpReader, error) {
	return stream.OpenOps(ctx, s.MQ, s.ReplicateChannelName, from, stream.Options{Log: s.Log, OnSkip: onSkip})
}

func (s *MilvusSource) ReplicateChannel() string { return s.ReplicateChannelName }
func (s *MilvusSource) DefaultPartition() string { return s.DefaultPartitionName }
