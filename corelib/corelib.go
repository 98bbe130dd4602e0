// Package corelib is the seam between the control plane and the replication
// core: the task specification a pipeline runs, the checkpoint store it resumes
// from, and the Pipeline and PipelineFactory interfaces the server drives.
//
// The control plane (server, meta) depends on this package; the replication
// core implements it. Nothing here imports the server or the meta store.
package corelib

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Wildcard selects every database or every collection in a Scope entry.
const Wildcard = "*"

// ReplicateChannelCollectionID is the collection id under which the
// checkpoint of the source replicate channel is kept (milvus-cdc uses -10 too).
const ReplicateChannelCollectionID int64 = -10

// TaskSpec is everything a pipeline needs to run one task. It is the internal
// model: the /cdc and REST wire types are converted to and from it explicitly.
type TaskSpec struct {
	ID     string `json:"id"`
	Target Target `json:"target"`
	// Scope lists what to replicate; entries never overlap each other.
	Scope []CollectionScope `json:"scope"`
	// Exclude lists "db.collection" names inside Scope that other tasks on the
	// same target already replicate (kept when a wildcard task is created after
	// narrower ones, as milvus-cdc does).
	Exclude     []string      `json:"exclude,omitempty"`
	NameMapping []NameMapping `json:"nameMapping,omitempty"`
	// ReplicateChannel is the source replicate channel the task reads.
	ReplicateChannel string `json:"replicateChannel"`
	// EnableUserRole also replicates users, roles and privileges.
	EnableUserRole bool `json:"enableUserRole,omitempty"`
	// DisableAutoStart keeps the task paused when the daemon restarts.
	DisableAutoStart bool `json:"disableAutoStart,omitempty"`
	// WriterMode is how the target is written: WriterModeAPI ("" means it),
	// WriterModeReplicate (docs/writer-modes.md) or WriterModeKafka, which a
	// Kafka target (Target.Kafka) implies (docs/kafka-sink.md).
	WriterMode string `json:"writerMode,omitempty"`
	// InitialSync copies the rows the in-scope collections hold when the
	// task is created before following the changes after that point.
	InitialSync bool `json:"initialSync,omitempty"`
	// StartFrom is where a new task starts reading its channels (see
	// ParseStartFrom): "" or StartFromLatest, StartFromEarliest, or an
	// RFC 3339 time. Only create reads it.
	StartFrom string `json:"startFrom,omitempty"`
}

// Values of TaskSpec.StartFrom besides an RFC 3339 time.
const (
	// StartFromLatest starts every channel at its end when the task is
	// created (the default).
	StartFromLatest = "latest"
	// StartFromEarliest starts every channel at the oldest message the
	// broker still holds.
	StartFromEarliest = "earliest"
)

// ParseStartFrom reads TaskSpec.StartFrom: latest ("" too), earliest, or an
// RFC 3339 time, returned as t (zero for latest and earliest).
func ParseStartFrom(s string) (earliest bool, t time.Time, err error) {
	switch s {
	case "", StartFromLatest:
		return false, time.Time{}, nil
	case StartFromEarliest:
		return true, time.Time{}, nil
	}
	t, err = time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("startFrom %q is neither %q, %q nor an RFC 3339 time such as 2026-01-02T15:04:05Z", s, StartFromLatest, StartFromEarliest)
	}
	return false, t, nil
}

// Writer modes of a task.
const (
	// WriterModeAPI replays through the target's public API (upserts); the
	// target stays a normal Milvus.
	WriterModeAPI = "api"
	// WriterModeReplicate makes the target an exact replica: it runs with
	// common.ttMsgEnabled=false and receives the source's messages through
	// ReplicateMessage.
	WriterModeReplicate = "replicate"
	// WriterModeKafka publishes every change as a JSON change event to a
	// Kafka topic (Target.Kafka); there is no target Milvus.
	WriterModeKafka = "kafka"
)

