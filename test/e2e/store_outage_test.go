//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStatusWhileTheTaskStoreIsDown: the daemon keeps its tasks in the bed's
// etcd. With that etcd frozen (SIGSTOP: it neither answers nor refuses),
// every status poll still answers within a second, from what the daemon last
// knew plus the live pipeline status, and says that the task store does not
// answer and since when. Once etcd runs again the answers come from the
// store, and rows written afterwards reach the target.
func TestStatusWhileTheTaskStoreIsDown(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_store"))
	coll := schema.CollectionName
	id := d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})

	etcd := &bedProcess{name: "etcd", pidFile: filepath.Join(filepath.Dir(bed.EnvFile), "etcd", "pid")}
	pid := etcd.pid(t)
	resume := func() { _ = syscall.Kill(pid, syscall.SIGCONT) }
	t.Cleanup(resume) // never leave the bed frozen
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	frozen := time.Now()
	t.Logf("etcd (pid %d) frozen", pid)

	type store struct {
		Reachable *bool     `json:"reachable"`
		Error     string    `json:"error"`
		Since     time.Time `json:"since"`
		AsOf      time.Time `json:"asOf"`
	}
	var since time.Time
	polls := 0
	for time.Since(frozen) < 6*time.Second { // short: the source Milvus shares this etcd
		start := time.Now()
		var st struct {
			State    string          `json:"state"`
			Pipeline json.RawMessage `json:"pipeline"`
			Store    *store          `json:"store"`
		}
		code := d.getStatus(t, "/api/v1/tasks/"+id+"/status", &st)
		took := time.Since(start)
		require.Equal(t, http.StatusOK, code)
		require.Less(t, took, time.Second+250*time.Millisecond, "poll %d took %s", polls, took)
		require.Equal(t, "Running", st.State)
		require.NotEmpty(t, st.Pipeline, "the live pipeline status")
		require.NotNil(t, st.Store, "poll %d says the task store does not answer", polls)
		require.False(t, *st.Store.Reachable)
		require.Contains(t, st.Store.Error, "context deadline exceeded")
		require.WithinDuration(t, frozen, st.Store.Since, 2*time.Second)
		require.True(t, st.Store.AsOf.Before(frozen), "records as last read before the outage")
		if since.IsZero() {
			since = st.Store.Since
		}
		require.Equal(t, since, st.Store.Since, "the outage's start stays put")

		out := d.CDC(t, "get", map[string]any{"task_id": id})
		tk := out["task"].(map[string]any)
		require.Equal(t, "Running", tk["state"])
		require.Equal(t, false, tk["store_status"].(map[string]any)["reachable"])
		polls++
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d polls answered from memory while etcd was frozen (since %s)", polls, since.Format(time.RFC3339Nano))
	require.GreaterOrEqual(t, polls, 3)

	resume()
	Eventually(t, ctx, time.Minute, 500*time.Millisecond, "status from the store again", func(context.Context) (bool, string, error) {
		var st struct {
			Store *store `json:"store"`
		}
		d.getStatus(t, "/api/v1/tasks/"+id+"/status", &st)
		return st.Store == nil, "still from memory", nil
	})

	// Replication goes on: rows written after the outage arrive.
	require.NoError(t, CreateCollection(ctx, src, schema, 1))
	DropCollectionOnCleanup(t, src, coll)
	require.NoError(t, EnsureLoaded(ctx, src, coll))
	require.NoError(t, insertInto(ctx, src, schema, "", 0, 500, 250))
	Eventually(t, ctx, catchUp, time.Second, "rows written after the outage", SameCollection(src, dst, coll, coll))
}

// getStatus GETs a path, decodes the body into out and returns the status.
func (d *Daemon) getStatus(t testing.TB, path string, out any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.addr+path, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, out), "GET %s: %s", path, raw)
	return resp.StatusCode
}
