// Package api holds the wire types of the daemon's REST task API
// (/api/v1/tasks): the request bodies a client sends and the response bodies
// the daemon answers with, including the pipeline status that /cdc get and
// list also carry as pipeline_status.
//
// These types are the contract with clients and nothing else: they depend
// only on the standard library, so a client (package client, the CLI, other
// Go programs) can use them without pulling in the server. The server
// converts them to and from its internal model explicitly (server/rest);
// changing the internal model never changes the JSON on the wire by
// accident. docs/openapi.yaml describes the same shapes.
package api

import (
	"fmt"
	"time"
)

// CreateTaskRequest is the body of POST /api/v1/tasks.
type CreateTaskRequest struct {
	// ID is optional; a 32-hex id is generated when empty.
	ID               string            `json:"id,omitempty"`
	Target           TargetRequest     `json:"target"`
	Scope            []Scope           `json:"scope"`
	NameMapping      []NameMapping     `json:"nameMapping,omitempty"`
	ReplicateChannel *ReplicateChannel `json:"replicateChannel,omitempty"`
	EnableUserRole   bool              `json:"enableUserRole,omitempty"`
	DisableAutoStart bool              `json:"disableAutoStart,omitempty"`
	// WriterMode is "api" (default) or "replicate" (docs/writer-modes.md);
	// a Kafka target implies "kafka".
	WriterMode string `json:"writerMode,omitempty"`
	// InitialSync copies the rows the in-scope collections hold before
	// following the changes (docs/replication.md, "Initial sync"); not in
	// writer mode "replicate".
	InitialSync bool `json:"initialSync,omitempty"`
	// StartFrom is where the task starts reading: "latest" (default: the
	// channels' ends at create), "earliest" (the oldest message the broker
	// holds) or an RFC 3339 time (rows stamped after it).
	StartFrom string `json:"startFrom,omitempty"`
}

// UpdateTaskRequest is the body of PATCH /api/v1/tasks/{id}, accepted only
// while the task is Paused. A field left out stays as it is.
type UpdateTaskRequest struct {
	// Scope replaces the scope: collections left out stop being replicated,
	// new ones start from the task's checkpoints (or the channel's end).
	Scope []Scope `json:"scope,omitempty"`
	// NameMapping replaces the name mapping; [] removes it.
	NameMapping []NameMapping `json:"nameMapping,omitempty"`
	// Target replaces the target's credentials.
	Target *TargetCredentials `json:"target,omitempty"`
}

// TargetCredentials are a Milvus target's credentials in an update. Giving
// any of Token, TokenFile, TokenEnv or Username+Password replaces the token
// (at most one way; Token "" removes it); TLS replaces the TLS material
// ({} removes it).
type TargetCredentials struct {
	Token     *string `json:"token,omitempty"`
	TokenFile string  `json:"tokenFile,omitempty"`
	TokenEnv  string  `json:"tokenEnv,omitempty"`
	// Username and Password make the token "username:password".
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	TLS      *TLS   `json:"tls,omitempty"`
}

// TargetRequest is the target of a new task: a Milvus (uri), or Kafka.
type TargetRequest struct {
	URI   string       `json:"uri"`
	Kafka *KafkaTarget `json:"kafka,omitempty"`
	Token string       `json:"token,omitempty"`
	// TokenFile / TokenEnv give the token by reference on the daemon's host
	// (a file under taskSecrets.dir, a variable starting with
	// taskSecrets.envPrefix); at most one of Token, TokenFile, TokenEnv.
	TokenFile string `json:"tokenFile,omitempty"`
	TokenEnv  string `json:"tokenEnv,omitempty"`
	// ConnectTimeoutSeconds bounds the connection check at create; 0 means 30 s.
	ConnectTimeoutSeconds int `json:"connectTimeoutSeconds,omitempty"`
	// ChannelNum is the target's rootCoord.dmlChannelNum when it differs
	// from the source's; 0 means the same.
	ChannelNum      int  `json:"channelNum,omitempty"`
	IgnorePartition bool `json:"ignorePartition,omitempty"`
	TLS             *TLS `json:"tls,omitempty"`
}

// TLS is the target TLS material: PEM file paths on the daemon's host.
type TLS struct {
	ServerName    string `json:"serverName,omitempty"`
	ServerPemPath string `json:"serverPemPath,omitempty"`
	CaPemPath     string `json:"caPemPath,omitempty"`
	ClientPemPath string `json:"clientPemPath,omitempty"`
	ClientKeyPath string `json:"clientKeyPath,omitempty"`
}

