package server

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/milvus-cdc/milvus-cdc/internal/buildinfo"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// Namespace of every daemon metric; distinct from milvus-cdc's "milvus_cdc".
const Namespace = "milvus_cdc_daemon"

type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	cdcRequests *prometheus.CounterVec
}

// newMetrics registers the daemon's metrics on reg (a new registry when nil);
// the pipelines register theirs on the same registry.
func newMetrics(ctl *task.Controller, reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests by route template, method and HTTP status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency by route template, method and HTTP status code.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15), // 1ms .. 16s
		}, []string{"route", "method", "code"}),
		cdcRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "cdc", Name: "requests_total",
			Help: "Requests to the milvus-cdc compatible /cdc API by request_type and body code (HTTP status is always 200 there).",
		}, []string{"request_type", "code"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.cdcRequests,
		&taskStateCollector{ctl: ctl},
		ownershipLostCounter(ctl),
		handoversCounter(ctl),
		buildInfoGauge(buildinfo.Get()),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// buildInfoGauge is milvus_cdc_daemon_build_info{version,commit,goversion} 1,
// so dashboards and alerts can tell which build runs.
func buildInfoGauge(i buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help:        "Always 1; the labels say which build of the daemon runs.",
		ConstLabels: prometheus.Labels{"version": i.Version, "commit": i.Commit, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}

var tasksDesc = prometheus.NewDesc(Namespace+"_tasks",
	"Tasks by state, read from the task store at scrape time; Paused tasks by cause: user (paused through the API), auto_start_disabled (disable_auto_start at start-up), error (the pipeline stopped or did not start on an error); the cause is empty for the other states.",
	[]string{"state", "cause"}, nil)

// taskStateCollector reads task counts from the store on every scrape, so the
// gauge is right even when another process changed the tasks.
type taskStateCollector struct{ ctl *task.Controller }

func (c *taskStateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- tasksDesc }

func (c *taskStateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.ctl.CountByStateAndCause(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(tasksDesc, err)
		return
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), string(k.State), k.Cause)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