// Target is the target Milvus and how to reach it, or, when Kafka is set,
// the Kafka topics change events are published to (URI is empty then).
type Target struct {
	// URI is http(s)://host:port or host:port; https enables TLS.
	URI string `json:"uri"`
	// Token is "user:password" or an API key. It is a secret: never log or
	// return it.
	Token string `json:"token,omitempty"`
	// TokenFile and TokenEnv name where the token is read on the daemon's
	// host instead (at most one of Token, TokenFile, TokenEnv): a file under
	// taskSecrets.dir, or an environment variable starting with
	// taskSecrets.envPrefix. The control plane reads it into Token before
	// handing the spec to a pipeline; only the reference is stored.
	TokenFile string `json:"tokenFile,omitempty"`
	TokenEnv  string `json:"tokenEnv,omitempty"`
	// ConnectTimeout bounds the connection attempt; zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration `json:"connectTimeout,omitempty"`
	TLS            TargetTLS     `json:"tls"`
	// ChannelNum is the target's rootCoord.dmlChannelNum when it differs from
	// the source's; zero means "same as the source".
	ChannelNum int `json:"channelNum,omitempty"`
	// IgnorePartition skips partition create/drop on the target.
	IgnorePartition bool `json:"ignorePartition,omitempty"`
	// Kafka is a Kafka target (writer mode "kafka"); nil for a Milvus.
	Kafka *KafkaTarget `json:"kafka,omitempty"`
}

// KafkaTarget is where writer mode "kafka" publishes change events: the
// brokers, the topics, and the producer's security and encoding settings.
type KafkaTarget struct {
	Brokers []string `json:"brokers"`
	// Topic receives the change events of every collection; TopicTemplate
	// (e.g. "cdc.{database}.{collection}") names one topic per collection
	// instead. Exactly one of them is set.
	Topic         string `json:"topic,omitempty"`
	TopicTemplate string `json:"topicTemplate,omitempty"`
	// SchemaTopic receives the DDL events; empty means Topic + ".schema",
	// or "milvus-cdc.schema" with a TopicTemplate.
	SchemaTopic string    `json:"schemaTopic,omitempty"`
	SASL        KafkaSASL `json:"sasl"`
	TLS         KafkaTLS  `json:"tls"`
	// Compression is none, gzip, snappy, lz4 or zstd; empty means none.
	Compression string `json:"compression,omitempty"`
	// Format is "json" (vectors as JSON arrays, the default) or
	// "json-base64" (vectors as base64 of their little-endian bytes).
	Format string `json:"format,omitempty"`
	// MaxMessageBytes bounds one event as the producer sends it; zero means
	// the producer's default (1,000,012 bytes, the broker's default too).
	MaxMessageBytes int32 `json:"maxMessageBytes,omitempty"`
}

// KafkaSASL authenticates the producer; an empty Mechanism disables SASL.
type KafkaSASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `json:"mechanism,omitempty"`
	Username  string `json:"username,omitempty"`
	// Password is a secret: never log or return it.
	Password string `json:"password,omitempty"`
}

// KafkaTLS is the producer's TLS setup: PEM file paths on the daemon's host.
// Enabled with no CA file trusts the host's certificate authorities.
type KafkaTLS struct {
	Enabled    bool   `json:"enabled,omitempty"`
	CAFile     string `json:"caFile,omitempty"`
	CertFile   string `json:"certFile,omitempty"`
	KeyFile    string `json:"keyFile,omitempty"`
	ServerName string `json:"serverName,omitempty"`
}

// DefaultConnectTimeout applies when Target.ConnectTimeout is zero.
const DefaultConnectTimeout = 30 * time.Second

// TargetTLS holds PEM file paths on the daemon's host. ServerName plus
// ServerPEMPath is one-way TLS; CAPEMPath plus the client pair is mutual TLS.
type TargetTLS struct {
	ServerName    string `json:"serverName,omitempty"`
	ServerPEMPath string `json:"serverPemPath,omitempty"`
	CAPEMPath     string `json:"caPemPath,omitempty"`
	ClientPEMPath string `json:"clientPemPath,omitempty"`
	ClientKeyPath string `json:"clientKeyPath,omitempty"`
}

// Enabled reports whether any TLS material is configured.
func (t TargetTLS) Enabled() bool {
	return t.ServerPEMPath != "" || t.CAPEMPath != "" || t.ClientPEMPath != "" || t.ClientKeyPath != ""
}

