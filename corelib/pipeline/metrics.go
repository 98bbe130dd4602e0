package pipeline

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricsNamespace and MetricsSubsystem name every pipeline metric
// (milvus_cdc_daemon_pipeline_*): the daemon's own namespace, distinct from
// milvus-cdc's "milvus_cdc" and Milvus's "milvus".
const (
	MetricsNamespace = "milvus_cdc_daemon"
	MetricsSubsystem = "pipeline"
)

// Metrics are the Prometheus metrics of every pipeline of a daemon. Labels
// are bounded: task id, source channel (a task reads at most the source's
// channel count), stage, operation kind. Never primary keys or collection
// names. A nil *Metrics records nothing.
type Metrics struct {
	rows         *prometheus.CounterVec   // task_id, op
	readBytes    *prometheus.CounterVec   // task_id, channel
	applyLatency *prometheus.HistogramVec // task_id, op
	retries      *prometheus.CounterVec   // task_id, stage
	errors       *prometheus.CounterVec   // task_id, stage
	inflight     *prometheus.GaugeVec     // task_id
	buffered     *prometheus.GaugeVec     // task_id
	skipped      *prometheus.CounterVec   // task_id, reason
	snapshotRows *prometheus.CounterVec   // task_id

	mu   sync.Mutex
	live map[*Pipeline]struct{} // read at scrape time for lag and state
	now  func() time.Time
}

var (
	lagDesc = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, MetricsSubsystem, "lag_seconds"),
		"Largest checkpoint lag of the task's channels (see channel_lag_seconds).", []string{"task_id"}, nil)
	channelLagDesc = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, MetricsSubsystem, "channel_lag_seconds"),
		"Checkpoint lag of one source channel: for a data channel now minus the wall time of the newest applied source timestamp; for the replicate channel (no time ticks) 0 while caught up, else the age of the operation waiting or of the reader failure.", []string{"task_id", "channel"}, nil)
	stateDesc = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, MetricsSubsystem, "state"),
		"1 for the pipeline's current state (running, retrying, stopped).", []string{"task_id", "state"}, nil)
	stalledDesc = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, MetricsSubsystem, "stalled_waits"),
		"Operations that have waited for source channels without progress for a minute or more (the status lists them under waiting).", []string{"task_id"}, nil)
	unansweredDesc = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, MetricsSubsystem, "target_call_unanswered_seconds"),
		"How long the oldest call to the target in flight has gone unanswered (0: none); from 10 s on the task is stalled.", []string{"task_id"}, nil)
	snapshotRemainingDesc = prometheus.NewDesc(prometheus.BuildFQName(MetricsNamespace, MetricsSubsystem, "snapshot_collections_remaining"),
		"Collections the running initial snapshot has still to copy.", []string{"task_id"}, nil)
)

// NewMetrics creates the pipeline metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: MetricsSubsystem, Name: "rows_applied_total",
			Help: "Rows the target acknowledged, by operation (insert, delete, upsert).",
		}, []string{"task_id", "op"}),
		readBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: MetricsSubsystem, Name: "source_read_bytes_total",
			Help: "Payload bytes of the data messages read from the source, by channel.",
		}, []string{"task_id", "channel"}),
		applyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: MetricsNamespace, Subsystem: MetricsSubsystem, Name: "apply_duration_seconds",
			Help:    "Latency of each call to the target Milvus, by operation (Upsert, Delete, CreateCollection, ...).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms .. 33 s
		}, []string{"task_id", "op"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: MetricsSubsystem, Name: "retries_total",
			Help: "Attempts retried after a failure, by stage (read, decode, apply, checkpoint).",
		}, []string{"task_id", "stage"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: MetricsSubsystem, Name: "errors_total",
			Help: "Failures, by stage (read, decode, apply, checkpoint).",
		}, []string{"task_id", "stage"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: MetricsNamespace, Subsystem: MetricsSubsystem, Name: "inflight_batches",
			Help: "Batches (time-tick packs) read from the source and not yet acknowledged by the target.",
		}, []string{"task_id"}),
		buffered: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: MetricsNamespace, Subsystem: MetricsSubsystem, Name: "buffered_bytes",
			Help: "Payload bytes of the in-flight batches, held in memory until the target acknowledges them.",
		}, []string{"task_id"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: MetricsSubsystem, Name: "skipped_total",
			Help: "Messages and operations the pipeline did not replay, by reason (unsupported message Import, undecodable message, ...).",
		}, []string{"task_id", "reason"}),
		snapshotRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: MetricsNamespace, Subsystem: MetricsSubsystem, Name: "snapshot_rows_total",
			Help: "Rows the initial snapshot copied to the target.",
		}, []string{"task_id"}),
		live: map[*Pipeline]struct{}{},
		now:  time.Now,
	}
	for _, c := range []prometheus.Collector{m.rows, m.readBytes, m.applyLatency, m.retries, m.errors, m.inflight, m.buffered, m.skipped, m.snapshotRows, liveCollector{m}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// taskMetrics are a task's curried metrics; the zero value records nothing.
type taskMetrics struct {
	rows, readBytes, retries, errors, skips *prometheus.CounterVec
	applyLatency                            prometheus.ObserverVec
	inflight, buffered                      prometheus.Gauge
	snapshotRows                            prometheus.Counter
}

func (m *Metrics) forTask(id string) taskMetrics {
	if m == nil {
		return taskMetrics{}
	}
	l := prometheus.Labels{"task_id": id}
	return taskMetrics{
		rows: m.rows.MustCurryWith(l), readBytes: m.readBytes.MustCurryWith(l),
		retries: m.retries.MustCurryWith(l), errors: m.errors.MustCurryWith(l), skips: m.skipped.MustCurryWith(l),
		applyLatency: m.applyLatency.MustCurryWith(l),
		inflight:     m.inflight.With(l), buffered: m.buffered.With(l), snapshotRows: m.snapshotRows.With(l),
	}
}

// attach makes a running pipeline visible to scrapes.
func (m *Metrics) attach(p *Pipeline) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live[p] = struct{}{}
}

