package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/client/clienttest"
	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/internal/buildinfo"
)

type cliRun struct {
	stdout, stderr string
	code           int
}

// runCLI runs the command line as main would, with env as the environment.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) cliRun {
	t.Helper()
	var out, errOut bytes.Buffer
	daemonArgs, code, handled := dispatch(args, cliIO{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv: func(k string) string { return env[k] },
	})
	require.True(t, handled, "not a CLI command line: %v (daemon args %v)", args, daemonArgs)
	return cliRun{stdout: out.String(), stderr: errOut.String(), code: code}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

const taskYAML = `# the REST create body, as YAML
id: t1
target:
  uri: http://target:19530
  token: root:Milvus
  connectTimeoutSeconds: 5
scope:
  - database: db_t1
    collection: "*"
`

const taskJSON = `{"id": "t2", "target": {"uri": "http://target:19530"}, "scope": [{"database": "db_t2", "collection": "c"}]}`

// fields splits a table line into its cells (cells hold no double space).
func fields(line string) []string {
	var out []string
	for _, f := range strings.Split(line, "  ") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// tableRow returns the cells of the first line of out whose first cell is key.
func tableRow(t *testing.T, out, key string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := fields(line); len(f) > 0 && f[0] == key {
			return f
		}
	}
	t.Fatalf("no line starting with %q in:\n%s", key, out)
	return nil
}

