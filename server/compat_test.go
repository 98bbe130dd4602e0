package server_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/corelibtest"
)

const target = `"milvus_connect_param":{"uri":"http://target:19530","token":"` + secretToken + `","connect_timeout":5}`

func createBody(data string) string {
	return `{"request_type":"create","request_data":{` + data + `}}`
}

func TestCompatListEmptyIsExact(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodPost, "/cdc", `{"request_type":"list"}`)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "{\"code\":200,\"data\":{\"tasks\":[]}}\n", string(r.body))
}

func TestCompatEnvelopeErrors(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodGet, "/cdc", "")
	require.Equal(t, http.StatusOK, r.status, "milvus-cdc answers every method with HTTP 200")
	require.Equal(t, map[string]any{"code": 405.0, "message": "only support the POST method"}, r.json(t))

	got := d.cdc(`{"request_type":"nope"}`)
	require.Equal(t, 400.0, got["code"])
	require.Equal(t, "invalid 'request_type' param, can be set [create delete pause resume get position list maintenance]", got["message"])
	require.NotContains(t, got, "data")

	got = d.cdc(`{"request_type":`)
	require.Equal(t, 400.0, got["code"], "malformed JSON is the client's to fix")
	require.True(t, strings.HasPrefix(got["message"].(string), "fail to unmarshal the request, error: "))

	got = d.cdc(`{"request_type":"get","request_data":{"task_id":1}}`)
	require.Equal(t, 400.0, got["code"], "a wrong type is the client's to fix")
	require.Equal(t, "fail to decode the get request, error: 'task_id' expected type 'string', got number", got["message"])

	got = d.cdc(`{"request_type":"list","request_data":{"pad":"` + strings.Repeat("x", 5000) + `"}}`)
	require.Equal(t, 500.0, got["code"])
	require.Equal(t, "fail to read the request body, error: http: request body too large", got["message"])
}

func TestCompatCreateValidation(t *testing.T) {
	d := startDaemon(t)
	scope := `"collection_infos":[{"name":"*"}]`
	long := strings.Repeat("d", 257)
	tests := []struct {
		name string
		data string
		code float64
		msg  string
	}{
		{"1 no target", scope, 400, "the downstream address is empty"},
		{"2 both targets", `"milvus_connect_param":{"uri":"http://t:1"},"kafka_connect_param":{"address":"k:9092","topic":"t"},` + scope, 400, "don't support milvus and kafka at the same time now"},
		{"3 no host", `"milvus_connect_param":{"port":19530},` + scope, 400, "the milvus host is empty"},
		{"4 no port", `"milvus_connect_param":{"host":"t"},` + scope, 400, "the milvus port is less or equal zero"},
		{"5 only username", `"milvus_connect_param":{"uri":"http://t:1","username":"u"},` + scope, 400, "cannot set only one of the milvus username and password"},
		{"6 negative timeout", `"milvus_connect_param":{"uri":"http://t:1","connect_timeout":-1},` + scope, 400, "the milvus connect timeout is less zero"},
		{"7 kafka without topic", `"kafka_connect_param":{"address":"k:9092"},` + scope, 400, "the kafka topic is empty"},
		{"8 cache period", target + `,"buffer_config":{"period":-1},` + scope, 400, "the cache period is less zero"},
		{"8 cache size", target + `,"buffer_config":{"size":-1},` + scope, 400, "the cache size is less zero"},
		{"9 no collection info", target, 400, "the collection info is empty"},
		{"10 two collection infos", target + `,"collection_infos":[{"name":"a"},{"name":"b"}]`, 400, "the collection info should be only one"},
		{"10 two dbs", target + `,"db_collections":{"a":[{"name":"*"}],"b":[{"name":"*"}]}`, 400, "the collection info should be only one"},
		{"11 both forms", target + `,` + scope + `,"db_collections":{"a":[{"name":"*"}]}`, 400, "the collection info and db collection info should be only one"},
		{"12 long db", target + `,"db_collections":{"` + long + `":[{"name":"*"}]}`, 400, "the db name length exceeds 256 characters, " + long},
		{"13 empty list", target + `,"db_collections":{"a":[]}`, 400, "empty collection info"},
		{"14 two entries", target + `,"db_collections":{"a":[{"name":"x"},{"name":"y"}]}`, 400, "the collection info should be only one."},
		{"15 star with positions", target + `,"collection_infos":[{"name":"*","positions":{"ch_1v0":"AA=="}}]`, 400, "the collection name is `*`, the positions should be empty"},
		{"16 not a vchannel", target + `,"collection_infos":[{"name":"c","positions":{"by-dev-rootcoord-dml_0":"AA=="}}]`, 400, "the position channel name is not virtual channel, by-dev-rootcoord-dml_0"},
		{"17 empty name", target + `,"collection_infos":[{"name":""}]`, 400, "there is a collection name that is empty. "},
		{"17 long name", target + `,"collection_infos":[{"name":"` + long + `"}]`, 400, "there are some collection names whose length exceeds 256 characters, [" + long + "]"},
		{"18 rpc channel", target + `,` + scope + `,"rpc_channel_info":{"name":"other"}`, 400, "the rpc channel is invalid, the channel name should be the same as the source config"},
		{"19 wrong token", `"milvus_connect_param":{"uri":"http://target:19530","token":"root:wrong","connect_timeout":5},` + scope, 500, ""},
		{"23 name mapping", target + `,` + scope + `,"name_mapping":[{"source_db":"other","target_db":"x"}]`, 400, "the collection name in the name mapping is not in the collection info, checkout it"},
		{"26 bad position", target + `,"collection_infos":[{"name":"c","positions":{"ch_1v0":"%%%"}}]`, 500, "fail to decode the position data: illegal base64 data at input byte 0"},
		{"28 bad rpc position", target + `,` + scope + `,"rpc_channel_info":{"position":"%%%"}`, 500, "fail to decode the rpc position data: illegal base64 data at input byte 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.cdc(createBody(tt.data))
			require.Equal(t, tt.code, got["code"], "message: %v", got["message"])
			require.NotContains(t, got, "data")
			msg := got["message"].(string)
			if tt.msg != "" {
				require.Equal(t, "fail to handle the create request, error: "+tt.msg, msg)
			} else {
				require.True(t, strings.HasPrefix(msg, "fail to handle the create request, error: fail to connect the milvus: "), msg)
				require.Contains(t, msg, "auth check failure")
			}
		})
	}
	require.Equal(t, []any{}, d.cdc(`{"request_type":"list"}`)["data"].(map[string]any)["tasks"], "no failed create stored anything")
	d.requireNoSecretLogged()
}

