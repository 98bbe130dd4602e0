package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/client/clienttest"
	"github.com/milvus-cdc/milvus-cdc/corelib"
)

func snapshotStatus(phase string, copied int64, done bool) corelib.Status {
	eta := 12.0
	c := corelib.SnapshotCollectionStatus{ID: 7, Database: "db_t1", Name: "c1", State: corelib.SnapshotCopying, Total: 1000, Copied: copied, RowsPerSecond: 250, ETASeconds: &eta}
	if done {
		c.State, c.RowsPerSecond, c.ETASeconds = corelib.SnapshotDone, 0, nil
	}
	s := corelib.Status{State: "running", Detail: "initial snapshot: copying db_t1.c1", Phase: phase,
		Snapshot: &corelib.SnapshotStatus{Done: done, Collections: []corelib.SnapshotCollectionStatus{c}}}
	if !done {
		s.Snapshot.Remaining = 1
	}
	return s
}

func TestCLIInitialSync(t *testing.T) {
	d := clienttest.Start(t)
	env := map[string]string{serverEnv: d.URL}
	d.Factory.SetStatus(snapshotStatus("snapshot", 250, false))

	r := runCLI(t, env, "", "task", "create", "-f", writeFile(t, "task.yaml", taskYAML), "--initial-sync", "-o", "json")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	require.Contains(t, r.stdout, `"initialSync":true`)
	r = runCLI(t, env, "", "task", "get", "t1")
	require.Equal(t, []string{"Initial sync:", "yes"}, tableRow(t, r.stdout, "Initial sync:"))

	r = runCLI(t, env, "", "task", "status", "t1")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	require.Equal(t, []string{"Phase:", "snapshot"}, tableRow(t, r.stdout, "Phase:"))
	require.Contains(t, r.stdout, "Initial sync: copying, 1 collection(s) to go")
	require.Equal(t, []string{"DATABASE", "COLLECTION", "STATE", "COPIED", "TOTAL", "PROGRESS", "RATE", "ETA", "REASON"},
		fields(strings.Split(r.stdout[strings.Index(r.stdout, "Initial sync:"):], "\n")[1]))
	var snapRow []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := fields(line); len(f) > 2 && f[0] == "db_t1" && f[2] == "copying" {
			snapRow = f
		}
	}
	require.Equal(t, []string{"db_t1", "c1", "copying", "250", "1000", "25.0%", "250 rows/s", "12s", "-"}, snapRow)

	// -w redraws until the snapshot is done.
	go func() {
		time.Sleep(300 * time.Millisecond)
		d.Factory.SetStatus(snapshotStatus("following", 1000, true))
	}()
	start := time.Now()
	r = runCLI(t, env, "", "task", "status", "t1", "-w", "--interval", "100ms")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.GreaterOrEqual(t, strings.Count(r.stdout, clearScreen), 2, "redrawn")
	last := r.stdout[strings.LastIndex(r.stdout, clearScreen):]
	require.Contains(t, last, "Initial sync: done")
	require.Equal(t, []string{"Phase:", "following"}, tableRow(t, last, "Phase:"))

	r = runCLI(t, env, "", "task", "status", "t1", "-w", "--interval", "1ms")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "--interval 1ms: use at least 100ms")
}
