package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// progress tracks, per source physical channel, the end timestamp of the last
// time-tick pack whose operations the target acknowledged. An operation from
// the replicate channel with timestamp T may be applied once every channel it
// depends on has reached T: by then the target holds all the data the source
// had written before it (Milvus guarantees that after a tick T no message with
// a timestamp <= T appears on that channel).
type progress struct {
	mu      sync.Mutex
	applied map[string]uint64
	latest  map[string]uint64    // end ts of the last pack read, applied or not
	changed chan struct{}        // closed and replaced on every update
	waiting map[string]time.Time // channels whose worker waits for the next pack, since when
	// replicate has its own lock; it takes mu only to notify waiters.
	replicate replicateProgress
}

func newProgress() *progress {
	return &progress{applied: map[string]uint64{}, latest: map[string]uint64{}, waiting: map[string]time.Time{}, changed: make(chan struct{})}
}

// track starts following a channel; until its first pack it counts as being
// at ts (a checkpoint, or 0 for a channel read from its end).
func (p *progress) track(channel string, ts uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.applied[channel]; !ok {
		p.applied[channel] = ts
		p.notifyLocked()
	}
}

// advance records that a channel's operations up to ts are on the target.
func (p *progress) advance(channel string, ts uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ts > p.applied[channel] {
		p.applied[channel] = ts
		p.notifyLocked()
	}
}

// seen records the end timestamp of a pack read from the source, before it
// is applied: the newest position the source is known to have reached.
func (p *progress) seen(channel string, ts uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ts > p.latest[channel] {
		p.latest[channel] = ts
	}
}

// waitStart records that a channel's worker waits for the source's next
// pack; waitEnd that it got one (or stopped waiting).
func (p *progress) waitStart(channel string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waiting[channel] = at
}

func (p *progress) waitEnd(channel string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.waiting, channel)
}

// waitingSince returns, per channel whose worker waits for a pack, since when.
func (p *progress) waitingSince() map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]time.Time, len(p.waiting))
	for ch, t := range p.waiting {
		out[ch] = t
	}
	return out
}

// channelPosition is one channel's applied and latest seen timestamps.
type channelPosition struct {
	channel         string
	applied, latest uint64
	retired         bool // no live collection uses it and it has read everything (run.retired)
}

// positions returns every tracked channel's positions.
func (p *progress) positions() []channelPosition {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]channelPosition, 0, len(p.applied))
	for c, ts := range p.applied {
		out = append(out, channelPosition{channel: c, applied: ts, latest: p.latest[c]})
	}
	return out
}

func (p *progress) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// changes returns a channel closed at the next update of any position.
func (p *progress) changes() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// at returns the applied timestamp of a channel and whether it is tracked.
func (p *progress) at(channel string) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts, ok := p.applied[channel]
	return ts, ok
}

// channels returns the tracked channels.
func (p *progress) channels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.applied))
	for c := range p.applied {
		out = append(out, c)
	}
	return out
}

// barrier makes a drop wait for every shard of the collection. Milvus writes
// a DropCollection (or DropPartition) message, with one timestamp, into each
// physical channel the collection uses; the target may drop only after all of
// them arrived, since until then other channels may still deliver rows
// written before the drop. The channel worker that completes the set performs
// the drop, the others wait for it, so no channel checkpoints past a drop that
// is not yet applied and a restart replays the drop from every channel again.
//
// A channel also counts as arrived once it has applied past the drop's
// timestamp without delivering the message: its reader started after the
// message (a task created between the drop's writes to two channels), and no
// message with that timestamp can follow a later time tick. Without this rule
// the drop would wait for that channel forever.
type barrier struct {
	progress *progress
	// needless, waits and giveUp come from the run (nil in tests of the
	// barrier alone: every channel is needed, nothing is registered).
	needless func(channel string, tracked bool, now time.Time) bool
	waits    *waits
	giveUp   func(what string, missing []string, stuck time.Duration)

	mu      sync.Mutex
	pending map[string]*dropWait // by drop key
}

type dropWait struct {
	arrived map[string]bool
	claimed bool // a caller runs apply; the others wait for done
	done    chan struct{}
	err     error
	waitID  int // in waits, while the set is incomplete
}

func newBarrier(p *progress) *barrier {
	return &barrier{progress: p, pending: map[string]*dropWait{}}
}

