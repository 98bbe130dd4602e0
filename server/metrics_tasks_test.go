package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

func TestPausedTasksAreCountedByCause(t *testing.T) {
	d := startDaemon(t)
	r := d.do(http.MethodPost, "/api/v1/tasks", restCreateBody("http://target:19530"))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	id := r.json(t)["id"].(string)
	require.Equal(t, http.StatusOK, d.do(http.MethodPost, "/api/v1/tasks/"+id+"/pause", "").status)

	m := string(d.do(http.MethodGet, "/metrics", "").body)
	require.Contains(t, m, `milvus_cdc_daemon_tasks{cause="user",state="Paused"} 1`)
	require.Contains(t, m, `milvus_cdc_daemon_tasks{cause="error",state="Paused"} 0`)
	require.Contains(t, m, `milvus_cdc_daemon_tasks{cause="auto_start_disabled",state="Paused"} 0`)
	require.Contains(t, m, `milvus_cdc_daemon_tasks{cause="",state="Running"} 0`, "other states have no cause")
	require.True(t, strings.Contains(m, "milvus_cdc_daemon_http_auth_failures_total"), "the auth failure counter is exported from the start")
}

func TestPauseCause(t *testing.T) {
	tests := []struct {
		task meta.Task
		want string
	}{
		{meta.Task{State: meta.StatePaused, PausedByUser: true, Reason: task.ReasonManualPause}, task.PauseCauseUser},
		{meta.Task{State: meta.StatePaused, Reason: task.ReasonAutoStartOff}, task.PauseCauseAutoStartDisabled},
		{meta.Task{State: meta.StatePaused, Reason: "the pipeline stopped on an error: boom"}, task.PauseCauseError},
		{meta.Task{State: meta.StatePaused, Reason: "fail to start task, err: x"}, task.PauseCauseError},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, task.PauseCause(tt.task), tt.task.Reason)
	}
}
