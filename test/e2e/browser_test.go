//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/server/web"
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

// servePage serves the embedded status page at / and api with the handler
// given, on a local port; it returns the page's URL.
func servePage(t *testing.T, api http.HandlerFunc) string {
	return servePageRoutes(t, map[string]http.HandlerFunc{"/api/v1/tasks": api})
}

// servePageRoutes serves the page and a scripted API of several routes.
func servePageRoutes(t *testing.T, routes map[string]http.HandlerFunc) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", web.Handler())
	for path, h := range routes {
		mux.Handle(path, h)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String() + "/"
}

// TestStatusPageSaysWhenTheDaemonIsUnreachable serves the page with an API
// that drops every connection, as a daemon that went away would, and checks
// that the page says so.
func TestStatusPageSaysWhenTheDaemonIsUnreachable(t *testing.T) {
	chromium := requireChromium(t)
	url := servePage(t, func(w http.ResponseWriter, _ *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijack", http.StatusInternalServerError)
			return
		}
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close() // no answer at all
		}
	})
	dom := dumpDOM(t, chromium, url, 5*time.Second)
	conn := connRe.FindStringSubmatch(dom)
	require.NotNil(t, conn, "no connection line in the DOM:\n%s", dom)
	require.Equal(t, "unreachable", conn[1])
	require.Contains(t, conn[2], "Daemon unreachable since")
	require.Contains(t, conn[2], "retrying every 3 s")
}

