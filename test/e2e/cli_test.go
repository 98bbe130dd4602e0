//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cliResult is one run of the milvus-cdc binary as a CLI.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the built milvus-cdc binary with args against the daemon d
// (through MILVUS_CDC_SERVER, as an operator's shell would).
func (d *Daemon) runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runBinary(t, []string{"MILVUS_CDC_SERVER=http://" + d.addr}, args...)
}

func runBinary(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	return runBinaryIn(t, "", env, args...)
}

// runBinaryIn runs the built binary in the working directory dir ("" = the
// test's).
func runBinaryIn(t *testing.T, dir string, env []string, args ...string) cliResult {
	t.Helper()
	bin, err := daemonBinary()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else {
		require.NoError(t, err, "run milvus-cdc %v", args)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// mustCLI runs the CLI and requires exit code 0 and nothing on stderr.
func (d *Daemon) mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	r := d.runCLI(t, args...)
	require.Equal(t, 0, r.code, "milvus-cdc %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.stdout, r.stderr)
	require.Empty(t, r.stderr)
	return r.stdout
}

// tableCells returns the cells (split on runs of 2+ spaces) of the first
// line of a CLI table whose first cell is key.
func tableCells(t *testing.T, out, key string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		var cells []string
		for _, c := range strings.Split(line, "  ") {
			if c = strings.TrimSpace(c); c != "" {
				cells = append(cells, c)
			}
		}
		if len(cells) > 0 && cells[0] == key {
			return cells
		}
	}
	t.Fatalf("no line starting with %q in:\n%s", key, out)
	return nil
}

// TestCLIRoundTripsEveryOperation drives a real daemon with the real binary:
// create from a YAML file, list, get, status (with the rows the task applied),
// synced, pause, resume, delete, and the errors an operator meets.
func TestCLIRoundTripsEveryOperation(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src := bed.ConnectSource(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_cli"))
	coll := schema.CollectionName

	taskFile := filepath.Join(t.TempDir(), "task.yaml")
	yaml := fmt.Sprintf(`# REST create body (docs/cli.md)
target:
  uri: http://%s
  connectTimeoutSeconds: 10
scope:
  - database: default
    collection: %s
`, bed.TargetAddr, coll)
	if bed.TargetMode() == WriterModeReplicate {
		yaml += "writerMode: replicate\n"
	}
	require.NoError(t, os.WriteFile(taskFile, []byte(yaml), 0o600))

	// create: a table with the new task, Running.
	out := d.mustCLI(t, "task", "create", "-f", taskFile)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, "header and the task:\n%s", out)
	require.Equal(t, []string{"ID", "STATE"}, strings.Fields(lines[0])[:2])
	id := strings.Fields(lines[1])[0]
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	t.Cleanup(func() { d.CDCRaw(t, "delete", map[string]any{"task_id": id, "ignore_not_found": true}) })
	require.Equal(t, "Running", tableCells(t, out, id)[1])
	d.waitReplicating(t, id)

	// Rows written on the source show in the task's status.
	require.NoError(t, CreateCollection(ctx, src, schema, 2))
	DropCollectionOnCleanup(t, src, coll)
	const rows = 150
	_, err := NewDataset(schema, 0, rows).Insert(ctx, src, 50)
	require.NoError(t, err)
	Eventually(t, ctx, 2*time.Minute, 500*time.Millisecond, "status -o json to count the rows", func(context.Context) (bool, string, error) {
		var st struct {
			State    string `json:"state"`
			Pipeline struct {
				Collections []struct {
					Name     string `json:"name"`
					Inserted int64  `json:"rowsInserted"`
				} `json:"collections"`
			} `json:"pipeline"`
		}
		raw := d.mustCLI(t, "task", "status", id, "-o", "json")
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return false, raw, err
		}
		for _, c := range st.Pipeline.Collections {
			if c.Name == coll {
				return c.Inserted == rows, fmt.Sprintf("%d rows", c.Inserted), nil
			}
		}
		return false, "collection not in the status yet", nil
	})
	out = d.mustCLI(t, "task", "status", id)
	t.Logf("milvus-cdc task status %s:\n%s", id, out)
	require.Equal(t, []string{"State:", "Running"}, tableCells(t, out, "State:"))
	coll0 := tableCells(t, out, "default")
	require.Equal(t, coll, coll0[1])
	require.Equal(t, strconv.Itoa(rows), coll0[3], "INSERTED column:\n%s", out)
	dataChannels := 0
	for _, ch := range bed.DMLChannels {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == ch && f[1] == "data" {
				dataChannels++
			}
		}
	}
	require.GreaterOrEqual(t, dataChannels, 1, "a line per source data channel:\n%s", out)
	require.Regexp(t, `Lag:\s+\d+\.\d\ds`, out)

	// list and get: table and JSON.
	out = d.mustCLI(t, "task", "list")
	require.Equal(t, "Running", tableCells(t, out, id)[1])
	require.Equal(t, strconv.Itoa(rows), tableCells(t, out, id)[4], "ROWS column:\n%s", out)
	var list struct {
		Tasks []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal([]byte(d.mustCLI(t, "task", "list", "-o", "json")), &list))
	require.Len(t, list.Tasks, 1)
	require.Equal(t, id, list.Tasks[0].ID)
	require.Equal(t, "Running", list.Tasks[0].State)
	out = d.mustCLI(t, "task", "get", id)
	require.Equal(t, []string{"Scope:", "default." + coll}, tableCells(t, out, "Scope:"))
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(d.mustCLI(t, "task", "get", id, "-o", "json")), &got))
	require.Equal(t, "http://"+bed.TargetAddr, got["target"].(map[string]any)["uri"])

	// synced: true once the target holds the rows (exit 0), with slack for
	// the source clock bound (docs/api.md).
	Eventually(t, ctx, time.Minute, time.Second, "task synced to exit 0", func(context.Context) (bool, string, error) {
		r := d.runCLI(t, "task", "synced", id, "--wait", "10s")
		return r.code == 0 && strings.Contains(r.stdout, "Synced:"), fmt.Sprintf("exit %d: %s%s", r.code, r.stdout, r.stderr), nil
	})

	// pause: the state column changes; no pipeline; not synced (exit 3).
	out = d.mustCLI(t, "task", "pause", id)
	require.Equal(t, "Paused", tableCells(t, out, id)[1])
	out = d.mustCLI(t, "task", "status", id)
	require.Equal(t, []string{"Pipeline:", "not running"}, tableCells(t, out, "Pipeline:"))
	r := d.runCLI(t, "task", "synced", id)
	require.Equal(t, 3, r.code, "synced of a paused task: %s%s", r.stdout, r.stderr)
	require.Equal(t, []string{"Synced:", "false"}, tableCells(t, r.stdout, "Synced:"))
	r = d.runCLI(t, "task", "pause", id)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "HTTP 409 Conflict")
	require.Contains(t, r.stderr, "[task_state_conflict]")

	// resume, delete, then the task is gone.
	out = d.mustCLI(t, "task", "resume", id)
	require.Equal(t, "Running", tableCells(t, out, id)[1])
	require.Equal(t, "task "+id+" deleted\n", d.mustCLI(t, "task", "delete", id))
	r = d.runCLI(t, "task", "get", id)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "HTTP 404 Not Found")
	require.Contains(t, r.stderr, "[task_not_found]")
	require.Equal(t, "no tasks\n", d.mustCLI(t, "task", "list"))

	// The daemon refuses a bad file with the field; a dead address is named.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("scope: [{database: default, collection: x}]\ntarget: {uri: \"\"}\n"), 0o600))
	r = d.runCLI(t, "task", "create", "-f", bad)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "HTTP 422 Unprocessable Entity")
	require.Contains(t, r.stderr, "(field target.uri)")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	require.NoError(t, l.Close())
	r = runBinary(t, []string{"MILVUS_CDC_SERVER=" + dead}, "task", "list")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "cannot reach the milvus-cdc daemon at http://"+dead)
	require.Contains(t, r.stderr, "MILVUS_CDC_SERVER")
}