func TestCLIRoundTripsEveryOperation(t *testing.T) {
	d := clienttest.Start(t)
	lag := 1.25
	applied := time.Now().Add(-1250 * time.Millisecond)
	d.Factory.SetStatus(corelib.Status{
		Replicating: true, Detail: "replicating", State: "running", LagSeconds: &lag,
		Channels:    []corelib.ChannelStatus{{Channel: "by-dev-rootcoord-dml_0", Kind: "data", AppliedTs: 42, AppliedTime: &applied, LagSeconds: &lag}},
		Collections: []corelib.CollectionStatus{{ID: 7, Database: "db_t1", Name: "c1", Inserted: 10, Deleted: 2, Upserted: 3, Operations: 4}},
	})
	d.Factory.SetSynced(corelib.SyncReport{Synced: true, SourceNowTs: 99, SourceNow: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Channels: []corelib.ChannelSync{{Channel: "by-dev-rootcoord-dml_0", AppliedTs: 100, Synced: true}}})
	env := map[string]string{serverEnv: d.URL}
	yamlFile := writeFile(t, "task.yaml", taskYAML)
	jsonFile := writeFile(t, "task.json", taskJSON)

	steps := []struct {
		name  string
		stdin string
		args  []string
		code  int
		check func(t *testing.T, out string)
	}{
		{"create from YAML", "", []string{"task", "create", "-f", yamlFile}, 0, func(t *testing.T, out string) {
			require.Equal(t, []string{"ID", "STATE", "PIPELINE", "LAG", "ROWS", "TARGET", "SCOPE", "REASON"}, fields(strings.Split(out, "\n")[0]))
			require.Equal(t, []string{"t1", "Running", "running", "1.25s", "15", "http://target:19530", "db_t1.*", "replicating"}, tableRow(t, out, "t1"), "no reason: the pipeline's detail")
		}},
		{"create from JSON, json out", "", []string{"task", "create", "-f", jsonFile, "-o", "json"}, 0, func(t *testing.T, out string) {
			var tk api.Task
			require.NoError(t, json.Unmarshal([]byte(out), &tk))
			require.Equal(t, "t2", tk.ID)
			require.Equal(t, "Running", tk.State)
		}},
		{"list", "", []string{"task", "list"}, 0, func(t *testing.T, out string) {
			require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 3, "header and two tasks")
			require.Equal(t, "Running", tableRow(t, out, "t1")[1])
			require.Equal(t, "db_t2.c", tableRow(t, out, "t2")[6])
		}},
		{"get", "", []string{"task", "get", "t1"}, 0, func(t *testing.T, out string) {
			require.Equal(t, []string{"State:", "Running"}, tableRow(t, out, "State:"))
			require.Equal(t, []string{"Target:", "http://target:19530 (token set: yes)"}, tableRow(t, out, "Target:"))
			require.Equal(t, []string{"Writer mode:", "api"}, tableRow(t, out, "Writer mode:"))
			require.Equal(t, []string{"Lag:", "1.25s"}, tableRow(t, out, "Lag:"))
			require.Equal(t, []string{"Rows applied:", "15"}, tableRow(t, out, "Rows applied:"))
			require.NotContains(t, out, "root:Milvus")
		}},
		{"status", "", []string{"task", "status", "t1"}, 0, func(t *testing.T, out string) {
			require.Equal(t, []string{"Pipeline:", "replicating"}, tableRow(t, out, "Pipeline:"))
			ch := tableRow(t, out, "by-dev-rootcoord-dml_0")
			require.Equal(t, "data", ch[1])
			require.Equal(t, "1.25s", ch[len(ch)-1])
			require.Regexp(t, `^`+applied.UTC().Format("15:04:05.000")+` \(\d+(\.\d)?s ago\)$`, ch[3], "applied time and its age")
			require.Equal(t, []string{"db_t1", "c1", "7", "10", "2", "3", "4"}, tableRow(t, out, "db_t1"))
		}},
		{"status json is the REST body", "", []string{"task", "status", "-o", "json", "t1"}, 0, func(t *testing.T, out string) {
			var s map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &s))
			require.Equal(t, 1.25, s["pipeline"].(map[string]any)["lagSeconds"])
		}},
		{"synced", "", []string{"task", "synced", "t1", "--wait", "0s"}, 0, func(t *testing.T, out string) {
			require.Equal(t, []string{"Synced:", "true"}, tableRow(t, out, "Synced:"))
			require.Equal(t, []string{"Source now:", "2026-01-02T03:04:05Z (ts 99)"}, tableRow(t, out, "Source now:"))
			require.Equal(t, []string{"by-dev-rootcoord-dml_0", "100", "true"}, tableRow(t, out, "by-dev-rootcoord-dml_0"))
		}},
		{"pause", "", []string{"task", "pause", "t1"}, 0, func(t *testing.T, out string) {
			require.Equal(t, "Paused", tableRow(t, out, "t1")[1])
		}},
		{"list paused as json", "", []string{"task", "list", "--state", "Paused", "-o", "json"}, 0, func(t *testing.T, out string) {
			var l api.TaskList
			require.NoError(t, json.Unmarshal([]byte(out), &l))
			require.Len(t, l.Tasks, 1)
			require.Equal(t, "t1", l.Tasks[0].ID)
			require.Equal(t, "Paused", l.Tasks[0].State)
		}},
		{"status of a paused task", "", []string{"task", "status", "t1"}, 0, func(t *testing.T, out string) {
			require.Equal(t, []string{"State:", "Paused"}, tableRow(t, out, "State:"))
			require.Equal(t, []string{"Pipeline:", "not running"}, tableRow(t, out, "Pipeline:"))
		}},
		{"synced of a paused task exits 3", "", []string{"task", "synced", "t1"}, exitNotSynced, func(t *testing.T, out string) {
			require.Equal(t, []string{"Synced:", "false"}, tableRow(t, out, "Synced:"))
			require.Contains(t, tableRow(t, out, "Reason:")[1], "Paused")
			require.NotContains(t, out, "Source now:", "nothing was compared")
		}},
		{"resume", "", []string{"task", "resume", "t1"}, 0, func(t *testing.T, out string) {
			require.Equal(t, "Running", tableRow(t, out, "t1")[1])
		}},
		{"delete", "", []string{"task", "delete", "t1"}, 0, func(t *testing.T, out string) {
			require.Equal(t, "task t1 deleted\n", out)
		}},
		{"delete json", "", []string{"task", "delete", "t2", "-o", "json"}, 0, func(t *testing.T, out string) {
			require.JSONEq(t, `{"id":"t2","deleted":true}`, out)
		}},
		{"list empty", "", []string{"task", "list"}, 0, func(t *testing.T, out string) {
			require.Equal(t, "no tasks\n", out)
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := runCLI(t, env, s.stdin, s.args...)
			require.Equal(t, s.code, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			if s.code == 0 {
				require.Empty(t, r.stderr)
			}
			s.check(t, r.stdout)
		})
	}
}

