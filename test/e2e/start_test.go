//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
)

// countWhere counts the target rows matching expr (strong consistency).
func countWhere(ctx context.Context, c client.Client, coll, expr string) (int64, error) {
	rs, err := c.Query(ctx, coll, nil, expr, []string{"count(*)"}, client.WithSearchQueryConsistencyLevel(entity.ClStrong))
	if err != nil {
		return 0, err
	}
	col := rs.GetColumn("count(*)")
	if col == nil || col.Len() != 1 {
		return 0, fmt.Errorf("count(*) on %s: no value", coll)
	}
	return col.GetAsInt64(0)
}

// TestRowsWrittenRightAfterCreateArrive: a task starts where the source's
// channels were when create answered, not where they are when the pipeline
// gets round to opening them. Rows written into a pre-existing collection
// immediately after create returned (no wait for "replicating") all reach the
// target; rows written before the task existed do not.
func TestRowsWrittenRightAfterCreateArrive(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_start"))
	coll := schema.CollectionName
	require.NoError(t, CreateCollection(ctx, src, schema, 2))
	DropCollectionOnCleanup(t, src, coll)
	DropCollectionOnCleanup(t, dst, coll)
	require.NoError(t, EnsureLoaded(ctx, src, coll))
	require.NoError(t, insertInto(ctx, src, schema, "", 0, 500, 500)) // before the task

	id := d.createTaskNoWait(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})
	start := time.Now()
	require.NoError(t, insertInto(ctx, src, schema, "", 1_000, 1_000, 100))
	t.Logf("1000 rows written %.2fs after create answered", time.Since(start).Seconds())

	// The pipeline creates the collection on the target; indexing and
	// loading it there is the test's doing (it was loaded on the source
	// before the task existed), so that it can be counted.
	Eventually(t, ctx, catchUp, time.Second, "target collection "+coll, func(ctx context.Context) (bool, string, error) {
		ok, err := dst.HasCollection(ctx, coll)
		return ok, "not created yet", err
	})
	require.NoError(t, EnsureLoaded(ctx, dst, coll))
	Eventually(t, ctx, catchUp, time.Second, "the 1000 rows written after create", func(ctx context.Context) (bool, string, error) {
		n, err := CountRows(ctx, dst, coll)
		return n == 1_000, fmt.Sprintf("target holds %d rows", n), err
	})
	before, err := countWhere(ctx, dst, coll, fmt.Sprintf("%s < 1000", FieldID))
	require.NoError(t, err)
	require.Zero(t, before, "rows written before the task existed are not replicated")
	after, err := countWhere(ctx, dst, coll, fmt.Sprintf("%s >= 1000 && %s < 2000", FieldID, FieldID))
	require.NoError(t, err)
	require.EqualValues(t, 1_000, after)

	// The pinned positions are the task's first checkpoints: every channel
	// the task reads had one before the pipeline saved anything.
	var st restStatus
	d.getJSON(t, "/api/v1/tasks/"+id+"/status", &st)
	require.NotNil(t, st.Pipeline)
	kinds := map[string]int{}
	for _, c := range st.Pipeline.Channels {
		kinds[c.Kind]++
	}
	require.Equal(t, 1, kinds["replicate"], "the replicate channel is in the status: %+v", st.Pipeline.Channels)
	require.GreaterOrEqual(t, kinds["data"], 1)
}
