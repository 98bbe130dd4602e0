package server_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/internal/netcheck"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// withSourceAndProbe runs the daemon as cmd/milvus-cdc does: the source
// Milvus is at 127.0.0.1:19530 and targets are probed over TCP first.
func withSourceAndProbe(l *task.Limits) {
	l.SourceMilvusAddress = "127.0.0.1:19530"
	l.Probe = netcheck.Reach
}

// closedPort is a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

const anyScope = `"scope":[{"database":"*","collection":"*"}]`

// Input that encoding/json or the old checks let through: each is refused
// with the field and the fix, at once, and stores nothing.
func TestRESTRefusesLooseInput(t *testing.T) {
	d := startDaemon(t, withSourceAndProbe)
	refused := closedPort(t)
	tests := []struct {
		name         string
		body         string
		status       int
		code, field  string
		detail       string
		detailPrefix string
	}{
		{name: "database not UTF-8", body: "{" + restTarget + ",\"scope\":[{\"database\":\"db\xff\",\"collection\":\"c\"}]}",
			status: 400, code: "bad_request", field: "scope[0].database",
			detail: `the value of "scope[0].database" is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)`},
		{name: "collection not UTF-8 (lone surrogate escape)", body: `{` + restTarget + `,"scope":[{"database":"db","collection":"c\udc00"}]}`,
			status: 400, code: "bad_request", field: "scope[0].collection",
			detail: `the value of "scope[0].collection" is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)`},
		{name: "two target keys", body: `{"target":{"uri":"http://a:19530"},"target":{"uri":"http://b:19530"},` + anyScope + `}`,
			status: 400, code: "bad_request", field: "target",
			detail: `the key "target" appears twice in the request body; send it once (otherwise only the last one would count)`},
		{name: "two uri keys differing in case", body: `{"target":{"uri":"http://a:19530","URI":"http://b:19530"},` + anyScope + `}`,
			status: 400, code: "bad_request", field: "target.URI",
			detail: `the keys "uri" and "URI" in "target" name the same field (keys match case-insensitively); send it once (otherwise only the last one would count)`},
		{name: "timeout that overflowed to below zero", body: `{"target":{"uri":"http://t:19530","connectTimeoutSeconds":1000000000000000000},` + anyScope + `}`,
			status: 422, code: "validation_failed", field: "target.connectTimeoutSeconds",
			detail: "the milvus connect timeout exceeds 300 seconds; set 0 (the default, 30 s) to 300"},
		{name: "timeout with an exponent", body: `{"target":{"uri":"http://t:19530","connectTimeoutSeconds":1e18},` + anyScope + `}`,
			status: 400, code: "bad_request", field: "target.connectTimeoutSeconds",
			detail: `field "target.connectTimeoutSeconds" must be a whole number (no fraction or exponent) that fits 64 bits, got number 1e18`},
		{name: "timeout that would hang the request", body: `{"target":{"uri":"http://t:19530","connectTimeoutSeconds":100000},` + anyScope + `}`,
			status: 422, code: "validation_failed", field: "target.connectTimeoutSeconds",
			detail: "the milvus connect timeout exceeds 300 seconds; set 0 (the default, 30 s) to 300"},
		{name: "channel num beyond int32", body: `{"target":{"uri":"http://t:19530","channelNum":2147483648},` + anyScope + `}`,
			status: 422, code: "validation_failed", field: "target.channelNum",
			detail: "the target channel num 2147483648 exceeds 1024; set the target's rootCoord.dmlChannelNum (0 = the same as the source), at most 1024"},
		{name: "ftp scheme", body: `{"target":{"uri":"ftp://t:21"},` + anyScope + `}`,
			status: 422, code: "validation_failed", field: "target.uri",
			detail: `the target uri "ftp://t:21" has the scheme "ftp"; a Milvus target is reached over gRPC: use http://host:port, https://host:port or host:port`},
		{name: "no port", body: `{"target":{"uri":"http://t"},` + anyScope + `}`,
			status: 422, code: "validation_failed", field: "target.uri",
			detail: `the target uri "http://t" has no port; add the target proxy's port, e.g. http://t:19530`},
		{name: "the source itself", body: `{"target":{"uri":"http://localhost:19530","token":"` + secretToken + `"},` + anyScope + `}`,
			status: 422, code: "validation_failed", field: "target.uri",
			detail: "the target http://localhost:19530 is the source Milvus (source.milvus.address 127.0.0.1:19530): a task replicating a Milvus to itself would loop; point target.uri at another Milvus, or set source.milvus.address to the source's proxy if this target is not it"},
		{name: "unresolvable host", body: `{"target":{"uri":"http://no-such-host.invalid:19530"},` + anyScope + `}`,
			status: 422, code: "target_unreachable", field: "target.uri",
			detailPrefix: "fail to connect the milvus: cannot resolve host no-such-host.invalid: "},
		{name: "refused port", body: `{"target":{"uri":"http://` + refused + `"},` + anyScope + `}`,
			status: 422, code: "target_unreachable", field: "target.uri",
			detail: "fail to connect the milvus: connection refused by " + refused + ": nothing listens on that port; check the port and that the Milvus there runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := d.do(http.MethodPost, "/api/v1/tasks", tt.body)
			require.Less(t, time.Since(start), 5*time.Second, "answered at once, not after a connect timeout")
			requireProblem(t, r, tt.status, tt.code, tt.detail, tt.field)
			if tt.detailPrefix != "" {
				detail := r.json(t)["detail"].(string)
				require.True(t, strings.HasPrefix(detail, tt.detailPrefix), detail)
			}
		})
	}
	require.Equal(t, "{\"tasks\":[]}\n", string(d.do(http.MethodGet, "/api/v1/tasks", "").body), "nothing was stored")
	d.requireNoSecretLogged()
}

