package metapb

import (
	"fmt"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/protobuf/proto"
)

// DecodeSchema unmarshals the raw schema bytes (Milvus field 2,
// schema.CollectionSchema) into a go-api schema. An empty field yields an
// empty, non-nil schema. The Fields list is normally empty since Milvus 2.1:
// fields are stored under root-coord/fields/{collectionID}/.
func (x *CollectionInfo) DecodeSchema() (*schemapb.CollectionSchema, error) {
	schema := &schemapb.CollectionSchema{}
	if err := proto.Unmarshal(x.GetSchema(), schema); err != nil {
		return nil, fmt.Errorf("collection %d: decode schema: %w", x.GetID(), err)
	}
	return schema, nil
}

// ConsistencyLevelValue returns consistency_level as the go-api enum.
func (x *CollectionInfo) ConsistencyLevelValue() commonpb.ConsistencyLevel {
	return commonpb.ConsistencyLevel(x.GetConsistencyLevel())
}

// StartPositionsByChannel returns start_positions as physical channel ->
// MQ message ID of the collection's CreateCollection message on it.
func (x *CollectionInfo) StartPositionsByChannel() map[string][]byte {
	out := make(map[string][]byte, len(x.GetStartPositions()))
	for _, p := range x.GetStartPositions() {
		out[p.GetKey()] = p.GetData()
	}
	return out
}

// ToCommonKeyValuePairs converts locally declared pairs to go-api pairs.
func ToCommonKeyValuePairs(pairs []*KeyValuePair) []*commonpb.KeyValuePair {
	if len(pairs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValuePair, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, &commonpb.KeyValuePair{Key: p.GetKey(), Value: p.GetValue()})
	}
	return out
}

// FromCommonKeyValuePairs converts go-api pairs to the local declaration.
func FromCommonKeyValuePairs(pairs []*commonpb.KeyValuePair) []*KeyValuePair {
	if len(pairs) == 0 {
		return nil
	}
	out := make([]*KeyValuePair, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, &KeyValuePair{Key: p.GetKey(), Value: p.GetValue()})
	}
	return out
}
