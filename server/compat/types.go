// Package compat serves the milvus-cdc compatible task API, POST /cdc: its
// wire types, its decoder, and the conversion to and from the internal task
// model. Every response is HTTP 200 with the outcome in the body's code, as
// milvus-cdc does.
package compat

import "github.com/milvus-cdc/milvus-cdc/api"

// Request types, in the order the "invalid request_type" message lists them.
const (
	TypeCreate      = "create"
	TypeDelete      = "delete"
	TypePause       = "pause"
	TypeResume      = "resume"
	TypeGet         = "get"
	TypePosition    = "position"
	TypeList        = "list"
	TypeMaintenance = "maintenance"
)

// RequestTypes lists every valid request_type.
var RequestTypes = []string{TypeCreate, TypeDelete, TypePause, TypeResume, TypeGet, TypePosition, TypeList, TypeMaintenance}

// Response is the milvus-cdc envelope. On success Data is set; on error Message.
type Response struct {
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
	Data    any    `json:"data,omitempty"`
}

// MilvusConnectParam is the Milvus target of a create request.
type MilvusConnectParam struct {
	URI             string     `json:"uri"`
	Token           string     `json:"token,omitempty"`
	Host            string     `json:"host"`
	Port            int        `json:"port"`
	EnableTLS       bool       `json:"enable_tls"`
	Username        string     `json:"username,omitempty"`
	Password        string     `json:"password,omitempty"`
	ConnectTimeout  int        `json:"connect_timeout"`
	ChannelNum      int        `json:"channel_num"`
	IgnorePartition bool       `json:"ignore_partition"`
	DialConfig      DialConfig `json:"dial_config"`
}

// DialConfig is the target TLS material (file paths on the daemon's host).
type DialConfig struct {
	ServerName    string `json:"server_name,omitempty"`
	ServerPemPath string `json:"server_pem_path,omitempty"`
	CaPemPath     string `json:"ca_pem_path,omitempty"`
	ClientPemPath string `json:"client_pem_path,omitempty"`
	ClientKeyPath string `json:"client_key_path,omitempty"`
}

// KafkaConnectParam is milvus-cdc's Kafka target: a task in writer mode
// "kafka" (docs/kafka-sink.md). address lists the brokers, comma-separated.
type KafkaConnectParam struct {
	Address    string    `json:"address"`
	Topic      string    `json:"topic"`
	EnableSASL bool      `json:"enable_sasl"`
	SASL       KafkaSASL `json:"sasl"`
}

// KafkaSASL holds Kafka SASL settings, used when enable_sasl is set:
// mechanisms PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; security_protocol
// SASL_PLAINTEXT or SASL_SSL (TLS). The password is a secret.
type KafkaSASL struct {
	Username         string `json:"username,omitempty"`
	Password         string `json:"password,omitempty"`
	Mechanisms       string `json:"mechanisms,omitempty"`
	SecurityProtocol string `json:"security_protocol,omitempty"`
}

// CollectionInfo selects a collection ("*" = all) with optional start positions.
type CollectionInfo struct {
	Name             string            `json:"name"`
	Positions        map[string]string `json:"positions,omitempty"`
	UseStartPosition bool              `json:"use_start_position,omitempty"`
}

// ChannelInfo is the replicate channel and an optional start position.
type ChannelInfo struct {
	Name     string `json:"name"`
	Position string `json:"position"`
}

// ExtraInfo carries optional features.
type ExtraInfo struct {
	EnableUserRole bool `json:"enable_user_role"`
}

// BufferConfig is accepted and validated for compatibility; milvus-cdc never used it either.
type BufferConfig struct {
	Period int `json:"period"`
	Size   int `json:"size"`
}

// NameMapping renames a source database and/or collections on the target.
type NameMapping struct {
	SourceDB          string            `json:"source_db"`
	TargetDB          string            `json:"target_db"`
	CollectionMapping map[string]string `json:"collection_mapping"`
}

