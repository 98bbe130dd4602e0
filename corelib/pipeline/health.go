package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
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
	mu        sync.Mutex
	lastErr   string
	lastStage string
	lastAt    time.Time
	retries   int64
	retrying  bool
	skipped   map[string]int64 // unsupported message types skipped, by type
	metrics   taskMetrics      // set before the pipeline's workers start
	failedFor string           // set once retry gave up on a permanent error: the error
}

func newHealth() *health { return &health{skipped: map[string]int64{}} }

func (h *health) failed(stage string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr, h.lastStage, h.lastAt = err.Error(), stage, time.Now()
	h.retries++
	h.retrying = true
	h.metrics.failed(stage)
}

func (h *health) recovered() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retrying = false
}

func (h *health) skip(kind string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.skipped[kind]++
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
