package source

import (
	"encoding/binary"
	"fmt"
)

// Kafka message IDs, as Milvus stores them in positions: the partition-0
// offset as 8 bytes little-endian (SerializeKafkaID).

// EncodeKafkaOffset returns the Milvus msgID bytes of a Kafka offset.
func EncodeKafkaOffset(offset int64) []byte {
	return binary.LittleEndian.AppendUint64(nil, uint64(offset))
}

// DecodeKafkaOffset parses Milvus msgID bytes as a Kafka offset.
func DecodeKafkaOffset(id []byte) (int64, error) {
	if len(id) != 8 {
		return 0, fmt.Errorf("kafka message ID: want 8 bytes (little-endian offset), got %d", len(id))
	}
	return int64(binary.LittleEndian.Uint64(id)), nil
}