func TestCLIErrors(t *testing.T) {
	d := clienttest.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := l.Addr().String()
	require.NoError(t, l.Close())
	env := map[string]string{serverEnv: d.URL}
	typo := writeFile(t, "typo.yaml", "id: x\ntraget:\n  uri: http://t:1\n")
	list := writeFile(t, "list.yaml", "- id: x\n")
	badYAML := writeFile(t, "bad.yaml", "id: [x\n")
	invalid := writeFile(t, "invalid.yaml", "id: x\nscope: [{database: db, collection: c}]\n")

	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string // substrings of stderr
	}{
		{"no command", env, []string{"task"}, exitUsage, []string{"Task commands:"}},
		{"unknown command", env, []string{"task", "frobnicate"}, exitUsage, []string{`unknown command "frobnicate"`}},
		{"missing id", env, []string{"task", "get"}, exitUsage, []string{"expected ID, got 0 argument(s)"}},
		{"too many ids", env, []string{"task", "pause", "a", "b"}, exitUsage, []string{"expected ID, got 2 argument(s)"}},
		{"bad output", env, []string{"task", "list", "-o", "yaml"}, exitUsage, []string{`-o "yaml": use table or json`}},
		{"unknown flag", env, []string{"task", "list", "--bogus"}, exitUsage, []string{"flag provided but not defined: -bogus"}},
		{"create without file", env, []string{"task", "create"}, exitUsage, []string{"-f FILE is required"}},
		{"missing file", env, []string{"task", "create", "-f", "/nonexistent/task.yaml"}, exitUsage, []string{"read the task file", "no such file"}},
		{"unknown field in file", env, []string{"task", "create", "-f", typo}, exitUsage, []string{"task file " + typo, `unknown field "traget"`}},
		{"file is a list", env, []string{"task", "create", "-f", list}, exitUsage, []string{"must hold one mapping"}},
		{"file is not YAML", env, []string{"task", "create", "-f", badYAML}, exitUsage, []string{"not valid YAML or JSON"}},
		{"daemon refuses the task", env, []string{"task", "create", "-f", invalid}, exitFailed, []string{"HTTP 422 Unprocessable Entity", "the downstream address is empty", "(field target.uri)", "[validation_failed]"}},
		{"unknown task", env, []string{"task", "status", "nope"}, exitFailed, []string{"HTTP 404 Not Found", "[task_not_found]"}},
		{"bad wait", env, []string{"task", "synced", "x", "--wait", "2m"}, exitUsage, []string{"--wait 2m0s: use 0s to 60s"}},
		{"bad server", map[string]string{serverEnv: "ftp://x"}, []string{"task", "list"}, exitUsage, []string{"scheme must be http or https", "(from " + serverEnv + ")"}},
		{"daemon down (env)", map[string]string{serverEnv: deadAddr}, []string{"task", "list"}, exitFailed, []string{
			"cannot reach the milvus-cdc daemon at http://" + deadAddr, "connection refused", "address from " + serverEnv, "--server or " + serverEnv}},
		{"daemon down (flag wins over env)", env, []string{"task", "list", "--server", "http://" + deadAddr}, exitFailed, []string{
			"at http://" + deadAddr, "address from --server"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.env, "", tc.args...)
			require.Equal(t, tc.code, r.code, "stderr:\n%s", r.stderr)
			require.Empty(t, r.stdout)
			for _, w := range tc.want {
				require.Contains(t, r.stderr, w)
			}
		})
	}
}

func TestDispatchKeepsTheDaemonCommandLine(t *testing.T) {
	cases := []struct {
		args    []string
		daemon  []string
		handled bool
	}{
		{nil, nil, false},
		{[]string{"--config", "c.yaml"}, []string{"--config", "c.yaml"}, false},
		{[]string{"serve"}, []string{}, false},
		{[]string{"serve", "--config", "c.yaml", "--check-config"}, []string{"--config", "c.yaml", "--check-config"}, false},
		{[]string{"task", "list", "--server", "http://127.0.0.1:1"}, nil, true},
		{[]string{"help"}, nil, true},
		{[]string{"version"}, nil, true},
		{[]string{"--version"}, nil, true},
		{[]string{"taks", "list"}, nil, true},
		{[]string{"--print-config", "--config", "c.yaml"}, []string{"--print-config", "--config", "c.yaml"}, false},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			daemon, _, handled := dispatch(tc.args, cliIO{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }})
			require.Equal(t, tc.handled, handled)
			require.Equal(t, tc.daemon, daemon)
		})
	}
}

