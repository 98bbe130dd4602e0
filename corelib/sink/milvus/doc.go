// Package milvus holds the writers whose target is a Milvus: writer mode
// "api" (apiWriter), which replays every change through the target's public
// API so that the target stays a normal Milvus that takes its own reads and
// writes, and writer mode "replicate" (replicaWriter), which makes the target
// an exact replica by sending it the source's own messages through
// ReplicateMessage. Both implement sink.Writer; Register adds their
// factories to a sink.Registry.
//
// In mode "api" every call is idempotent: one whose intent is already met on
// the target (a database that exists, a collection already dropped, a row
// already written) succeeds without changing anything. This lets the
// pipeline replay a batch after a crash without duplicating data: inserts
// are written as upserts keyed by the source primary key, so a target
// collection is always created with autoID off and receives the primary keys
// the source generated.
package milvus
