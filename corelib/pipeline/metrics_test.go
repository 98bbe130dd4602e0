package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// exposedNames returns every metric family name the pipeline metrics expose
// once each has a sample, plus the daemon's task gauge the files also use.
func exposedNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	r, _ := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
	p := &Pipeline{spec: corelib.TaskSpec{ID: "t1"}, r: r.run, cancel: func() {}, stage: "replicating", src: fakeReplicateSource{}, health: newHealth()}
	p.health.metrics = m.forTask("t1")
	r.useHealth(p.health)
	m.attach(p)
	r.progress.track("dml_0", ts(time.Now()))
	require.NoError(t, r.applyPack(context.Background(), "dml_0", []dataMsg{at(insert(10, "db1", "orders", "_default", 1), 1)}))
	p.health.metrics.addRead("dml_0", 10)
	p.health.failed(stageRead, context.Canceled)
	p.health.metrics.retried(stageRead)
	p.health.metrics.skipped("undecodable message")
	p.health.metrics.addSnapshotRows(1)
	_, err = NewBudget(1, reg)
	require.NoError(t, err)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	names := map[string]bool{
		"milvus_cdc_daemon_tasks":                  true, // server/metrics.go
		"milvus_cdc_daemon_verify_mismatched_rows": true, // corelib/verify
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	// What the scrape-time collector exposes only in some states (the
	// snapshot's remaining collections while one runs).
	descs := make(chan *prometheus.Desc, 16)
	liveCollector{m}.Describe(descs)
	close(descs)
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	return names
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

var metricRef = regexp.MustCompile(`milvus_cdc_daemon_[a-z_]+`)

// requireKnownMetrics fails on a query naming a metric nobody exposes (a
// renamed metric silently empties a dashboard or disarms an alert).
func requireKnownMetrics(t *testing.T, where, expr string, names map[string]bool) {
	t.Helper()
	refs := metricRef.FindAllString(expr, -1)
	require.NotEmpty(t, refs, "%s: %s names no milvus-cdc metric", where, expr)
	for _, ref := range refs {
		base := ref
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if trimmed, ok := strings.CutSuffix(ref, suffix); ok && names[trimmed] {
				base = trimmed
			}
		}
		require.True(t, names[base], "%s: %s is not an exposed metric (expr %s)", where, ref, expr)
	}
}

func TestAlertRulesAndDashboardUseExposedMetrics(t *testing.T) {
	names := exposedNames(t)
	root := filepath.Join("..", "..", "deployments")

	raw, err := os.ReadFile(filepath.Join(root, "prometheus", "alerts.yml"))
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &rules))
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			requireKnownMetrics(t, "alert "+r.Alert, r.Expr, names)
		}
	}
	for _, want := range []string{"MilvusCDCLagHigh", "MilvusCDCTaskRetrying", "MilvusCDCNoProgress", "MilvusCDCTaskNotRunning"} {
		require.True(t, alerts[want], "alert %s", want)
	}

	raw, err = os.ReadFile(filepath.Join(root, "grafana", "milvus-cdc.json"))
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.NotEmpty(t, dash.Panels)
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			requireKnownMetrics(t, "panel "+p.Title, tg.Expr, names)
		}
	}
}
