package source_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
)

// Example shows how the pieces fit: the catalog says which collections exist
// and where their channels start; an mq.Reader delivers the raw messages of a
// physical channel; DecodeMessage and a TickGrouper turn them into packs.
func Example() {
	ctx := context.Background()
	etcd, _ := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:2379"}})
	meta, _ := source.NewMetaReader(etcd, source.MetaConfig{RootPath: "by-dev"}, zap.NewNop())
	snap, _ := meta.List(ctx)
	events := meta.Watch(ctx, snap) // CollectionCreated, PartitionDropped, ...
	_ = events

	coll, ok := snap.CollectionByName(1, "books")
	if !ok {
		return
	}
	pchannel := coll.PhysicalChannels[0]
	mqc, _ := mq.NewPulsarClient(mq.PulsarConfig{URL: "pulsar://127.0.0.1:6650"}, zap.NewNop())
	defer mqc.Close()

	// Resume from a checkpoint (or start at coll.StartPositions[pchannel]
	// with the collection's create time).
	checkpoint := source.Position{Channel: pchannel, MsgID: coll.StartPositions[pchannel], Timestamp: coll.CreateTime}
	reader, _ := mqc.OpenReader(ctx, pchannel, mq.StartAt(checkpoint.MsgID))
	defer reader.Close()
	filter := source.NewSeekFilter(checkpoint.Timestamp)
	grouper := source.NewTickGrouper(checkpoint)
	for {
		raw, err := reader.Next(ctx)
		if errors.Is(err, mq.ErrPositionUnavailable) {
			return // re-bootstrap required
		}
		if err != nil {
			return
		}
		msg, err := source.DecodeMessage(raw.Payload)
		if err != nil || !msg.Supported() || msg.IsReplicate() || !filter.Keep(msg) {
			continue // count these
		}
		if pack := grouper.Add(raw.ID, msg); pack != nil {
			for _, m := range pack.Msgs {
				if ins, ok := m.Body.(*msgpb.InsertRequest); ok && m.CollectionID() == coll.ID {
					fmt.Println(ins.GetShardName(), ins.GetNumRows())
				}
			}
			// apply the pack, then persist pack.EndPosition as the checkpoint
		}
	}
}
