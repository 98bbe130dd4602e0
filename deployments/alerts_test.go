package deployments

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/milvus-cdc/milvus-cdc/client/clienttest"
	"github.com/milvus-cdc/milvus-cdc/corelib/pipeline"
	"github.com/milvus-cdc/milvus-cdc/corelib/verify"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("prometheus", "alerts.yml"))
	require.NoError(t, err)
	var f ruleFile
	require.NoError(t, yaml.Unmarshal(raw, &f))
	require.NotEmpty(t, f.Groups)
	return f
}

// TestAlertRulesWithPromtool runs the rule unit tests of alerts_test.yml.
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool := tool(t, "promtool", promtoolInstall)
	out, err := exec.Command(promtool, "check", "rules", filepath.Join("prometheus", "alerts.yml")).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
	cmd := exec.Command(promtool, "test", "rules", "alerts_test.yml")
	cmd.Dir = "prometheus"
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)
	require.Contains(t, string(out), "SUCCESS")

	// Every alert has a test.
	tests, err := os.ReadFile(filepath.Join("prometheus", "alerts_test.yml"))
	require.NoError(t, err)
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			require.Contains(t, string(tests), "alertname: "+r.Alert, "alerts_test.yml has no test of %s", r.Alert)
		}
	}
}

var metricName = regexp.MustCompile(`\b(milvus_cdc_daemon_[a-z_]+|up)\b`)

// recorder collects the names of the metrics a collector describes.
type recorder struct{ names map[string]bool }

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		s := d.String()
		if m := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(s); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}
func (r *recorder) Unregister(prometheus.Collector) bool { return true }

// TestAlertRulesNameMetricsTheDaemonExports checks, without promtool, that
// every rule is complete and that each metric and label value it names is
// one the daemon exports: the daemon's own (scraped from a real server) and
// the pipelines' (described by their collectors).
func TestAlertRulesNameMetricsTheDaemonExports(t *testing.T) {
	d := clienttest.Start(t)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, d.URL+"/metrics", nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	exported := map[string]bool{"up": true} // Prometheus's own
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			exported[strings.Fields(line)[2]] = true
		}
	}
	rec := &recorder{names: map[string]bool{}}
	_, err = pipeline.NewMetrics(rec)
	require.NoError(t, err)
	_, err = verify.NewMetrics(rec)
	require.NoError(t, err)
	for n := range rec.names {
		exported[n] = true
	}

	var alerts []string
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			require.NotEmpty(t, r.Expr, r.Alert)
			require.NotEmpty(t, r.For, "%s: say for how long, even 0m", r.Alert)
			require.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			require.NotEmpty(t, r.Annotations["description"], r.Alert)
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				require.True(t, exported[m], "%s uses %s, which the daemon does not export", r.Alert, m)
			}
		}
	}
	sort.Strings(alerts)
	require.Contains(t, alerts, "MilvusCDCDown")

	// TaskNotRunning selects the error cause, which the daemon reports.
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "MilvusCDCTaskNotRunning" {
				require.Contains(t, r.Expr, `cause="`+task.PauseCauseError+`"`)
				require.NotContains(t, r.Expr, task.PauseCauseUser)
			}
			if r.Alert == "MilvusCDCDown" {
				require.Contains(t, r.Expr, `up{job="milvus-cdc"} == 0`)
			}
		}
	}
	require.Contains(t, string(body), `milvus_cdc_daemon_tasks{cause="error",state="Paused"} 0`)
}
