package source

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
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

// PulsarMessageID is the part of a Pulsar MessageIdData (the protobuf that
// pulsar-client-go's MessageID.Serialize writes, and Milvus stores in
// positions) that identifies a message.
type PulsarMessageID struct {
	LedgerID   uint64
	EntryID    uint64
	Partition  int32 // -1 for a non-partitioned topic
	BatchIndex int32 // -1 when the message is not in a batch
}

// MessageIdData field numbers (pulsar.proto).
const (
	pulsarLedgerField     = 1
	pulsarEntryField      = 2
	pulsarPartitionField  = 3
	pulsarBatchIndexField = 4
)

// DecodePulsarMessageID parses serialized MessageIdData bytes. Fields other
// than ledger, entry, partition and batch index (ack set, batch size, chunk
// IDs) are skipped. Both required fields must be present.
func DecodePulsarMessageID(b []byte) (PulsarMessageID, error) {
	id := PulsarMessageID{Partition: -1, BatchIndex: -1}
	var seenLedger, seenEntry bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return PulsarMessageID{}, fmt.Errorf("pulsar message ID: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.VarintType && num >= pulsarLedgerField && num <= pulsarBatchIndexField {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return PulsarMessageID{}, fmt.Errorf("pulsar message ID field %d: %w", num, protowire.ParseError(m))
			}
			b = b[m:]
			switch num {
			case pulsarLedgerField:
				id.LedgerID, seenLedger = v, true
			case pulsarEntryField:
				id.EntryID, seenEntry = v, true
			case pulsarPartitionField:
				id.Partition = int32(v)
			case pulsarBatchIndexField:
				id.BatchIndex = int32(v)
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return PulsarMessageID{}, fmt.Errorf("pulsar message ID field %d: %w", num, protowire.ParseError(m))
		}
		b = b[m:]
	}
	if !seenLedger || !seenEntry {
		return PulsarMessageID{}, fmt.Errorf("pulsar message ID: ledgerId and entryId are required")
	}
	return id, nil
}

// Bytes serializes the ID as MessageIdData, decodable by
// pulsar.DeserializeMessageID.
func (id PulsarMessageID) Bytes() []byte {
	var b []byte
	b = protowire.AppendTag(b, pulsarLedgerField, protowire.VarintType)
	b = protowire.AppendVarint(b, id.LedgerID)
	b = protowire.AppendTag(b, pulsarEntryField, protowire.VarintType)
	b = protowire.AppendVarint(b, id.EntryID)
	b = protowire.AppendTag(b, pulsarPartitionField, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(int64(id.Partition)))
	b = protowire.AppendTag(b, pulsarBatchIndexField, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(int64(id.BatchIndex)))
}

// Compare orders two IDs of the same topic partition: -1, 0 or +1.
// Batch index -1 (not batched, pulsar-client-go) and 0 (what Milvus writes
// into start positions for its unbatched messages) name the same message.
func (id PulsarMessageID) Compare(o PulsarMessageID) int {
	a, b := max(id.BatchIndex, 0), max(o.BatchIndex, 0)
	switch {
	case id.LedgerID != o.LedgerID:
		return cmpUint(id.LedgerID, o.LedgerID)
	case id.EntryID != o.EntryID:
		return cmpUint(id.EntryID, o.EntryID)
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String formats the ID as ledger:entry:partition:batchIndex.
func (id PulsarMessageID) String() string {
	return fmt.Sprintf("%d:%d:%d:%d", id.LedgerID, id.EntryID, id.Partition, id.BatchIndex)
}

func cmpUint(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}
