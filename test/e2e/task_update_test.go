//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
)

// restJSON sends a REST request with a JSON body and requires the status.
func (d *Daemon) restJSON(t testing.TB, method, path string, body any, want int) map[string]any {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	a := d.call(t, "", method, path, string(raw))
	require.Equal(t, want, a.status, "%s %s: %s", method, path, a.body)
	return a.json(t)
}

// createRESTTaskFrom creates a REST task on the bed's target for the given
// collections of the default database, with extra create fields.
func (d *Daemon) createRESTTaskFrom(t testing.TB, colls []string, extra map[string]any) string {
	t.Helper()
	scope := []any{}
	for _, c := range colls {
		scope = append(scope, map[string]any{"database": "default", "collection": c})
	}
	body := map[string]any{"target": map[string]any{"uri": "http://" + d.bed.TargetAddr, "connectTimeoutSeconds": 10}, "scope": scope}
	for k, v := range extra {
		body[k] = v
	}
	out := d.restJSON(t, http.MethodPost, "/api/v1/tasks", body, http.StatusCreated)
	id, _ := out["id"].(string)
	require.NotEmpty(t, id)
	t.Cleanup(func() {
		if d.cmd != nil {
			d.call(t, "", http.MethodDelete, "/api/v1/tasks/"+id, "")
		}
	})
	return id
}

// newSourceCollection creates and loads an all-types collection on the
// source, dropped on both sides when the test ends.
func newSourceCollection(t *testing.T, ctx context.Context, src, dst client.Client, prefix string) *entity.Schema {
	t.Helper()
	schema := AllTypesSchema(UniqueName(prefix))
	require.NoError(t, CreateCollection(ctx, src, schema, 1))
	DropCollectionOnCleanup(t, src, schema.CollectionName)
	DropCollectionOnCleanup(t, dst, schema.CollectionName)
	require.NoError(t, EnsureLoaded(ctx, src, schema.CollectionName))
	return schema
}

// requireTargetRows waits until the target collection holds exactly the
// dataset rows [from, from+count) of each range, key by key with values:
// none missing, none extra (rows outside the ranges included), none different.
func requireTargetRows(t *testing.T, ctx context.Context, dst client.Client, schema *entity.Schema, ranges ...[2]int) {
	t.Helper()
	coll := schema.CollectionName
	want := map[string]Row{}
	for _, r := range ranges {
		rows, err := NewDataset(schema, r[0], r[1]).ExpectedRows()
		require.NoError(t, err)
		for k, v := range rows {
			want[k] = v
		}
	}
	Eventually(t, ctx, catchUp, time.Second, "target collection "+coll, func(ctx context.Context) (bool, string, error) {
		ok, err := dst.HasCollection(ctx, coll)
		return ok, "not created yet", err
	})
	require.NoError(t, EnsureLoaded(ctx, dst, coll))
	var missing, extra, values []string
	Eventually(t, ctx, catchUp, 2*time.Second, fmt.Sprintf("%d expected rows in %s", len(want), coll), func(ctx context.Context) (bool, string, error) {
		got, err := QueryAllRows(ctx, dst, coll)
		if err != nil {
			return false, "", err
		}
		missing, extra, values = CompareRows(want, got)
		return len(missing) == 0 && len(extra) == 0 && len(values) == 0,
			fmt.Sprintf("target %d rows: %d missing, %d extra, %d different", len(got), len(missing), len(extra), len(values)), nil
	})
	t.Logf("%s: %d rows on the target, 0 missing, 0 extra, 0 different", coll, len(want))
}