// CollectionScope selects collections of one database (either may be Wildcard).
type CollectionScope struct {
	Database   string `json:"database"`
	Collection string `json:"collection"`
	// StartPositions are user-supplied start positions keyed by source
	// vchannel, values base64 of a protobuf msgpb.MsgPosition. Only for a
	// concrete collection. They are also stored as initial checkpoints.
	StartPositions map[string]string `json:"startPositions,omitempty"`
	// UseStartPosition replays the collection from its creation.
	UseStartPosition bool `json:"useStartPosition,omitempty"`
}

// NameMapping renames a source database and/or its collections on the target.
// An empty Collections maps the whole database.
type NameMapping struct {
	SourceDatabase string            `json:"sourceDatabase"`
	TargetDatabase string            `json:"targetDatabase"`
	Collections    map[string]string `json:"collections,omitempty"`
}

// Checkpoint is the resume point of one task on one source channel.
type Checkpoint struct {
	// Channel is the source channel name (a vchannel for user-supplied
	// positions, the replicate channel for CollectionID -10).
	Channel string `json:"channel"`
	// CollectionID is the source collection the position belongs to, 0 when
	// the checkpoint is per physical channel, -10 for the replicate channel.
	CollectionID int64 `json:"collectionId,omitempty"`
	// Position is a serialized msgpb.MsgPosition.
	Position []byte `json:"position"`
	// Timestamp is the hybrid timestamp of Position.
	Timestamp uint64 `json:"timestamp"`
	// ApplyBound is the highest end timestamp of a pack the pipeline may
	// have applied on the channel (it is raised before such a pack is
	// applied): after a restart, what lies between Position and ApplyBound
	// may already be on the target and is written idempotently.
	ApplyBound uint64 `json:"applyBound,omitempty"`
	// Revision is the store revision this checkpoint was read or written at.
	// Saving with Revision 0 creates the checkpoint; otherwise the save only
	// succeeds if the stored revision is still Revision.
	Revision int64 `json:"-"`
}

// ErrConflict is returned (wrapped) by stores when a compare-and-swap fails:
// someone else wrote the key since it was read. The caller must reload.
var ErrConflict = errors.New("conflicting write: the stored revision changed since it was read")

// ErrTaskGone is returned (wrapped) by SaveCheckpoint when the task was
// deleted: the pipeline is being stopped and its position no longer matters.
var ErrTaskGone = errors.New("the task no longer exists")

// CheckpointStore persists per-task, per-channel checkpoints.
//
// Contract: Load returns every checkpoint of the task with its Revision set.
// Save writes one checkpoint with compare-and-swap on cp.Revision (0 = must
// not exist yet) and returns it with the new Revision; when the stored
// revision differs it returns an error wrapping ErrConflict and writes
// nothing; when the task was deleted, an error wrapping ErrTaskGone. Saves of different channels are independent.
type CheckpointStore interface {
	LoadCheckpoints(ctx context.Context, taskID string) ([]Checkpoint, error)
	SaveCheckpoint(ctx context.Context, taskID string, cp Checkpoint) (Checkpoint, error)
}

// Status is what a pipeline reports about itself.
type Status struct {
	// Replicating is true only when data is actually flowing to the target.
	Replicating bool `json:"replicating"`
	// Detail explains the status in one sentence, for operators.
	Detail string `json:"detail,omitempty"`
	// LastError is the most recent failure, if any.
	LastError string `json:"lastError,omitempty"`

	// State is "running", "retrying" (the last attempt of some work failed
	// and is being retried), "failed" (stopped on an error retrying cannot
	// fix, see ErrPermanent) or "stopped".
	State string `json:"state,omitempty"`
	// Error is the most recent failure with its time and stage; nil if none.
	Error *StatusError `json:"error,omitempty"`
	// Retries counts the failed attempts since the pipeline started.
	Retries int64 `json:"retries"`
	// LagSeconds is the largest lag of the data channels: now minus the wall
	// time of the newest timestamp the target applied on that channel. It is
	// nil until every data channel has a known position.
	LagSeconds *float64 `json:"lagSeconds,omitempty"`
	// Channels are the source channels the pipeline reads, sorted by name.
	Channels []ChannelStatus `json:"channels,omitempty"`
	// Collections are the in-scope source collections the pipeline has met
	// since it started, with what it applied for each.
	Collections []CollectionStatus `json:"collections,omitempty"`
	// Skipped counts, by reason, the messages and operations the pipeline
	// did not replay since it started.
	Skipped []SkipCount `json:"skipped,omitempty"`
	// Phase is "bootstrap", "snapshot" (the initial snapshot copies rows)
	// or "following" (the channels are replayed); "" when stopped.
	Phase string `json:"phase,omitempty"`
	// Snapshot is the initial snapshot's progress while the pipeline takes
	// one.
	Snapshot *SnapshotStatus `json:"snapshot,omitempty"`
	// Waiting lists the operations that have waited for source channels
	// without progress for a minute or more (state "stalled").
	Waiting []WaitStatus `json:"waiting,omitempty"`
}