func TestCompatTaskLifecycle(t *testing.T) {
	d := startDaemon(t, withMaxTasks(2))
	connectsBefore := d.fake.Connects.Load()
	got := d.cdc(createBody(target + `,"collection_infos":[{"name":"*"}]`))
	require.Equal(t, 200.0, got["code"], "%v", got["message"])
	id := got["data"].(map[string]any)["task_id"].(string)
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	require.Equal(t, connectsBefore+2, d.fake.Connects.Load(), "create verifies the target, then the pipeline connects at start")

	// get: lowercase "task", no secrets, honest about not replicating.
	got = d.cdc(`{"request_type":"get","request_data":{"task_id":"` + id + `"}}`)
	require.Equal(t, 200.0, got["code"])
	tk := got["data"].(map[string]any)["task"].(map[string]any)
	require.Equal(t, id, tk["task_id"])
	require.Equal(t, "Running", tk["state"])
	require.Equal(t, corelibtest.NotReplicatingDetail, tk["reason"])
	mcp := tk["milvus_connect_param"].(map[string]any)
	require.Equal(t, "http://target:19530", mcp["uri"])
	require.Equal(t, 5.0, mcp["connect_timeout"])
	require.NotContains(t, mcp, "token")
	require.NotContains(t, mcp, "password")
	require.Equal(t, []any{map[string]any{"name": "*"}}, tk["collection_infos"])

	// Idempotent create with the same task_id returns it; a duplicate scope does not.
	got = d.cdc(createBody(`"task_id":"` + id + `",` + target + `,"collection_infos":[{"name":"other"}]`))
	require.Equal(t, map[string]any{"code": 200.0, "data": map[string]any{"task_id": id}}, got)
	got = d.cdc(createBody(target + `,"collection_infos":[{"name":"c1"}]`))
	require.Equal(t, 400.0, got["code"])
	require.Equal(t, "fail to handle the create request, error: the collection name is duplicate with existing task, [default.c1]; task "+id+" already replicates default.c1 (its scope default.*) to this target: leave it out of the scope, or delete task "+id+" first", got["message"])

	// Deprecated host/port + username/password form; also fills the task limit.
	got = d.cdc(createBody(`"milvus_connect_param":{"host":"target","port":19530,"username":"` + secretUser + `","password":"` + secretPassword + `"},"db_collections":{"db1":[{"name":"c"}]},"disable_auto_start":true`))
	require.Equal(t, 200.0, got["code"], "%v", got["message"])
	id2 := got["data"].(map[string]any)["task_id"].(string)
	got = d.cdc(createBody(target + `,"db_collections":{"db2":[{"name":"c"}]}`))
	require.Equal(t, 500.0, got["code"])
	require.Equal(t, "fail to handle the create request, error: the task num has reach the limit, 2", got["message"])

	got = d.cdc(`{"request_type":"list"}`)
	tasks := got["data"].(map[string]any)["tasks"].([]any)
	require.Len(t, tasks, 2)
	second := tasks[1].(map[string]any)
	require.Equal(t, id2, second["task_id"])
	require.Equal(t, map[string]any{"db1": []any{map[string]any{"name": "c"}}}, second["db_collections"])
	require.Equal(t, "target:19530", second["milvus_connect_param"].(map[string]any)["uri"])

	// pause / resume and their state errors.
	require.Equal(t, map[string]any{"code": 200.0, "data": map[string]any{}}, d.cdc(`{"request_type":"pause","request_data":{"task_id":"`+id+`"}}`))
	got = d.cdc(`{"request_type":"pause","request_data":{"task_id":"` + id + `"}}`)
	require.Equal(t, map[string]any{"code": 400.0, "message": "fail to handle the pause request, error: the task has paused, task_id: " + id}, got)
	tk = d.cdc(`{"request_type":"get","request_data":{"task_id":"` + id + `"}}`)["data"].(map[string]any)["task"].(map[string]any)
	require.Equal(t, "Paused", tk["state"])
	require.Equal(t, "manually pause through http interface", tk["reason"])
	require.Equal(t, map[string]any{"code": 200.0, "data": map[string]any{}}, d.cdc(`{"request_type":"resume","request_data":{"task_id":"`+id+`"}}`))
	got = d.cdc(`{"request_type":"resume","request_data":{"task_id":"` + id + `"}}`)
	require.Equal(t, map[string]any{"code": 400.0, "message": "fail to handle the resume request, error: the task has running, task_id: " + id}, got)

	// not-found texts differ per request type, as in milvus-cdc.
	for typ, msg := range map[string]string{
		"pause":    "not found the task, task_id: nope",
		"resume":   "not found the task, task_id: nope",
		"delete":   "not found the task, task_id: nope",
		"get":      "not found: [nope]",
		"position": "not found the task, task_id: nope",
	} {
		got = d.cdc(`{"request_type":"` + typ + `","request_data":{"task_id":"nope"}}`)
		require.Equal(t, map[string]any{"code": 400.0, "message": "fail to handle the " + typ + " request, error: " + msg}, got, typ)
	}
	got = d.cdc(`{"request_type":"get","request_data":{}}`)
	require.Equal(t, "fail to handle the get request, error: task_id is empty", got["message"])

	// delete, then ignore_not_found.
	require.Equal(t, map[string]any{"code": 200.0, "data": map[string]any{}}, d.cdc(`{"request_type":"delete","request_data":{"task_id":"`+id+`"}}`))
	require.Equal(t, map[string]any{"code": 200.0, "data": map[string]any{}}, d.cdc(`{"request_type":"delete","request_data":{"task_id":"`+id+`","ignore_not_found":true}}`))
	require.Len(t, d.cdc(`{"request_type":"list"}`)["data"].(map[string]any)["tasks"], 1)

	d.requireNoSecretLogged()
}

