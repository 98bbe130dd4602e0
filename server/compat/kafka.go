package compat

import (
	"strings"

	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// kafkaTarget is the Kafka target of kafka_connect_param: address is a
// comma-separated broker list, as milvus-cdc passes it to its producer.
// The SASL settings apply only with enable_sasl; security_protocol
// SASL_SSL (or SSL) turns TLS on with the host's certificate authorities.
func kafkaTarget(k KafkaConnectParam) *corelib.KafkaTarget {
	t := &corelib.KafkaTarget{Topic: k.Topic}
	for _, b := range strings.Split(k.Address, ",") {
		if b = strings.TrimSpace(b); b != "" {
			t.Brokers = append(t.Brokers, b)
		}
	}
	if k.EnableSASL {
		t.SASL = corelib.KafkaSASL{Mechanism: strings.ToUpper(k.SASL.Mechanisms), Username: k.SASL.Username, Password: k.SASL.Password}
		if t.SASL.Mechanism == "" {
			t.SASL.Mechanism = "PLAIN" // librdkafka's default
		}
	}
	switch strings.ToUpper(k.SASL.SecurityProtocol) {
	case "SASL_SSL", "SSL":
		t.TLS.Enabled = true
	}
	return t
}

// kafkaConnectParam shows a Kafka target as milvus-cdc does, with the SASL
// username and password blanked.
func kafkaConnectParam(t *corelib.KafkaTarget) KafkaConnectParam {
	topic := t.Topic
	if topic == "" {
		topic = t.TopicTemplate
	}
	p := KafkaConnectParam{Address: strings.Join(t.Brokers, ","), Topic: topic, EnableSASL: t.SASL.Mechanism != ""}
	if p.EnableSASL {
		p.SASL.Mechanisms = t.SASL.Mechanism
	}
	if t.TLS.Enabled {
		p.SASL.SecurityProtocol = "SSL"
		if p.EnableSASL {
			p.SASL.SecurityProtocol = "SASL_SSL"
		}
	} else if p.EnableSASL {
		p.SASL.SecurityProtocol = "SASL_PLAINTEXT"
	}
	return p
}