// Scope selects collections of one database; "*" selects all.
type Scope struct {
	Database         string            `json:"database"`
	Collection       string            `json:"collection"`
	Positions        map[string]string `json:"positions,omitempty"`
	UseStartPosition bool              `json:"useStartPosition,omitempty"`
}

// NameMapping renames a source database and/or its collections on the target.
type NameMapping struct {
	SourceDatabase string            `json:"sourceDatabase"`
	TargetDatabase string            `json:"targetDatabase"`
	Collections    map[string]string `json:"collections,omitempty"`
}

// ReplicateChannel names the source replicate channel and an optional start position.
type ReplicateChannel struct {
	Name     string `json:"name,omitempty"`
	Position string `json:"position,omitempty"`
}

// Task is a task as the REST API shows it. It never contains secrets.
type Task struct {
	ID               string          `json:"id"`
	State            string          `json:"state"`
	Reason           string          `json:"reason,omitempty"`
	Target           TargetView      `json:"target"`
	Scope            []Scope         `json:"scope"`
	Exclude          []string        `json:"exclude,omitempty"`
	NameMapping      []NameMapping   `json:"nameMapping,omitempty"`
	ReplicateChannel string          `json:"replicateChannel"`
	EnableUserRole   bool            `json:"enableUserRole"`
	DisableAutoStart bool            `json:"disableAutoStart"`
	WriterMode       string          `json:"writerMode"`
	InitialSync      bool            `json:"initialSync"`
	StartFrom        string          `json:"startFrom,omitempty"`
	Pipeline         *PipelineStatus `json:"pipeline,omitempty"`
	CreatedAt        time.Time       `json:"createdAt"`
	UpdatedAt        time.Time       `json:"updatedAt"`
	// Store is set only when the task store did not answer: the task is
	// shown as the daemon last read or wrote it.
	Store *StoreStatus `json:"store,omitempty"`
	// Owner is the cluster member running the task (several daemons on one
	// task store); empty without a cluster or while nobody owns it.
	Owner string `json:"owner,omitempty"`
	// OwnershipLost is set by a daemon that stopped the task's pipeline
	// because it no longer owned the task, and says why.
	OwnershipLost string `json:"ownershipLost,omitempty"`
}

// StoreStatus says that an answer comes from the daemon's memory because
// the task store (etcd) did not answer in time. Pipeline figures are live
// either way; task records (state, reason, scope) are as of AsOf.
type StoreStatus struct {
	// Reachable is false: the store did not answer this request.
	Reachable bool `json:"reachable"`
	// Error is why the store did not answer.
	Error string `json:"error"`
	// Since is when the store stopped answering (the first failed call of
	// the current outage).
	Since time.Time `json:"since"`
	// AsOf is when the daemon last read or wrote the records shown.
	AsOf time.Time `json:"asOf"`
}

// TargetView is the target without its token (or Kafka SASL password);
// TokenSet says whether one is stored.
type TargetView struct {
	URI      string           `json:"uri"`
	Kafka    *KafkaTargetView `json:"kafka,omitempty"`
	TokenSet bool             `json:"tokenSet"`
	// TokenFile / TokenEnv are the token's reference, when given so.
	TokenFile             string `json:"tokenFile,omitempty"`
	TokenEnv              string `json:"tokenEnv,omitempty"`
	ConnectTimeoutSeconds int    `json:"connectTimeoutSeconds,omitempty"`
	ChannelNum            int    `json:"channelNum,omitempty"`
	IgnorePartition       bool   `json:"ignorePartition,omitempty"`
	TLS                   *TLS   `json:"tls,omitempty"`
}

