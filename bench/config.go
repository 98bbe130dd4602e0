package bench

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadFlag means a benchmark flag has a value the program cannot use.
var ErrBadFlag = errors.New("bad flag")

// ParseList splits a comma-separated flag value, dropping empty items.
func ParseList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParsePositiveInts parses a comma-separated list of positive integers for the
// flag named flag.
func ParsePositiveInts(flag, s string) ([]int, error) {
	items := ParseList(s)
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: -%s is empty; give e.g. -%s 128,768", ErrBadFlag, flag, flag)
	}
	out := make([]int, 0, len(items))
	for _, it := range items {
		n, err := strconv.Atoi(it)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: -%s %q: %q is not a positive integer", ErrBadFlag, flag, s, it)
		}
		out = append(out, n)
	}
	return out, nil
}

// Writer modes: "api" replays through the target's public API; "replicate"
// forwards the source's messages to a target started with
// common.ttMsgEnabled=false (bed TARGET_MODE=replicate).
const (
	ModeAPI       = "api"
	ModeReplicate = "replicate"
)

// Expand returns every configuration of the cross product, grouped by MQ
// first and writer mode second (the bed is brought up once per MQ and mode:
// the target's mode is a start-up setting), in the order the lists give.
func Expand(mqs, modes []string, dims, batches []int, rows int) ([]Config, error) {
	if rows <= 0 {
		return nil, fmt.Errorf("%w: -rows %d: want a positive number of rows", ErrBadFlag, rows)
	}
	if len(mqs) == 0 || len(modes) == 0 || len(dims) == 0 || len(batches) == 0 {
		return nil, fmt.Errorf("%w: -mq, -modes, -dims and -batches each need at least one value", ErrBadFlag)
	}
	for _, mq := range mqs {
		if mq != "pulsar" && mq != "kafka" {
			return nil, fmt.Errorf("%w: -mq %q: want pulsar or kafka", ErrBadFlag, mq)
		}
	}
	for _, m := range modes {
		if m != ModeAPI && m != ModeReplicate {
			return nil, fmt.Errorf("%w: -modes %q: want api or replicate", ErrBadFlag, m)
		}
	}
	var out []Config
	for _, mq := range mqs {
		for _, m := range modes {
			for _, d := range dims {
				for _, b := range batches {
					out = append(out, Config{MQ: mq, Mode: m, Dim: d, Batch: b, Rows: rows})
				}
			}
		}
	}
	return out, nil
}
