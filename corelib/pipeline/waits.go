package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// Liveness of waits. The pipeline waits for source channels in three places:
// a drop waits for every shard's drop message, an operation of the
// replicate channel waits for the data before it, a database drop waits for
// the drops of its collections. A wait must never stall silently: one that
// makes no progress for waitStallAfter shows in the status (state
// "stalled", what waits for which channel since when), the metrics and an
// alert; one that makes none for waitGiveUpAfter ends, the operation is
// applied anyway and the give-up is counted as a skip in scope.
var (
	waitStallAfter  = 60 * time.Second
	waitGiveUpAfter = 10 * time.Minute
	// retireAfter: a channel no live source collection uses stops ticking
	// (Milvus ticks only the channels collections use); once its worker has
	// read everything and waited this long, the channel can bring nothing
	// more a wait could need, and waits, the watermark, lag and synced no
	// longer count it.
	retireAfter = 3 * time.Second
)

// gaveUpReason is the skip reason of an operation applied after its wait
// gave up (one bounded label value).
const gaveUpReason = "operation applied without its channels reaching it (the wait gave up)"

// waits is the registry of what the pipeline waits for.
type waits struct {
	mu   sync.Mutex
	seq  int
	open map[int]*openWait
}

type openWait struct {
	what         string
	ts           uint64
	missing      []string
	applied      map[string]uint64 // of the missing channels, to see progress
	since        time.Time
	lastProgress time.Time
}

func newWaits() *waits { return &waits{open: map[int]*openWait{}} }

func (ws *waits) add(what string, ts uint64, now time.Time) int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.seq++
	ws.open[ws.seq] = &openWait{what: what, ts: ts, since: now, lastProgress: now, applied: map[string]uint64{}}
	return ws.seq
}

func (ws *waits) remove(id int) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	delete(ws.open, id)
}

// update records the channels a wait still misses and their positions; it
// returns for how long the wait has made no progress.
func (ws *waits) update(id int, missing []string, applied map[string]uint64, now time.Time) time.Duration {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w := ws.open[id]
	if w == nil {
		return 0
	}
	for _, ch := range missing {
		if applied[ch] > w.applied[ch] {
			w.lastProgress = now
		}
	}
	if len(missing) < len(w.missing) {
		w.lastProgress = now
	}
	w.missing, w.applied = missing, applied
	return now.Sub(w.lastProgress)
}

// stalled lists the waits that made no progress for waitStallAfter.
func (ws *waits) stalled(now time.Time) []corelib.WaitStatus {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	var out []corelib.WaitStatus
	for _, w := range ws.open {
		if now.Sub(w.lastProgress) < waitStallAfter || len(w.missing) == 0 {
			continue
		}
		ws := corelib.WaitStatus{What: w.what, Channels: slices.Clone(w.missing), Ts: w.ts, Since: w.since.UTC()}
		if w.ts != 0 {
			t := source.PhysicalTime(w.ts).UTC()
			ws.Until = &t
		}
		out = append(out, ws)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// stallDetail is the status sentence of stalled waits.
func stallDetail(stalled []corelib.WaitStatus) string {
	w := stalled[0]
	until := "its timestamp"
	if w.Until != nil {
		until = w.Until.Format(time.RFC3339Nano)
	}
	more := ""
	if len(stalled) > 1 {
		more = fmt.Sprintf(" (and %d more waits)", len(stalled)-1)
	}
	return fmt.Sprintf("stalled: %s waits for source channel %s to pass %s since %s%s",
		w.What, strings.Join(w.Channels, ", "), until, w.Since.Format(time.RFC3339), more)
}

// needless reports whether a wait may leave out a channel it has not seen
// reach its timestamp: a retired channel (tracked), or one this run never
// read (untracked) that no live collection uses. The last collection on
// such a channel was dropped before the run looked at it (right after the
// task was created): nothing will ever advance it here, no change a wait
// needs can come from it, and waiting for it would hold the channels
// waiting on the same drop, and every operation behind them, for ever.
func (r *run) needless(channel string, tracked bool, now time.Time) bool {
	if r.meta == nil {
		return false
	}
	if tracked {
		return r.retired(channel, now)
	}
	return !r.meta.channelInUse(channel)
}

// retired reports whether a channel can bring nothing more a wait needs: no
// live source collection uses it and its worker has read everything and
// waited retireAfter.
func (r *run) retired(channel string, now time.Time) bool {
	since, waiting := r.progress.waitingSince()[channel]
	return waiting && now.Sub(since) >= retireAfter && !r.meta.channelInUse(channel)
}

// missing lists the channels that have not reached ts and are not retired.
func (r *run) missing(channels []string, ts uint64, now time.Time) ([]string, map[string]uint64) {
	var out []string
	applied := map[string]uint64{}
	for _, ch := range channels {
		at, ok := r.progress.at(ch)
		applied[ch] = at
		if ok && at >= ts {
			continue
		}
		if r.needless(ch, ok, now) {
			continue
		}
		out = append(out, ch)
	}
	return out, applied
}

// waitChannels waits until every channel has applied up to ts (or is
// retired), under the liveness rule: stalled waits show, and after
// waitGiveUpAfter without progress the wait ends and is counted.
func (r *run) waitChannels(ctx context.Context, what string, channels []string, ts uint64) error {
	id := r.waits.add(what, ts, time.Now())
	defer r.waits.remove(id)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		changed := r.progress.changes()
		now := time.Now()
		missing, applied := r.missing(channels, ts, now)
		if len(missing) == 0 {
			return nil
		}
		if stuck := r.waits.update(id, missing, applied, now); stuck >= waitGiveUpAfter {
			r.giveUpWait(what, missing, stuck)
			return nil
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// giveUpWait logs and counts a wait that ended without its channels.
func (r *run) giveUpWait(what string, missing []string, stuck time.Duration) {
	r.log.Error("gave up waiting for source channels; applying the operation anyway",
		zap.String("operation", what), zap.Strings("channels", missing), zap.Duration("withoutProgress", stuck))
	r.health.skip(gaveUpReason, true)
}

// waitSynced waits until every channel has applied past ts or is retired,
// without the liveness rule (a sync question times out on its own).
func (r *run) waitSynced(ctx context.Context, ts uint64) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		changed := r.progress.changes()
		if missing, _ := r.missing(r.progress.channels(), ts, time.Now()); len(missing) == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
