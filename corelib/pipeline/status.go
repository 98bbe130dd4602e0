package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// Pipeline states as Status reports them.
const (
	stateRunning  = "running"
	stateRetrying = "retrying"
	stateStopped  = "stopped"
	// stateFailed: stopped on an error retrying cannot fix; resume retries.
	stateFailed = "failed"
	// stateStalled: an operation has waited for source channels without
	// progress for waitStallAfter (Status.Waiting says which), or a call to
	// the target has had no answer for slowCallAfter.
	stateStalled = "stalled"
)

// Channel kinds in the status.
const (
	channelKindData      = "data"
	channelKindReplicate = "replicate"
)

// ErrNoSourceClock is returned by Synced when the pipeline was built
// without a way to read the source's clock.
var ErrNoSourceClock = errors.New("the pipeline has no source clock to compare with")

var _ corelib.SyncChecker = (*Pipeline)(nil)

// statusAt builds the status as of now. Lag is computed here, from the
// applied positions (which start at the stored checkpoints), so it is right
// on the first poll after a restart and keeps growing while nothing is
// applied; while the source is idle its time ticks keep being applied and
// the lag stays at the tick interval.
func (p *Pipeline) statusAt(now time.Time) corelib.Status {
	p.mu.Lock()
	running, stage, r, h, snap := p.cancel != nil, p.stage, p.r, p.health, p.snap
	saved := make(map[string]corelib.Checkpoint, len(p.saved))
	for k, v := range p.saved {
		saved[k] = v
	}
	p.mu.Unlock()

	st := corelib.Status{Detail: stage, State: stateRunning}
	if !running {
		st.Detail, st.State = "stopped", stateStopped
	}
	if h != nil {
		h.describe(&st, running, now)
	}
	var (
		pos []channelPosition
		rp  replicatePosition
	)
	if r != nil {
		pos = r.positions(now)
		rp = r.progress.replicatePosition(now)
	} else {
		pos = checkpointPositions(saved, p.src.ReplicateChannel())
	}
	st.Phase = phaseOf(running, stage, snap)
	if snap != nil {
		st.Snapshot = snap.status(now)
	}
	st.Channels = channelStatuses(pos, rp, saved, p.src.ReplicateChannel(), now)
	st.LagSeconds = maxLag(st.Channels)
	if r == nil {
		return st
	}
	if stalled := r.waits.stalled(now); len(stalled) > 0 && running && st.State == stateRunning {
		st.State, st.Detail, st.Waiting = stateStalled, stallDetail(stalled), stalled
	}
	if h != nil && running && st.State == stateRunning {
		if slow := h.calls.slowCallDetail(now); slow != "" {
			st.State, st.Detail = stateStalled, slow
		}
	}
	// Replicating means rows can flow right now: not while some work is
	// being retried, a channel has gone silent, an operation is stalled or
	// the target does not answer.
	st.Replicating = running && stage == "replicating" && st.State == stateRunning
	st.Collections = r.colls.statuses()
	return st
}

// Phases of a pipeline run as the status names them.
const (
	phaseBootstrap = "bootstrap"
	phaseSnapshot  = "snapshot"
	phaseFollowing = "following"
)

// phaseOf says which phase a run is in.
func phaseOf(running bool, stage string, snap *snapshotter) string {
	switch {
	case !running:
		return ""
	case stage == "replicating":
		return phaseFollowing
	case snap != nil && !snap.isDone():
		return phaseSnapshot
	}
	return phaseBootstrap
}

// describe fills in what health knows: the last error (and whether it was
// resolved since), retries, silent channels, skips, and the state they make.
func (h *health) describe(st *corelib.Status, running bool, now time.Time) {
	st.Skipped = h.skips()
	h.mu.Lock()
	defer h.mu.Unlock()
	st.LastError, st.Retries = h.lastErr, h.retries
	if h.lastErr != "" {
		st.Error = &corelib.StatusError{Time: h.lastAt, Stage: h.lastStage, Message: h.lastErr}
		if !h.resolvedAt.IsZero() {
			resolved := h.resolvedAt
			st.Error.ResolvedAt = &resolved
		}
	}
	if h.retrying && running {
		st.State = stateRetrying
		st.Detail = fmt.Sprintf("retrying (%d retries so far) after %s failure", h.retries, withArticle(h.lastStage))
	}
	if len(h.silent) > 0 && running {
		st.State = stateRetrying
		st.Detail = "waiting for the source: " + silenceDetail(h.silent, now)
	}
	if h.failedFor != "" {
		st.State = stateFailed
		st.Detail = "failed on an error retrying cannot fix (" + h.failedFor + "); resume the task to try again"
	}
}