// CreateRequest is request_data of "create".
type CreateRequest struct {
	TaskID             string                      `json:"task_id"`
	MilvusConnectParam MilvusConnectParam          `json:"milvus_connect_param"`
	KafkaConnectParam  KafkaConnectParam           `json:"kafka_connect_param"`
	CollectionInfos    []CollectionInfo            `json:"collection_infos"`
	DBCollections      map[string][]CollectionInfo `json:"db_collections"`
	RPCChannelInfo     ChannelInfo                 `json:"rpc_channel_info"`
	ExtraInfo          ExtraInfo                   `json:"extra_info"`
	BufferConfig       BufferConfig                `json:"buffer_config"`
	NameMapping        []NameMapping               `json:"name_mapping"`
	DisableAutoStart   bool                        `json:"disable_auto_start"`
	// WriterMode is "api" (default) or "replicate", or "kafka", which a
	// Kafka target implies; not a milvus-cdc field.
	WriterMode string `json:"writer_mode"`
	// InitialSync copies the rows the collections hold before following
	// their changes (not in writer mode "replicate"); not a milvus-cdc field.
	InitialSync bool `json:"initial_sync"`
}

// CreateResponse is data of "create".
type CreateResponse struct {
	TaskID string `json:"task_id"`
}

// TaskIDRequest is request_data of "pause", "resume", "get" and "position".
type TaskIDRequest struct {
	TaskID string `json:"task_id"`
}

// DeleteRequest is request_data of "delete".
type DeleteRequest struct {
	TaskID         string `json:"task_id"`
	IgnoreNotFound bool   `json:"ignore_not_found"`
}

// ListRequest is request_data of "list" (no fields).
type ListRequest struct{}

// MaintenanceRequest is request_data of "maintenance".
type MaintenanceRequest struct {
	Operation string         `json:"operation"`
	Params    map[string]any `json:"params"`
}

// MaintenanceResponse is data of "maintenance". The key is "State" with a
// capital S: milvus-cdc builds this map with mapstructure, which uses the Go
// field name.
type MaintenanceResponse struct {
	State string `json:"State"`
}

// Task is a task as "get" and "list" show it. Secrets are blanked, so the
// omitempty token, username and password keys are absent.
type Task struct {
	TaskID             string                      `json:"task_id"`
	MilvusConnectParam MilvusConnectParam          `json:"milvus_connect_param"`
	KafkaConnectParam  KafkaConnectParam           `json:"kafka_connect_param"`
	CollectionInfos    []CollectionInfo            `json:"collection_infos"`
	DBCollections      map[string][]CollectionInfo `json:"db_collections"`
	State              string                      `json:"state"`
	Reason             string                      `json:"reason,omitempty"`
	// InitialSync is an addition: the task copies (or copied) the existing
	// rows first; absent when not.
	InitialSync bool `json:"initial_sync,omitempty"`
	// PipelineStatus is an addition to milvus-cdc's task: the live pipeline
	// figures (state, last error, channel positions and lag, row counts),
	// absent when no pipeline runs. Its keys are the REST API's.
	PipelineStatus *api.PipelineStatus `json:"pipeline_status,omitempty"`
	// StoreStatus is an addition too: set only when the task store did not
	// answer and the task is shown as the daemon last knew it.
	StoreStatus *api.StoreStatus `json:"store_status,omitempty"`
}

// GetResponse is data of "get".
type GetResponse struct {
	Task Task `json:"task"`
}

// ListResponse is data of "list".
type ListResponse struct {
	Tasks []Task `json:"tasks"`
	// StoreStatus: see Task.StoreStatus.
	StoreStatus *api.StoreStatus `json:"store_status,omitempty"`
}

// Position is one checkpoint as "position" shows it.
type Position struct {
	CollectionID int64  `json:"collection_id"`
	ChannelName  string `json:"channel_name"`
	Time         int64  `json:"time"`
	TT           uint64 `json:"tt"`
	MsgID        string `json:"msg_id"`
}

// PositionResponse is data of "position".
type PositionResponse struct {
	Positions       []Position `json:"positions"`
	OpPositions     []Position `json:"op_positions"`
	TargetPositions []Position `json:"target_positions"`
}

// EmptyData is data of delete, pause and resume: {}.
type EmptyData struct{}