// WaitStatus is an operation that waits for source channels to reach its
// timestamp.
type WaitStatus struct {
	// What is the operation, e.g. "CreateIndex on db.coll".
	What string `json:"what"`
	// Channels are the source channels it still waits for.
	Channels []string `json:"channels"`
	// Ts (and Until, its wall time) is the timestamp they must pass.
	Ts    uint64     `json:"ts"`
	Until *time.Time `json:"until,omitempty"`
	Since time.Time  `json:"since"`
}

// SnapshotStatus is the progress of an initial snapshot.
type SnapshotStatus struct {
	Done bool `json:"done"`
	// Remaining counts the collections still to copy.
	Remaining   int                        `json:"collectionsRemaining"`
	Collections []SnapshotCollectionStatus `json:"collections"`
}

// SnapshotCollectionStatus is one collection's copy.
type SnapshotCollectionStatus struct {
	ID       int64  `json:"id"`
	Database string `json:"database"`
	Name     string `json:"name"`
	// State is pending, copying, done or skipped (Reason says why).
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	Total  int64  `json:"rowsTotal"`
	Copied int64  `json:"rowsCopied"`
	// RowsPerSecond and ETASeconds while the collection is being copied.
	RowsPerSecond float64  `json:"rowsPerSecond,omitempty"`
	ETASeconds    *float64 `json:"etaSeconds,omitempty"`
}

// SkipCount is how many messages or operations were skipped for one reason.
type SkipCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
	// InScope is true when what was skipped belongs, or may belong, to what
	// the task replicates: the target may then differ from the source.
	InScope bool `json:"inScope"`
}

// StatusError is a failure as the status reports it.
type StatusError struct {
	Time time.Time `json:"time"`
	// Stage is read, decode, apply or checkpoint.
	Stage   string `json:"stage"`
	Message string `json:"message"`
	// ResolvedAt is when the work that failed succeeded again; nil while it
	// still fails.
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
}

// ChannelStatus is the progress of one source channel.
type ChannelStatus struct {
	Channel string `json:"channel"`
	// Kind is "data" (a physical DML channel) or "replicate".
	Kind string `json:"kind"`
	// CheckpointTs is the hybrid timestamp of the stored checkpoint (what a
	// restart resumes from); 0 when none is stored yet.
	CheckpointTs   uint64     `json:"checkpointTs"`
	CheckpointTime *time.Time `json:"checkpointTime,omitempty"`
	// AppliedTs is the newest timestamp whose changes the target holds.
	AppliedTs   uint64     `json:"appliedTs"`
	AppliedTime *time.Time `json:"appliedTime,omitempty"`
	// LatestTs is the end timestamp of the last pack read from the source
	// (time ticks arrive every ~200 ms even when nothing is written).
	LatestTs   uint64     `json:"latestTs"`
	LatestTime *time.Time `json:"latestTime,omitempty"`
	// CaughtUp is true when everything read has been applied.
	CaughtUp bool `json:"caughtUp"`
	// LagSeconds is now minus AppliedTime; nil while the position is unknown.
	LagSeconds *float64 `json:"lagSeconds,omitempty"`
}

// CollectionStatus counts what the pipeline applied for one source
// collection since it started.
type CollectionStatus struct {
	ID       int64  `json:"id"`
	Database string `json:"database"`
	Name     string `json:"name"`
	Inserted int64  `json:"rowsInserted"`
	Deleted  int64  `json:"rowsDeleted"`
	Upserted int64  `json:"rowsUpserted"`
	// Operations counts the source operations applied: DDL, and each
	// insert, delete or upsert message.
	Operations int64 `json:"operations"`
}

