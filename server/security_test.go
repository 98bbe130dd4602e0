package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest/observer"

	"github.com/milvus-cdc/milvus-cdc/config"
	"github.com/milvus-cdc/milvus-cdc/corelib/corelibtest"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/meta/metatest"
	"github.com/milvus-cdc/milvus-cdc/server"
	"github.com/milvus-cdc/milvus-cdc/server/auth"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

const (
	adminToken = "admin-token-0123456789abcdef"
	readToken  = "read-token-0123456789abcdef"
)

// startSecuredDaemon is startDaemon with two bearer tokens: "ops" (admin)
// and "grafana" (read).
func startSecuredDaemon(t *testing.T, policy auth.Policy) *testDaemon {
	t.Helper()
	d := &testDaemon{t: t, etcd: metatest.StartEtcd(t), fake: corelibtest.StartFakeMilvus(t, secretToken)}
	d.store = meta.NewStore(d.etcd.Client, "cdc-test")
	d.limits = task.Limits{MaxTaskNum: 100, MaxNameLength: 256, ReplicateChannel: "by-dev-replicate-msg", StoreTimeout: 2 * time.Second}
	d.tune = func(o *server.Options) {
		o.Auth = auth.New([]config.APIToken{
			{Name: "ops", Role: config.RoleAdmin, Secret: adminToken},
			{Name: "grafana", Role: config.RoleRead, Secret: readToken},
		})
		o.AuthPolicy = policy
		o.Info = server.Info{Version: "v-test", Security: server.Security{AuthEnabled: true}}
	}
	d.boot()
	return d
}

// doAs sends a request with a bearer token ("" sends none).
func (d *testDaemon) doAs(token, method, path, body string) httpResult {
	d.t.Helper()
	req, err := http.NewRequestWithContext(d.t.Context(), method, d.http.URL+path, strings.NewReader(body))
	require.NoError(d.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return httpResult{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), header: resp.Header, body: raw}
}

func restCreateBody(uri string) string { // the fake target answers any address
	return `{"target":{"uri":"` + uri + `","token":"` + secretToken + `","connectTimeoutSeconds":5},"scope":[{"database":"*","collection":"*"}]}`
}

func TestAPIRefusesCallersWithoutTheRightToken(t *testing.T) {
	d := startSecuredDaemon(t, auth.Policy{})
	tests := []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"list without a token", "", http.MethodGet, "/api/v1/tasks", "", http.StatusUnauthorized, "unauthenticated"},
		{"list with an unknown token", "nope-nope-nope-nope-nope", http.MethodGet, "/api/v1/tasks", "", http.StatusUnauthorized, "unauthenticated"},
		{"create with a read token", readToken, http.MethodPost, "/api/v1/tasks", restCreateBody("http://target:19530"), http.StatusForbidden, "forbidden"},
		{"pause with a read token", readToken, http.MethodPost, "/api/v1/tasks/x/pause", "", http.StatusForbidden, "forbidden"},
		{"delete with a read token", readToken, http.MethodDelete, "/api/v1/tasks/x", "", http.StatusForbidden, "forbidden"},
		{"an unknown route needs a token too", "", http.MethodGet, "/api/v1/nope", "", http.StatusUnauthorized, "unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.doAs(tt.token, tt.method, tt.path, tt.body)
			require.Equal(t, tt.status, r.status, "body: %s", r.body)
			require.Equal(t, "application/problem+json", r.contentType)
			require.Equal(t, tt.code, r.json(t)["code"])
			if tt.status == http.StatusUnauthorized {
				require.Contains(t, r.header.Get("WWW-Authenticate"), `Bearer realm="milvus-cdc"`)
			}
		})
	}
	l := d.doAs("", http.MethodGet, "/api/v1/tasks", "")
	require.NotContains(t, string(l.body), adminToken)

	// Nothing was created by the refused create.
	r := d.doAs(adminToken, http.MethodGet, "/api/v1/tasks", "")
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"tasks":[]}`, string(r.body))
}

func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	d := startSecuredDaemon(t, auth.Policy{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, d.http.URL+"/api/v1/tasks", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestTokensUnlockTheirRoles(t *testing.T) {
	d := startSecuredDaemon(t, auth.Policy{})
	r := d.doAs(adminToken, http.MethodPost, "/api/v1/tasks", restCreateBody("http://target:19530"))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	id := r.json(t)["id"].(string)

	for _, path := range []string{"/api/v1/tasks", "/api/v1/tasks/" + id, "/api/v1/tasks/" + id + "/status", "/api/v1/info"} {
		r := d.doAs(readToken, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, r.status, "GET %s with a read token: %s", path, r.body)
	}
	info := d.doAs(readToken, http.MethodGet, "/api/v1/info", "").json(t)
	require.Equal(t, map[string]any{"name": "grafana", "role": "read"}, info["caller"])
	require.Equal(t, "v-test", info["version"])

	require.Equal(t, http.StatusOK, d.doAs(adminToken, http.MethodPost, "/api/v1/tasks/"+id+"/pause", "").status)
	require.Equal(t, http.StatusOK, d.doAs(adminToken, http.MethodPost, "/api/v1/tasks/"+id+"/resume", "").status)
	require.Equal(t, http.StatusNoContent, d.doAs(adminToken, http.MethodDelete, "/api/v1/tasks/"+id, "").status)
}

func TestProbesAndPageStayOpenMetricsBySetting(t *testing.T) {
	for _, needToken := range []bool{false, true} {
		d := startSecuredDaemon(t, auth.Policy{MetricsNeedToken: needToken})
		for _, path := range []string{"/healthz", "/readyz", "/"} {
			require.Equal(t, http.StatusOK, d.doAs("", http.MethodGet, path, "").status, path)
		}
		want := http.StatusOK
		if needToken {
			want = http.StatusUnauthorized
		}
		require.Equal(t, want, d.doAs("", http.MethodGet, "/metrics", "").status, "metrics, metricsNeedToken=%v", needToken)
		require.Equal(t, http.StatusOK, d.doAs(readToken, http.MethodGet, "/metrics", "").status)
	}
}

func TestCompatAPIAnswersAuthFailuresClearly(t *testing.T) {
	d := startSecuredDaemon(t, auth.Policy{})
	tests := []struct {
		name, token, body string
		status            int
	}{
		{"list without a token", "", `{"request_type":"list"}`, http.StatusUnauthorized},
		{"create with a read token", readToken, `{"request_type":"create","request_data":{}}`, http.StatusForbidden},
		{"maintenance with a read token", readToken, `{"request_type":"maintenance","request_data":{"operation":"set_log_level","params":{"log_level":"error"}}}`, http.StatusForbidden},
		{"undecodable body with a read token", readToken, `{nope`, http.StatusForbidden},
		{"list with a read token", readToken, `{"request_type":"list"}`, http.StatusOK},
		{"get with a read token", readToken, `{"request_type":"get","request_data":{"task_id":"x"}}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.doAs(tt.token, http.MethodPost, "/cdc", tt.body)
			require.Equal(t, tt.status, r.status, "body: %s", r.body)
			require.Equal(t, "application/json", r.contentType)
			env := r.json(t)
			if tt.status != http.StatusOK {
				require.EqualValues(t, tt.status, env["code"], "the body code says it too")
				require.NotEmpty(t, env["message"])
			}
		})
	}
	require.Equal(t, "debug", d.level.String(), "a refused set_log_level changed nothing (the harness runs at debug)")
}

