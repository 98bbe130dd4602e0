package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib/corelibtest"
)

const restTarget = `"target":{"uri":"http://target:19530","token":"` + secretToken + `","connectTimeoutSeconds":5}`

func requireProblem(t *testing.T, r httpResult, status int, code, detail, field string) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/problem+json", r.contentType)
	p := r.json(t)
	require.Equal(t, float64(status), p["status"])
	require.Equal(t, code, p["code"])
	require.Equal(t, "urn:milvus-cdc:error:"+code, p["type"])
	require.NotEmpty(t, p["title"])
	if detail != "" {
		require.Equal(t, detail, p["detail"])
	}
	if field != "" {
		require.Equal(t, field, p["field"])
	} else {
		require.NotContains(t, p, "field")
	}
}

func TestRESTCreateErrors(t *testing.T) {
	d := startDaemon(t)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		detail string
		field  string
	}{
		{"empty body", ``, 400, "bad_request", "the request body is empty; send a JSON object", ""},
		{"malformed", `{"target":`, 400, "bad_request", "malformed JSON: the body ends early", ""},
		{"syntax", `{"target":}`, 400, "bad_request", "malformed JSON at byte 11: invalid character '}' looking for beginning of value", ""},
		{"unknown field", `{` + restTarget + `,"scope":[{"database":"*","collection":"*"}],"colour":"blue"}`, 400, "bad_request", `unknown field "colour"; see docs/openapi.yaml for the accepted fields`, "colour"},
		{"wrong type", `{"target":{"uri":5}}`, 400, "bad_request", `field "target.uri" must be a string, got number`, "target.uri"},
		{"trailing data", `{` + restTarget + `} {}`, 400, "bad_request", "the request body has data after the JSON object", ""},
		{"too large", `{"id":"` + strings.Repeat("x", 5000) + `"}`, 413, "request_too_large", "the request body exceeds 4096 bytes", ""},
		{"no uri", `{"scope":[{"database":"*","collection":"*"}]}`, 422, "validation_failed", "the downstream address is empty", "target.uri"},
		{"negative timeout", `{"target":{"uri":"http://t:1","connectTimeoutSeconds":-1},"scope":[{"database":"*","collection":"*"}]}`, 422, "validation_failed", "the milvus connect timeout is less zero", "target.connectTimeoutSeconds"},
		{"no scope", `{` + restTarget + `}`, 422, "validation_failed", "the collection info is empty", "scope"},
		{"empty database", `{` + restTarget + `,"scope":[{"collection":"*"}]}`, 422, "validation_failed", "", "scope[0].database"},
		{"bad id", `{"id":"../x",` + restTarget + `,"scope":[{"database":"*","collection":"*"}]}`, 422, "validation_failed", "", "id"},
		{"bad position", `{` + restTarget + `,"scope":[{"database":"db","collection":"c","positions":{"ch_1v0":"***"}}]}`, 422, "invalid_position", "fail to decode the position data: illegal base64 data at input byte 0", "scope[0].positions"},
		{"unreachable target", `{"target":{"uri":"http://target:19530","token":"root:nope","connectTimeoutSeconds":5},"scope":[{"database":"*","collection":"*"}]}`, 422, "target_unreachable", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.do(http.MethodPost, "/api/v1/tasks", tt.body)
			requireProblem(t, r, tt.status, tt.code, tt.detail, tt.field)
		})
	}
	r := d.do(http.MethodGet, "/api/v1/tasks", "")
	require.Equal(t, "{\"tasks\":[]}\n", string(r.body), "nothing was stored")
}

