package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/stream"
)

// Stage names where an error happened, for status and metrics.
const (
	stageRead   = "read"
	stageDecode = "decode"
	stageApply  = "apply"
	stageSave   = "checkpoint"
)

// health records the last failure and how often work had to be retried, so
// the task status tells the operator what is wrong while the pipeline keeps
// retrying instead of stopping.
type health struct {
	mu         sync.Mutex
	lastErr    string
	lastStage  string
	lastAt     time.Time
	resolvedAt time.Time // when the work that failed last succeeded again; zero while it fails
	retries    int64
	retrying   bool
	skipped    map[string]*skipCount // messages and operations skipped, by reason
	silent     map[string]time.Time  // source channels that delivered nothing for too long, since when
	metrics    taskMetrics           // set before the pipeline's workers start
	failedFor  string                // set once retry gave up on a permanent error: the error
	calls      inFlight              // calls to the target not answered yet
}

// skipCount counts one reason of skipping. inScope: what was skipped belongs
// to (or may belong to) what the task replicates, so the target may differ
// from the source.
type skipCount struct {
	n       int64
	inScope bool
}

func newHealth() *health {
	return &health{skipped: map[string]*skipCount{}, silent: map[string]time.Time{}}
}

func (h *health) failed(stage string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr, h.lastStage, h.lastAt, h.resolvedAt = err.Error(), stage, time.Now(), time.Time{}
	h.retries++
	h.retrying = true
	h.metrics.failed(stage)
}

func (h *health) recovered() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.retrying && h.resolvedAt.IsZero() {
		h.resolvedAt = time.Now()
	}
	h.retrying = false
}

// skip counts a message or operation the pipeline did not replay.
func (h *health) skip(reason string, inScope bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.skipped[reason]
	if c == nil {
		c = &skipCount{}
		h.skipped[reason] = c
	}
	c.n++
	c.inScope = c.inScope || inScope
	h.metrics.skipped(reason)
}

// readerSkip counts a message a channel reader skipped. An unsupported
// message type may carry changes of collections in scope (an Import, for
// one); undecodable bytes and a replicator's own messages do not.
func (h *health) readerSkip(s stream.Skip) {
	h.skip(s.Reason(), s.Kind == stream.SkipUnsupported)
}

// skips lists the skip counts by reason.
func (h *health) skips() []corelib.SkipCount {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]corelib.SkipCount, 0, len(h.skipped))
	for reason, c := range h.skipped {
		out = append(out, corelib.SkipCount{Reason: reason, Count: c.n, InScope: c.inScope})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out
}

// silence records that a source channel has delivered nothing since since
// although it should tick; it counts as a read failure once per episode.
func (h *health) silence(channel string, since time.Time, after time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, known := h.silent[channel]; known {
		return
	}
	// Recorded with the failure under one lock: a status never shows the
	// silence without its error.
	h.silent[channel] = since
	h.lastErr = fmt.Sprintf("source channel %s delivered nothing for %s: its message queue may be unreachable, or the source stopped", channel, after)
	h.lastStage, h.lastAt, h.resolvedAt = stageRead, time.Now(), time.Time{}
	h.retries++
	h.retrying = true
	h.metrics.failed(stageRead)
}

// heard records that a channel delivers again.
func (h *health) heard(channel string) {
	h.mu.Lock()
	_, was := h.silent[channel]
	delete(h.silent, channel)
	quiet := len(h.silent) == 0
	h.mu.Unlock()
	if was && quiet {
		h.recovered()
	}
}

// A target refusal the sink classifies as not retryable (a schema or data
// the target rejects, credentials refused) is permanent once it has failed
// permanentAttempts times in a row over at least permanentAfter: a refusal
// caused by a passing race (an object another worker is still creating)
// clears up within that, one retrying cannot fix does not.
var (
	permanentAttempts = 5
	permanentAfter    = 10 * time.Second // a variable for tests
)

// givePermanent records that the pipeline stops on err and returns the
// error the run ends with.
func (h *health) givePermanent(stage string, err error) error {
	h.mu.Lock()
	if h.failedFor == "" {
		h.failedFor = fmt.Sprintf("%s: %v", stage, err)
	}
	h.mu.Unlock()
	return fmt.Errorf("%w: %s stage: %w", corelib.ErrPermanent, stage, err)
}

// retry runs fn until it succeeds or ctx ends, backing off from 200 ms up to
// 30 s between attempts. Every failure is recorded in h and logged, so a
// target that stays down shows in the task status instead of stalling
// silently. A permanent refusal (sink.IsPermanent, persisting) gives up:
// retry returns an error wrapping corelib.ErrPermanent, which ends the run
// with the task Failed. Otherwise it returns nil or ctx's error.
func retry(ctx context.Context, h *health, log *zap.Logger, stage, what string, fn func(context.Context) error) error {
	backoff := 200 * time.Millisecond
	permanentRun, permanentSince := 0, time.Time{}
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 {
				h.recovered()
				log.Info("recovered", zap.String("stage", stage), zap.String("op", what), zap.Int("attempts", attempt))
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.failed(stage, err)
		if errors.Is(err, corelib.ErrNotOwner) {
			log.Error("this daemon no longer owns the task; stopping without retrying", zap.String("stage", stage), zap.String("op", what), zap.Error(err))
			return err
		}
		if sink.IsPermanent(err) {
			if permanentRun == 0 {
				permanentSince = time.Now()
			}
			permanentRun++
			if permanentRun >= permanentAttempts && time.Since(permanentSince) >= permanentAfter {
				log.Error("giving up: the error persists and retrying cannot fix it", zap.String("stage", stage), zap.String("op", what),
					zap.Int("attempts", attempt), zap.Error(err))
				return h.givePermanent(stage, err)
			}
		} else {
			permanentRun = 0
		}
		h.metrics.retried(stage)
		log.Warn("operation failed, retrying", zap.String("stage", stage), zap.String("op", what),
			zap.Int("attempt", attempt), zap.Duration("backoff", backoff), zap.Error(err))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}
