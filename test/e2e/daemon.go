//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Daemon is a milvus-cdc process started by a test against the bed, with its
// own embedded task store in a directory that survives restarts of the
// process, so a test can kill it and start it again on the same state.
type Daemon struct {
	bed     *Bed
	bin     string
	dataDir string
	addr    string
	env     []string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	// tls is the client TLS toward a daemon whose API serves TLS
	// (startTLSDaemon); nil = plain http.
	tls *tls.Config
}

// url is the address of path on the daemon's API.
func (d *Daemon) url(path string) string {
	if d.tls != nil {
		return "https://" + d.addr + path
	}
	return "http://" + d.addr + path
}

// client is the HTTP client for the daemon's API.
func (d *Daemon) client() *http.Client {
	if d.tls == nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: d.tls}}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// daemonBinary builds cmd/milvus-cdc once per test run.
func daemonBinary() (string, error) {
	buildOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "milvus-cdc-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "milvus-cdc")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/milvus-cdc")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/milvus-cdc: %v\n%s", err, out)
		}
	})
	return builtBin, buildErr
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartDaemon builds and starts a daemon configured for the bed, with
// extraEnv (KEY=value) added to its environment. It is stopped when the test
// ends.
func StartDaemon(t testing.TB, bed *Bed, extraEnv ...string) *Daemon {
	t.Helper()
	return startDaemon(t, bed, nil, extraEnv...)
}