func TestRESTLifecycle(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodPost, "/api/v1/tasks", `{"id":"t1",`+restTarget+`,"scope":[{"database":"db1","collection":"*"},{"database":"db2","collection":"c"}],"nameMapping":[{"sourceDatabase":"db1","targetDatabase":"db1_copy"}]}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.contentType)
	require.Equal(t, "/api/v1/tasks/t1", r.header.Get("Location"))
	require.NotContains(t, string(r.body), secretPassword)
	tk := r.json(t)
	require.Equal(t, "t1", tk["id"])
	require.Equal(t, "Running", tk["state"])
	require.Equal(t, map[string]any{"uri": "http://target:19530", "tokenSet": true, "connectTimeoutSeconds": 5.0}, tk["target"])
	require.Equal(t, []any{
		map[string]any{"database": "db1", "collection": "*"},
		map[string]any{"database": "db2", "collection": "c"},
	}, tk["scope"])
	require.Equal(t, "by-dev-replicate-msg", tk["replicateChannel"])
	require.Equal(t, map[string]any{"replicating": false, "detail": corelibtest.NotReplicatingDetail, "retries": 0.0}, tk["pipeline"], "the pipeline says it does not replicate yet")

	requireProblem(t, d.do(http.MethodPost, "/api/v1/tasks", `{"id":"t1",`+restTarget+`,"scope":[{"database":"x","collection":"y"}]}`), 409, "task_exists", "the task t1 already exists", "id")
	requireProblem(t, d.do(http.MethodPost, "/api/v1/tasks", `{`+restTarget+`,"scope":[{"database":"db1","collection":"c9"}]}`), 409, "duplicate_scope", "the collection name is duplicate with existing task, [db1.c9]; task t1 already replicates db1.c9 (its scope db1.*) to this target: leave it out of the scope, or delete task t1 first", "scope")

	r = d.do(http.MethodGet, "/api/v1/tasks/t1", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "t1", r.json(t)["id"])
	require.NotContains(t, string(r.body), secretPassword)

	r = d.do(http.MethodPost, "/api/v1/tasks/t1/pause", "")
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	tk = r.json(t)
	require.Equal(t, "Paused", tk["state"])
	require.Equal(t, "manually pause through http interface", tk["reason"])
	require.NotContains(t, tk, "pipeline")
	requireProblem(t, d.do(http.MethodPost, "/api/v1/tasks/t1/pause", ""), 409, "task_state_conflict", "the task has paused, task_id: t1", "")

	r = d.do(http.MethodGet, "/api/v1/tasks?state=Paused", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Len(t, r.json(t)["tasks"], 1)
	r = d.do(http.MethodGet, "/api/v1/tasks?state=running", "")
	require.Len(t, r.json(t)["tasks"], 0)
	requireProblem(t, d.do(http.MethodGet, "/api/v1/tasks?state=Sleeping", ""), 400, "bad_request", `unknown state "Sleeping"; use Initial, Running, Paused or Failed`, "state")

	r = d.do(http.MethodPost, "/api/v1/tasks/t1/resume", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "Running", r.json(t)["state"])
	requireProblem(t, d.do(http.MethodPost, "/api/v1/tasks/t1/resume", ""), 409, "task_state_conflict", "the task has running, task_id: t1", "")

	r = d.do(http.MethodDelete, "/api/v1/tasks/t1", "")
	require.Equal(t, http.StatusNoContent, r.status)
	require.Empty(t, r.body)
	requireProblem(t, d.do(http.MethodDelete, "/api/v1/tasks/t1", ""), 404, "task_not_found", "not found the task, task_id: t1", "")
	requireProblem(t, d.do(http.MethodGet, "/api/v1/tasks/nope", ""), 404, "task_not_found", "not found: [nope]", "")
	requireProblem(t, d.do(http.MethodPost, "/api/v1/tasks/nope/pause", ""), 404, "task_not_found", "", "")
	requireProblem(t, d.do(http.MethodPost, "/api/v1/tasks/nope/resume", ""), 404, "task_not_found", "", "")

	requireProblem(t, d.do(http.MethodPut, "/api/v1/tasks", ""), 405, "method_not_allowed", "", "")
	requireProblem(t, d.do(http.MethodGet, "/api/v2/tasks", ""), 404, "route_not_found", "no route /api/v2/tasks; see docs/openapi.yaml", "")

	d.requireNoSecretLogged()
}

func TestCredentialsInURINeverReturned(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodPost, "/api/v1/tasks", `{"id":"u1","target":{"uri":"http://root:`+secretPassword+`@target:19530","token":"`+secretToken+`"},"scope":[{"database":"*","collection":"*"}]}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Equal(t, "http://target:19530", r.json(t)["target"].(map[string]any)["uri"])
	for _, body := range [][]byte{
		d.do(http.MethodGet, "/api/v1/tasks", "").body,
		d.do(http.MethodPost, "/cdc", `{"request_type":"list"}`).body,
		d.do(http.MethodPost, "/cdc", `{"request_type":"get","request_data":{"task_id":"u1"}}`).body,
	} {
		require.NotContains(t, string(body), secretPassword)
	}
	d.requireNoSecretLogged()
}