// silenceDetail names the silent channels and for how long, oldest first.
func silenceDetail(silent map[string]time.Time, now time.Time) string {
	chs := make([]string, 0, len(silent))
	for ch := range silent {
		chs = append(chs, ch)
	}
	sort.Slice(chs, func(i, j int) bool { return silent[chs[i]].Before(silent[chs[j]]) })
	parts := make([]string, len(chs))
	for i, ch := range chs {
		parts[i] = fmt.Sprintf("%s for %s", ch, now.Sub(silent[ch]).Round(time.Second))
	}
	return "nothing was delivered on source channel " + strings.Join(parts, ", ") + " (its message queue may be unreachable, or the source stopped)"
}

// withArticle is "an apply", "a read".
func withArticle(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

// channelStatuses merges the in-memory positions of the data channels and
// of the replicate channel with the stored checkpoints.
func channelStatuses(pos []channelPosition, rp replicatePosition, saved map[string]corelib.Checkpoint, replicate string, now time.Time) []corelib.ChannelStatus {
	out := make([]corelib.ChannelStatus, 0, len(pos)+1)
	for _, cp := range pos {
		cs := corelib.ChannelStatus{
			Channel: cp.channel, Kind: channelKindData,
			CheckpointTs: saved[cp.channel].Timestamp, CheckpointTime: wallTime(saved[cp.channel].Timestamp),
			AppliedTs: cp.applied, AppliedTime: wallTime(cp.applied),
			LatestTs: cp.latest, LatestTime: wallTime(cp.latest),
			CaughtUp: cp.retired || (cp.latest != 0 && cp.applied >= cp.latest),
		}
		// A retired channel is frozen at its last tick: its age is no lag.
		if cp.applied != 0 && !cp.retired {
			lag := max(now.Sub(source.PhysicalTime(cp.applied)).Seconds(), 0)
			cs.LagSeconds = &lag
		}
		out = append(out, cs)
	}
	if cs, ok := replicateStatus(rp, saved, replicate); ok {
		out = append(out, cs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Channel < out[j].Channel })
	return out
}

// replicateStatus is the replicate channel's entry: its checkpoint, and once
// its worker runs, what it read and applied and its lag (zero while caught
// up: the channel has no time ticks, an idle one is silent).
func replicateStatus(rp replicatePosition, saved map[string]corelib.Checkpoint, replicate string) (corelib.ChannelStatus, bool) {
	cp, stored := saved[replicate]
	if !stored && !rp.tracked {
		return corelib.ChannelStatus{}, false
	}
	cs := corelib.ChannelStatus{Channel: replicate, Kind: channelKindReplicate,
		CheckpointTs: cp.Timestamp, CheckpointTime: wallTime(cp.Timestamp)}
	if rp.tracked {
		cs.AppliedTs, cs.AppliedTime = rp.applied, wallTime(rp.applied)
		cs.LatestTs, cs.LatestTime = rp.latest, wallTime(rp.latest)
		cs.CaughtUp = rp.caughtUp
		lag := rp.lag
		cs.LagSeconds = &lag
	}
	return cs, true
}

// checkpointPositions stands in for the applied positions until the
// channel workers start: each data channel is where its checkpoint is.
func checkpointPositions(saved map[string]corelib.Checkpoint, replicate string) []channelPosition {
	out := make([]channelPosition, 0, len(saved))
	for ch, cp := range saved {
		if ch != replicate {
			out = append(out, channelPosition{channel: ch, applied: cp.Timestamp})
		}
	}
	return out
}

// maxLag is the largest known lag of the channels; nil when none is known.
// The replicate channel counts only once its worker runs (its lag is then
// zero unless an operation waits or its reader fails).
func maxLag(chs []corelib.ChannelStatus) *float64 {
	var worst *float64
	for _, c := range chs {
		if c.LagSeconds != nil && (worst == nil || *c.LagSeconds > *worst) {
			v := *c.LagSeconds
			worst = &v
		}
	}
	return worst
}

// wallTime converts a hybrid timestamp to its physical time; nil for 0.
func wallTime(ts uint64) *time.Time {
	if ts == 0 {
		return nil
	}
	t := source.PhysicalTime(ts).UTC()
	return &t
}

// Synced reports whether every data channel has been applied up to the
// source's clock read at the call. Milvus hands out no timestamp at or below
// that clock, so once every channel's applied time tick passes it the target
// holds every write the source acknowledged before the call. The clock runs
// up to Milvus's TSO save interval (3 s by default) ahead of real time, so
// Synced waits, until ctx's deadline, for the channels to pass it; without
// a deadline it answers at once (and can only answer true when the source
// clock was not ahead).
func (p *Pipeline) Synced(ctx context.Context) (corelib.SyncReport, error) {
	if p.clock == nil {
		return corelib.SyncReport{}, ErrNoSourceClock
	}
	now, err := p.clock(ctx)
	if err != nil {
		return corelib.SyncReport{}, fmt.Errorf("read the source clock: %w", err)
	}
	nowTs := source.ComposeTSByTime(now)
	p.mu.Lock()
	r := p.r
	p.mu.Unlock()
	if r != nil {
		if _, ok := ctx.Deadline(); ok {
			// A timeout only means "not synced yet"; the report says so.
			if r.waitSynced(ctx, nowTs) == nil {
				_ = r.progress.waitReplicateIdle(ctx)
			}
		}
	}
	p.mu.Lock()
	running, stage := p.cancel != nil, p.stage
	p.mu.Unlock()
	var (
		pos []channelPosition
		rs  *replicateSync
	)
	if r != nil {
		pos = r.positions(time.Now())
		rp := r.progress.replicatePosition(time.Now())
		if rp.tracked {
			rs = &replicateSync{channel: p.src.ReplicateChannel(), applied: rp.applied, idle: r.progress.replicateIdle()}
		}
	}
	rep := syncReport(nowTs, now, running, stage, pos, rs)
	if r != nil {
		withSkips(&rep, r.health.skips())
	}
	return rep, nil
}

// withSkips adds what the pipeline skipped to a sync report: a skip in
// scope means the target may differ from the source, so it is not synced.
func withSkips(rep *corelib.SyncReport, skips []corelib.SkipCount) {
	rep.Skipped = skips
	var inScope []string
	for _, s := range skips {
		if s.InScope {
			inScope = append(inScope, fmt.Sprintf("%s (%d)", s.Reason, s.Count))
		}
	}
	if len(inScope) > 0 && rep.Synced {
		rep.Synced = false
		rep.Reason = "the pipeline skipped what the task replicates, so the target may differ from the source: " + strings.Join(inScope, ", ")
	}
}

// replicateSync is the replicate channel's part of a sync report. The
// channel has no time ticks, so it cannot be compared with the source clock:
// it counts as synced when no operation read from it waits to be applied
// and its reader works. The check follows the data channels' (which take
// the seconds the source clock runs ahead to pass it), by which time an
// operation the source wrote before the call has reached the reader.
type replicateSync struct {
	channel string
	applied uint64
	idle    bool
}

// syncReport compares each data channel's applied timestamp with nowTs.
func syncReport(nowTs uint64, now time.Time, running bool, stage string, pos []channelPosition, rs *replicateSync) corelib.SyncReport {
	rep := corelib.SyncReport{SourceNowTs: nowTs, SourceNow: now.UTC(), Channels: make([]corelib.ChannelSync, 0, len(pos))}
	sort.Slice(pos, func(i, j int) bool { return pos[i].channel < pos[j].channel })
	behind := 0
	for _, cp := range pos {
		ok := cp.applied >= nowTs || cp.retired
		if !ok {
			behind++
		}
		rep.Channels = append(rep.Channels, corelib.ChannelSync{Channel: cp.channel, AppliedTs: cp.applied, AppliedTime: wallTime(cp.applied), Synced: ok})
	}
	if rs != nil {
		rep.Channels = append(rep.Channels, corelib.ChannelSync{Channel: rs.channel, AppliedTs: rs.applied, AppliedTime: wallTime(rs.applied), Synced: rs.idle})
	}
	switch {
	case !running:
		rep.Reason = "the pipeline is not running"
	case stage != "replicating":
		rep.Reason = "the pipeline is not replicating yet: " + stage
	case behind > 0:
		rep.Reason = fmt.Sprintf("%d of %d data channels have not applied the source's writes up to %s yet", behind, len(pos), now.UTC().Format(time.RFC3339Nano))
	case rs != nil && !rs.idle:
		rep.Reason = "an operation read from the replicate channel " + rs.channel + " is not applied yet, or its reader is failing"
	default:
		rep.Synced = true
	}
	return rep
}