func TestCompatPosition(t *testing.T) {
	d := startDaemon(t)
	ts := uint64(1700000000123) << 18
	raw, err := proto.Marshal(&msgpb.MsgPosition{ChannelName: "by-dev-rootcoord-dml_0_449v0", MsgID: []byte{8, 1}, Timestamp: ts})
	require.NoError(t, err)
	pos := base64.StdEncoding.EncodeToString(raw)
	got := d.cdc(createBody(target + `,"collection_infos":[{"name":"c","positions":{"by-dev-rootcoord-dml_0_449v0":"` + pos + `"}}]`))
	require.Equal(t, 200.0, got["code"], "%v", got["message"])
	id := got["data"].(map[string]any)["task_id"].(string)

	got = d.cdc(`{"request_type":"position","request_data":{"task_id":"` + id + `"}}`)
	require.Equal(t, 200.0, got["code"])
	data := got["data"].(map[string]any)
	require.Equal(t, []any{}, data["op_positions"])
	require.Equal(t, []any{}, data["target_positions"])
	require.Equal(t, []any{map[string]any{
		"collection_id": 449.0,
		"channel_name":  "by-dev-rootcoord-dml_0_449v0",
		"time":          1700000000123.0,
		"tt":            float64(uint64(1700000000124) << 18),
		"msg_id":        pos,
	}}, data["positions"])

	// get shows the positions as given.
	tk := d.cdc(`{"request_type":"get","request_data":{"task_id":"` + id + `"}}`)["data"].(map[string]any)["task"].(map[string]any)
	require.Equal(t, []any{map[string]any{"name": "c", "positions": map[string]any{"by-dev-rootcoord-dml_0_449v0": pos}}}, tk["collection_infos"])
}

