// Package sink is the contract between a replication pipeline and the
// writers that put its changes somewhere: a target Milvus through its public
// API (writer mode "api", package sink/milvus), a Milvus replica through
// ReplicateMessage ("replicate", the same package), or any other system
// (a new writer is a new package implementing Writer and a Factory
// registered under its mode).
//
// The pipeline owns ordering: it reads the source channels, resolves every
// change to the source collection it belongs to and to the target names the
// task maps it to, and decides when a change may be written (a collection
// exists before its rows, a drop waits for every shard, an index build waits
// for the rows before it). A writer owns everything about its target: how
// to connect, how to make an object exist, how to merge and address rows,
// what to send so the target keeps up (a replica's time ticks).
//
// # The Writer contract
//
//   - Open (Factory.Open) connects for one run of the pipeline. Every call a
//     writer makes to its target goes through Env.Call, which retries a
//     retryable failure with backoff until the run ends, records every
//     failure and the call's latency in the task's status and metrics, and
//     gives up when a non-retryable failure (a TargetError with Retryable
//     false) persists. A writer therefore never retries on its own and never
//     sleeps.
//   - Apply performs one operation (Op) and returns nil once the target
//     acknowledged it. Operations are idempotent: an operation whose intent
//     the target already meets (a collection that exists with the same
//     fields, a partition already dropped) succeeds without change, because
//     after a crash the pipeline replays everything after its checkpoint.
//   - Write writes the changes of a Batch in their order and returns nil
//     once the target acknowledged all of them; only then may the pipeline
//     checkpoint the batch's position (acknowledgement before checkpoint).
//     Writing the same batch again after a crash must not duplicate rows:
//     the pipeline marks every insert it may be replaying (after a restart,
//     and while catching up on rows an initial snapshot may have copied)
//     with Insert.Replay, and a writer writes those idempotently. A writer
//     whose target appends whatever it is sent says so with Info().Appends;
//     the pipeline then checkpoints after every batch to keep the window of
//     possible duplicates to one batch.
//   - An error from Apply or Write ends the run: it is the run's context
//     ending, or a permanent failure Env.Call gave up on, or a change the
//     writer cannot express (wrap ErrUnsupported to have it skipped and
//     counted instead).
//   - The pipeline guarantees: Apply(CreateCollection) for a collection
//     before any other operation or change of it in the run, and
//     Apply(CreatePartition) before any change in that partition; the
//     changes of one source channel in source order; a DropCollection or
//     DropPartition only after every shard delivered its DropShard change;
//     operations of the replicate channel after the data before them.
//     Batches of different source channels are written concurrently, so a
//     writer is safe for concurrent use.
//   - Close is called once, after every Write and Apply returned; it stops
//     the writer's own goroutines and closes the connection.
package sink
