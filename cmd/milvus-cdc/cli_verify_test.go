package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/client/clienttest"
	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

func TestCLIVerify(t *testing.T) {
	d := clienttest.Start(t)
	env := map[string]string{serverEnv: d.URL}
	require.Equal(t, 0, runCLI(t, env, "", "task", "create", "-f", writeFile(t, "task.yaml", taskYAML)).code)
	kafkaTask := `{"id": "k1", "target": {"kafka": {"brokers": ["127.0.0.1:9092"], "topic": "cdc"}}, "scope": [{"database": "db_k", "collection": "*"}]}`
	require.Equal(t, 0, runCLI(t, env, "", "task", "create", "-f", writeFile(t, "kafka.json", kafkaTask)).code)
	d.Factory.SetSynced(corelib.SyncReport{Synced: true})

	equal := corelib.VerifyReport{Equal: true, Collections: []corelib.CollectionVerify{{Database: "db_t1", Name: "c1", TargetDatabase: "db_t1", TargetName: "c1", Equal: true, SourceRows: 3000, TargetRows: 3000, Compared: 1000, SourceKeyHash: "3000:ab", TargetKeyHash: "3000:ab"}}}
	differ := corelib.VerifyReport{Collections: []corelib.CollectionVerify{{
		Database: "db_t1", Name: "c1", TargetDatabase: "db_t1", TargetName: "c1", SourceRows: 3000, TargetRows: 2999, Compared: 3000,
		Missing: 1, Differing: 1, MissingKeys: []string{"17"}, DifferingKeys: []string{"42"}, DifferingFields: []string{"42: f_float_vec,$meta"},
		Partitions: []corelib.PartitionVerify{{Name: "_default", SourceRows: 3000, TargetRows: 2999}},
	}}}
	tests := []struct {
		name   string
		report corelib.VerifyReport
		args   []string
		code   int
		opts   *corelib.VerifyOptions
		check  func(t *testing.T, out, errOut string)
	}{
		{"equal, sample by default", equal, []string{"t1"}, exitOK, &corelib.VerifyOptions{Mode: "sample", Sample: 1000}, func(t *testing.T, out, _ string) {
			require.Equal(t, []string{"Equal:", "true"}, tableRow(t, out, "Equal:"))
			require.Equal(t, []string{"db_t1.c1", "db_t1.c1", "equal", "3000", "3000", "1000", "0", "0", "0"}, tableRow(t, out, "db_t1.c1"))
		}},
		{"differing, full, exit 4 naming the keys", differ, []string{"t1", "--full"}, exitNotEqual, &corelib.VerifyOptions{Mode: "full"}, func(t *testing.T, out, _ string) {
			require.Equal(t, []string{"Equal:", "false"}, tableRow(t, out, "Equal:"))
			require.Equal(t, "not_equal", tableRow(t, out, "db_t1.c1")[2])
			require.Contains(t, out, "  missing on the target: 17\n")
			require.Contains(t, out, "  differing values: 42: f_float_vec,$meta\n")
			require.Contains(t, out, "  partition _default: 3000 rows on the source, 2999 on the target\n")
		}},
		{"sample size", equal, []string{"t1", "--sample", "50", "-o", "json"}, exitOK, &corelib.VerifyOptions{Mode: "sample", Sample: 50}, func(t *testing.T, out, _ string) {
			var v api.TaskVerify
			require.NoError(t, json.Unmarshal([]byte(out), &v))
			require.True(t, v.Equal)
			require.Equal(t, "equal", v.Collections[0].Result)
		}},
		{"--full and --sample", equal, []string{"t1", "--full", "--sample", "5"}, exitUsage, nil, func(t *testing.T, _, errOut string) {
			require.Contains(t, errOut, "give --full or --sample, not both")
		}},
		{"sample out of range", equal, []string{"t1", "--sample", "200000"}, exitFailed, nil, func(t *testing.T, _, errOut string) {
			require.Contains(t, errOut, "sample must be from 1 to 100000 rows")
		}},
		{"kafka task refused", equal, []string{"k1"}, exitFailed, nil, func(t *testing.T, _, errOut string) {
			require.Contains(t, errOut, "writer mode kafka")
			require.Contains(t, errOut, "no target Milvus to verify")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Factory.SetVerify(tt.report)
			before := len(d.Factory.VerifyOptions())
			r := runCLI(t, env, "", append([]string{"task", "verify"}, tt.args...)...)
			require.Equal(t, tt.code, r.code, "stdout %s stderr %s", r.stdout, r.stderr)
			calls := d.Factory.VerifyOptions()[before:]
			if tt.opts == nil {
				require.Empty(t, calls)
			} else {
				require.Equal(t, []corelib.VerifyOptions{*tt.opts}, calls)
			}
			tt.check(t, r.stdout, r.stderr)
		})
	}
}

func TestVerifyEndpointRefusesBadInput(t *testing.T) {
	d := clienttest.Start(t)
	env := map[string]string{serverEnv: d.URL}
	require.Equal(t, 0, runCLI(t, env, "", "task", "create", "-f", writeFile(t, "task.yaml", taskYAML)).code)
	tests := []struct {
		body   string
		status int
		field  string
	}{
		{`{"mode":"quick"}`, http.StatusBadRequest, "mode"},
		{`{"sample":-1}`, http.StatusBadRequest, "sample"},
		{`{"sample":100001}`, http.StatusBadRequest, "sample"},
		{`{"mode":"full","sample":3}`, http.StatusBadRequest, "sample"},
		{`{"sample":"ten"}`, http.StatusBadRequest, "sample"},
		{`{"samples":3}`, http.StatusBadRequest, "samples"},
		{`{"mode":"full"} {}`, http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		resp, err := http.Post(d.URL+"/api/v1/tasks/t1/verify", "application/json", strings.NewReader(tt.body))
		require.NoError(t, err)
		var p api.Problem
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		resp.Body.Close()
		require.Equal(t, tt.status, resp.StatusCode, "%s: %v", tt.body, p)
		require.Equal(t, tt.field, p.Field, "%s: %v", tt.body, p)
	}

	// Not synced within the wait: 409; an unknown task: 404.
	saved := task.VerifySyncedWait
	task.VerifySyncedWait = time.Second
	t.Cleanup(func() { task.VerifySyncedWait = saved })
	d.Factory.SetSynced(corelib.SyncReport{Reason: "channel dml_0 applied up to 10 s ago"})
	for path, status := range map[string]int{"/api/v1/tasks/t1/verify": http.StatusConflict, "/api/v1/tasks/nope/verify": http.StatusNotFound} {
		resp, err := http.Post(d.URL+path, "application/json", nil)
		require.NoError(t, err)
		var p api.Problem
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		resp.Body.Close()
		require.Equal(t, status, resp.StatusCode, "%s: %v", path, p)
		if status == http.StatusConflict {
			require.Contains(t, p.Detail, "is not synced")
			require.Contains(t, p.Detail, "applied up to 10 s ago")
		}
	}
}
