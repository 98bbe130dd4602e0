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
}

// buildDaemon builds cmd/milvus-cdc into dir.
func buildDaemon(root, dir string) (string, error) {
	bin := filepath.Join(dir, "milvus-cdc")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/milvus-cdc")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/milvus-cdc: %v\n%s", err, out)
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

// cdc sends one request of the compatible API; an error unless code is 200.
func (d *daemon) cdc(ctx context.Context, requestType string, data any) (map[string]any, error) {
	body, err := json.Marshal(map[string]any{"request_type": requestType, "request_data": data})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.addr+"/cdc", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s request: %w", requestType, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Code    int            `json:"code"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%s response %q: %w", requestType, raw, err)
	}
	if env.Code != 200 {
		return nil, fmt.Errorf("%s request: code %d: %s", requestType, env.Code, env.Message)
	}
	return env.Data, nil
}

// createTask creates a task replicating one collection of the default
// database to target in the given writer mode and returns its id.
func (d *daemon) createTask(ctx context.Context, target, collection, mode string) (string, error) {
	req := map[string]any{
		"milvus_connect_param": map[string]any{"uri": "http://" + target, "connect_timeout": 10},
		"collection_infos":     []map[string]any{{"name": collection}},
	}
	if mode != bench.ModeAPI {
		req["writer_mode"] = mode
	}
	out, err := d.cdc(ctx, "create", req)
	if err != nil {
		return "", err
	}
	id, _ := out["task_id"].(string)
	if id == "" {
		return "", fmt.Errorf("create returned no task_id: %v", out)
	}
	return id, nil
}

func (d *daemon) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return bench.ParseCPUSeconds(string(b))
}

func (d *daemon) peakRSSMiB() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	kib, err := bench.ParseStatusKiB(string(b), "VmHWM")
	return float64(kib) / 1024, err
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
