package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// startBroker runs an in-process Kafka that requires SASL PLAIN with the
// test's secret password.
func startBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", secretUser, secretPassword))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// TestCompatKafkaTarget: kafka_connect_param creates a task in writer mode
// kafka that reaches the broker with its SASL settings, and get shows it as
// milvus-cdc does, the SASL password blanked.
func TestCompatKafkaTarget(t *testing.T) {
	d := startDaemon(t)
	addr := startBroker(t)
	kafkaParam := fmt.Sprintf(`"kafka_connect_param":{"address":%q,"topic":"cdc","enable_sasl":true,"sasl":{"username":%q,"password":%q,"mechanisms":"PLAIN","security_protocol":"SASL_PLAINTEXT"}}`,
		addr, secretUser, secretPassword)
	got := d.cdc(createBody(kafkaParam + `,"collection_infos":[{"name":"*"}]`))
	require.Equal(t, 200.0, got["code"], "%v", got["message"])
	id := got["data"].(map[string]any)["task_id"].(string)

	tk := d.cdc(`{"request_type":"get","request_data":{"task_id":"` + id + `"}}`)["data"].(map[string]any)["task"].(map[string]any)
	require.Equal(t, map[string]any{"address": addr, "topic": "cdc", "enable_sasl": true,
		"sasl": map[string]any{"mechanisms": "PLAIN", "security_protocol": "SASL_PLAINTEXT"}}, tk["kafka_connect_param"])
	require.Equal(t, "", tk["milvus_connect_param"].(map[string]any)["uri"])
	r := d.do(http.MethodGet, "/api/v1/tasks/"+id, "")
	require.NotContains(t, string(r.body), secretPassword)
	view := r.json(t)
	require.Equal(t, "kafka", view["writerMode"], "a Kafka target implies writer mode kafka")
	require.Equal(t, true, view["target"].(map[string]any)["tokenSet"], "the SASL password is stored, not shown")

	// The same brokers with an overlapping scope is a duplicate, as in milvus-cdc.
	got = d.cdc(createBody(kafkaParam + `,"collection_infos":[{"name":"c1"}]`))
	require.Equal(t, 400.0, got["code"])
	require.Equal(t, "fail to handle the create request, error: the collection name is duplicate with existing task, [default.c1]; task "+id+" already replicates default.c1 (its scope default.*) to this target: leave it out of the scope, or delete task "+id+" first", got["message"])

	// Wrong credentials: the broker refuses, nothing is stored.
	wrong := strings.Replace(kafkaParam, secretPassword, "nope", 1)
	got = d.cdc(createBody(wrong + `,"db_collections":{"db9":[{"name":"*"}]}`))
	require.Equal(t, 500.0, got["code"])
	require.True(t, strings.HasPrefix(got["message"].(string), "fail to handle the create request, error: fail to connect the kafka: "), got["message"])
	require.Len(t, d.cdc(`{"request_type":"list"}`)["data"].(map[string]any)["tasks"], 1)
	d.requireNoSecretLogged()
}

// TestRESTKafkaTarget: target.kafka validation names the field, and a task
// shows its Kafka target with the writer's defaults.
func TestRESTKafkaTarget(t *testing.T) {
	d := startDaemon(t)
	addr := startBroker(t)
	scope := `"scope":[{"database":"*","collection":"*"}]`
	kafka := func(fields string) string {
		return fmt.Sprintf(`{"target":{"kafka":{"brokers":[%q],"sasl":{"mechanism":"PLAIN","username":%q,"password":%q}%s}},%s}`, addr, secretUser, secretPassword, fields, scope)
	}
	tests := []struct {
		name, body, code, detail, field string
	}{
		{"no topic", kafka(``), "validation_failed", "the kafka topic is empty", "target.kafka.topic"},
		{"topic and template", kafka(`,"topic":"a","topicTemplate":"cdc.{collection}"`), "validation_failed", "set either target.kafka.topic or target.kafka.topicTemplate, not both", "target.kafka.topicTemplate"},
		{"bad template", kafka(`,"topicTemplate":"cdc.{table}"`), "validation_failed", `the topic template "cdc.{table}" is invalid: the placeholders are {database}, {collection} and {cluster}`, "target.kafka.topicTemplate"},
		{"bad topic", kafka(`,"topic":"a b"`), "validation_failed", `the kafka topic "a b" is invalid: use only letters, digits, '.', '_' and '-'`, "target.kafka.topic"},
		{"bad compression", kafka(`,"topic":"a","compression":"brotli"`), "validation_failed", `the compression "brotli" is unknown: use none, gzip, snappy, lz4 or zstd`, "target.kafka.compression"},
		{"bad format", kafka(`,"topic":"a","format":"avro"`), "validation_failed", `the format "avro" is unknown: use "json" (vectors as JSON arrays, the default) or "json-base64" (vectors as base64)`, "target.kafka.format"},
		{"milvus and kafka", `{"target":{"uri":"http://target:19530","kafka":{"brokers":["k:9092"],"topic":"a"}},` + scope + `}`, "validation_failed", "don't support milvus and kafka at the same time now", "target"},
		{"other writer mode", `{"writerMode":"api","target":{"kafka":{"brokers":["k:9092"],"topic":"a"}},` + scope + `}`, "validation_failed", `a Kafka target is written in writer mode "kafka", not "api": leave writerMode empty`, "writerMode"},
		{"kafka mode without kafka", `{"writerMode":"kafka",` + restTarget + `,` + scope + `}`, "validation_failed", `writer mode "kafka" publishes to Kafka: give a Kafka target (target.kafka or kafka_connect_param) instead of a Milvus URI`, "writerMode"},
		{"unreachable", `{"target":{"connectTimeoutSeconds":2,"kafka":{"brokers":["127.0.0.1:1"],"topic":"a"}},` + scope + `}`, "target_unreachable", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.do(http.MethodPost, "/api/v1/tasks", tt.body)
			requireProblem(t, r, 422, tt.code, tt.detail, tt.field)
			if tt.code == "target_unreachable" {
				require.True(t, strings.HasPrefix(r.json(t)["detail"].(string), "fail to connect the kafka: "), "%s", r.body)
			}
		})
	}

	r := d.do(http.MethodPost, "/api/v1/tasks", kafka(`,"topicTemplate":"cdc.{database}.{collection}","compression":"zstd"`))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.NotContains(t, string(r.body), secretPassword)
	tk := r.json(t)
	require.Equal(t, "kafka", tk["writerMode"])
	require.Equal(t, map[string]any{"uri": "", "tokenSet": true, "kafka": map[string]any{
		"brokers": []any{addr}, "topicTemplate": "cdc.{database}.{collection}", "schemaTopic": "milvus-cdc.schema",
		"sasl": map[string]any{"mechanism": "PLAIN", "username": secretUser}, "compression": "zstd", "format": "json",
	}}, tk["target"])
	d.requireNoSecretLogged()
}
