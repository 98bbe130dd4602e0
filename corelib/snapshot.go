package corelib

import "context"

// SnapshotProgress is how far a task's initial snapshot got: what it copies,
// per collection and partition the last primary key copied, and whether it
// is done. It is stored with the task so that a restart resumes the copy
// from the last chunk.
type SnapshotProgress struct {
	Done bool `json:"done"`
	// EndTs is the source time the snapshot finished at: changes up to it
	// may already be on the target (the snapshot read them) and are written
	// idempotently when the channels replay them.
	EndTs       uint64               `json:"endTs,omitempty"`
	Collections []CollectionSnapshot `json:"collections"`
	// Revision is the store revision the progress was read or written at;
	// saving with Revision 0 creates it (see CheckpointStore).
	Revision int64 `json:"-"`
}

// Snapshot states of a collection.
const (
	SnapshotPending = "pending"
	SnapshotCopying = "copying"
	SnapshotDone    = "done"
	// SnapshotSkipped: the collection could not be copied; Reason says why
	// (dropped on the source, not loaded there).
	SnapshotSkipped = "skipped"
)

// CollectionSnapshot is one collection's part of the snapshot.
type CollectionSnapshot struct {
	ID       int64  `json:"id"`
	Database string `json:"database"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Reason   string `json:"reason,omitempty"`
	// Total is the source's row count when the copy of the collection began.
	Total  int64 `json:"total"`
	Copied int64 `json:"copied"`
	// Partitions are read one at a time so that every row keeps its
	// partition; a partition-key collection is read as one ("").
	Partitions []PartitionSnapshot `json:"partitions,omitempty"`
}

// PartitionSnapshot is one partition's part of the snapshot.
type PartitionSnapshot struct {
	Name string `json:"name"`
	// After is the last primary key copied (its decimal or string form),
	// "" before the first chunk.
	After  string `json:"after,omitempty"`
	Copied int64  `json:"copied"`
	Done   bool   `json:"done"`
}

// SnapshotStore persists snapshot progress with the contract of
// CheckpointStore: compare-and-swap on Revision (ErrConflict when it
// changed), ErrTaskGone once the task was deleted. LoadSnapshot's bool is
// false when nothing is stored yet.
type SnapshotStore interface {
	LoadSnapshot(ctx context.Context, taskID string) (SnapshotProgress, bool, error)
	SaveSnapshot(ctx context.Context, taskID string, p SnapshotProgress) (SnapshotProgress, error)
}