func TestCompatMaintenance(t *testing.T) {
	d := startDaemon(t)
	tests := []struct {
		params string
		code   float64
		text   string // State on success, message on error
		level  zapcore.Level
	}{
		{`"operation":"set_log_level","params":{"log_level":"warn"}`, 200, "set log level to warn", zapcore.WarnLevel},
		{`"operation":"set_log_level","params":{}`, 400, "fail to handle the maintenance request, error: log_level is required; use one of debug, info, warn, error", zapcore.WarnLevel},
		{`"operation":"set_log_level","params":{"log_level":"loud"}`, 400, `fail to handle the maintenance request, error: parse log level failed: "loud" is not a log level; use one of debug, info, warn, error`, zapcore.WarnLevel},
		{`"operation":"set_log_level","params":{"log_level":"fatal"}`, 400, `fail to handle the maintenance request, error: parse log level failed: "fatal" is not a log level; use one of debug, info, warn, error`, zapcore.WarnLevel},
		{`"operation":"set_log_level","params":{"log_level":"debug"}`, 200, "set log level to debug", zapcore.DebugLevel},
		{`"operation":"set_force_log_msg","params":{"force":true}`, 200, "unsupported operation: set_force_log_msg", zapcore.DebugLevel},
		{`"operation":"explode"`, 200, "unsupported operation: explode", zapcore.DebugLevel},
	}
	for _, tt := range tests {
		got := d.cdc(`{"request_type":"maintenance","request_data":{` + tt.params + `}}`)
		want := map[string]any{"code": tt.code, "data": map[string]any{"State": tt.text}}
		if tt.code != 200 {
			want = map[string]any{"code": tt.code, "message": tt.text}
		}
		require.Equal(t, want, got, tt.params)
		require.Equal(t, tt.level, d.level.Level(), tt.params, "a refused level changes nothing")
	}
}

func TestCompatRestartReload(t *testing.T) {
	d := startDaemon(t)
	ids := map[string]string{}
	for _, name := range []string{"running", "paused", "noauto"} {
		extra := ""
		if name == "noauto" {
			extra = `,"disable_auto_start":true`
		}
		got := d.cdc(createBody(`"task_id":"` + name + `",` + target + `,"db_collections":{"` + name + `":[{"name":"*"}]}` + extra))
		require.Equal(t, 200.0, got["code"], "%v", got["message"])
		ids[name] = got["data"].(map[string]any)["task_id"].(string)
	}
	require.Equal(t, 200.0, d.cdc(`{"request_type":"pause","request_data":{"task_id":"paused"}}`)["code"])

	// A second daemon on the same etcd reloads the tasks.
	d.ctl.Shutdown(t.Context())
	d2 := restartOn(t, d)
	states := map[string]string{}
	reasons := map[string]string{}
	for _, raw := range d2.cdc(`{"request_type":"list"}`)["data"].(map[string]any)["tasks"].([]any) {
		tk := raw.(map[string]any)
		states[tk["task_id"].(string)] = tk["state"].(string)
		reasons[tk["task_id"].(string)], _ = tk["reason"].(string)
	}
	require.Equal(t, map[string]string{"running": "Running", "paused": "Paused", "noauto": "Paused"}, states)
	require.Equal(t, "manually pause through http interface", reasons["paused"], "a task paused by hand stays paused")
	require.Equal(t, "the task is disabled auto start", reasons["noauto"])
	require.Equal(t, map[string]string{"running": "running", "paused": "paused", "noauto": "noauto"}, ids, "create honours task_id")
}
