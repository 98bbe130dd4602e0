// Package mq reads raw message payloads from the topics of a source Milvus's
// message queue (Pulsar or Kafka), one channel (DML physical channel or
// replicate-msg channel) per Reader, from a given message ID or from the
// latest message. It knows nothing about the payloads: decoding and time-tick
// grouping are in package source.
//
// Message IDs are exchanged in Milvus's own encoding, so they can be stored
// and compared with the positions Milvus writes: Pulsar's serialized
// MessageIdData, and Kafka's partition-0 offset as 8 bytes little-endian.
//
// Readers never create durable broker-side state: Pulsar readers use the
// Reader API (a non-durable subscription that disappears with the reader),
// and Kafka readers consume partition 0 directly without a consumer group or
// offset commits. Where to resume is the caller's checkpoint, not the
// broker's.
package mq
