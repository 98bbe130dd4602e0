package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/milvus-cdc/milvus-cdc/bench"
)

// proc reads one process's cost from /proc.
type proc struct{ pid int }

func (p proc) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return 0, err
	}
	return bench.ParseCPUSeconds(string(b))
}

func (p proc) statusMiB(key string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, err
	}
	kib, err := bench.ParseStatusKiB(string(b), key)
	return float64(kib) / 1024, err
}

// rssMiB is the resident set now (VmRSS).
func (p proc) rssMiB() (float64, error) { return p.statusMiB("VmRSS") }

// peakRSSMiB is the peak resident set since start or the last resetPeak (VmHWM).
func (p proc) peakRSSMiB() (float64, error) { return p.statusMiB("VmHWM") }

// resetPeak sets VmHWM to the current RSS (writing 5 to clear_refs, Linux
// 4.0+), so the next peakRSSMiB is the peak of what follows alone.
func (p proc) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.pid), []byte("5"), 0)
}

// phasePeak tracks the peak RSS of successive phases of one process: next
// closes the current phase (its VmHWM) and starts a new one. When VmHWM
// cannot be reset, each phase gets the peak since start, which is still an
// upper bound.
type phasePeak struct {
	p       proc
	overall float64
}

// next returns the peak of the phase that just ended and starts the next one.
func (pp *phasePeak) next() float64 {
	peak, err := pp.p.peakRSSMiB()
	if err != nil {
		logf("peak RSS of pid %d: %v", pp.p.pid, err)
		return 0
	}
	pp.overall = max(pp.overall, peak)
	if err := pp.p.resetPeak(); err != nil {
		logf("reset peak RSS of pid %d: %v (phase peaks are peaks since start)", pp.p.pid, err)
	}
	return peak
}

// sampler samples a process's VmRSS at a fixed interval until stopped.
type sampler struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	win    bench.Window
}

func sampleRSS(p proc, every time.Duration) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v, err := p.rssMiB(); err == nil {
				s.mu.Lock()
				s.win.Add(v)
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the samples' window.
func (s *sampler) stop() bench.Window {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.win
}

// bedProcs are the bed's running components (etcd, the broker, the two
// Milvus), from the PID files testbed.sh writes: "PID STARTTIME".
func bedProcs(state string) (map[string]proc, error) {
	out := map[string]proc{}
	for _, c := range []string{"etcd", "pulsar", "kafka", "src", "dst"} {
		b, err := os.ReadFile(filepath.Join(state, c, "pid"))
		if err != nil {
			continue // not part of this bed (the other broker)
		}
		var pid int
		var start string
		if _, err := fmt.Sscan(string(b), &pid, &start); err != nil {
			return nil, fmt.Errorf("pid file of %s: %q: %w", c, strings.TrimSpace(string(b)), err)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil, fmt.Errorf("bed component %s (pid %d) is not running: %w", c, pid, err)
		}
		if got, err := bench.ParseStartTime(string(stat)); err != nil || got != start {
			return nil, fmt.Errorf("bed component %s: pid %d is another process now (start %s, recorded %s)", c, pid, got, start)
		}
		out[c] = proc{pid: pid}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no bed PID files under %s", state)
	}
	return out, nil
}

// idleCheck is how the bench decides that the bed is idle: every component
// below maxCores of CPU over window, twice in a row, within timeout.
type idleCheck struct {
	procs    map[string]proc
	maxCores float64
	window   time.Duration
	timeout  time.Duration
}

// wait blocks until the bed is idle or the timeout passed; it returns how
// long it waited, whether the bed went idle and, if not, the busy components.
func (ic idleCheck) wait(ctx context.Context) (time.Duration, bool, string) {
	start := time.Now()
	if len(ic.procs) == 0 || ic.timeout <= 0 {
		return 0, true, ""
	}
	quiet := 0
	var busy []string
	for time.Since(start) < ic.timeout {
		before := ic.cpu()
		t0 := time.Now()
		select {
		case <-ctx.Done():
			return time.Since(start), false, "interrupted"
		case <-time.After(ic.window):
		}
		after := ic.cpu()
		delta := map[string]float64{}
		for c, v := range after {
			delta[c] = v - before[c]
		}
		if busy = bench.BusyComponents(delta, time.Since(t0).Seconds(), ic.maxCores); len(busy) == 0 {
			if quiet++; quiet == 2 {
				return time.Since(start), true, ""
			}
		} else {
			quiet = 0
		}
	}
	return time.Since(start), false, strings.Join(busy, ", ")
}

func (ic idleCheck) cpu() map[string]float64 {
	out := map[string]float64{}
	for c, p := range ic.procs {
		if v, err := p.cpuSeconds(); err == nil {
			out[c] = v
		}
	}
	return out
}

// waitIdle waits for the bed to go idle and logs the outcome.
func (ic idleCheck) waitIdle(ctx context.Context, before string) (time.Duration, bool) {
	waited, ok, busy := ic.wait(ctx)
	if ok {
		logf("bed idle after %.1f s (before %s)", waited.Seconds(), before)
	} else {
		logf("bed still busy after %.1f s (%s cores); %s starts anyway", waited.Seconds(), busy, before)
	}
	return waited, ok
}
