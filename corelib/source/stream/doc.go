// Package stream turns the raw messages of a source channel (package mq)
// into what replication consumes: time-tick packs of decoded messages for a
// DML physical channel, and single decoded operations for the replicate-msg
// channel (package source decodes and groups). Both resume from a
// checkpoint Position with Milvus's seek rule, and skip, count and log
// what cannot or must not be replayed: undecodable payloads, message types
// this version does not handle, and messages a replicator wrote
// (ReplicateInfo.IsReplicate), so cascades do not echo.
package stream