// startDaemon is StartDaemon for a daemon whose API serves TLS when
// clientTLS is not nil (extraEnv then sets server.tls); the test talks to
// it with clientTLS.
func startDaemon(t testing.TB, bed *Bed, clientTLS *tls.Config, extraEnv ...string) *Daemon {
	t.Helper()
	bin, err := daemonBinary()
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{
		bed:     bed,
		bin:     bin,
		dataDir: t.TempDir(),
		addr:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		tls:     clientTLS,
	}
	d.logPath = filepath.Join(d.dataDir, "daemon.log")
	// Each daemon gets its own task-store root: the bed's config keeps tasks
	// in the bed's etcd, and daemons of different tests (or of two runs on
	// one bed) must not see, and run, each other's tasks.
	d.env = append(os.Environ(),
		"MILVUS_CDC_ADDRESS="+d.addr,
		fmt.Sprintf("MILVUS_CDC_METASTORE_ROOTPATH=milvus-cdc-e2e-%d", time.Now().UnixNano()),
		"MILVUS_CDC_LOG_FORMAT=json",
		"MILVUS_CDC_METASTORE_EMBED_DATADIR="+filepath.Join(d.dataDir, "etcd"),
		fmt.Sprintf("MILVUS_CDC_METASTORE_EMBED_CLIENTURL=http://127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("MILVUS_CDC_METASTORE_EMBED_PEERURL=http://127.0.0.1:%d", freePort(t)),
	)
	d.env = append(d.env, extraEnv...)
	d.Start(t)
	t.Cleanup(func() {
		if t.Failed() {
			d.logTaskStatuses(t)
		}
		d.Stop(t)
		if t.Failed() {
			if out, err := os.ReadFile(d.logPath); err == nil {
				t.Logf("daemon log (last 6000 bytes):\n%s", tail(out, 6000))
			}
		}
		keepDaemonLog(t, d.logPath)
	})
	return d
}

// keepDaemonLog copies the daemon's whole log to $E2E_DAEMON_LOG_DIR, when
// set, as <test name>.log: the daemon's directory is removed with the test.
func keepDaemonLog(t testing.TB, path string) {
	dir := os.Getenv("E2E_DAEMON_LOG_DIR")
	if dir == "" {
		return
	}
	out, err := os.ReadFile(path)
	if err != nil {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".log"
	if err := os.WriteFile(filepath.Join(dir, name), out, 0o644); err != nil {
		t.Logf("keep the daemon log: %v", err)
		return
	}
	t.Logf("daemon log kept in %s", filepath.Join(dir, name))
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Start starts the daemon process (again) and waits until it serves.
func (d *Daemon) Start(t testing.TB) {
	t.Helper()
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(d.bin, "--config", d.bed.CDCConfig)
	d.cmd.Env = d.env
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	d.exited = make(chan struct{})
	go func() { _ = d.cmd.Wait(); logFile.Close(); close(d.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := d.client().Get(d.url("/readyz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-d.exited:
			out, _ := os.ReadFile(d.logPath)
			t.Fatalf("daemon exited during start-up:\n%s", tail(out, 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready on %s within 60s", d.addr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Kill ends the daemon with SIGKILL: no shutdown, no final checkpoint.
func (d *Daemon) Kill(t testing.TB) {
	t.Helper()
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	d.cmd = nil
}

// Stop ends the daemon with SIGTERM and waits for it.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
}

// CDC sends one request of the compatible API and returns the response's data,
// failing the test unless the body's code is 200.
func (d *Daemon) CDC(t testing.TB, requestType string, data any) map[string]any {
	t.Helper()
	code, msg, out := d.CDCRaw(t, requestType, data)
	if code != 200 {
		t.Fatalf("%s request: code %d: %s", requestType, code, msg)
	}
	return out
}

// CDCRaw sends one request of the compatible API and returns the body's code,
// message and data.
func (d *Daemon) CDCRaw(t testing.TB, requestType string, data any) (int, string, map[string]any) {
	t.Helper()
	data = withBedWriterMode(d.bed, requestType, data)
	body, err := json.Marshal(map[string]any{"request_type": requestType, "request_data": data})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.url("/cdc"), bytes.NewReader(body))
	resp, err := d.client().Do(req)
	if err != nil {
		t.Fatalf("%s request: %v", requestType, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Code    int            `json:"code"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s response %q: %v", requestType, raw, err)
	}
	return env.Code, env.Message, env.Data
}

// getJSON GETs a path of the daemon's API, requires 200 and decodes the body into out.
func (d *Daemon) getJSON(t testing.TB, path string, out any) {
	t.Helper()
	resp, err := d.client().Get(d.url(path))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", path, raw)
	require.NoError(t, json.Unmarshal(raw, out), "GET %s: %s", path, raw)
}

// CreateTask creates a task replicating to the bed's target, deletes it when
// the test ends, and waits until its pipeline replicates. extra holds the
// other create fields (e.g. db_collections).
func (d *Daemon) CreateTask(t testing.TB, extra map[string]any) string {
	t.Helper()
	id := d.createTaskNoWait(t, extra)
	d.waitReplicating(t, id)
	return id
}

// createTaskNoWait creates a task and returns as soon as create answered,
// without waiting for the pipeline to report replicating.
func (d *Daemon) createTaskNoWait(t testing.TB, extra map[string]any) string {
	t.Helper()
	req := map[string]any{
		"milvus_connect_param": map[string]any{"uri": "http://" + d.bed.TargetAddr, "connect_timeout": 10},
	}
	for k, v := range extra {
		req[k] = v
	}
	out := d.CDC(t, "create", req)
	id, _ := out["task_id"].(string)
	require.NotEmpty(t, id, "create returned no task_id: %v", out)
	t.Cleanup(func() {
		if d.cmd != nil {
			if t.Failed() {
				d.logTaskStatus(t, id) // before the delete takes it away
			}
			d.CDCRaw(t, "delete", map[string]any{"task_id": id, "ignore_not_found": true})
		}
	})
	return id
}

// waitReplicating waits until the task's pipeline reads the source and has
// connected to the target (the start position itself is fixed at create).
func (d *Daemon) waitReplicating(t testing.TB, id string) {
	t.Helper()
	Eventually(t, context.Background(), time.Minute, 100*time.Millisecond, "task "+id+" replicating", func(ctx context.Context) (bool, string, error) {
		var task struct {
			Pipeline struct {
				Replicating bool   `json:"replicating"`
				Detail      string `json:"detail"`
			} `json:"pipeline"`
		}
		d.getJSON(t, "/api/v1/tasks/"+id, &task)
		return task.Pipeline.Replicating, task.Pipeline.Detail, nil
	})
}

// TaskState returns the task's state and reason as `get` reports them.
func (d *Daemon) TaskState(t testing.TB, id string) (string, string) {
	t.Helper()
	out := d.CDC(t, "get", map[string]any{"task_id": id})
	task, _ := out["task"].(map[string]any)
	state, _ := task["state"].(string)
	reason, _ := task["reason"].(string)
	return state, reason
}

// Freeze stops the daemon with SIGSTOP: it keeps its sockets and memory but
// runs nothing (a long GC pause, a VM stall) until Thaw.
func (d *Daemon) Freeze(t testing.TB) {
	t.Helper()
	require.NotNil(t, d.cmd, "daemon not running")
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGSTOP))
}

// Thaw continues a frozen daemon (SIGCONT).
func (d *Daemon) Thaw(t testing.TB) {
	t.Helper()
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// Log is the daemon's log so far.
func (d *Daemon) Log(t testing.TB) string {
	t.Helper()
	out, err := os.ReadFile(d.logPath)
	require.NoError(t, err)
	return string(out)
}

// logTaskStatuses logs every task's status as the daemon reports it (what
// waits, what retries, each channel's position): a failed test shows what
// the pipeline was doing when it gave up.
func (d *Daemon) logTaskStatuses(t testing.TB) {
	if d.cmd == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := d.httpGetLocal(ctx, "/api/v1/tasks")
	if err != nil {
		t.Logf("task statuses: %v", err)
		return
	}
	var list struct {
		Tasks []struct {
			ID string `json:"id"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Logf("task list %q: %v", tail(raw, 2000), err)
		return
	}
	for _, task := range list.Tasks {
		d.logTaskStatus(t, task.ID)
	}
}

// logTaskStatus logs one task's status as the daemon reports it.
func (d *Daemon) logTaskStatus(t testing.TB, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := d.httpGetLocal(ctx, "/api/v1/tasks/"+id+"/status")
	if err != nil {
		t.Logf("status of task %s: %v", id, err)
		return
	}
	t.Logf("status of task %s when the test failed:\n%s", id, tail(st, 6000))
}
