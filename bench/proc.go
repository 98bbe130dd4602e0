package bench

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ClockTicksPerSecond is USER_HZ, the unit of utime/stime in /proc/PID/stat.
// It is 100 on every Linux architecture Go supports; reading it with
// sysconf(_SC_CLK_TCK) would need cgo, which the module never uses.
const ClockTicksPerSecond = 100

// ErrProcFormat means a /proc file did not have the expected layout.
var ErrProcFormat = errors.New("unexpected /proc format")

// ParseCPUSeconds returns utime+stime of a /proc/PID/stat line in seconds.
// The command name (field 2) is in parentheses and may itself hold spaces and
// parentheses, so fields are counted from the last ')'.
func ParseCPUSeconds(stat string) (float64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("%w: stat has no ')' after the command name", ErrProcFormat)
	}
	// After ')': field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after the command name, want at least 13", ErrProcFormat, len(fields))
	}
	utime, err := strconv.ParseUint(fields[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: utime %q: %v", ErrProcFormat, fields[11], err)
	}
	stime, err := strconv.ParseUint(fields[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: stime %q: %v", ErrProcFormat, fields[12], err)
	}
	return float64(utime+stime) / ClockTicksPerSecond, nil
}

// ParseStatusKiB returns the value in KiB of a "Key:   N kB" line of
// /proc/PID/status, e.g. key "VmHWM" (peak resident set size).
func ParseStatusKiB(status, key string) (uint64, error) {
	for _, line := range strings.Split(status, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != key {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%w: %s line %q, want \"N kB\"", ErrProcFormat, key, line)
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s value %q: %v", ErrProcFormat, key, f[0], err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: no %s line in status", ErrProcFormat, key)
}

// applyMetric is the daemon's histogram of target calls
// (corelib/pipeline: milvus_cdc_daemon_pipeline_apply_duration_seconds).
const applyMetric = "milvus_cdc_daemon_pipeline_apply_duration_seconds"

// ParseTargetCalls sums, over every task and operation, the seconds spent in
// target calls and their number from a Prometheus text exposition.
func ParseTargetCalls(exposition string) (seconds float64, calls float64, err error) {
	for _, line := range strings.Split(exposition, "\n") {
		var dst *float64
		switch {
		case strings.HasPrefix(line, applyMetric+"_sum{"), strings.HasPrefix(line, applyMetric+"_sum "):
			dst = &seconds
		case strings.HasPrefix(line, applyMetric+"_count{"), strings.HasPrefix(line, applyMetric+"_count "):
			dst = &calls
		default:
			continue
		}
		f := strings.Fields(line)
		v, perr := strconv.ParseFloat(f[len(f)-1], 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("metric line %q: %w", line, perr)
		}
		*dst += v
	}
	return seconds, calls, nil
}

// ParseStartTime returns field 22 of a /proc/PID/stat line (the start time
// in clock ticks since boot). The test bed records it next to each PID, so a
// PID the kernel reused for another process is recognised.
func ParseStartTime(stat string) (string, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return "", fmt.Errorf("%w: stat has no ')' after the command name", ErrProcFormat)
	}
	// Field 3 (state) is index 0 after ')', so field 22 is index 19.
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 20 {
		return "", fmt.Errorf("%w: stat has %d fields after the command name, want at least 20", ErrProcFormat, len(fields))
	}
	return fields[19], nil
}

// Window aggregates samples of one quantity (e.g. VmRSS in MiB) over a
// measurement window.
type Window struct {
	N   int
	Sum float64
	Max float64
}

// Add records one sample.
func (w *Window) Add(v float64) {
	if w.N == 0 || v > w.Max {
		w.Max = v
	}
	w.N++
	w.Sum += v
}

// Mean is the average sample; 0 without samples.
func (w Window) Mean() float64 {
	if w.N == 0 {
		return 0
	}
	return w.Sum / float64(w.N)
}

// BusyComponents returns, sorted by name, the components whose CPU seconds
// over wall seconds exceed maxCores, formatted "name 0.42": the ones that
// keep the bed from being idle. cpu maps a component to its CPU seconds in
// the window.
func BusyComponents(cpu map[string]float64, wallSeconds, maxCores float64) []string {
	if wallSeconds <= 0 {
		return nil
	}
	var out []string
	for name, s := range cpu {
		if cores := s / wallSeconds; cores > maxCores {
			out = append(out, fmt.Sprintf("%s %.2f", name, cores))
		}
	}
	sort.Strings(out)
	return out
}