func TestEveryMutatingCallIsAudited(t *testing.T) {
	d := startSecuredDaemon(t, auth.Policy{})
	r := d.doAs(adminToken, http.MethodPost, "/api/v1/tasks", restCreateBody("http://target:19530"))
	require.Equal(t, http.StatusCreated, r.status)
	id := r.json(t)["id"].(string)
	require.Equal(t, http.StatusForbidden, d.doAs(readToken, http.MethodPost, "/api/v1/tasks/"+id+"/pause", "").status)
	require.Equal(t, http.StatusOK, d.doAs(adminToken, http.MethodPost, "/cdc", `{"request_type":"pause","request_data":{"task_id":"`+id+`"}}`).status)
	require.Equal(t, http.StatusOK, d.doAs(adminToken, http.MethodPost, "/cdc", `{"request_type":"pause","request_data":{"task_id":"`+id+`"}}`).status) // already paused: code 400
	require.Equal(t, http.StatusOK, d.doAs(readToken, http.MethodGet, "/api/v1/tasks", "").status)                                                      // a read: not audited

	type line struct {
		who, method, route, task, outcome, requestType string
		status                                         int64
	}
	var got []line
	for _, e := range auditLines(d) {
		m := e.ContextMap()
		l := line{who: m["who"].(string), method: m["method"].(string), route: m["route"].(string), task: m["task_id"].(string), outcome: m["outcome"].(string), status: m["status"].(int64)}
		if rt, ok := m["request_type"]; ok {
			l.requestType = rt.(string)
		}
		got = append(got, l)
	}
	require.Equal(t, []line{
		{who: "ops", method: "POST", route: "/api/v1/tasks", task: id, outcome: "ok", status: 201},
		{who: "grafana", method: "POST", route: "/api/v1/tasks/{id}/pause", task: id, outcome: "denied", status: 403},
		{who: "ops", method: "POST", route: "/cdc", task: id, outcome: "ok", status: 200, requestType: "pause"},
		{who: "ops", method: "POST", route: "/cdc", task: id, outcome: "failed", status: 200, requestType: "pause"},
	}, got)
	d.requireNoSecretLogged()
	for _, e := range d.logs.All() {
		for _, v := range e.ContextMap() {
			require.NotContains(t, toString(v), adminToken, "a bearer token in a log line")
		}
	}
}

func TestWithoutAuthEveryoneIsAnAnonymousAdmin(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodGet, "/api/v1/info", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, map[string]any{"name": "anonymous", "role": "admin"}, r.json(t)["caller"])
	require.Equal(t, http.StatusCreated, d.do(http.MethodPost, "/api/v1/tasks", restCreateBody("http://target:19530")).status)
	lines := auditLines(d)
	require.Len(t, lines, 1)
	require.Equal(t, "anonymous", lines[0].ContextMap()["who"])
}

// auditLines are the entries of the audit logger.
func auditLines(d *testDaemon) []observer.LoggedEntry {
	var out []observer.LoggedEntry
	for _, e := range d.logs.All() {
		if e.LoggerName == "audit" {
			out = append(out, e)
		}
	}
	return out
}
