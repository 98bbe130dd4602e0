package pipeline

import (
	"fmt"
	"sync"
	"time"
)

// slowCallAfter is how long a call to the target may go unanswered before
// the status stops saying "replicating": a target that neither answers nor
// refuses (a frozen process, a request queued in its proxy behind a stuck
// one) would otherwise look like a quiet moment until callTimeout.
var slowCallAfter = 10 * time.Second // a variable for tests

// inFlight tracks the calls to the target that have not answered yet.
type inFlight struct {
	mu    sync.Mutex
	next  uint64
	calls map[uint64]flightCall
}

type flightCall struct {
	op    string
	since time.Time
}

// begin records a call made at now; the returned function records its end.
func (f *inFlight) begin(op string, now time.Time) (end func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[uint64]flightCall{}
	}
	f.next++
	id := f.next
	f.calls[id] = flightCall{op: op, since: now}
	return func() {
		f.mu.Lock()
		delete(f.calls, id)
		f.mu.Unlock()
	}
}

// oldest is the call that has waited longest, if any is in flight.
func (f *inFlight) oldest() (flightCall, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out flightCall
	found := false
	for _, c := range f.calls {
		if !found || c.since.Before(out.since) {
			out, found = c, true
		}
	}
	return out, found
}

// slowCallDetail says which call has gone unanswered for slowCallAfter, or
// "" while every call in flight is younger.
func (f *inFlight) slowCallDetail(now time.Time) string {
	c, ok := f.oldest()
	if !ok || now.Sub(c.since) < slowCallAfter {
		return ""
	}
	return fmt.Sprintf("waiting on the target: %s has had no answer for %s (the call is cancelled and retried after %s)",
		c.op, now.Sub(c.since).Round(time.Second), callTimeout)
}

// unansweredFor is how long the oldest call to the target in flight has
// waited, 0 when none is.
func (p *Pipeline) unansweredFor(now time.Time) time.Duration {
	p.mu.Lock()
	h := p.health
	p.mu.Unlock()
	if h == nil {
		return 0
	}
	if c, ok := h.calls.oldest(); ok {
		return now.Sub(c.since)
	}
	return 0
}
