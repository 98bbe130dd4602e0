package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/api"
)

func TestCLICluster(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		body api.Cluster
		want []string
	}{
		{"embedded store", api.Cluster{Enabled: false, Members: []api.ClusterMember{}, Unowned: []string{}},
			[]string{"No cluster"}},
		{"three members", api.Cluster{Enabled: true, Self: "m2", LeaseTTLSeconds: 10, Unowned: []string{"t9"}, Members: []api.ClusterMember{
			{ID: "m1", Address: "10.0.0.1:8444", StartedAt: started, LeaseRemainingSeconds: 9, Healthy: true, Tasks: []string{"t1", "t2"}},
			{ID: "m2", Address: "10.0.0.2:8444", StartedAt: started, LeaseRemainingSeconds: 2, Healthy: false, Tasks: []string{}},
		}}, []string{"MEMBER", "m1", "10.0.0.1:8444", "9s/10s ok", "2: t1,t2", "m2 (answered)", "2s/10s LATE", "0: -", "Not owned right now (taken within a second): t9"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.Equal(t, "/api/v1/cluster", r.URL.Path)
				w.Header().Set("Content-Type", "application/json")
				require.NoError(t, json.NewEncoder(w).Encode(tc.body))
			}))
			t.Cleanup(srv.Close)
			r := runCLI(t, nil, "", "cluster", "--server", srv.URL)
			require.Equal(t, exitOK, r.code, r.stderr)
			for _, w := range tc.want {
				require.Contains(t, r.stdout, w)
			}
			r = runCLI(t, nil, "", "cluster", "--server", srv.URL, "-o", "json")
			require.Equal(t, exitOK, r.code, r.stderr)
			var got api.Cluster
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
			require.Equal(t, tc.body.Enabled, got.Enabled)
		})
	}
}

func TestCLIClusterDrainAndUndrain(t *testing.T) {
	tests := []struct {
		args     []string
		wantPath string
		wantCode int
	}{
		{[]string{"drain", "m2"}, "/api/v1/cluster/members/m2/drain", exitOK},
		{[]string{"undrain", "m2"}, "/api/v1/cluster/members/m2/undrain", exitOK},
		{[]string{"drain"}, "", exitUsage},
		{[]string{"evict", "m2"}, "", exitUsage},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Method + " " + r.URL.Path
				w.Header().Set("Content-Type", "application/json")
				require.NoError(t, json.NewEncoder(w).Encode(api.Cluster{Enabled: true, Self: "m2", LeaseTTLSeconds: 10,
					Members: []api.ClusterMember{{ID: "m2", Address: "10.0.0.2:8444", Healthy: true, Draining: tc.args[0] == "drain", Tasks: []string{}}}, Unowned: []string{}}))
			}))
			t.Cleanup(srv.Close)
			r := runCLI(t, nil, "", append(append([]string{"cluster"}, tc.args...), "--server", srv.URL)...)
			require.Equal(t, tc.wantCode, r.code, r.stderr)
			if tc.wantPath == "" {
				require.Empty(t, got, "a usage error sends nothing")
				return
			}
			require.Equal(t, "POST "+tc.wantPath, got)
			require.Contains(t, r.stdout, "m2")
		})
	}
}
