package pipeline

import (
	"context"
	"sync"
)

// progress tracks, per source physical channel, the end timestamp of the last
// time-tick pack whose operations the target acknowledged. An operation from
// the replicate channel with timestamp T may be applied once every channel it
// depends on has reached T: by then the target holds all the data the source
// had written before it (Milvus guarantees that after a tick T no message with
// a timestamp <= T appears on that channel).
type progress struct {
	mu       sync.Mutex
	applied  map[string]uint64
	latest   map[string]uint64 // end ts of the last pack read, applied or not
	changed  chan struct{}     // closed and replaced on every update
	stopping bool
}

func newProgress() *progress {
	return &progress{applied: map[string]uint64{}, latest: map[string]uint64{}, changed: make(chan struct{})}
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

// channelPosition is one channel's applied and latest seen timestamps.
type channelPosition struct {
	channel         string
	applied, latest uint64
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

// waitAll blocks until every named channel is tracked and has reached ts, or
// ctx ends. An empty list waits for nothing.
func (p *progress) waitAll(ctx context.Context, channels []string, ts uint64) error {
	for {
		p.mu.Lock()
		done := true
		for _, c := range channels {
			if at, ok := p.applied[c]; !ok || at < ts {
				done = false
				break
			}
		}
		changed := p.changed
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// barrier makes a drop wait for every shard of the collection. Milvus writes
// a DropCollection (or DropPartition) message into each physical channel the
// collection uses; the target may drop only after all of them arrived, since
// until then other channels may still deliver rows written before the drop.
// The channel worker that completes the set performs the drop, the others
// wait for it, so no channel checkpoints past a drop that is not yet applied
// and a restart replays the drop from every channel again.
type barrier struct {
	mu      sync.Mutex
	pending map[string]*dropWait // by drop key
}

type dropWait struct {
	arrived map[string]bool
	done    chan struct{}
	err     error
}

func newBarrier() *barrier { return &barrier{pending: map[string]*dropWait{}} }

// arrive registers channel's drop message for key. The caller whose arrival
// completes the set (len(channels) distinct channels) runs apply; every caller
// returns apply's result once it ran, or ctx's error.
func (b *barrier) arrive(ctx context.Context, key, channel string, channels []string, apply func() error) error {
	b.mu.Lock()
	w, ok := b.pending[key]
	if !ok {
		w = &dropWait{arrived: map[string]bool{}, done: make(chan struct{})}
		b.pending[key] = w
	}
	w.arrived[channel] = true
	complete := true
	for _, c := range channels {
		if !w.arrived[c] {
			complete = false
			break
		}
	}
	if complete {
		delete(b.pending, key)
	}
	b.mu.Unlock()

	if complete {
		w.err = apply()
		close(w.done)
		return w.err
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