// PipelineStatus is the live status of a task's pipeline.
type PipelineStatus struct {
	// Replicating is true only when data is actually flowing to the target.
	Replicating bool `json:"replicating"`
	// Detail explains the status in one sentence, for operators.
	Detail string `json:"detail,omitempty"`
	// LastError is the most recent failure, if any.
	LastError string `json:"lastError,omitempty"`
	// State is "running", "retrying", "failed" or "stopped".
	State string `json:"state,omitempty"`
	// Error is the most recent failure with its time and stage; nil if none.
	Error *StatusError `json:"error,omitempty"`
	// Retries counts the failed attempts since the pipeline started.
	Retries int64 `json:"retries"`
	// LagSeconds is the largest lag of the data channels; nil until every
	// data channel has a known position.
	LagSeconds *float64 `json:"lagSeconds,omitempty"`
	// Channels are the source channels the pipeline reads, sorted by name.
	Channels []ChannelStatus `json:"channels,omitempty"`
	// Collections are the in-scope source collections met since the
	// pipeline started, with what it applied for each.
	Collections []CollectionStatus `json:"collections,omitempty"`
	// Skipped counts, by reason, the messages and operations not replayed
	// since the pipeline started.
	Skipped []SkipCount `json:"skipped,omitempty"`
	// Phase is "bootstrap", "snapshot" or "following"; "" when stopped.
	Phase string `json:"phase,omitempty"`
	// Snapshot is the initial snapshot's progress while one is taken.
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

// SkipCount is how many messages or operations were skipped for one reason.
type SkipCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
	// InScope: what was skipped belongs, or may belong, to the task's scope
	// (the target may then differ from the source).
	InScope bool `json:"inScope"`
}

// SnapshotStatus is the progress of an initial snapshot.
type SnapshotStatus struct {
	Done        bool                       `json:"done"`
	Remaining   int                        `json:"collectionsRemaining"`
	Collections []SnapshotCollectionStatus `json:"collections"`
}

// SnapshotCollectionStatus is one collection's copy.
type SnapshotCollectionStatus struct {
	ID       int64  `json:"id"`
	Database string `json:"database"`
	Name     string `json:"name"`
	// State is pending, copying, done or skipped (Reason says why).
	State         string   `json:"state"`
	Reason        string   `json:"reason,omitempty"`
	Total         int64    `json:"rowsTotal"`
	Copied        int64    `json:"rowsCopied"`
	RowsPerSecond float64  `json:"rowsPerSecond,omitempty"`
	ETASeconds    *float64 `json:"etaSeconds,omitempty"`
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
	Kind           string     `json:"kind"`
	CheckpointTs   uint64     `json:"checkpointTs"`
	CheckpointTime *time.Time `json:"checkpointTime,omitempty"`
	AppliedTs      uint64     `json:"appliedTs"`
	AppliedTime    *time.Time `json:"appliedTime,omitempty"`
	LatestTs       uint64     `json:"latestTs"`
	LatestTime     *time.Time `json:"latestTime,omitempty"`
	CaughtUp       bool       `json:"caughtUp"`
	LagSeconds     *float64   `json:"lagSeconds,omitempty"`
}

// CollectionStatus counts what the pipeline applied for one source
// collection since it started.
type CollectionStatus struct {
	ID         int64  `json:"id"`
	Database   string `json:"database"`
	Name       string `json:"name"`
	Inserted   int64  `json:"rowsInserted"`
	Deleted    int64  `json:"rowsDeleted"`
	Upserted   int64  `json:"rowsUpserted"`
	Operations int64  `json:"operations"`
}

// TaskStatus is the body of GET /api/v1/tasks/{id}/status.
type TaskStatus struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Pipeline is absent when no pipeline runs (a paused task).
	Pipeline *PipelineStatus `json:"pipeline,omitempty"`
	// Store is set only when the task store did not answer (see Task.Store).
	Store *StoreStatus `json:"store,omitempty"`
	// Owner and OwnershipLost: see Task.
	Owner         string `json:"owner,omitempty"`
	OwnershipLost string `json:"ownershipLost,omitempty"`
}

// TaskSynced is the body of GET /api/v1/tasks/{id}/synced.
type TaskSynced struct {
	ID    string `json:"id"`
	State string `json:"state"`
	// Synced is true when the target holds everything the source had
	// written when the question was asked.
	Synced bool `json:"synced"`
	// SourceNowTs is the source clock read when the question was asked.
	SourceNowTs uint64    `json:"sourceNowTs"`
	SourceNow   time.Time `json:"sourceNow"`
	// Channels are the data channels compared with SourceNowTs.
	Channels []ChannelSync `json:"channels"`
	// Reason says why Synced is false.
	Reason string `json:"reason,omitempty"`
	// Skipped lists what the pipeline did not replay; a skip in scope makes
	// Synced false.
	Skipped []SkipCount `json:"skipped,omitempty"`
}

// ChannelSync is one data channel's part of a TaskSynced answer.
type ChannelSync struct {
	Channel     string     `json:"channel"`
	AppliedTs   uint64     `json:"appliedTs"`
	AppliedTime *time.Time `json:"appliedTime,omitempty"`
	Synced      bool       `json:"synced"`
}

