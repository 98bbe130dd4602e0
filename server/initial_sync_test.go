package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInitialSyncOnCreate: initialSync (REST) and initial_sync (/cdc) are
// stored with the task and shown by get and list; writer mode replicate
// refuses them with the field and the mode named, and creates nothing.
func TestInitialSyncOnCreate(t *testing.T) {
	d := startDaemon(t)
	const scope = `"scope":[{"database":"db1","collection":"*"}]`

	refused := []struct {
		name, path, body string
	}{
		{"rest", "/api/v1/tasks", `{"id":"r1",` + restTarget + `,` + scope + `,"writerMode":"replicate","initialSync":true}`},
		{"cdc", "/cdc", createBody(`"task_id":"r2",` + target + `,"collection_infos":[{"name":"c"}],"writer_mode":"replicate","initial_sync":true`)},
	}
	for _, tt := range refused {
		t.Run("replicate refused "+tt.name, func(t *testing.T) {
			r := d.do(http.MethodPost, tt.path, tt.body)
			const detail = `initialSync (initial_sync) cannot be used with writer mode "replicate": that mode replays the source's own messages with their timestamps, which rows copied through the query API do not have; use writer mode "api" for an initial sync, or copy the existing data with milvus-backup first (docs/replication.md)`
			if tt.path == "/cdc" {
				got := r.json(t)
				require.Equal(t, 400.0, got["code"], "%s", r.body)
				require.Contains(t, got["message"], detail)
				return
			}
			requireProblem(t, r, 422, "validation_failed", detail, "initialSync")
		})
	}
	tasks, err := d.store.ListTasks(t.Context())
	require.NoError(t, err)
	require.Empty(t, tasks, "a refused create stores nothing")

	r := d.do(http.MethodPost, "/api/v1/tasks", `{"id":"s1",`+restTarget+`,`+scope+`,"initialSync":true}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Equal(t, true, r.json(t)["initialSync"])
	got := d.cdc(createBody(`"task_id":"s2",` + target + `,"collection_infos":[{"name":"c"}],"initial_sync":true`))
	require.Equal(t, 200.0, got["code"], "%v", got["message"])
	got = d.cdc(createBody(`"task_id":"s3",` + target + `,"collection_infos":[{"name":"d"}]`))
	require.Equal(t, 200.0, got["code"], "%v", got["message"])

	want := map[string]bool{"s1": true, "s2": true, "s3": false}
	for id, sync := range want {
		r := d.do(http.MethodGet, "/api/v1/tasks/"+id, "")
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, sync, r.json(t)["initialSync"], "REST get of %s", id)
	}
	list := d.cdc(`{"request_type":"list"}`)
	seen := map[string]bool{}
	for _, tk := range list["data"].(map[string]any)["tasks"].([]any) {
		m := tk.(map[string]any)
		v, set := m["initial_sync"]
		require.Equal(t, set, want[m["task_id"].(string)], "initial_sync shown only when set: %v", m)
		seen[m["task_id"].(string)] = set && v == true
	}
	require.Equal(t, want, seen)
	got = d.cdc(`{"request_type":"get","request_data":{"task_id":"s2"}}`)
	require.Equal(t, true, got["data"].(map[string]any)["task"].(map[string]any)["initial_sync"])
}