func TestTaskFileYAMLAndJSONGiveTheSameRequest(t *testing.T) {
	y := `
id: same
target: {uri: "http://t:19530", connectTimeoutSeconds: 10, tls: {serverName: milvus.local}}
scope:
  - database: db
    collection: c
    positions: {by-dev-rootcoord-dml_0_1v0: "AAEC"}
nameMapping:
  - sourceDatabase: db
    targetDatabase: db2
    collections: {c: c2}
replicateChannel: {name: by-dev-replicate-msg}
enableUserRole: true
disableAutoStart: true
`
	j := `{"id":"same","target":{"uri":"http://t:19530","connectTimeoutSeconds":10,"tls":{"serverName":"milvus.local"}},
"scope":[{"database":"db","collection":"c","positions":{"by-dev-rootcoord-dml_0_1v0":"AAEC"}}],
"nameMapping":[{"sourceDatabase":"db","targetDatabase":"db2","collections":{"c":"c2"}}],
"replicateChannel":{"name":"by-dev-replicate-msg"},"enableUserRole":true,"disableAutoStart":true}`
	fromYAML, err := readTaskFile(writeFile(t, "t.yaml", y), nil)
	require.NoError(t, err)
	fromJSON, err := readTaskFile(writeFile(t, "t.json", j), nil)
	require.NoError(t, err)
	require.Equal(t, fromJSON, fromYAML)
	fromStdin, err := readTaskFile("-", strings.NewReader(y))
	require.NoError(t, err)
	require.Equal(t, fromYAML, fromStdin)
	require.Equal(t, "c2", fromYAML.NameMapping[0].Collections["c"])
	require.Equal(t, 10, fromYAML.Target.ConnectTimeoutSeconds)
	require.True(t, fromYAML.DisableAutoStart)
}

func TestRenderTaskTableExactly(t *testing.T) {
	lag := 0.2
	cases := []struct {
		name  string
		tasks []api.Task
		want  string
	}{
		{"none", nil, "no tasks\n"},
		{"running and paused", []api.Task{
			{ID: "a1", State: "Running", Target: api.TargetView{URI: "http://t:19530"}, Scope: []api.Scope{{Database: "db", Collection: "*"}},
				Pipeline: &api.PipelineStatus{State: "retrying", LagSeconds: &lag, Collections: []api.CollectionStatus{{Inserted: 5, Deleted: 1}}}},
			{ID: "b22", State: "Paused", Reason: "manually paused\tby ops", Target: api.TargetView{URI: "http://t:19530"},
				Scope: []api.Scope{{Database: "x", Collection: "c1"}, {Database: "x", Collection: "c2"}}},
			{ID: "c3", State: "failed", Reason: strings.Repeat("r", 80), Target: api.TargetView{URI: "u"}},
		}, "" +
			"ID   STATE    PIPELINE  LAG    ROWS  TARGET          SCOPE      REASON\n" +
			"a1   Running  retrying  0.20s  6     http://t:19530  db.*       -\n" +
			"b22  Paused   -         -      -     http://t:19530  x.c1,x.c2  manually paused by ops\n" +
			"c3   failed   -         -      -     u               -          " + strings.Repeat("r", 59) + "…\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, renderTaskTable(&b, tc.tasks))
			require.Equal(t, tc.want, b.String())
		})
	}
}

