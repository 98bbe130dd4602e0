package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"

	"github.com/milvus-cdc/milvus-cdc/corelib/corelibtest"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/meta/metatest"
	"github.com/milvus-cdc/milvus-cdc/server"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// secretToken is what the fake target requires; it must never appear in a
// response or a log line.
const (
	secretUser     = "root"
	secretPassword = "S3cr3t-T0ken"
	secretToken    = secretUser + ":" + secretPassword
)

type testDaemon struct {
	t      *testing.T
	etcd   *metatest.Etcd
	store  *meta.Store
	fake   *corelibtest.FakeMilvus
	ctl    *task.Controller
	srv    *server.Server
	http   *httptest.Server
	level  zap.AtomicLevel
	logs   *observer.ObservedLogs
	limits task.Limits
	// tune changes the server options before the server is built.
	tune func(*server.Options)
}

type daemonOption func(*task.Limits)

func withMaxTasks(n int) daemonOption { return func(l *task.Limits) { l.MaxTaskNum = n } }

// startDaemon runs the whole control plane in-process: embedded etcd, the
// real store and controller, the connect-only pipeline against a fake
// target Milvus, and the HTTP server. Logs are captured at debug level.
func startDaemon(t *testing.T, opts ...daemonOption) *testDaemon {
	t.Helper()
	d := &testDaemon{t: t, etcd: metatest.StartEtcd(t), fake: corelibtest.StartFakeMilvus(t, secretToken)}
	d.store = meta.NewStore(d.etcd.Client, "cdc-test")
	d.limits = task.Limits{MaxTaskNum: 100, MaxNameLength: 256, ReplicateChannel: "by-dev-replicate-msg", StoreTimeout: 2 * time.Second}
	for _, o := range opts {
		o(&d.limits)
	}
	d.boot()
	return d
}

// restartOn starts a second daemon on the first one's etcd and fake target,
// as a restarted process would.
func restartOn(t *testing.T, old *testDaemon) *testDaemon {
	t.Helper()
	d := &testDaemon{t: t, etcd: old.etcd, store: old.store, fake: old.fake, limits: old.limits}
	d.boot()
	return d
}

// boot builds the controller (reloading stored tasks), the server and the
// HTTP listener, with logs captured at debug level.
func (d *testDaemon) boot() {
	t := d.t
	d.level = zap.NewAtomicLevelAt(zapcore.DebugLevel)
	core, logs := observer.New(d.level)
	d.logs = logs
	lg := zap.New(core)
	d.ctl = task.NewController(d.store, corelibtest.ConnectOnlyFactory{DialOptions: []grpc.DialOption{d.fake.DialOption()}}, d.limits, lg)
	require.NoError(t, d.ctl.Reload(t.Context()))
	opts := server.Options{
		Controller:      d.ctl,
		LogLevel:        d.level,
		MaxRequestBytes: 4096,
		MaxNameLength:   d.limits.MaxNameLength,
		Ready:           d.store.Ping,
		Logger:          lg,
	}
	if d.tune != nil {
		d.tune(&opts)
	}
	d.srv = server.New(opts)
	d.http = httptest.NewServer(d.srv.Handler())
	t.Cleanup(func() {
		d.http.Close()
		d.ctl.Shutdown(context.Background())
	})
}

type httpResult struct {
	status      int
	contentType string
	header      http.Header
	body        []byte
}

func (r httpResult) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (d *testDaemon) do(method, path, body string) httpResult {
	d.t.Helper()
	req, err := http.NewRequestWithContext(d.t.Context(), method, d.http.URL+path, strings.NewReader(body))
	require.NoError(d.t, err)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return httpResult{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), header: resp.Header, body: b}
}

// cdc posts a /cdc request and returns the decoded envelope; HTTP status must be 200.
func (d *testDaemon) cdc(body string) map[string]any {
	d.t.Helper()
	r := d.do(http.MethodPost, "/cdc", body)
	require.Equal(d.t, http.StatusOK, r.status)
	require.Equal(d.t, "application/json", r.contentType)
	require.True(d.t, bytes.HasSuffix(r.body, []byte("}\n")), "one JSON object and a newline")
	return r.json(d.t)
}

// requireNoSecretLogged fails if any captured log entry mentions the password.
func (d *testDaemon) requireNoSecretLogged() {
	d.t.Helper()
	for _, e := range d.logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + toString(v)
		}
		require.NotContains(d.t, line, secretPassword, "secret in log entry %q", e.Message)
	}
}

func toString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