// TestUpdatePausedTaskKeepsOneCollectionAndAddsAnother: a Paused task whose
// scope is changed from {kept} to {kept, added} loses and duplicates no row
// of kept across the update (rows written before, while paused and after),
// and gets the added collection's rows written after the update, not those
// written before it.
func TestUpdatePausedTaskKeepsOneCollectionAndAddsAnother(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	kept := newSourceCollection(t, ctx, src, dst, "e2e_upd_kept")
	added := newSourceCollection(t, ctx, src, dst, "e2e_upd_added")

	id := d.createRESTTaskFrom(t, []string{kept.CollectionName}, nil)
	d.waitReplicating(t, id)
	require.NoError(t, insertInto(ctx, src, kept, "", 0, 1_000, 250))
	require.NoError(t, insertInto(ctx, src, added, "", 0, 300, 300)) // before the update: not copied

	// Only a Paused task can be updated.
	a := d.call(t, "", http.MethodPatch, "/api/v1/tasks/"+id, `{"scope":[{"database":"default","collection":"x"}]}`)
	require.Equal(t, http.StatusConflict, a.status, "%s", a.body)
	require.Contains(t, string(a.body), "pause it first")

	d.restJSON(t, http.MethodPost, "/api/v1/tasks/"+id+"/pause", nil, http.StatusOK)
	require.NoError(t, insertInto(ctx, src, kept, "", 1_000, 500, 250)) // while paused

	// Bad input is refused naming the field, and changes nothing.
	bad := d.call(t, "", http.MethodPatch, "/api/v1/tasks/"+id, `{"scope":[{"database":"","collection":"x"}]}`)
	require.Equal(t, http.StatusUnprocessableEntity, bad.status, "%s", bad.body)
	require.Equal(t, "scope[0].database", bad.json(t)["field"])

	start := time.Now()
	out := d.restJSON(t, http.MethodPatch, "/api/v1/tasks/"+id, map[string]any{"scope": []any{
		map[string]any{"database": "default", "collection": kept.CollectionName},
		map[string]any{"database": "default", "collection": added.CollectionName},
	}}, http.StatusOK)
	require.Equal(t, "Paused", out["state"])
	require.Len(t, out["scope"], 2)
	t.Logf("update answered in %.2fs", time.Since(start).Seconds())

	d.restJSON(t, http.MethodPost, "/api/v1/tasks/"+id+"/resume", nil, http.StatusOK)
	d.waitReplicating(t, id)
	require.NoError(t, insertInto(ctx, src, kept, "", 1_500, 500, 250))
	require.NoError(t, insertInto(ctx, src, added, "", 1_000, 300, 100))

	requireTargetRows(t, ctx, dst, kept, [2]int{0, 2_000})
	RequireSameCollection(t, ctx, src, dst, kept.CollectionName, kept.CollectionName)
	requireTargetRows(t, ctx, dst, added, [2]int{1_000, 300})
}

// TestStartFromEarliestAndTime: a task created with startFrom earliest
// replicates rows written before the create; one created with startFrom
// <time> replicates the rows written after that time (before and after the
// create) and none written before it. A future time, and one older than what
// the broker holds, are refused (422 validation_failed, as create refuses
// every bad field).
func TestStartFromEarliestAndTime(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	t.Logf("MQ: %s", bed.MQType)

	future := d.call(t, "", http.MethodPost, "/api/v1/tasks", fmt.Sprintf(`{"target":{"uri":"http://%s"},"scope":[{"database":"default","collection":"x"}],"startFrom":%q}`,
		bed.TargetAddr, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
	require.Equal(t, http.StatusUnprocessableEntity, future.status, "%s", future.body)
	require.Equal(t, "startFrom", future.json(t)["field"])

	early := newSourceCollection(t, ctx, src, dst, "e2e_from_earliest")
	timed := newSourceCollection(t, ctx, src, dst, "e2e_from_time")
	// A time before the oldest message the broker holds (the bed's channels
	// begin when its Milvus first wrote) is refused, naming the channel.
	expired := d.call(t, "", http.MethodPost, "/api/v1/tasks", fmt.Sprintf(`{"target":{"uri":"http://%s"},"scope":[{"database":"default","collection":%q}],"startFrom":"2001-01-01T00:00:00Z"}`, bed.TargetAddr, timed.CollectionName))
	require.Equal(t, http.StatusUnprocessableEntity, expired.status, "%s", expired.body)
	require.Equal(t, "startFrom", expired.json(t)["field"])
	require.Regexp(t, `channel \S+ holds nothing published before`, expired.json(t)["detail"])
	t.Logf("refused: %s", expired.json(t)["detail"])
	require.NoError(t, insertInto(ctx, src, early, "", 0, 500, 250))
	require.NoError(t, insertInto(ctx, src, timed, "", 0, 500, 250)) // before the time
	time.Sleep(2 * time.Second)
	at := time.Now().UTC()
	time.Sleep(2 * time.Second)
	require.NoError(t, insertInto(ctx, src, timed, "", 1_000, 500, 250)) // after the time, before the create

	start := time.Now()
	idEarly := d.createRESTTaskFrom(t, []string{early.CollectionName}, map[string]any{"startFrom": "earliest"})
	idTimed := d.createRESTTaskFrom(t, []string{timed.CollectionName}, map[string]any{"startFrom": at.Format(time.RFC3339Nano)})
	t.Logf("two creates answered in %.2fs", time.Since(start).Seconds())
	d.waitReplicating(t, idEarly)
	d.waitReplicating(t, idTimed)
	require.NoError(t, insertInto(ctx, src, early, "", 2_000, 500, 250))
	require.NoError(t, insertInto(ctx, src, timed, "", 2_000, 500, 250))

	requireTargetRows(t, ctx, dst, early, [2]int{0, 500}, [2]int{2_000, 500})
	RequireSameCollection(t, ctx, src, dst, early.CollectionName, early.CollectionName)
	requireTargetRows(t, ctx, dst, timed, [2]int{1_000, 500}, [2]int{2_000, 500})
}