// SyncReport answers whether the target holds everything the source had
// written when the question was asked.
type SyncReport struct {
	Synced bool `json:"synced"`
	// SourceNowTs is the source clock read when the question was asked.
	SourceNowTs uint64    `json:"sourceNowTs"`
	SourceNow   time.Time `json:"sourceNow"`
	// Channels are the data channels compared with SourceNowTs.
	Channels []ChannelSync `json:"channels"`
	// Reason says why Synced is false, for operators.
	Reason string `json:"reason,omitempty"`
	// Skipped lists what the pipeline did not replay since it started; a
	// skip in scope makes Synced false (the target may differ).
	Skipped []SkipCount `json:"skipped,omitempty"`
}

// ChannelSync is one data channel's part of a SyncReport.
type ChannelSync struct {
	Channel     string     `json:"channel"`
	AppliedTs   uint64     `json:"appliedTs"`
	AppliedTime *time.Time `json:"appliedTime,omitempty"`
	Synced      bool       `json:"synced"`
}

// SyncChecker is implemented by pipelines that can tell whether the target
// has applied everything the source wrote before the call.
type SyncChecker interface {
	Synced(ctx context.Context) (SyncReport, error)
}

// Deps are what the control plane hands to a pipeline.
type Deps struct {
	Checkpoints CheckpointStore
	// Snapshots keeps the progress of an initial snapshot; nil when the
	// daemon cannot take snapshots (tasks with InitialSync fail then).
	Snapshots SnapshotStore
	Logger    *zap.Logger
	// OnFailure is called (at most once per Start) when the pipeline stops on
	// its own because of an error; the control plane then marks the task
	// Paused with the error as reason. It must not be called after Stop.
	OnFailure func(err error)
	// Guard, when set, is consulted before every call to the target: an
	// error (wrapping ErrNotOwner) means this daemon may no longer write for
	// the task, and the call is not made. Nil allows every call (a daemon
	// that runs alone).
	Guard func(ctx context.Context) error
}

// Pipeline replicates one task.
//
// Contract: Start begins replication from the stored checkpoints (or the
// task's start positions when none are stored) and returns once the pipeline
// is running or has failed to start; it must not block for the lifetime of the
// replication. Stop ends it, waits until no more checkpoints are written, and
// is safe to call on a stopped pipeline. Status never blocks.
type Pipeline interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Status() Status
}

// PipelineFactory builds pipelines. The server holds one factory.
//
// Contract: Verify checks, without side effects, that a task can run (at least
// that its target is reachable with its credentials within the connect
// timeout); the server calls it before storing a new task. New builds a
// pipeline for a stored task without starting it.
type PipelineFactory interface {
	Verify(ctx context.Context, spec TaskSpec) error
	New(spec TaskSpec, deps Deps) (Pipeline, error)
}

// StartPositioner is implemented by factories that pin where a new task
// starts. The server calls it while creating a task and stores the result as
// the task's initial checkpoints before answering, so every write made after
// create returned is replicated, however late the pipeline opens a channel.
// skip names channels the request already gave a position for.
type StartPositioner interface {
	StartPositions(ctx context.Context, spec TaskSpec, skip map[string]bool) ([]Checkpoint, error)
}

// ErrPermanent is wrapped by the error a pipeline reports through
// Deps.OnFailure when it stopped on an error retrying cannot fix (a target
// that persistently refuses a schema, data or the credentials). The control
// plane marks such a task Failed rather than Paused; resume retries it.
var ErrPermanent = errors.New("permanent failure")

// Redacted is the URI without any user:password part, for errors and logs;
// for a Kafka target, "kafka://" and the brokers.
func (t Target) Redacted() string {
	if t.Kafka != nil {
		return "kafka://" + strings.Join(t.Kafka.Brokers, ",")
	}
	at := strings.LastIndex(t.URI, "@")
	if at < 0 {
		return t.URI
	}
	if scheme := strings.Index(t.URI, "://"); scheme >= 0 && scheme < at {
		return t.URI[:scheme+3] + t.URI[at+1:]
	}
	return t.URI[at+1:]
}