// arrive registers channel's drop message (timestamp ts; 0 if unknown) for
// key (what names it for the status). The caller who finds the set complete
// (every one of channels arrived, retired, or, for ts > 0, applied past ts)
// runs apply; every caller returns apply's result once it ran, or ctx's
// error. A set that stays incomplete without progress for waitGiveUpAfter is
// applied anyway (the give-up is counted).
func (b *barrier) arrive(ctx context.Context, key, what, channel string, channels []string, ts uint64, apply func() error) error {
	b.mu.Lock()
	w, ok := b.pending[key]
	if !ok {
		w = &dropWait{arrived: map[string]bool{}, done: make(chan struct{})}
		if b.waits != nil {
			w.waitID = b.waits.add(what, ts, time.Now())
		}
		b.pending[key] = w
	}
	w.arrived[channel] = true
	b.mu.Unlock()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		// Take the change signal before looking, so an advance between the
		// look and the wait still wakes us.
		changed := b.progress.changes()
		now := time.Now()
		b.mu.Lock()
		missing, applied := b.missingLocked(w, channels, ts, now)
		run := !w.claimed && len(missing) == 0
		if !run && !w.claimed && b.waits != nil {
			if stuck := b.waits.update(w.waitID, missing, applied, now); stuck >= waitGiveUpAfter {
				b.giveUp(what, missing, stuck)
				run = true
			}
		}
		if run {
			w.claimed = true
			delete(b.pending, key)
			if b.waits != nil {
				b.waits.remove(w.waitID)
			}
		}
		b.mu.Unlock()
		if run {
			w.err = apply()
			close(w.done)
			return w.err
		}
		select {
		case <-w.done:
			return w.err
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// missingLocked lists the channels whose drop message the set still needs.
func (b *barrier) missingLocked(w *dropWait, channels []string, ts uint64, now time.Time) ([]string, map[string]uint64) {
	var missing []string
	applied := map[string]uint64{}
	for _, c := range channels {
		at, ok := b.progress.at(c)
		applied[c] = at
		switch {
		case w.arrived[c]:
		case ts > 0 && ok && at >= ts:
		case b.needless != nil && b.needless(c, ok, now):
		default:
			missing = append(missing, c)
		}
	}
	return missing, applied
}

// replicateProgress follows the replicate channel, which has no time ticks:
// an idle channel is silent, so its lag cannot come from the age of the
// last applied operation. It is caught up while its reader waits for the
// next operation with nothing pending; behind while an operation read is
// not applied yet (by that operation's age) or while the reader fails (since
// the failure began).
type replicateProgress struct {
	mu          sync.Mutex
	tracked     bool
	applied     uint64    // ts of the last operation the target acknowledged
	latest      uint64    // ts of the last operation read
	pending     bool      // latest is read and not applied yet
	failedSince time.Time // zero while the reader works
}

// replicateTrack starts following the replicate channel at its checkpoint.
func (p *progress) replicateTrack(ts uint64) {
	r := &p.replicate
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tracked, r.applied, r.latest = true, ts, ts
}

// replicateRead records an operation read from the channel, not applied yet.
func (p *progress) replicateRead(ts uint64) {
	r := &p.replicate
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latest, r.pending, r.failedSince = ts, true, time.Time{}
}

// replicateApplied records that the operation last read is on the target.
func (p *progress) replicateApplied(ts uint64) {
	r := &p.replicate
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = false
	if ts > r.applied {
		r.applied = ts
	}
	p.mu.Lock()
	p.notifyLocked()
	p.mu.Unlock()
}

// replicateFailed records a reader failure; the first one of a run of
// failures starts the lag clock.
func (p *progress) replicateFailed(now time.Time) {
	r := &p.replicate
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failedSince.IsZero() {
		r.failedSince = now
	}
}

// replicateRecovered records that the reader works again.
func (p *progress) replicateRecovered() {
	r := &p.replicate
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failedSince = time.Time{}
	p.mu.Lock()
	p.notifyLocked()
	p.mu.Unlock()
}

// replicatePosition is the replicate channel's state for the status.
type replicatePosition struct {
	tracked         bool
	applied, latest uint64
	caughtUp        bool
	lag             float64
}

func (p *progress) replicatePosition(now time.Time) replicatePosition {
	r := &p.replicate
	r.mu.Lock()
	defer r.mu.Unlock()
	out := replicatePosition{tracked: r.tracked, applied: r.applied, latest: r.latest}
	switch {
	case !r.failedSince.IsZero():
		out.lag = now.Sub(r.failedSince).Seconds()
	case r.pending:
		out.lag = now.Sub(source.PhysicalTime(r.latest)).Seconds()
	default:
		out.caughtUp = true
	}
	out.lag = max(out.lag, 0)
	return out
}

// replicateIdle reports whether the replicate channel has nothing pending
// and a working reader.
func (p *progress) replicateIdle() bool {
	r := &p.replicate
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.pending && r.failedSince.IsZero()
}

// waitReplicateIdle blocks until the replicate channel has nothing pending
// and a working reader, or ctx ends.
func (p *progress) waitReplicateIdle(ctx context.Context) error {
	for {
		p.mu.Lock()
		changed := p.changed
		p.mu.Unlock()
		if p.replicateIdle() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