// VerifyRequest is the body of POST /api/v1/tasks/{id}/verify.
type VerifyRequest struct {
	// Mode is "sample" (the default: counts, every primary key, and the
	// values of Sample rows per collection) or "full" (the values of every
	// row).
	Mode string `json:"mode,omitempty"`
	// Sample is how many rows per collection have their values compared in
	// mode sample: 1 to 100000, default 1000.
	Sample int `json:"sample,omitempty"`
}

// TaskVerify is the body of a verify answer.
type TaskVerify struct {
	ID string `json:"id"`
	// Equal is true when every collection of the task is equal on both
	// sides.
	Equal       bool               `json:"equal"`
	Mode        string             `json:"mode"`
	Sample      int                `json:"sample,omitempty"`
	Collections []CollectionVerify `json:"collections"`
}

// CollectionVerify is one collection's comparison.
type CollectionVerify struct {
	Database       string `json:"database"`
	Name           string `json:"name"`
	TargetDatabase string `json:"targetDatabase"`
	TargetName     string `json:"targetName"`
	// Result is "equal" or "not_equal".
	Result string `json:"result"`
	// Reason explains a difference no key names (a missing collection,
	// partition counts).
	Reason     string            `json:"reason,omitempty"`
	SourceRows int64             `json:"sourceRows"`
	TargetRows int64             `json:"targetRows"`
	Partitions []PartitionVerify `json:"partitions,omitempty"`
	// SourceKeyHash and TargetKeyHash digest the set of primary keys
	// ("count:hex", independent of order).
	SourceKeyHash string `json:"sourceKeyHash"`
	TargetKeyHash string `json:"targetKeyHash"`
	// RowsCompared is how many rows had their field values compared.
	RowsCompared int64 `json:"rowsCompared"`
	// Missing, Extra and Differing count the rows missing on the target,
	// on the target but not the source, and with differing values; the
	// key lists hold the first 20 of each.
	Missing         int64    `json:"missing"`
	Extra           int64    `json:"extra"`
	Differing       int64    `json:"differing"`
	MissingKeys     []string `json:"missingKeys,omitempty"`
	ExtraKeys       []string `json:"extraKeys,omitempty"`
	DifferingKeys   []string `json:"differingKeys,omitempty"`
	DifferingFields []string `json:"differingFields,omitempty"`
}

// PartitionVerify is one partition's row counts; -1 where the side has no
// such partition.
type PartitionVerify struct {
	Name       string `json:"name"`
	SourceRows int64  `json:"sourceRows"`
	TargetRows int64  `json:"targetRows"`
}

// Verify results of a collection.
const (
	VerifyEqual    = "equal"
	VerifyNotEqual = "not_equal"
)

// TaskList is the body of GET /api/v1/tasks.
type TaskList struct {
	Tasks []Task `json:"tasks"`
	// Store is set only when the task store did not answer and the list is
	// the one the daemon last knew (see Task.Store).
	Store *StoreStatus `json:"store,omitempty"`
}

// Problem is an RFC 9457 problem detail with the catalog code.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Code     string `json:"code"`
	Field    string `json:"field,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// String makes Problem readable in logs and test failures.
func (p Problem) String() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail) }

// Cluster is GET /api/v1/cluster: the daemons sharing the task store, the
// tasks each owns and the health of their leases. A daemon on an embedded
// store answers Enabled false and itself alone.
type Cluster struct {
	Enabled bool `json:"enabled"`
	// Self is the ID of the member that answered.
	Self string `json:"self"`
	// LeaseTTLSeconds is the configured membership lease TTL.
	LeaseTTLSeconds int             `json:"leaseTTLSeconds"`
	Members         []ClusterMember `json:"members"`
	// Unowned lists tasks no member owns right now (a member's lease just
	// expired; another takes them within a second).
	Unowned []string `json:"unowned"`
}

// ClusterMember is one registered daemon.
type ClusterMember struct {
	ID string `json:"id"`
	// Address is the advertised API address requests are forwarded to.
	Address   string    `json:"address"`
	StartedAt time.Time `json:"startedAt"`
	// LeaseRemainingSeconds is how long the member's lease lives without a
	// renewal; a healthy member stays near the TTL (it renews every third).
	LeaseRemainingSeconds int `json:"leaseRemainingSeconds"`
	// Healthy: the lease has more than a third of its TTL left (to the
	// second etcd reports it in).
	Healthy bool `json:"healthy"`
	// Draining: the member hands its tasks over and takes none (drain).
	Draining bool     `json:"draining,omitempty"`
	Tasks    []string `json:"tasks"`
}