// A word that is no command is a usage error: it never starts a daemon
// (which would create data/etcd wherever it was typed).
func TestUnknownCommandsAreRefused(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stdout     string
		stderrHave []string
	}{
		{[]string{"taks", "list"}, exitUsage, "", []string{`milvus-cdc: unknown command "taks" (did you mean "task"?)`, "Usage:", "Task commands:"}},
		{[]string{"ver"}, exitUsage, "", []string{`unknown command "ver" (did you mean "version"?)`}},
		{[]string{"start"}, exitUsage, "", []string{`unknown command "start"`, "milvus-cdc [--config FILE]"}},
		{[]string{"version"}, exitOK, buildinfo.Get().String() + "\n", nil},
		{[]string{"--version"}, exitOK, buildinfo.Get().String() + "\n", nil},
		{[]string{"version", "--json"}, exitUsage, "", []string{`unexpected argument "--json"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			r := runCLI(t, nil, "", tt.args...)
			require.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			require.Equal(t, tt.stdout, r.stdout)
			for _, w := range tt.stderrHave {
				require.Contains(t, r.stderr, w)
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing was created in the working directory")
		})
	}
	require.Regexp(t, `^milvus-cdc dev \(commit [0-9a-z-]+, go[0-9.]+\S*\)$`, buildinfo.Get().String())
}

// With -o json a failed command still prints JSON on stdout: the daemon's
// problem as sent, or the CLI's own problem document when there is none.
func TestJSONOutputOnErrors(t *testing.T) {
	d := clienttest.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	require.NoError(t, l.Close())
	env := map[string]string{serverEnv: d.URL}
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stdout map[string]any // the keys that must be there
	}{
		{"unknown task", env, []string{"task", "get", "nope", "-o", "json"}, exitFailed,
			map[string]any{"code": "task_not_found", "status": 404.0, "detail": "not found: [nope]", "instance": "/api/v1/tasks/nope"}},
		{"daemon down", map[string]string{serverEnv: dead}, []string{"task", "list", "-o", "json"}, exitFailed,
			map[string]any{"code": "unreachable", "type": "urn:milvus-cdc:cli:unreachable"}},
		{"missing id", env, []string{"task", "status", "-o", "json"}, exitUsage,
			map[string]any{"code": "invalid_input", "detail": "expected ID, got 0 argument(s)"}},
		{"bad task file", env, []string{"task", "create", "-o", "json", "-f", "/nonexistent.yaml"}, exitUsage,
			map[string]any{"code": "invalid_input"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, "", tt.args...)
			require.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			require.NotEmpty(t, r.stderr, "the error is also said on stderr")
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), "stdout: %q", r.stdout)
			require.True(t, strings.HasSuffix(r.stdout, "\n"))
			for k, v := range tt.stdout {
				require.Equal(t, v, got[k], "key %s in %s", k, r.stdout)
			}
			require.NotEmpty(t, got["detail"])
		})
	}
}

// A daemon that answers too late is said to have timed out, not to be absent.
func TestTimeoutIsNotUnreachable(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	r := runCLI(t, nil, "", "task", "list", "--timeout", "300ms", "--server", slow.URL)
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "milvus-cdc task list: the request timed out after 300ms: GET /api/v1/tasks got no answer from the daemon at "+slow.URL+" (address from --server)")
	require.Contains(t, r.stderr, "raise --timeout")
	require.NotContains(t, r.stderr, "is the daemon running")

	r = runCLI(t, nil, "", "task", "list", "--timeout", "300ms", "--server", slow.URL, "-o", "json")
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &p))
	require.Equal(t, "timeout", p["code"])
}

// The status view shows one state: a retrying pipeline is retrying even if
// its replicating flag still says true.
func TestPipelineSummaryIsOneState(t *testing.T) {
	tests := []struct {
		p    api.PipelineStatus
		want string
	}{
		{api.PipelineStatus{State: "running", Replicating: true}, "replicating"},
		{api.PipelineStatus{State: "running"}, "not replicating yet"},
		{api.PipelineStatus{Replicating: true}, "replicating"},
		{api.PipelineStatus{State: "retrying", Replicating: true}, "retrying"},
		{api.PipelineStatus{State: "retrying"}, "retrying"},
		{api.PipelineStatus{State: "failed", Replicating: true}, "failed"},
		{api.PipelineStatus{State: "stopped"}, "stopped"},
		{api.PipelineStatus{State: "snapshotting", Replicating: true}, "snapshotting"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, pipelineSummary(&tt.p), "%+v", tt.p)
	}
}

// When the daemon answered from memory (its task store down), the tables
// say so.
func TestTablesSayWhenTheTaskStoreIsDown(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	asOf := since.Add(-time.Minute)
	store := &api.StoreStatus{Reachable: false, Error: "context deadline exceeded", Since: since, AsOf: asOf}
	want := "not answering since 2026-01-02T03:04:05Z (context deadline exceeded); tasks as the daemon knew them at 2026-01-02T03:03:05Z, pipeline figures live"

	var b bytes.Buffer
	require.NoError(t, renderStatus(&b, api.TaskStatus{ID: "t1", State: "Running", Store: store}, since))
	require.Equal(t, append([]string{"Task store:"}, fields(want)...), tableRow(t, b.String(), "Task store:"))

	b.Reset()
	require.NoError(t, renderTask(&b, api.Task{ID: "t1", State: "Running", Store: store}))
	require.Contains(t, b.String(), want)

	b.Reset()
	require.NoError(t, renderList(&b, api.TaskList{Tasks: []api.Task{{ID: "t1", State: "Running"}}, Store: store}))
	require.True(t, strings.HasSuffix(b.String(), "\nTask store: "+want+"\n"), b.String())

	b.Reset()
	require.NoError(t, renderList(&b, api.TaskList{Tasks: []api.Task{{ID: "t1", State: "Running"}}}))
	require.NotContains(t, b.String(), "Task store")
}
