package server_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/internal/buildinfo"
)

func TestHealthAndReadiness(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "{\"status\":\"ok\"}\n", string(r.body))
	r = d.do(http.MethodGet, "/readyz", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "{\"status\":\"ready\"}\n", string(r.body))

	d.etcd.Server.Close() // etcd goes away; the process stays alive
	d.etcd.Server = nil
	r = d.do(http.MethodGet, "/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, "unavailable", r.json(t)["status"])
	require.Contains(t, r.json(t)["error"], "meta store unreachable")
	require.Equal(t, http.StatusOK, d.do(http.MethodGet, "/healthz", "").status)

	// Reads answer at once from what the daemon last knew, and say so;
	// mutations fail with a clear error instead of hanging.
	start := time.Now()
	r = d.do(http.MethodGet, "/api/v1/tasks", "")
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Less(t, time.Since(start), 2*time.Second, "answered within the store read bound")
	list := r.json(t)
	require.Equal(t, []any{}, list["tasks"])
	require.Equal(t, false, list["store"].(map[string]any)["reachable"])
	got := d.cdc(`{"request_type":"pause","request_data":{"task_id":"x"}}`)
	require.Equal(t, 500.0, got["code"])
	require.True(t, strings.HasPrefix(got["message"].(string), "fail to handle the pause request, error: fail to get the task info, task_id: x: "), got["message"])
	require.Less(t, time.Since(start), 15*time.Second)
}

func TestMetrics(t *testing.T) {
	d := startDaemon(t)
	require.Equal(t, http.StatusCreated, d.do(http.MethodPost, "/api/v1/tasks", `{"id":"m1",`+restTarget+`,"scope":[{"database":"a","collection":"*"}]}`).status)
	require.Equal(t, http.StatusCreated, d.do(http.MethodPost, "/api/v1/tasks", `{"id":"m2",`+restTarget+`,"scope":[{"database":"b","collection":"*"}]}`).status)
	require.Equal(t, http.StatusOK, d.do(http.MethodPost, "/api/v1/tasks/m2/pause", "").status)
	require.Equal(t, http.StatusNotFound, d.do(http.MethodGet, "/api/v1/tasks/nope", "").status)
	d.cdc(`{"request_type":"list"}`)
	d.cdc(`{"request_type":"bogus"}`)

	r := d.do(http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, r.status)
	body := string(r.body)
	require.Contains(t, body, "# TYPE milvus_cdc_daemon_tasks gauge\n")
	require.Contains(t, body, `milvus_cdc_daemon_tasks{cause="",state="Initial"} 0`+"\n")
	require.Contains(t, body, `milvus_cdc_daemon_tasks{cause="user",state="Paused"} 1`+"\n")
	require.Contains(t, body, `milvus_cdc_daemon_tasks{cause="",state="Running"} 1`+"\n")
	require.Contains(t, body, `milvus_cdc_daemon_cdc_requests_total{code="200",request_type="list"} 1`+"\n")
	require.Contains(t, body, `milvus_cdc_daemon_cdc_requests_total{code="400",request_type="invalid"} 1`+"\n")
	require.Contains(t, body, `milvus_cdc_daemon_http_requests_total{code="201",method="POST",route="/api/v1/tasks"} 2`)
	require.Contains(t, body, `milvus_cdc_daemon_http_requests_total{code="404",method="GET",route="/api/v1/tasks/{id}"} 1`)
	require.Contains(t, body, `milvus_cdc_daemon_http_requests_total{code="200",method="POST",route="/cdc"} 2`)
	require.Contains(t, body, `milvus_cdc_daemon_http_request_duration_seconds_count{code="200",method="POST",route="/api/v1/tasks/{id}/pause"} 1`)
	require.Contains(t, body, "go_goroutines")
	bi := buildinfo.Get()
	require.Contains(t, body, `milvus_cdc_daemon_build_info{commit="`+bi.Commit+`",goversion="`+runtime.Version()+`",version="dev"} 1`+"\n")
}
