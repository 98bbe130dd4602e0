//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chromiumInstall is what a machine without the browser needs (CI's
// .ci/run does it before the end-to-end phases).
const chromiumInstall = "apt-get install -y chromium"

// requireChromium returns the headless browser, failing (never skipping)
// when it is missing: the status page is only proven in a real browser.
func requireChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("chromium is not installed; install it with `%s` (or set CHROMIUM to the browser's path)", chromiumInstall)
	return ""
}

// dumpDOM loads url in headless Chromium, lets the page's script run for
// budget of virtual time (the browser waits for pending fetches within it),
// and returns the DOM as serialized afterwards.
func dumpDOM(t *testing.T, chromium, url string, budget time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		// Without these Chromium's own connections (component updates,
		// sync, ...) fail on a machine that only reaches package registries,
		// and it refuses the page's connections too.
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(),
		fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds()),
		"--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium --dump-dom %s:\n%s", url, tailString(stderr.String(), 3000))
	require.Contains(t, string(out), "</html>", "chromium printed no DOM; stderr:\n%s", tailString(stderr.String(), 3000))
	return string(out)
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// renderedTask is one task row of the status page as the browser rendered it.
type renderedTask struct {
	state, rows, lag, reason string
}

var (
	connRe  = regexp.MustCompile(`<span id="conn" data-state="([^"]*)">([^<]*)</span>`)
	stateRe = regexp.MustCompile(`<span class="badge [a-z]+" data-state="([^"]*)">`)
)

// cellText is the text of the first <td> whose class list starts with class.
func cellText(row, class string) string {
	m := regexp.MustCompile(`<td class="` + regexp.QuoteMeta(class) + `[^"]*">([^<]*)</td>`).FindStringSubmatch(row)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// findTask returns the rendered row of task id, if the page shows it.
func findTask(dom, id string) (renderedTask, bool) {
	re := regexp.MustCompile(`(?s)<tr [^>]*data-task-id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</tr>`)
	m := re.FindStringSubmatch(dom)
	if m == nil {
		return renderedTask{}, false
	}
	row := m[1]
	var r renderedTask
	if s := stateRe.FindStringSubmatch(row); s != nil {
		r.state = s[1]
	}
	r.rows = cellText(row, "num rows")
	r.lag = cellText(row, "num lag")
	r.reason = cellText(row, "reason")
	return r, true
}

// TestStatusPageInChromium drives the daemon's status page in headless
// Chromium: a created task appears with its state, the rows it applied and
// its lag, and a pause shows on the next load.
func TestStatusPageInChromium(t *testing.T) {
	chromium := requireChromium(t)
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src := bed.ConnectSource(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_web"))
	coll := schema.CollectionName
	id := d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})
	require.NoError(t, CreateCollection(ctx, src, schema, 1))
	DropCollectionOnCleanup(t, src, coll)
	const rows = 120
	_, err := NewDataset(schema, 0, rows).Insert(ctx, src, rows)
	require.NoError(t, err)
	Eventually(t, ctx, 2*time.Minute, 500*time.Millisecond, "the task to report the inserted rows", func(context.Context) (bool, string, error) {
		var st struct {
			Pipeline struct {
				Collections []struct {
					Name     string `json:"name"`
					Inserted int64  `json:"rowsInserted"`
				} `json:"collections"`
			} `json:"pipeline"`
		}
		d.getJSON(t, "/api/v1/tasks/"+id+"/status", &st)
		for _, c := range st.Pipeline.Collections {
			if c.Name == coll {
				return c.Inserted == rows, fmt.Sprintf("%d rows inserted", c.Inserted), nil
			}
		}
		return false, "collection not in the status yet", nil
	})

	url := "http://" + d.addr + "/"
	dom := dumpDOM(t, chromium, url, 5*time.Second)
	conn := connRe.FindStringSubmatch(dom)
	require.NotNil(t, conn, "no connection line in the DOM:\n%s", dom)
	require.Equal(t, "ok", conn[1], "connection line: %s", conn[2])
	row, ok := findTask(dom, id)
	require.True(t, ok, "task %s not on the page:\n%s", id, dom)
	require.Equal(t, "Running", row.state)
	require.Equal(t, fmt.Sprint(rows), row.rows, "rows applied")
	require.Regexp(t, `^\d+(\.\d+)? s$`, row.lag, "the lag is a number of seconds")
	require.Contains(t, dom, "1 task (1 Running)")

	d.CDC(t, "pause", map[string]any{"task_id": id})
	dom = dumpDOM(t, chromium, url, 5*time.Second)
	row, ok = findTask(dom, id)
	require.True(t, ok, "task %s not on the page after pause:\n%s", id, dom)
	require.Equal(t, "Paused", row.state)
	require.Contains(t, row.reason, "manually pause", "the pause reason is shown")
	require.Equal(t, "–", row.rows, "no pipeline runs for a paused task")
}

// TestStatusPageSaysWhenTheDaemonIsUnreachable serves the daemon's page from
// a stand-in whose API drops every connection, as a daemon that went away
// would, and checks that the page says so.
func TestStatusPageSaysWhenTheDaemonIsUnreachable(t *testing.T) {
	chromium := requireChromium(t)
	bed := RequireBed(t)
	d := StartDaemon(t, bed)
	resp, err := http.Get("http://" + d.addr + "/")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(page)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close() // no answer at all
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	dom := dumpDOM(t, chromium, "http://"+l.Addr().String()+"/", 5*time.Second)
	conn := connRe.FindStringSubmatch(dom)
	require.NotNil(t, conn, "no connection line in the DOM:\n%s", dom)
	require.Equal(t, "unreachable", conn[1])
	require.Contains(t, conn[2], "Daemon unreachable since")
}