// TestStatusPageRendersEveryColumn feeds the page a scripted API: a task
// whose rows grow by 300 per poll (polls 3 s apart: 100 rows/s), that is
// retrying with a lag over a minute and an error, and a task in a state the
// page has never heard of. Values are text, never markup.
func TestStatusPageRendersEveryColumn(t *testing.T) {
	chromium := requireChromium(t)
	var polls atomic.Int64
	url := servePage(t, func(w http.ResponseWriter, _ *http.Request) {
		n := polls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"tasks":[
 {"id":"retrying-task","state":"Running","target":{"uri":"http://dst:19530"},
  "pipeline":{"replicating":true,"detail":"replicating","state":"retrying","lagSeconds":75.2,
   "error":{"time":"2026-01-02T03:04:05Z","stage":"apply","message":"insert refused: <b>bold</b>"},
   "collections":[{"id":1,"database":"db","name":"c","rowsInserted":%d,"rowsDeleted":%d,"rowsUpserted":0,"operations":1}]}},
 {"id":"odd-task","state":"Quarantined","reason":"a state from a newer daemon","target":{"uri":"http://dst:19530"}}
]}`, 250*n, 50*n)
	})
	dom := dumpDOM(t, chromium, url+"?interval=3", 10*time.Second)
	require.GreaterOrEqual(t, polls.Load(), int64(3), "the page refreshes itself")

	row, ok := findTask(dom, "retrying-task")
	require.True(t, ok, "task not on the page:\n%s", dom)
	require.Equal(t, "Running", row.state)
	require.Contains(t, dom, `data-pipeline-state="retrying"`, "the pipeline state shows next to the task state")
	require.Equal(t, "75 s", row.lag)
	require.Contains(t, dom, `<td class="num lag lag-high">`, "a lag over a minute stands out")
	require.Equal(t, fmt.Sprint(300*polls.Load()), strings.ReplaceAll(row.rows, ",", ""), "rows applied = inserted + deleted + upserted of the last poll")
	m := regexp.MustCompile(`<td class="num throughput">([0-9.]+) rows/s</td>`).FindStringSubmatch(dom)
	require.NotNil(t, m, "no throughput figure:\n%s", dom)
	rate, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	require.InDelta(t, 100, rate, 10, "300 rows between polls 3 s apart")
	require.Contains(t, dom, "insert refused: &lt;b&gt;bold&lt;/b&gt;", "the error message is text")
	require.NotContains(t, dom, "<b>bold</b>")
	require.Contains(t, dom, "apply</div>", "the error's stage is shown")

	odd, ok := findTask(dom, "odd-task")
	require.True(t, ok)
	require.Equal(t, "Quarantined", odd.state, "a state the page does not know is shown as the API names it")
	require.Equal(t, "a state from a newer daemon", odd.reason)
	require.Contains(t, dom, "2 tasks (1 Quarantined, 1 Retrying)", "a retrying task is not counted as Running")
}

// TestStatusPageShowsTheClusterAndOwners feeds the page a scripted cluster
// of three members, one draining and one whose lease is not renewed, with a
// task on each and one task no member owns: the header names the members
// to look at and every task row its owner.
func TestStatusPageShowsTheClusterAndOwners(t *testing.T) {
	chromium := requireChromium(t)
	url := servePageRoutes(t, map[string]http.HandlerFunc{
		"/api/v1/tasks": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"tasks":[
 {"id":"t-on-m1","state":"Running","owner":"m1","target":{"uri":"http://dst:19530"}},
 {"id":"t-on-m2","state":"Running","owner":"m2","target":{"uri":"http://dst:19530"}},
 {"id":"t-on-m3","state":"Running","owner":"m3","target":{"uri":"http://dst:19530"}},
 {"id":"t-unowned","state":"Running","target":{"uri":"http://dst:19530"}}
]}`)
		},
		"/api/v1/cluster": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"enabled":true,"self":"m1","unowned":["t-unowned"],"members":[
 {"id":"m1","address":"http://a:8444","healthy":true,"tasks":["t-on-m1"]},
 {"id":"m2","address":"http://b:8444","healthy":true,"draining":true,"tasks":["t-on-m2"]},
 {"id":"m3","address":"http://c:8444","healthy":false,"tasks":["t-on-m3"]}
]}`)
		},
	})
	dom := dumpDOM(t, chromium, url, 5*time.Second)
	m := regexp.MustCompile(`<span id="cluster" class="meta" data-attention="([a-z]+)">([^<]*)</span>`).FindStringSubmatch(dom)
	require.NotNil(t, m, "no cluster line in the header:\n%s", dom)
	require.Equal(t, "yes", m[1], "a draining member and an unowned task call for attention")
	require.Equal(t, "cluster: 3 members, answered by m1 · m2 draining, m3 lease not renewed, 1 task(s) without an owner", m[2])
	for id, want := range map[string]string{
		"t-on-m1":   `data-owner="m1">owner m1</div>`,
		"t-on-m2":   `data-owner="m2">owner m2 (draining)</div>`,
		"t-on-m3":   `data-owner="m3">owner m3 (lease not renewed)</div>`,
		"t-unowned": `<div class="owner err">no owner right now</div>`,
	} {
		row := regexp.MustCompile(`<tr class="task" data-task-id="` + id + `"[^>]*>.*?</tr>`).FindString(dom)
		require.NotEmpty(t, row, "task %s not on the page:\n%s", id, dom)
		require.Contains(t, row, want, id)
	}
}

// TestStatusPageWithoutAClusterShowsNoOwners: a daemon alone (its cluster
// API says disabled) gets no cluster line and no owner lines.
func TestStatusPageWithoutAClusterShowsNoOwners(t *testing.T) {
	chromium := requireChromium(t)
	url := servePageRoutes(t, map[string]http.HandlerFunc{
		"/api/v1/tasks": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"tasks":[{"id":"alone","state":"Running","target":{"uri":"http://dst:19530"}}]}`)
		},
		"/api/v1/cluster": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"enabled":false,"members":[],"unowned":[]}`)
		},
	})
	dom := dumpDOM(t, chromium, url, 5*time.Second)
	_, ok := findTask(dom, "alone")
	require.True(t, ok, "task not on the page:\n%s", dom)
	require.Contains(t, dom, `<span id="cluster" class="meta" hidden="">`, "no cluster line for a daemon alone")
	require.NotContains(t, dom, `class="owner`)
}
