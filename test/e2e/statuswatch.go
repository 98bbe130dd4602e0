//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// StatusSample is what one poll of GET /api/v1/tasks/{id} said.
type StatusSample struct {
	At          time.Time
	TaskState   string // Running, Paused, Failed...
	PipeState   string // running, retrying, failed, stopped; "" without a pipeline
	Replicating bool
	Detail      string
	LastError   string
	Retries     int64
	LagSeconds  *float64
	Err         error // the poll itself failed
}

// ClaimsHealthy reports whether the sample tells an operator that data flows
// and nothing is wrong: a running pipeline that says it replicates.
func (s StatusSample) ClaimsHealthy() bool {
	return s.Err == nil && s.TaskState == "Running" && s.PipeState == "running" && s.Replicating
}

func (s StatusSample) String() string {
	if s.Err != nil {
		return fmt.Sprintf("%s poll failed: %v", s.At.Format("15:04:05.0"), s.Err)
	}
	lag := "?"
	if s.LagSeconds != nil {
		lag = fmt.Sprintf("%.1fs", *s.LagSeconds)
	}
	return fmt.Sprintf("%s task=%s pipeline=%s replicating=%v detail=%q lastError=%q retries=%d lag=%s",
		s.At.Format("15:04:05.0"), s.TaskState, s.PipeState, s.Replicating, s.Detail, s.LastError, s.Retries, lag)
}

// StatusWatch polls a task's status in the background, so a test can say
// afterwards what the status told an operator during a fault or a stall.
type StatusWatch struct {
	mu      sync.Mutex
	samples []StatusSample
	cancel  context.CancelFunc
	done    chan struct{}
}

// WatchStatus polls task id every interval until Stop (or the test's end).
func (d *Daemon) WatchStatus(t testing.TB, id string, interval time.Duration) *StatusWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &StatusWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			s := d.sampleStatus(ctx, id)
			w.mu.Lock()
			w.samples = append(w.samples, s)
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(w.Stop)
	return w
}

// Stop ends the polling.
func (w *StatusWatch) Stop() {
	w.cancel()
	<-w.done
}

// Between returns the samples taken in [from, to].
func (w *StatusWatch) Between(from, to time.Time) []StatusSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []StatusSample
	for _, s := range w.samples {
		if !s.At.Before(from) && !s.At.After(to) {
			out = append(out, s)
		}
	}
	return out
}

// HealthyClaims returns the samples in [from, to] that said all is well.
func (w *StatusWatch) HealthyClaims(from, to time.Time) []StatusSample {
	var out []StatusSample
	for _, s := range w.Between(from, to) {
		if s.ClaimsHealthy() {
			out = append(out, s)
		}
	}
	return out
}

func (d *Daemon) sampleStatus(ctx context.Context, id string) StatusSample {
	s := StatusSample{At: time.Now()}
	var task struct {
		State    string `json:"state"`
		Pipeline *struct {
			State       string   `json:"state"`
			Replicating bool     `json:"replicating"`
			Detail      string   `json:"detail"`
			LastError   string   `json:"lastError"`
			Retries     int64    `json:"retries"`
			LagSeconds  *float64 `json:"lagSeconds"`
		} `json:"pipeline"`
	}
	raw, err := d.httpGet(ctx, "/api/v1/tasks/"+id)
	if err == nil {
		err = json.Unmarshal(raw, &task)
	}
	if err != nil {
		s.Err = err
		return s
	}
	s.TaskState = task.State
	if p := task.Pipeline; p != nil {
		s.PipeState, s.Replicating, s.Detail, s.LastError, s.Retries, s.LagSeconds = p.State, p.Replicating, p.Detail, p.LastError, p.Retries, p.LagSeconds
	}
	return s
}

// httpGet reads one page of the daemon (5 s bound).
func (d *Daemon) httpGet(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url(path), nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, raw)
	}
	return raw, nil
}

// LogPipelineState logs what a stalled task looks like from the inside: its
// channel positions and the stacks of the pipeline's goroutines (the daemon
// must run with MILVUS_CDC_DEBUG_PPROF=true for the stacks).
func (d *Daemon) LogPipelineState(t testing.TB, id string) {
	t.Helper()
	ctx := context.Background()
	if raw, err := d.httpGet(ctx, "/api/v1/tasks/"+id+"/status"); err == nil {
		var st struct {
			Pipeline struct {
				Channels []json.RawMessage `json:"channels"`
			} `json:"pipeline"`
		}
		if json.Unmarshal(raw, &st) == nil {
			for _, c := range st.Pipeline.Channels {
				t.Logf("channel status: %s", c)
			}
		}
	} else {
		t.Logf("status: %v", err)
	}
	raw, err := d.httpGet(ctx, "/debug/pprof/goroutine?debug=2")
	if err != nil {
		t.Logf("goroutine dump: %v", err)
		return
	}
	for _, g := range PipelineGoroutines(string(raw)) {
		t.Logf("goroutine:\n%s", g)
	}
}

// PipelineGoroutines keeps the goroutines of a debug=2 dump that run the
// replication pipeline, each cut to its pipeline frames (file:line included).
func PipelineGoroutines(dump string) []string {
	var out []string
	for _, g := range strings.Split(dump, "\n\n") {
		if !strings.Contains(g, "corelib/pipeline.") {
			continue
		}
		lines := strings.Split(g, "\n")
		keep := []string{lines[0]}
		for i := 1; i+1 < len(lines); i += 2 {
			fn, loc := lines[i], lines[i+1]
			if strings.Contains(fn, "milvus-cdc/") || strings.Contains(fn, "pulsar") || strings.Contains(fn, "kgo") {
				keep = append(keep, fn, loc)
			}
		}
		out = append(out, strings.Join(keep, "\n"))
	}
	return out
}
