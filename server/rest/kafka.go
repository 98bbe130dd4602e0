package rest

import (
	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// Conversions of the Kafka target (api.KafkaTarget, writer mode "kafka",
// docs/kafka-sink.md) to and from the internal model.

func kafkaTargetOf(k *api.KafkaTarget) *corelib.KafkaTarget {
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
func kafkaViewOf(k *corelib.KafkaTarget, schemaTopic string) *api.KafkaTargetView {
	v := &api.KafkaTargetView{
		Brokers: k.Brokers, Topic: k.Topic, TopicTemplate: k.TopicTemplate, SchemaTopic: schemaTopic,
		Compression: k.Compression, Format: k.Format, MaxMessageBytes: k.MaxMessageBytes,
	}
	if v.Format == "" {
		v.Format = "json"
	}
	if s := k.SASL; s.Mechanism != "" {
		v.SASL = &api.KafkaSASL{Mechanism: s.Mechanism, Username: s.Username}
	}
	if s := k.TLS; s != (corelib.KafkaTLS{}) {
		v.TLS = &api.KafkaTLS{Enabled: s.Enabled, CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile, ServerName: s.ServerName}
	}
	return v
}
