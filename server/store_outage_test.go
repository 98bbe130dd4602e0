package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib/corelibtest"
)

// While the task store's etcd is stopped, every status poll answers within a
// second from what the daemon last knew, says that the store does not
// answer, and carries the live pipeline status; mutations are 503
// store_unavailable (500 in /cdc) and change nothing.
func TestStatusWhileTheTaskStoreIsDown(t *testing.T) {
	d := startDaemon(t)
	require.Equal(t, http.StatusCreated, d.do(http.MethodPost, "/api/v1/tasks", `{"id":"t1",`+restTarget+`,"scope":[{"database":"db1","collection":"*"}]}`).status)
	d.etcd.Server.Close()
	d.etcd.Server = nil
	down := time.Now().UTC()

	requireStore := func(t *testing.T, store any) {
		t.Helper()
		s, ok := store.(map[string]any)
		require.True(t, ok, "a store object: %v", store)
		require.Equal(t, false, s["reachable"])
		require.Contains(t, s["error"], "context deadline exceeded")
		since, err := time.Parse(time.RFC3339Nano, s["since"].(string))
		require.NoError(t, err)
		require.False(t, since.Before(down.Add(-time.Second)), "since %s is the outage, not before", since)
		_, err = time.Parse(time.RFC3339Nano, s["asOf"].(string))
		require.NoError(t, err)
	}
	livePipeline := map[string]any{"replicating": false, "detail": corelibtest.NotReplicatingDetail, "retries": 0.0}
	tests := []struct {
		name  string
		call  func() httpResult
		check func(t *testing.T, r httpResult)
	}{
		{"REST status", func() httpResult { return d.do(http.MethodGet, "/api/v1/tasks/t1/status", "") }, func(t *testing.T, r httpResult) {
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			b := r.json(t)
			require.Equal(t, "Running", b["state"])
			require.Equal(t, livePipeline, b["pipeline"])
			requireStore(t, b["store"])
		}},
		{"REST get", func() httpResult { return d.do(http.MethodGet, "/api/v1/tasks/t1", "") }, func(t *testing.T, r httpResult) {
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			requireStore(t, r.json(t)["store"])
			require.NotContains(t, string(r.body), secretPassword)
		}},
		{"REST list", func() httpResult { return d.do(http.MethodGet, "/api/v1/tasks?state=Running", "") }, func(t *testing.T, r httpResult) {
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			b := r.json(t)
			requireStore(t, b["store"])
			require.Len(t, b["tasks"], 1)
		}},
		{"/cdc get", func() httpResult {
			return d.do(http.MethodPost, "/cdc", `{"request_type":"get","request_data":{"task_id":"t1"}}`)
		}, func(t *testing.T, r httpResult) {
			b := r.json(t)
			require.Equal(t, 200.0, b["code"], "body: %s", r.body)
			tk := b["data"].(map[string]any)["task"].(map[string]any)
			require.Equal(t, "Running", tk["state"])
			require.Equal(t, livePipeline, tk["pipeline_status"])
			requireStore(t, tk["store_status"])
		}},
		{"/cdc list", func() httpResult { return d.do(http.MethodPost, "/cdc", `{"request_type":"list"}`) }, func(t *testing.T, r httpResult) {
			b := r.json(t)
			require.Equal(t, 200.0, b["code"], "body: %s", r.body)
			requireStore(t, b["data"].(map[string]any)["store_status"])
		}},
		{"REST pause", func() httpResult { return d.do(http.MethodPost, "/api/v1/tasks/t1/pause", "") }, func(t *testing.T, r httpResult) {
			requireProblem(t, r, http.StatusServiceUnavailable, "store_unavailable", "", "")
			require.True(t, strings.HasPrefix(r.json(t)["detail"].(string), "fail to get the task info, task_id: t1: "))
		}},
		{"/cdc delete", func() httpResult {
			return d.do(http.MethodPost, "/cdc", `{"request_type":"delete","request_data":{"task_id":"t1"}}`)
		}, func(t *testing.T, r httpResult) {
			b := r.json(t)
			require.Equal(t, 500.0, b["code"])
			require.True(t, strings.HasPrefix(b["message"].(string), "fail to handle the delete request, error: fail to get the task info, task_id: t1: "), b["message"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := tt.call()
			if !strings.Contains(tt.name, "pause") && !strings.Contains(tt.name, "delete") {
				require.Less(t, time.Since(start), time.Second+500*time.Millisecond, "a status poll answers within a second")
			}
			tt.check(t, r)
		})
	}
	// The metrics scrape still works, from the same memory.
	r := d.do(http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), `milvus_cdc_daemon_tasks{cause="",state="Running"} 1`)
}
