package pipeline

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
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

// retry runs fn until it succeeds or ctx ends, backing off from 200 ms up to
// 30 s between attempts. Every failure is recorded in h and logged, so a
// target that stays down shows in the task status instead of stalling
// silently. It returns nil or ctx's error.
func retry(ctx context.Context, h *health, log *zap.Logger, stage, what string, fn func(context.Context) error) error {
	backoff := 200 * time.Millisecond
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
