package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/milvus-cdc/milvus-cdc/bench"
)

// daemon is a milvus-cdc process started against the bed with its own
// address and task-store root, so it never sees another daemon's tasks.
type daemon struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	exited  chan struct{}
	proc    proc
}

// buildDaemon builds cmd/milvus-cdc of the working tree, or of git revision
// rev (exported with git archive, so the working tree is untouched), into dir.
func buildDaemon(root, rev, dir string) (string, error) {
	src := root
	if rev != "" {
		src = filepath.Join(dir, "src-"+strings.NewReplacer("/", "_", ":", "_").Replace(rev))
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
		archive := exec.Command("bash", "-c", `git -C "$1" archive --format=tar "$2" | tar -x -C "$3"`, "archive", root, rev, src)
		if out, err := archive.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%w: -daemon-rev %q: git archive: %v\n%s", bench.ErrBadFlag, rev, err, out)
		}
	}
	bin := filepath.Join(dir, "milvus-cdc")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/milvus-cdc")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/milvus-cdc in %s: %v\n%s", src, err, out)
	}
	return bin, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startDaemon(bin, config, dir string, extraEnv []string) (*daemon, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d := &daemon{addr: addr, logPath: filepath.Join(dir, "daemon.log"), exited: make(chan struct{})}
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(bin, "--config", config)
	d.cmd.Env = append(os.Environ(),
		"MILVUS_CDC_ADDRESS="+addr,
		fmt.Sprintf("MILVUS_CDC_METASTORE_ROOTPATH=milvus-cdc-bench-%d", time.Now().UnixNano()),
		"MILVUS_CDC_LOG_FORMAT=json",
	)
	d.cmd.Env = append(d.cmd.Env, extraEnv...)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	if err := d.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	d.proc = proc{pid: d.cmd.Process.Pid}
	go func() { _ = d.cmd.Wait(); logFile.Close(); close(d.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("daemon exited during start-up; log: %s", d.logPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
	d.stop()
	return nil, fmt.Errorf("daemon not ready on %s within 60 s; log: %s", addr, d.logPath)
}

// stop ends the daemon with SIGTERM, SIGKILL after 30 s.
func (d *daemon) stop() {
	if d == nil || d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// rest sends one request of the REST API and decodes the answer into out
// (when not nil); an error unless the status is want.
func (d *daemon) rest(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+d.addr+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s (daemon log %s)", method, path, resp.Status, strings.TrimSpace(string(raw)), d.logPath)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: answer %q: %w", method, path, raw, err)
		}
	}
	return nil
}

// createTask creates a task replicating the named collections of the
// default database to target in the given writer mode and returns its id.
func (d *daemon) createTask(ctx context.Context, target, mode string, collections ...string) (string, error) {
	scope := make([]map[string]any, len(collections))
	for i, c := range collections {
		scope[i] = map[string]any{"database": "default", "collection": c}
	}
	req := map[string]any{
		"target":     map[string]any{"uri": "http://" + target, "connectTimeoutSeconds": 10},
		"scope":      scope,
		"writerMode": mode,
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := d.rest(ctx, http.MethodPost, "/api/v1/tasks", req, http.StatusCreated, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("create returned no id (daemon log %s)", d.logPath)
	}
	return out.ID, nil
}

// createCopyTask creates a task with initialSync that copies one source
// collection into a target collection of another name.
func (d *daemon) createCopyTask(ctx context.Context, target, from, to string) (string, error) {
	req := map[string]any{
		"target":      map[string]any{"uri": "http://" + target, "connectTimeoutSeconds": 10},
		"scope":       []map[string]any{{"database": "default", "collection": from}},
		"nameMapping": []map[string]any{{"sourceDatabase": "default", "targetDatabase": "default", "collections": map[string]string{from: to}}},
		"writerMode":  "api",
		"initialSync": true,
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := d.rest(ctx, http.MethodPost, "/api/v1/tasks", req, http.StatusCreated, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// waitSnapshotDone polls the task's status until its pipeline follows the
// source (the snapshot phase ended) and returns when it first saw that.
func (d *daemon) waitSnapshotDone(ctx context.Context, id string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		var out struct {
			Pipeline *struct {
				Phase string `json:"phase"`
				State string `json:"state"`
			} `json:"pipeline"`
		}
		if err := d.rest(ctx, http.MethodGet, "/api/v1/tasks/"+id+"/status", nil, http.StatusOK, &out); err != nil {
			return time.Time{}, err
		}
		if p := out.Pipeline; p != nil {
			if p.Phase == "following" {
				return time.Now(), nil
			}
			last = p.Phase + "/" + p.State
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("snapshot not done after %s (last %s; daemon log %s)", timeout, last, d.logPath)
}

func (d *daemon) pause(ctx context.Context, id string) error {
	return d.rest(ctx, http.MethodPost, "/api/v1/tasks/"+id+"/pause", nil, http.StatusOK, nil)
}

func (d *daemon) resume(ctx context.Context, id string) error {
	return d.rest(ctx, http.MethodPost, "/api/v1/tasks/"+id+"/resume", nil, http.StatusOK, nil)
}

// deleteTask deletes the task, best effort (cleanup).
func (d *daemon) deleteTask(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.rest(ctx, http.MethodDelete, "/api/v1/tasks/"+id, nil, http.StatusNoContent, nil); err != nil {
		logf("delete task %s: %v", id, err)
	}
}

// replicating says whether the task's pipeline reports that data flows.
func (d *daemon) replicating(ctx context.Context, id string) (bool, string, error) {
	var out struct {
		Pipeline *struct {
			Replicating bool   `json:"replicating"`
			Detail      string `json:"detail"`
		} `json:"pipeline"`
	}
	if err := d.rest(ctx, http.MethodGet, "/api/v1/tasks/"+id+"/status", nil, http.StatusOK, &out); err != nil {
		return false, "", err
	}
	if out.Pipeline == nil {
		return false, "no pipeline", nil
	}
	return out.Pipeline.Replicating, out.Pipeline.Detail, nil
}

// synced asks whether the target holds every write the source acknowledged
// before the call (waiting up to wait on the daemon's side).
func (d *daemon) synced(ctx context.Context, id string, wait time.Duration) (bool, error) {
	var out struct {
		Synced bool `json:"synced"`
	}
	path := fmt.Sprintf("/api/v1/tasks/%s/synced?waitSeconds=%d", id, int(wait.Seconds()))
	if err := d.rest(ctx, http.MethodGet, path, nil, http.StatusOK, &out); err != nil {
		return false, err
	}
	return out.Synced, nil
}

// waitReplicating polls the tasks' status until each one replicates.
func (d *daemon) waitReplicating(ctx context.Context, ids []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pending := append([]string(nil), ids...)
	var last string
	for len(pending) > 0 {
		ok, detail, err := d.replicating(ctx, pending[0])
		switch {
		case err != nil:
			last = err.Error()
		case ok:
			pending = pending[1:]
			continue
		default:
			last = detail
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("task %s not replicating within %s: %s (daemon log %s)", pending[0], timeout, last, d.logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// targetCalls reads the daemon's totals of target calls from /metrics.
func (d *daemon) targetCalls(ctx context.Context) (seconds, calls float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.addr+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, fmt.Errorf("metrics: %w", err)
	}
	return bench.ParseTargetCalls(string(body))
}
