package kafka

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/changelog"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// ddlEvent builds the DDL event of an operation and its Kafka key (the
// target database and collection, so one collection's DDL stays in order).
func (w *Writer) ddlEvent(op sink.Op) (*kgo.Record, error) {
	ts := op.SourceTs()
	ev := changelog.Event{
		SchemaVersion: changelog.SchemaVersion,
		TsMs:          time.Now().UnixMilli(),
		Source:        changelog.Source{Connector: changelog.Connector, Cluster: w.cluster, Ts: ts, TsMs: int64(ts >> 18)},
	}
	var key changelog.Key
	setColl := func(c *sink.Collection) {
		ev.Source.Database, ev.Source.Collection, ev.Source.CollectionID = c.Database, c.Name, c.ID
		key = changelog.Key{Database: c.TargetDatabase, Collection: c.TargetName}
	}
	switch o := op.(type) {
	case *sink.CreateDatabase:
		ev.Type, ev.Source.Database, key.Database = changelog.TypeCreateDatabase, o.Database, o.Database
	case *sink.DropDatabase:
		ev.Type, ev.Source.Database, key.Database = changelog.TypeDropDatabase, o.Database, o.Database
	case *sink.CreateCollection:
		ev.Type = changelog.TypeCreateCollection
		setColl(o.Coll)
		ev.Collection = collectionDoc(o.Coll)
	case *sink.DropCollection:
		ev.Type = changelog.TypeDropCollection
		setColl(o.Coll)
	case *sink.CreatePartition:
		ev.Type, ev.Partition = changelog.TypeCreatePartition, o.Partition
		setColl(o.Coll)
	case *sink.DropPartition:
		ev.Type, ev.Partition = changelog.TypeDropPartition, o.Partition
		setColl(o.Coll)
	case *sink.CreateIndex:
		ev.Type, ev.Index = changelog.TypeCreateIndex, &changelog.IndexDoc{Field: o.Field, Name: o.Index, Params: params(o.Params)}
		setColl(o.Coll)
	case *sink.DropIndex:
		ev.Type, ev.Index = changelog.TypeDropIndex, &changelog.IndexDoc{Field: o.Field, Name: o.Index}
		setColl(o.Coll)
	case *sink.LoadCollection:
		ev.Type, ev.Replicas = changelog.TypeLoadCollection, o.Replicas
		setColl(o.Coll)
	case *sink.ReleaseCollection:
		ev.Type = changelog.TypeReleaseCollection
		setColl(o.Coll)
	case *sink.LoadPartitions:
		ev.Type, ev.Partitions, ev.Replicas = changelog.TypeLoadPartitions, o.Partitions, o.Replicas
		setColl(o.Coll)
	case *sink.ReleasePartitions:
		ev.Type, ev.Partitions = changelog.TypeReleasePartitions, o.Partitions
		setColl(o.Coll)
	case *sink.Flush:
		ev.Type = changelog.TypeFlush
		setColl(o.Coll)
	default:
		return nil, fmt.Errorf("%w: operation %s", sink.ErrUnsupported, op.Name())
	}
	value, err := json.Marshal(&ev)
	if err != nil {
		return nil, err
	}
	k, err := json.Marshal(&key)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: w.schemaTopic, Key: k, Value: value}, nil
}

// collectionDoc describes a collection as the source catalog has it.
func collectionDoc(c *sink.Collection) *changelog.CollectionDoc {
	doc := &changelog.CollectionDoc{Name: c.Name, Properties: map[string]string{}, Fields: []changelog.FieldDoc{}, Partitions: []changelog.PartitionDoc{}}
	info := c.Info
	if info == nil {
		return doc
	}
	doc.Shards, doc.CreatedTs = info.ShardsNum, info.CreateTime
	doc.ConsistencyLevel = strings.TrimPrefix(info.ConsistencyLevel.String(), "ConsistencyLevel_")
	for _, kv := range info.Properties {
		doc.Properties[kv.GetKey()] = kv.GetValue()
	}
	if s := info.Schema; s != nil {
		doc.Description, doc.EnableDynamicField = s.GetDescription(), s.GetEnableDynamicField()
		for _, f := range s.GetFields() {
			fd := changelog.FieldDoc{
				Name: f.GetName(), FieldID: f.GetFieldID(), Type: f.GetDataType().String(), Description: f.GetDescription(),
				PrimaryKey: f.GetIsPrimaryKey(), AutoID: f.GetAutoID(), PartitionKey: f.GetIsPartitionKey(),
				ClusteringKey: f.GetIsClusteringKey(), Nullable: f.GetNullable(), Params: params(f.GetTypeParams()),
			}
			if f.GetElementType() != 0 {
				fd.ElementType = f.GetElementType().String()
			}
			doc.Fields = append(doc.Fields, fd)
		}
	}
	doc.Partitions = partitionDocs(info.Partitions)
	return doc
}

// partitionDocs lists the created partitions, sorted by name.
func partitionDocs(parts map[int64]*source.Partition) []changelog.PartitionDoc {
	out := []changelog.PartitionDoc{}
	for _, p := range parts {
		if p.State == metapb.PartitionState_PartitionCreated {
			out = append(out, changelog.PartitionDoc{Name: p.Name, ID: p.ID, CreatedTs: p.CreatedTime})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func params(kvs []*commonpb.KeyValuePair) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue()
	}
	return m
}
