package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profiler takes pprof profiles of a daemon started with debug.pprof on:
// back-to-back CPU profiles of profileSlice each (one long profile cannot be
// cut short without losing it) and heap snapshots on demand. Merge the CPU
// slices with `go tool pprof -top BIN DIR/cpu-*.pb.gz`.
type profiler struct {
	addr   string
	dir    string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const profileSlice = 5 * time.Second

// startCPU begins taking CPU profile slices into dir until stop.
func startCPU(addr, dir string) *profiler {
	ctx, cancel := context.WithCancel(context.Background())
	p := &profiler{addr: addr, dir: dir, cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			path := fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(profileSlice.Seconds()))
			if err := p.fetch(ctx, path, fmt.Sprintf("cpu-%03d.pb.gz", i)); err != nil && ctx.Err() == nil {
				logf("cpu profile: %v", err)
				return
			}
		}
	}()
	return p
}

// stop ends the CPU slices; the slice in progress is dropped.
func (p *profiler) stop() {
	if p == nil {
		return
	}
	p.cancel()
	p.wg.Wait()
}

// snapshot saves one named profile (heap, allocs, goroutine) as file.
func (p *profiler) snapshot(name, file string) {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.fetch(ctx, "/debug/pprof/"+name, file); err != nil {
		logf("%s profile: %v", name, err)
	}
}

func (p *profiler) fetch(ctx context.Context, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s (is debug.pprof on?)", path, resp.Status, strings.TrimSpace(string(b)))
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.dir, file), body, 0o644)
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