func TestBothAPIsShareOneService(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodPost, "/api/v1/tasks", `{"id":"shared",`+restTarget+`,"scope":[{"database":"default","collection":"c"}]}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	got := d.cdc(`{"request_type":"pause","request_data":{"task_id":"shared"}}`)
	require.Equal(t, 200.0, got["code"])
	r = d.do(http.MethodGet, "/api/v1/tasks/shared", "")
	require.Equal(t, "Paused", r.json(t)["state"])
	tk := d.cdc(`{"request_type":"get","request_data":{"task_id":"shared"}}`)["data"].(map[string]any)["task"].(map[string]any)
	require.Equal(t, []any{map[string]any{"name": "c"}}, tk["collection_infos"])
}

// A query parameter a route does not take is refused, naming it and the
// accepted ones: ?stat=Paused would otherwise list every task.
func TestRESTRefusesUnknownQueryParameters(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodPost, "/api/v1/tasks", `{"id":"t1",`+restTarget+`,"scope":[{"database":"db1","collection":"*"}]}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	tests := []struct {
		method, path, field, detail string
	}{
		{http.MethodGet, "/api/v1/tasks?stat=Paused", "stat", `unknown query parameter "stat": GET /api/v1/tasks takes only state`},
		{http.MethodGet, "/api/v1/tasks?State=Paused", "State", `unknown query parameter "State": GET /api/v1/tasks takes only state`},
		{http.MethodGet, "/api/v1/tasks?state=Paused&state=Running", "state", `the query parameter "state" is given 2 times; give it once`},
		{http.MethodGet, "/api/v1/tasks/t1?verbose=1", "verbose", `unknown query parameter "verbose": GET /api/v1/tasks/{id} takes no query parameters`},
		{http.MethodGet, "/api/v1/tasks/t1/status?watch=true", "watch", `unknown query parameter "watch": GET /api/v1/tasks/{id}/status takes no query parameters`},
		{http.MethodGet, "/api/v1/tasks/t1/synced?wait=5", "wait", `unknown query parameter "wait": GET /api/v1/tasks/{id}/synced takes only waitSeconds`},
		{http.MethodPost, "/api/v1/tasks/t1/pause?force=1", "force", `unknown query parameter "force": POST /api/v1/tasks/{id}/pause takes no query parameters`},
		{http.MethodPost, "/api/v1/tasks/t1/resume?x", "x", `unknown query parameter "x": POST /api/v1/tasks/{id}/resume takes no query parameters`},
		{http.MethodDelete, "/api/v1/tasks/t1?ignoreNotFound=true", "ignoreNotFound", `unknown query parameter "ignoreNotFound": DELETE /api/v1/tasks/{id} takes no query parameters`},
		{http.MethodPost, "/api/v1/tasks?dryRun=true", "dryRun", `unknown query parameter "dryRun": POST /api/v1/tasks takes no query parameters`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			requireProblem(t, d.do(tt.method, tt.path, `{"id":"t2",`+restTarget+`,"scope":[{"database":"db2","collection":"*"}]}`), 400, "bad_request", tt.detail, tt.field)
		})
	}
	// Nothing happened: t1 is still Running, t2 was not created, and the
	// accepted parameters still work.
	list := d.do(http.MethodGet, "/api/v1/tasks?state=Running", "").json(t)["tasks"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, "t1", list[0].(map[string]any)["id"])
	requireProblem(t, d.do(http.MethodGet, "/api/v1/tasks/t1/synced?waitSeconds=0", ""), 422, "unsupported", "", "") // past the query check
}
