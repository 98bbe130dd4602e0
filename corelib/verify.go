package corelib

import (
	"context"
	"errors"
)

// Verification modes.
const (
	// VerifyModeSample compares row counts and primary keys of every row and
	// the field values of a sample of rows.
	VerifyModeSample = "sample"
	// VerifyModeFull compares the field values of every row as well.
	VerifyModeFull = "full"
)

// Verification bounds.
const (
	DefaultVerifySample = 1000
	MaxVerifySample     = 100000
)

// VerifyOptions say how thoroughly a task's target is compared with its
// source.
type VerifyOptions struct {
	// Mode is VerifyModeSample ("" means it) or VerifyModeFull.
	Mode string
	// Sample is how many rows per collection have their values compared
	// in sample mode; zero means DefaultVerifySample.
	Sample int
}

// VerifyReport is the comparison of a task's target with its source.
type VerifyReport struct {
	// Equal is true when every collection is equal.
	Equal       bool
	Mode        string
	Sample      int
	Collections []CollectionVerify
}

// CollectionVerify is one collection's comparison.
type CollectionVerify struct {
	Database, Name             string // on the source
	TargetDatabase, TargetName string
	Equal                      bool
	// Reason says why the collection could not be compared or is not
	// equal in a way no key names (e.g. missing on the target).
	Reason string
	// SourceRows and TargetRows are the row counts of the collection.
	SourceRows, TargetRows int64
	Partitions             []PartitionVerify
	// SourceKeyHash and TargetKeyHash digest the set of primary keys
	// (independent of order).
	SourceKeyHash, TargetKeyHash string
	// Compared is how many rows had their field values compared.
	Compared int64
	// Missing, Extra and Differing count the rows missing on the target,
	// the target's rows the source does not hold, and the rows whose
	// values differ; the key lists hold the first of them (MaxVerifyKeys).
	Missing, Extra, Differing             int64
	MissingKeys, ExtraKeys, DifferingKeys []string
	// DifferingFields names, for the listed differing keys, the fields
	// whose values differ ("key: field,field").
	DifferingFields []string
}

// MaxVerifyKeys bounds each key list of a CollectionVerify.
const MaxVerifyKeys = 20

// Mismatched is the number of rows that differ between source and target.
func (c CollectionVerify) Mismatched() int64 { return c.Missing + c.Extra + c.Differing }

// PartitionVerify is one partition's row counts on both sides.
type PartitionVerify struct {
	Name                   string
	SourceRows, TargetRows int64
}

// TaskVerifier is implemented by factories that can compare a task's target
// with its source. The control plane calls it once the task is synced.
type TaskVerifier interface {
	VerifyTask(ctx context.Context, spec TaskSpec, opts VerifyOptions) (VerifyReport, error)
}

// ErrNoMilvusTarget is wrapped by VerifyTask's error for a task whose
// target is not a Milvus (writer mode "kafka").
var ErrNoMilvusTarget = errors.New("the task's target is not a Milvus")
