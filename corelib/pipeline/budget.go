package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// budgetMaxWait bounds how long a channel waits for room in the budget
// before it goes over it. The budget is soft on purpose: a pack held by a
// channel that waits for another one (a drop barrier) must never starve the
// channel it waits for, so no wait is unbounded.
const budgetMaxWait = 5 * time.Second

// Budget bounds the payload bytes that the pipelines of a daemon hold in
// memory at once: every channel worker takes room for a pack before it
// applies it and gives it back once the target acknowledged it. A worker
// that waits for room reads nothing more, so its message-queue reader stops
// fetching: backpressure on the source instead of a growing heap. A nil
// *Budget bounds nothing.
type Budget struct {
	capacity int64
	maxWait  time.Duration

	mu    sync.Mutex
	used  int64
	freed chan struct{} // closed (and replaced) whenever room is given back

	usedG     prometheus.Gauge
	waits     prometheus.Counter
	overruns  prometheus.Counter
	capacityG prometheus.Gauge
}

// NewBudget returns a budget of capacity bytes whose metrics are registered
// on reg (nil: none).
func NewBudget(capacity int64, reg prometheus.Registerer) (*Budget, error) {
	name := func(n string) string { return prometheus.BuildFQName(MetricsNamespace, MetricsSubsystem, n) }
	b := &Budget{
		capacity: capacity, maxWait: budgetMaxWait, freed: make(chan struct{}),
		capacityG: prometheus.NewGauge(prometheus.GaugeOpts{Name: name("memory_budget_bytes"),
			Help: "Payload bytes the pipelines may hold in memory at once (half of the memoryLimit setting)."}),
		usedG: prometheus.NewGauge(prometheus.GaugeOpts{Name: name("memory_budget_used_bytes"),
			Help: "Payload bytes of the packs being applied, across every task."}),
		waits: prometheus.NewCounter(prometheus.CounterOpts{Name: name("memory_budget_waits_total"),
			Help: "Times a channel waited for room in the memory budget before applying a pack (backpressure on its reader)."}),
		overruns: prometheus.NewCounter(prometheus.CounterOpts{Name: name("memory_budget_overruns_total"),
			Help: "Packs applied over the memory budget after waiting 5 s for room, so that no channel waits for ever."}),
	}
	b.capacityG.Set(float64(capacity))
	if reg != nil {
		for _, c := range []prometheus.Collector{b.capacityG, b.usedG, b.waits, b.overruns} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// acquire takes room for n bytes, waiting while the budget is full (at most
// maxWait, then it goes over), and returns the function that gives it back.
// A pack larger than the whole budget waits for the budget to be empty.
func (b *Budget) acquire(ctx context.Context, n int64) (release func(), err error) {
	if b == nil || n <= 0 {
		return func() {}, nil
	}
	var deadline <-chan time.Time
	for waited := false; ; {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.capacity {
			return b.take(n), nil
		}
		freed := b.freed
		b.mu.Unlock()
		if !waited {
			waited = true
			b.waits.Inc()
			t := time.NewTimer(b.maxWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-freed:
		case <-deadline:
			b.overruns.Inc()
			b.mu.Lock()
			return b.take(n), nil
		}
	}
}

// take records n bytes used; b.mu is held and released here.
func (b *Budget) take(n int64) func() {
	b.used += n
	b.usedG.Set(float64(b.used))
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.used -= n
			b.usedG.Set(float64(b.used))
			close(b.freed)
			b.freed = make(chan struct{})
			b.mu.Unlock()
		})
	}
}

// Used is the bytes taken now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
