// Package kafka is writer mode "kafka": it publishes every change the
// pipeline hands it as a JSON change event to Kafka, for stream processors
// (Flink, Kafka Connect, ksqlDB, search indexers) to consume. The envelope is
// modelled on Debezium's: before/after, op c/u/d (and r for rows an initial
// sync read), a source block with the cluster, database, collection, partition,
// channel, the batch position and the hybrid timestamp; package changelog
// holds its types and docs/kafka-sink.md and docs/kafka-sink.schema.json
// describe it for consumers.
//
// One event per row change, keyed by target database, collection and
// primary key, so the default partitioner puts every change of a row in one
// partition, in order. DDL (databases, collections with their schema and
// partitions, partitions, indexes, loads, flushes) goes to a schema topic of
// one partition. Data goes to one topic, or one per collection through a
// topic template ("cdc.{database}.{collection}").
//
// Delivery: the producer is idempotent with acks from all in-sync replicas.
// Write and Apply return only once the broker acknowledged every event, so
// the pipeline checkpoints only what Kafka holds; every produce goes through
// Env.Call, so a broker that is down shows as retrying in the task status
// and nothing is dropped. After a crash the pipeline replays from its
// checkpoint and the events after it are published again (Info().Appends),
// each with the same source position, ts and seq, so a consumer drops what
// it applied before.
package kafka
