// Package rest serves the REST task API under /api/v1: its wire types, a
// strict request decoder, and the conversion to and from the internal task
// model. Errors are application/problem+json with a stable code from the
// task package's error catalog.
package rest

import (
	"time"

	"github.com/milvus-cdc/milvus-cdc/corelib"
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
}

// TargetRequest is the target of a new task: a Milvus (uri), or Kafka.
type TargetRequest struct {
	URI   string       `json:"uri"`
	Kafka *KafkaTarget `json:"kafka,omitempty"`
	Token string       `json:"token,omitempty"`
	// TokenFile / TokenEnv give the token by reference on the daemon's host
	// (a file under taskSecrets.dir, a variable starting with
	// taskSecrets.envPrefix); at most one of Token, TokenFile, TokenEnv.
	TokenFile             string `json:"tokenFile,omitempty"`
	TokenEnv              string `json:"tokenEnv,omitempty"`
	ConnectTimeoutSeconds int    `json:"connectTimeoutSeconds,omitempty"`
	ChannelNum            int    `json:"channelNum,omitempty"`
	IgnorePartition       bool   `json:"ignorePartition,omitempty"`
	TLS                   *TLS   `json:"tls,omitempty"`
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
	Pipeline         *PipelineStatus `json:"pipeline,omitempty"`
	CreatedAt        time.Time       `json:"createdAt"`
	UpdatedAt        time.Time       `json:"updatedAt"`
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

// PipelineStatus is the live status of a task's pipeline: state, last
// error, per-channel positions and lag, per-collection counts (the
// corelib.Status fields, whose JSON names are this API's).
type PipelineStatus = corelib.Status

// TaskStatus is the body of GET /api/v1/tasks/{id}/status.
type TaskStatus struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Pipeline is absent when no pipeline runs (a paused task).
	Pipeline *PipelineStatus `json:"pipeline,omitempty"`
}

// TaskSynced is the body of GET /api/v1/tasks/{id}/synced.
type TaskSynced struct {
	ID    string `json:"id"`
	State string `json:"state"`
	corelib.SyncReport
}

// TaskList is the body of GET /api/v1/tasks.
type TaskList struct {
	Tasks []Task `json:"tasks"`
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
