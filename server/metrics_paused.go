package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/milvus-cdc/milvus-cdc/server/task"
)

var tasksPausedDesc = prometheus.NewDesc(Namespace+"_tasks_paused",
	"Paused tasks by cause: user (paused through the API), auto_start_disabled (disable_auto_start at start-up), error (the pipeline stopped or did not start on an error). Read from the task store at scrape time.",
	[]string{"cause"}, nil)

// pausedCollector reads the paused tasks from the store on every scrape, so
// an alert can tell an operator's pause from a failure.
type pausedCollector struct{ ctl *task.Controller }

func (c *pausedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- tasksPausedDesc }

func (c *pausedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.ctl.CountPaused(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(tasksPausedDesc, err)
		return
	}
	for cause, n := range counts {
		ch <- prometheus.MustNewConstMetric(tasksPausedDesc, prometheus.GaugeValue, float64(n), cause)
	}
}