// detach removes a stopped pipeline and its series, so deleted tasks do
// not linger in the exposition.
func (m *Metrics) detach(p *Pipeline) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.live, p)
	m.mu.Unlock()
	l := prometheus.Labels{"task_id": p.spec.ID}
	m.rows.DeletePartialMatch(l)
	m.readBytes.DeletePartialMatch(l)
	m.applyLatency.DeletePartialMatch(l)
	m.retries.DeletePartialMatch(l)
	m.errors.DeletePartialMatch(l)
	m.inflight.DeletePartialMatch(l)
	m.buffered.DeletePartialMatch(l)
	m.skipped.DeletePartialMatch(l)
	m.snapshotRows.DeletePartialMatch(l)
}

func (t taskMetrics) addSnapshotRows(n int64) {
	if t.snapshotRows != nil {
		t.snapshotRows.Add(float64(n))
	}
}

func (t taskMetrics) skipped(reason string) {
	if t.skips != nil {
		t.skips.WithLabelValues(reason).Inc()
	}
}

func (t taskMetrics) addRows(op string, n int64) {
	if t.rows != nil && n > 0 {
		t.rows.WithLabelValues(op).Add(float64(n))
	}
}

func (t taskMetrics) addRead(channel string, n int) {
	if t.readBytes != nil && n > 0 {
		t.readBytes.WithLabelValues(channel).Add(float64(n))
	}
}

// batchIn counts a batch of size bytes read and handed to the target.
func (t taskMetrics) batchIn(size int) {
	if t.inflight != nil {
		t.inflight.Inc()
		t.buffered.Add(float64(size))
	}
}

// batchOut counts a batch acknowledged (or abandoned when the run stops).
func (t taskMetrics) batchOut(size int) {
	if t.inflight != nil {
		t.inflight.Dec()
		t.buffered.Sub(float64(size))
	}
}

func (t taskMetrics) failed(stage string) {
	if t.errors != nil {
		t.errors.WithLabelValues(stage).Inc()
	}
}

func (t taskMetrics) retried(stage string) {
	if t.retries != nil {
		t.retries.WithLabelValues(stage).Inc()
	}
}

// observeApply records one target call; op is the first word of the
// operation's description, one of the target's method names.
func (t taskMetrics) observeApply(what string, d time.Duration) {
	if t.applyLatency == nil {
		return
	}
	op, _, _ := strings.Cut(what, " ")
	t.applyLatency.WithLabelValues(op).Observe(d.Seconds())
}

// liveCollector computes lag and state at scrape time from each running
// pipeline's status, so the figures never freeze between updates.
type liveCollector struct{ m *Metrics }

func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- channelLagDesc
	ch <- stateDesc
	ch <- snapshotRemainingDesc
	ch <- stalledDesc
	ch <- unansweredDesc
}

func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	ps := make([]*Pipeline, 0, len(c.m.live))
	for p := range c.m.live {
		ps = append(ps, p)
	}
	c.m.mu.Unlock()
	for _, p := range ps {
		st := p.statusAt(c.m.now())
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, 1, p.spec.ID, st.State)
		ch <- prometheus.MustNewConstMetric(stalledDesc, prometheus.GaugeValue, float64(len(st.Waiting)), p.spec.ID)
		ch <- prometheus.MustNewConstMetric(unansweredDesc, prometheus.GaugeValue, p.unansweredFor(c.m.now()).Seconds(), p.spec.ID)
		if st.Snapshot != nil {
			ch <- prometheus.MustNewConstMetric(snapshotRemainingDesc, prometheus.GaugeValue, float64(st.Snapshot.Remaining), p.spec.ID)
		}
		if st.LagSeconds != nil {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, *st.LagSeconds, p.spec.ID)
		}
		for _, cs := range st.Channels {
			if cs.LagSeconds != nil { // data channels and the replicate channel
				ch <- prometheus.MustNewConstMetric(channelLagDesc, prometheus.GaugeValue, *cs.LagSeconds, p.spec.ID, cs.Channel)
			}
		}
	}
}
