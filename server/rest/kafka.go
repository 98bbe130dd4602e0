package rest

import "github.com/milvus-cdc/milvus-cdc/corelib"

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

func kafkaTargetOf(k *KafkaTarget) *corelib.KafkaTarget {
	t := &corelib.KafkaTarget{
		Brokers: k.Brokers, Topic: k.Topic, TopicTemplate: k.TopicTemplate, SchemaTopic: k.SchemaTopic,
		Compression: k.Compression, Format: k.Format, MaxMessageBytes: k.MaxMessageBytes,
	}
	if s := k.SASL; s != nil {
		t.SASL = corelib.KafkaSASL{Mechanism: s.Mechanism, Username: s.Username, Password: s.Password}
	}
	if s := k.TLS; s != nil {
		t.TLS = corelib.KafkaTLS{Enabled: s.Enabled, CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile, ServerName: s.ServerName}
	}
	return t
}

// kafkaViewOf shows a stored Kafka target (its password already blanked),
// with the defaults the writer applies.
func kafkaViewOf(k *corelib.KafkaTarget, schemaTopic string) *KafkaTargetView {
	v := &KafkaTargetView{
		Brokers: k.Brokers, Topic: k.Topic, TopicTemplate: k.TopicTemplate, SchemaTopic: schemaTopic,
		Compression: k.Compression, Format: k.Format, MaxMessageBytes: k.MaxMessageBytes,
	}
	if v.Format == "" {
		v.Format = "json"
	}
	if s := k.SASL; s.Mechanism != "" {
		v.SASL = &KafkaSASL{Mechanism: s.Mechanism, Username: s.Username}
	}
	if s := k.TLS; s != (corelib.KafkaTLS{}) {
		v.TLS = &KafkaTLS{Enabled: s.Enabled, CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile, ServerName: s.ServerName}
	}
	return v
}
