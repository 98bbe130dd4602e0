package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/corelibtest"
	"github.com/milvus-cdc/milvus-cdc/server"
)

func TestRESTStatusAndSynced(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodPost, "/api/v1/tasks", `{"id":"t1",`+restTarget+`,"scope":[{"database":"db1","collection":"*"}]}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	tests := []struct {
		name   string
		path   string
		status int
		code   string
		field  string
		check  func(t *testing.T, body map[string]any)
	}{
		{"status of a running task", "/api/v1/tasks/t1/status", 200, "", "", func(t *testing.T, b map[string]any) {
			require.Equal(t, "t1", b["id"])
			require.Equal(t, "Running", b["state"])
			require.Equal(t, map[string]any{"replicating": false, "detail": corelibtest.NotReplicatingDetail, "retries": 0.0}, b["pipeline"])
		}},
		{"status of an unknown task", "/api/v1/tasks/nope/status", 404, "task_not_found", "", nil},
		{"synced of an unknown task", "/api/v1/tasks/nope/synced", 404, "task_not_found", "", nil},
		{"synced with a bad wait", "/api/v1/tasks/t1/synced?waitSeconds=soon", 400, "bad_request", "waitSeconds", nil},
		{"synced with a wait too long", "/api/v1/tasks/t1/synced?waitSeconds=61", 400, "bad_request", "waitSeconds", nil},
		{"synced from a pipeline that cannot tell", "/api/v1/tasks/t1/synced?waitSeconds=0", 422, "unsupported", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := d.do(http.MethodGet, tt.path, "")
			if tt.code != "" {
				requireProblem(t, res, tt.status, tt.code, "", tt.field)
				return
			}
			require.Equal(t, tt.status, res.status, "body: %s", res.body)
			tt.check(t, res.json(t))
		})
	}

	// /cdc get carries the same figures in an added field.
	out := d.cdc(`{"request_type":"get","request_data":{"task_id":"t1"}}`)
	tk := out["data"].(map[string]any)["task"].(map[string]any)
	require.Equal(t, map[string]any{"replicating": false, "detail": corelibtest.NotReplicatingDetail, "retries": 0.0}, tk["pipeline_status"])

	// Paused: no pipeline, never synced.
	require.Equal(t, http.StatusOK, d.do(http.MethodPost, "/api/v1/tasks/t1/pause", "").status)
	st := d.do(http.MethodGet, "/api/v1/tasks/t1/status", "").json(t)
	require.Equal(t, "Paused", st["state"])
	require.NotContains(t, st, "pipeline")
	res := d.do(http.MethodGet, "/api/v1/tasks/t1/synced", "")
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	sy := res.json(t)
	require.Equal(t, false, sy["synced"])
	require.Equal(t, "the task is Paused; no pipeline runs", sy["reason"])
	require.Equal(t, []any{}, sy["channels"])
	out = d.cdc(`{"request_type":"get","request_data":{"task_id":"t1"}}`)
	require.NotContains(t, out["data"].(map[string]any)["task"], "pipeline_status")
}

// TestMetricsServeTheGivenRegistry: the pipelines register on the registry
// the daemon passes, and /metrics serves it next to the daemon's own.
func TestMetricsServeTheGivenRegistry(t *testing.T) {
	d := startDaemon(t)
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "milvus_cdc_daemon_pipeline_probe_total", Help: "probe"})
	reg.MustRegister(c)
	c.Add(7)
	srv := server.New(server.Options{Controller: d.ctl, LogLevel: d.level, MaxRequestBytes: 4096, MaxNameLength: 256, Ready: d.store.Ping, Logger: zap.NewNop(), Registry: reg})
	require.Same(t, reg, srv.Registry())
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	joined := strings.Join(names, " ")
	require.Contains(t, joined, "milvus_cdc_daemon_pipeline_probe_total")
	require.Contains(t, joined, "milvus_cdc_daemon_tasks", "the daemon's metrics are on the same registry")
}
