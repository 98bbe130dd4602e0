package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/server/web"
)

func TestHandlerServesTheSelfContainedPage(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "connect-src 'self'")

	page := string(body)
	for _, want := range []string{
		`<table id="tasks"`,
		`request("GET", "api/v1/tasks")`, // relative: works behind a path prefix
		`"api/v1/info"`,                  // version, source and auth state for the header
		`id="conn"`,                      // the reachability line
		"Daemon unreachable since",
		"rows/s",
		"API authentication is off",
		`sessionStorage.getItem(TOKEN_KEY)`, // the token lives in the tab only
		`"Authorization"`,
		`<th>Scope</th>`,
		`id="lag-warn"`,
		`timeZoneName: "short"`,
		`id="create-initial-sync" type="checkbox"`, // create with an initial sync
		`body.initialSync = true`,
		`request("POST", "api/v1/tasks", body`,
		`"Initial sync"`, // the snapshot's progress per collection
		`"data-phase": "snapshot"`,
	} {
		require.Contains(t, page, want)
	}
	// Nothing is loaded from elsewhere: no src/href to another origin and no
	// protocol-relative URLs.
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`)
	require.Empty(t, external.FindAllString(page, -1))
	require.NotRegexp(t, `(?i)<script[^>]+src=`, page)
	require.NotRegexp(t, `(?i)<link[^>]+stylesheet`, page)
	require.NotContains(t, page, "localStorage.setItem(TOKEN_KEY", "the token is never kept beyond the tab")
}
