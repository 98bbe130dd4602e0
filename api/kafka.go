package api

// The Kafka target of the REST API (writer mode "kafka",
// docs/kafka-sink.md): target.kafka of a create request and of a task.

// KafkaTarget is target.kafka of a new task: where change events go. A task
// with it has no target uri; its writer mode is "kafka".
type KafkaTarget struct {
	Brokers []string `json:"brokers"`
	// Topic receives every collection's events; TopicTemplate (e.g.
	// "cdc.{database}.{collection}") names a topic per collection. One of
	// the two.
	Topic         string `json:"topic,omitempty"`
	TopicTemplate string `json:"topicTemplate,omitempty"`
	// SchemaTopic receives the DDL events; default topic + ".schema", or
	// "milvus-cdc.schema" with a template.
	SchemaTopic string     `json:"schemaTopic,omitempty"`
	SASL        *KafkaSASL `json:"sasl,omitempty"`
	TLS         *KafkaTLS  `json:"tls,omitempty"`
	// Compression is none (default), gzip, snappy, lz4 or zstd.
	Compression string `json:"compression,omitempty"`
	// Format is json (default: vectors as arrays) or json-base64.
	Format          string `json:"format,omitempty"`
	MaxMessageBytes int32  `json:"maxMessageBytes,omitempty"`
}

// KafkaSASL is the producer's SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
type KafkaSASL struct {
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	Password  string `json:"password,omitempty"`
}

// KafkaTLS is the producer's TLS: PEM file paths on the daemon's host.
type KafkaTLS struct {
	Enabled    bool   `json:"enabled,omitempty"`
	CAFile     string `json:"caFile,omitempty"`
	CertFile   string `json:"certFile,omitempty"`
	KeyFile    string `json:"keyFile,omitempty"`
	ServerName string `json:"serverName,omitempty"`
}

// KafkaTargetView is target.kafka of a task: the settings without the SASL
// password (TargetView.TokenSet says whether one is stored).
type KafkaTargetView struct {
	Brokers         []string   `json:"brokers"`
	Topic           string     `json:"topic,omitempty"`
	TopicTemplate   string     `json:"topicTemplate,omitempty"`
	SchemaTopic     string     `json:"schemaTopic"`
	SASL            *KafkaSASL `json:"sasl,omitempty"`
	TLS             *KafkaTLS  `json:"tls,omitempty"`
	Compression     string     `json:"compression,omitempty"`
	Format          string     `json:"format"`
	MaxMessageBytes int32      `json:"maxMessageBytes,omitempty"`
}
