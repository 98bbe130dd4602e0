//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOperatorCommandLine: the built binary as an operator meets it on the
// bed: version and build info, a mistyped command that starts nothing,
// --print-config with secrets masked, JSON on stdout for a failed -o json
// command, a timeout that says it is one, and one pipeline state in status.
func TestOperatorCommandLine(t *testing.T) {
	bed := RequireBed(t)
	d := StartDaemon(t, bed)

	// version, and the same build in /metrics.
	r := runBinary(t, nil, "version")
	require.Equal(t, 0, r.code, r.stderr)
	m := regexp.MustCompile(`^milvus-cdc (\S+) \(commit ([0-9a-f]{12}(?:-dirty)?|unknown), (go\S+)\)\n$`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, "version output %q", r.stdout)
	require.Equal(t, r.stdout, runBinary(t, nil, "--version").stdout)
	resp, err := http.Get("http://" + d.addr + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(metrics), fmt.Sprintf(`milvus_cdc_daemon_build_info{commit=%q,goversion=%q,version=%q} 1`, m[2], m[3], m[1]))

	// A typo is refused at once and creates nothing where it was typed.
	dir := t.TempDir()
	start := time.Now()
	r = runBinaryIn(t, dir, nil, "taks", "list")
	require.Equal(t, 2, r.code)
	require.Less(t, time.Since(start), 10*time.Second)
	require.Contains(t, r.stderr, `milvus-cdc: unknown command "taks" (did you mean "task"?)`)
	require.Contains(t, r.stderr, "Usage:")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no data/etcd in the working directory")

	// --print-config: the bed's configuration as the daemon would run it, a
	// secret from the environment masked.
	r = runBinary(t, []string{"MILVUS_CDC_SOURCE_MQ_PULSAR_AUTHPARAMS=token:e2e-S3cret"}, "--config", bed.CDCConfig, "--print-config")
	require.Equal(t, 0, r.code, r.stderr)
	require.NotContains(t, r.stdout, "e2e-S3cret")
	require.Contains(t, r.stdout, "authParams: '********'")
	require.Contains(t, r.stdout, "rootPath: "+bed.SourceRoot)
	require.Contains(t, r.stdout, "address: "+bed.SourceAddr, "source.milvus.address of the bed")

	// -o json on a failure: the daemon's problem on stdout.
	r = d.runCLI(t, "task", "get", "nope", "-o", "json")
	require.Equal(t, 1, r.code)
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &p), "stdout %q", r.stdout)
	require.Equal(t, "task_not_found", p["code"])
	require.Equal(t, 404.0, p["status"])

	// A create that outlasts --timeout says the request timed out while the
	// daemon is up: the target accepts TCP but never speaks gRPC, so the
	// daemon waits its connect timeout (5 s).
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = silent.Close() })
	taskFile := filepath.Join(t.TempDir(), "slow.yaml")
	require.NoError(t, os.WriteFile(taskFile, []byte(fmt.Sprintf("target: {uri: \"http://%s\", connectTimeoutSeconds: 5}\nscope: [{database: default, collection: e2e_slow}]\n", silent.Addr())), 0o600))
	start = time.Now()
	r = d.runCLI(t, "task", "create", "-f", taskFile, "--timeout", "1s")
	require.Equal(t, 1, r.code)
	require.Less(t, time.Since(start), 4*time.Second)
	require.Contains(t, r.stderr, "the request timed out after 1s: POST /api/v1/tasks got no answer from the daemon at http://"+d.addr)
	require.NotContains(t, r.stderr, "is the daemon running")
	require.Empty(t, strings.TrimSpace(r.stdout), "a failure with table output prints nothing on stdout")

	// status of a replicating task: one state.
	id := d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": UniqueName("e2e_op")}}})
	out := d.mustCLI(t, "task", "status", id)
	require.Equal(t, []string{"Pipeline:", "replicating"}, tableCells(t, out, "Pipeline:"), out)
}

// TestCreateAnswersAtOnceForAnUnusableTarget: an unknown host or a refused
// port is reported at once, naming it, before the connect timeout; nothing
// is stored.
func TestCreateAnswersAtOnceForAnUnusableTarget(t *testing.T) {
	bed := RequireBed(t)
	d := StartDaemon(t, bed)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := l.Addr().String()
	require.NoError(t, l.Close())
	tests := []struct {
		name, uri, want string
	}{
		{"unknown host", "http://no-such-host.invalid:19530", "fail to connect the milvus: cannot resolve host no-such-host.invalid: "},
		{"refused port", "http://" + refused, "fail to connect the milvus: connection refused by " + refused + ": nothing listens on that port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			code, msg, _ := d.CDCRaw(t, "create", map[string]any{
				"milvus_connect_param": map[string]any{"uri": tt.uri, "connect_timeout": 30},
				"collection_infos":     []any{map[string]any{"name": "e2e_unusable"}},
			})
			require.Less(t, time.Since(start), 5*time.Second, "answered at once, not after the 30 s connect timeout")
			require.Equal(t, 500, code, msg)
			require.Contains(t, msg, "fail to handle the create request, error: "+tt.want)
		})
	}
	var list struct {
		Tasks []any `json:"tasks"`
	}
	d.getJSON(t, "/api/v1/tasks", &list)
	require.Empty(t, list.Tasks, "nothing was stored")
}
