//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
)

// How long the target may take to catch up after a step of a scenario.
const catchUp = 3 * time.Minute

// connectDB connects to a Milvus with a default database for every call.
func connectDB(t testing.TB, ctx context.Context, addr, db string) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.NewClient(ctx, client.Config{Address: addr, DBName: db})
	require.NoError(t, err, "connect to %s database %s", addr, db)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// insertInto writes rows [from, from+count) of schema into a partition.
func insertInto(ctx context.Context, c client.Client, schema *entity.Schema, partition string, from, count, batch int) error {
	for start := from; start < from+count; start += batch {
		cols, err := NewDataset(schema, start, min(batch, from+count-start)).Columns()
		if err != nil {
			return err
		}
		if _, err := c.Insert(ctx, schema.CollectionName, partition, cols...); err != nil {
			return fmt.Errorf("insert %d.. into %s/%s: %w", start, schema.CollectionName, partition, err)
		}
	}
	return nil
}

// upsertWithValuesOf rewrites the rows with primary keys ids using the values
// of other dataset rows, so the change is visible in every field.
func upsertWithValuesOf(ctx context.Context, c client.Client, schema *entity.Schema, ids []int64, valuesFrom int) error {
	cols, err := NewDataset(schema, valuesFrom, len(ids)).Columns()
	if err != nil {
		return err
	}
	for i, col := range cols {
		if col.Name() == FieldID {
			cols[i] = entity.NewColumnInt64(FieldID, ids)
		}
	}
	_, err = c.Upsert(ctx, schema.CollectionName, "", cols...)
	return err
}

func int64Range(from, to int64) []int64 {
	out := make([]int64, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func inExpr(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return FieldID + " in [" + strings.Join(parts, ",") + "]"
}

// indexSummary describes a collection's indexes for comparison.
func indexSummary(ctx context.Context, c client.Client, coll, field string) (string, error) {
	idx, err := c.DescribeIndex(ctx, coll, field)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, i := range idx {
		p := i.Params()
		keys := slices.Sorted(maps.Keys(p))
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+p[k])
		}
		parts = append(parts, i.Name()+"{"+strings.Join(kv, ",")+"}")
	}
	slices.Sort(parts)
	return strings.Join(parts, ";"), nil
}

func partitionNames(ctx context.Context, c client.Client, coll string) ([]string, error) {
	ps, err := c.ShowPartitions(ctx, coll)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names, nil
}

// sameState is a Condition comparing one aspect of both clusters.
func sameState(src, dst client.Client, what string, get func(context.Context, client.Client) (string, error)) Condition {
	return func(ctx context.Context) (bool, string, error) {
		s, err := get(ctx, src)
		if err != nil {
			return false, "", fmt.Errorf("source %s: %w", what, err)
		}
		d, err := get(ctx, dst)
		if err != nil {
			return false, "", fmt.Errorf("target %s: %w", what, err)
		}
		return s == d, fmt.Sprintf("%s: source=%q target=%q", what, s, d), nil
	}
}

func gone(c client.Client, coll string) Condition {
	return func(ctx context.Context) (bool, string, error) {
		ok, err := c.HasCollection(ctx, coll)
		return err == nil && !ok, fmt.Sprintf("target has %s: %v", coll, ok), err
	}
}

