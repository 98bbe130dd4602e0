package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRESTUpdatePausedTask(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodPost, "/api/v1/tasks", `{"id":"t1",`+restTarget+`,"scope":[{"database":"db1","collection":"a"}]}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	requireProblem(t, d.do(http.MethodPatch, "/api/v1/tasks/t1", `{"scope":[{"database":"db1","collection":"b"}]}`), 409, "task_state_conflict",
		"the task t1 is Running; only a Paused task can be updated: pause it first (POST /api/v1/tasks/t1/pause), update it, then resume it", "")
	require.Equal(t, http.StatusOK, d.do(http.MethodPost, "/api/v1/tasks/t1/pause", "").status)

	bad := []struct {
		name, body string
		status     int
		code       string
		field      string
	}{
		{"empty body", `{}`, 400, "bad_request", ""},
		{"unknown field", `{"uri":"http://elsewhere:19530"}`, 400, "bad_request", "uri"},
		{"the URI cannot change", `{"target":{"uri":"http://elsewhere:19530"}}`, 400, "bad_request", "uri"},
		{"empty target", `{"target":{}}`, 400, "bad_request", "target"},
		{"username without password", `{"target":{"username":"root"}}`, 422, "validation_failed", "target.username"},
		{"token and username", `{"target":{"token":"x","username":"root","password":"p"}}`, 422, "validation_failed", "target.token"},
		{"empty collection", `{"scope":[{"database":"db1","collection":""}]}`, 422, "validation_failed", "scope[0].collection"},
		{"positions of an added collection", `{"scope":[{"database":"db1","collection":"a"},{"database":"db1","collection":"b","useStartPosition":true}]}`, 422, "validation_failed", "scope[1].positions"},
		{"mapping without source", `{"nameMapping":[{"targetDatabase":"x"}]}`, 422, "validation_failed", "nameMapping[0].sourceDatabase"},
		{"wrong credentials", `{"target":{"username":"root","password":"wrong"}}`, 422, "target_unreachable", "target"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := d.do(http.MethodPatch, "/api/v1/tasks/t1", tc.body)
			requireProblem(t, r, tc.status, tc.code, "", tc.field)
			got := d.do(http.MethodGet, "/api/v1/tasks/t1", "").json(t)
			require.Equal(t, []any{map[string]any{"database": "db1", "collection": "a"}}, got["scope"], "a refused update changes nothing")
		})
	}

	r = d.do(http.MethodPatch, "/api/v1/tasks/t1", `{"scope":[{"database":"db1","collection":"a"},{"database":"db1","collection":"b"}],`+
		`"nameMapping":[{"sourceDatabase":"db1","targetDatabase":"db1_copy","collections":{"a":"a_copy"}}],"target":{"username":"`+secretUser+`","password":"`+secretPassword+`"}}`)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.NotContains(t, string(r.body), secretPassword)
	tk := r.json(t)
	require.Equal(t, "Paused", tk["state"])
	require.Len(t, tk["scope"], 2)
	require.Equal(t, []any{map[string]any{"sourceDatabase": "db1", "targetDatabase": "db1_copy", "collections": map[string]any{"a": "a_copy"}}}, tk["nameMapping"])
	require.Equal(t, http.StatusOK, d.do(http.MethodPost, "/api/v1/tasks/t1/resume", "").status)

	var patches []map[string]any
	for _, e := range auditLines(d) {
		if m := e.ContextMap(); m["method"] == "PATCH" {
			patches = append(patches, m)
		}
	}
	require.Len(t, patches, len(bad)+2, "every update is audited")
	last := patches[len(patches)-1]
	require.Equal(t, "/api/v1/tasks/{id}", last["route"])
	require.Equal(t, "t1", last["task_id"])
	require.Equal(t, "ok", last["outcome"])
	d.requireNoSecretLogged()
}
