package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/server"
)

// TestPprofOnlyWhenEnabled: /debug/pprof/ answers with the profile index and
// named profiles when debug.pprof is on, and is an unknown route otherwise.
func TestPprofOnlyWhenEnabled(t *testing.T) {
	d := startDaemon(t)
	get := func(t *testing.T, base, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	for _, on := range []bool{false, true} {
		srv := server.New(server.Options{
			Controller: d.ctl, LogLevel: d.level, MaxRequestBytes: 4096, MaxNameLength: 256,
			Ready: d.store.Ping, Logger: zap.NewNop(), Registry: prometheus.NewRegistry(), Pprof: on,
		})
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		tests := []struct {
			path     string
			wantBody string // when on
		}{
			{"/debug/pprof/", "goroutine"},
			{"/debug/pprof/heap?debug=1", "heap profile:"},
			{"/debug/pprof/goroutine?debug=1", "goroutine profile:"},
			{"/debug/pprof/cmdline", ""},
			{"/debug/pprof/profile?seconds=1", ""},
		}
		for _, tt := range tests {
			status, body := get(t, hs.URL, tt.path)
			if !on {
				require.Equal(t, http.StatusNotFound, status, tt.path)
				require.Contains(t, body, "route_not_found", tt.path)
				continue
			}
			require.Equal(t, http.StatusOK, status, tt.path)
			require.Contains(t, body, tt.wantBody, tt.path)
			require.NotEmpty(t, body, tt.path)
		}
		// The API routes are unchanged either way.
		status, _ := get(t, hs.URL, "/healthz")
		require.Equal(t, http.StatusOK, status)
	}
}