// TestReplicationScenario runs every operation the replication core handles
// on the source, across two databases, and after each step waits until the
// target matches: schema, partitions, index parameters, load state, row count
// and every field of every row by primary key.
func TestReplicationScenario(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	d.CreateTask(t, map[string]any{"db_collections": map[string]any{"*": []any{map[string]any{"name": "*"}}}})
	started := time.Now()

	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	db := UniqueName("e2e_db")
	step := func(what string, cond Condition) {
		t.Helper()
		t0 := time.Now()
		Eventually(t, ctx, catchUp, time.Second, what, cond)
		t.Logf("%-55s target matched after %s", what, time.Since(t0).Round(100*time.Millisecond))
	}

	// Databases.
	require.NoError(t, src.CreateDatabase(ctx, db))
	step("create database "+db, func(ctx context.Context) (bool, string, error) {
		dbs, err := dst.ListDatabases(ctx)
		names := []string{}
		for _, x := range dbs {
			names = append(names, x.Name)
		}
		return slices.Contains(names, db), fmt.Sprint("target databases: ", names), err
	})
	srcDB, dstDB := connectDB(t, ctx, bed.SourceAddr, db), connectDB(t, ctx, bed.TargetAddr, db)

	// Collections: every scalar type plus a float vector (2 shards) in the
	// default database, the binary-vector twin in the new one.
	floatSchema := AllTypesSchema(UniqueName("e2e_float"))
	binSchema := AllTypesBinarySchema(UniqueName("e2e_bin"))
	fc, bc := floatSchema.CollectionName, binSchema.CollectionName
	require.NoError(t, CreateCollection(ctx, src, floatSchema, 2))
	require.NoError(t, CreateCollection(ctx, srcDB, binSchema, 1))
	schemaOf := func(coll string) func(context.Context, client.Client) (string, error) {
		return func(ctx context.Context, c client.Client) (string, error) {
			col, err := c.DescribeCollection(ctx, coll)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("shards=%d consistency=%v", col.ShardNum, col.ConsistencyLevel), nil
		}
	}
	step("create collection "+fc, sameState(src, dst, "collection", schemaOf(fc)))
	step("create collection "+db+"."+bc, sameState(srcDB, dstDB, "collection", schemaOf(bc)))
	for _, pair := range []struct {
		s, d client.Client
		coll string
	}{{src, dst, fc}, {srcDB, dstDB, bc}} {
		sc, err := pair.s.DescribeCollection(ctx, pair.coll)
		require.NoError(t, err)
		tc, err := pair.d.DescribeCollection(ctx, pair.coll)
		require.NoError(t, err)
		require.Empty(t, CompareSchemas(sc.Schema, tc.Schema), "schema of %s", pair.coll)
	}

	// Partitions.
	require.NoError(t, src.CreatePartition(ctx, fc, "p1"))
	step("create partition "+fc+".p1", sameState(src, dst, "partitions", func(ctx context.Context, c client.Client) (string, error) {
		names, err := partitionNames(ctx, c, fc)
		return fmt.Sprint(names), err
	}))

	// Indexes with non-default parameters, then load.
	ivf, err := entity.NewIndexIvfFlat(entity.IP, 16)
	require.NoError(t, err)
	require.NoError(t, src.CreateIndex(ctx, fc, FieldFloatVector, ivf, false, client.WithIndexName("vec_ivf")))
	binIdx, err := entity.NewIndexBinIvfFlat(entity.JACCARD, 8)
	require.NoError(t, err)
	require.NoError(t, srcDB.CreateIndex(ctx, bc, FieldBinVector, binIdx, false))
	step("create index on "+fc, sameState(src, dst, "index", func(ctx context.Context, c client.Client) (string, error) {
		return indexSummary(ctx, c, fc, FieldFloatVector)
	}))
	step("create index on "+bc, sameState(srcDB, dstDB, "index", func(ctx context.Context, c client.Client) (string, error) {
		return indexSummary(ctx, c, bc, FieldBinVector)
	}))
	require.NoError(t, src.LoadCollection(ctx, fc, false))
	require.NoError(t, srcDB.LoadCollection(ctx, bc, false))
	loadState := func(coll string) func(context.Context, client.Client) (string, error) {
		return func(ctx context.Context, c client.Client) (string, error) {
			s, err := c.GetLoadState(ctx, coll, nil)
			return fmt.Sprint(s), err
		}
	}
	step("load "+fc, sameState(src, dst, "load state", loadState(fc)))
	step("load "+bc, sameState(srcDB, dstDB, "load state", loadState(bc)))

	// 20k rows in several batches, some into p1; 5k rows in the other database.
	require.NoError(t, insertInto(ctx, src, floatSchema, "", 0, 15_000, 2_500))
	require.NoError(t, insertInto(ctx, src, floatSchema, "p1", 15_000, 5_000, 2_500))
	require.NoError(t, insertInto(ctx, srcDB, binSchema, "", 0, 5_000, 1_000))
	step("insert 20000 rows into "+fc, SameCollection(src, dst, fc, fc))
	step("insert 5000 rows into "+bc, SameCollection(srcDB, dstDB, bc, bc))
	n, err := CountRows(ctx, dst, fc)
	require.NoError(t, err)
	require.EqualValues(t, 20_000, n)

	// Deletes and upserts, in both partitions.
	require.NoError(t, src.Delete(ctx, fc, "", inExpr(append(int64Range(0, 500), int64Range(15_000, 15_100)...))))
	require.NoError(t, upsertWithValuesOf(ctx, src, floatSchema, int64Range(1_000, 1_300), 900_000))
	require.NoError(t, srcDB.Delete(ctx, bc, "", inExpr(int64Range(10, 20))))
	step("delete 600 and upsert 300 rows of "+fc, SameCollection(src, dst, fc, fc))
	step("delete 10 rows of "+bc, SameCollection(srcDB, dstDB, bc, bc))
	n, err = CountRows(ctx, dst, fc)
	require.NoError(t, err)
	require.EqualValues(t, 19_400, n)

	// Flush, then more data: nothing is lost or duplicated around it.
	require.NoError(t, src.Flush(ctx, fc, false))
	require.NoError(t, insertInto(ctx, src, floatSchema, "", 20_000, 1_000, 1_000))
	step("flush, then insert 1000 rows into "+fc, SameCollection(src, dst, fc, fc))

	// Release, drop the partition, drop the index.
	require.NoError(t, src.ReleaseCollection(ctx, fc))
	step("release "+fc, sameState(src, dst, "load state", loadState(fc)))
	require.NoError(t, src.DropPartition(ctx, fc, "p1"))
	step("drop partition "+fc+".p1", sameState(src, dst, "partitions", func(ctx context.Context, c client.Client) (string, error) {
		names, err := partitionNames(ctx, c, fc)
		return fmt.Sprint(names), err
	}))
	require.NoError(t, src.DropIndex(ctx, fc, FieldFloatVector, client.WithIndexName("vec_ivf")))
	step("drop index on "+fc, sameState(src, dst, "index", func(ctx context.Context, c client.Client) (string, error) {
		s, err := indexSummary(ctx, c, fc, FieldFloatVector)
		if err != nil && strings.Contains(err.Error(), "not found") {
			return "none", nil
		}
		return s, err
	}))

	// Drops: collections, then the database.
	require.NoError(t, src.DropCollection(ctx, fc))
	step("drop collection "+fc, gone(dst, fc))
	require.NoError(t, srcDB.ReleaseCollection(ctx, bc))
	require.NoError(t, srcDB.DropCollection(ctx, bc))
	step("drop collection "+bc, gone(dstDB, bc))
	require.NoError(t, src.DropDatabase(ctx, db))
	step("drop database "+db, func(ctx context.Context) (bool, string, error) {
		dbs, err := dst.ListDatabases(ctx)
		names := []string{}
		for _, x := range dbs {
			names = append(names, x.Name)
		}
		return !slices.Contains(names, db), fmt.Sprint("target databases: ", names), err
	})
	t.Logf("scenario replicated in %s", time.Since(started).Round(time.Second))
}