func TestCompatRefusesLooseInput(t *testing.T) {
	d := startDaemon(t, withSourceAndProbe)
	refused := closedPort(t)
	scope := `"collection_infos":[{"name":"*"}]`
	tests := []struct {
		name string
		body string
		code float64
		msg  string
	}{
		{"database not UTF-8", createBody(target + ",\"db_collections\":{\"d\xff\":[{\"name\":\"*\"}]}"), 400,
			`fail to decode the create request, error: a key in "request_data.db_collections" is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)`},
		{"collection not UTF-8", createBody(target + ",\"collection_infos\":[{\"name\":\"c\xc3\"}]"), 400,
			`fail to decode the create request, error: the value of "request_data.collection_infos[0].name" is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)`},
		{"two targets", createBody(`"milvus_connect_param":{"uri":"http://a:19530"},"milvus_connect_param":{"uri":"http://b:19530"},` + scope), 400,
			`fail to decode the create request, error: the key "milvus_connect_param" appears twice in "request_data"; send it once (otherwise only the last one would count)`},
		{"two request types", `{"request_type":"list","request_type":"delete","request_data":{"task_id":"x"}}`, 400,
			`fail to unmarshal the request, error: the key "request_type" appears twice in the request body; send it once (otherwise only the last one would count)`},
		{"timeout that overflowed to below zero", createBody(`"milvus_connect_param":{"uri":"http://t:19530","connect_timeout":1000000000000000000},` + scope), 400,
			"fail to handle the create request, error: the milvus connect timeout exceeds 300 seconds; set 0 (the default, 30 s) to 300"},
		{"timeout that would hang the request", createBody(`"milvus_connect_param":{"uri":"http://t:19530","connect_timeout":100000},` + scope), 400,
			"fail to handle the create request, error: the milvus connect timeout exceeds 300 seconds; set 0 (the default, 30 s) to 300"},
		{"channel num beyond int32", createBody(`"milvus_connect_param":{"uri":"http://t:19530","channel_num":2147483648},` + scope), 400,
			"fail to handle the create request, error: the target channel num 2147483648 exceeds 1024; set the target's rootCoord.dmlChannelNum (0 = the same as the source), at most 1024"},
		{"ftp scheme", createBody(`"milvus_connect_param":{"uri":"ftp://t:21"},` + scope), 400,
			`fail to handle the create request, error: the target uri "ftp://t:21" has the scheme "ftp"; a Milvus target is reached over gRPC: use http://host:port, https://host:port or host:port`},
		{"the source itself, host and port form", createBody(`"milvus_connect_param":{"host":"127.0.0.1","port":19530},` + scope), 400,
			"fail to handle the create request, error: the target 127.0.0.1:19530 is the source Milvus (source.milvus.address 127.0.0.1:19530): a task replicating a Milvus to itself would loop; point target.uri at another Milvus, or set source.milvus.address to the source's proxy if this target is not it"},
		{"refused port", createBody(`"milvus_connect_param":{"uri":"http://` + refused + `"},` + scope), 500,
			"fail to handle the create request, error: fail to connect the milvus: connection refused by " + refused + ": nothing listens on that port; check the port and that the Milvus there runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := d.cdc(tt.body)
			require.Equal(t, tt.code, got["code"], "message: %v", got["message"])
			require.Equal(t, tt.msg, got["message"])
			require.NotContains(t, got, "data")
		})
	}
	require.Equal(t, []any{}, d.cdc(`{"request_type":"list"}`)["data"].(map[string]any)["tasks"], "nothing was stored")
}
