//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
)

// varcharKeySchema is a small collection keyed by VarChar ("pk-%08d" in
// Dataset), with an Int64, a float vector and the dynamic field.
func varcharKeySchema(name string) *entity.Schema {
	return &entity.Schema{
		CollectionName:     name,
		Description:        "milvus-cdc e2e: varchar primary key",
		EnableDynamicField: true,
		Fields: []*entity.Field{
			entity.NewField().WithName(FieldID).WithDataType(entity.FieldTypeVarChar).WithMaxLength(64).WithIsPrimaryKey(true).WithIsAutoID(false),
			entity.NewField().WithName(FieldInt64).WithDataType(entity.FieldTypeInt64),
			entity.NewField().WithName(FieldFloatVector).WithDataType(entity.FieldTypeFloatVector).WithDim(FloatVectorDim),
		},
	}
}

// createScopeTask creates, through REST, a task replicating the named
// collections of the default database, deleted when the test ends, and
// waits until it replicates.
func (d *Daemon) createScopeTask(t testing.TB, colls ...string) string {
	t.Helper()
	var scope []any
	for _, c := range colls {
		scope = append(scope, map[string]any{"database": "default", "collection": c})
	}
	body := map[string]any{"target": map[string]any{"uri": "http://" + d.bed.TargetAddr, "connectTimeoutSeconds": 10}, "scope": scope}
	if d.bed.Env["TARGET_MODE"] == "replicate" {
		body["writerMode"] = "replicate"
	}
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	a := d.call(t, "", http.MethodPost, "/api/v1/tasks", string(raw))
	require.Equal(t, http.StatusCreated, a.status, "create: %s", a.body)
	id := a.json(t)["id"].(string)
	t.Cleanup(func() {
		if d.cmd != nil {
			d.call(t, "", http.MethodDelete, "/api/v1/tasks/"+id, "")
		}
	})
	d.waitReplicating(t, id)
	return id
}

// restVerify is the answer of POST /api/v1/tasks/{id}/verify.
type restVerify struct {
	Equal       bool   `json:"equal"`
	Mode        string `json:"mode"`
	Sample      int    `json:"sample"`
	Collections []struct {
		Name            string   `json:"name"`
		Result          string   `json:"result"`
		Reason          string   `json:"reason"`
		SourceRows      int64    `json:"sourceRows"`
		TargetRows      int64    `json:"targetRows"`
		SourceKeyHash   string   `json:"sourceKeyHash"`
		TargetKeyHash   string   `json:"targetKeyHash"`
		RowsCompared    int64    `json:"rowsCompared"`
		Missing         int64    `json:"missing"`
		Extra           int64    `json:"extra"`
		Differing       int64    `json:"differing"`
		MissingKeys     []string `json:"missingKeys"`
		ExtraKeys       []string `json:"extraKeys"`
		DifferingKeys   []string `json:"differingKeys"`
		DifferingFields []string `json:"differingFields"`
		Partitions      []struct {
			Name       string `json:"name"`
			SourceRows int64  `json:"sourceRows"`
			TargetRows int64  `json:"targetRows"`
		} `json:"partitions"`
	} `json:"collections"`
}

// postVerify calls verify with body and returns the status and raw answer.
func (d *Daemon) postVerify(t testing.TB, id, body string) (int, []byte) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Post("http://"+d.addr+"/api/v1/tasks/"+id+"/verify", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw
}

func (d *Daemon) verify(t testing.TB, id, body string) restVerify {
	t.Helper()
	code, raw := d.postVerify(t, id, body)
	require.Equal(t, http.StatusOK, code, "verify %s: %s", body, raw)
	var v restVerify
	require.NoError(t, json.Unmarshal(raw, &v), "%s", raw)
	return v
}

// TestVerifyComparesTargetWithSource replicates an int64-keyed and a
// varchar-keyed collection, verifies them equal (full and sample), then
// deletes one row and changes another directly on the target: verify must
// say not equal and name exactly those keys, over REST, in the metric and
// in the CLI's exit code.
func TestVerifyComparesTargetWithSource(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	ints := AllTypesSchema(UniqueName("e2e_verify_int"))
	strs := varcharKeySchema(UniqueName("e2e_verify_str"))
	const intRows, strRows = 3000, 2000
	id := d.createScopeTask(t, ints.CollectionName, strs.CollectionName)
	replicatedCollection(t, ctx, src, dst, ints, 2)
	replicatedCollection(t, ctx, src, dst, strs, 1)
	_, err := NewDataset(ints, 0, intRows).Insert(ctx, src, 1000)
	require.NoError(t, err)
	_, err = NewDataset(strs, 0, strRows).Insert(ctx, src, 1000)
	require.NoError(t, err)
	Eventually(t, ctx, catchUp, time.Second, "target holds the int64-keyed rows", SameCollection(src, dst, ints.CollectionName, ints.CollectionName))
	Eventually(t, ctx, catchUp, time.Second, "target holds the varchar-keyed rows", SameCollection(src, dst, strs.CollectionName, strs.CollectionName))

	// Equal, every row compared.
	started := time.Now()
	v := d.verify(t, id, `{"mode":"full"}`)
	t.Logf("verify full of %d rows: %s", intRows+strRows, time.Since(started))
	require.True(t, v.Equal, "%+v", v)
	require.Len(t, v.Collections, 2)
	want := map[string]int64{ints.CollectionName: intRows, strs.CollectionName: strRows}
	for _, c := range v.Collections {
		require.Equal(t, "equal", c.Result, "%+v", c)
		require.Equal(t, want[c.Name], c.SourceRows)
		require.Equal(t, want[c.Name], c.TargetRows)
		require.Equal(t, want[c.Name], c.RowsCompared)
		require.Equal(t, c.SourceKeyHash, c.TargetKeyHash)
		require.True(t, strings.HasPrefix(c.SourceKeyHash, fmt.Sprintf("%d:", want[c.Name])), c.SourceKeyHash)
		require.NotEmpty(t, c.Partitions)
		for _, p := range c.Partitions {
			require.Equal(t, p.SourceRows, p.TargetRows, "partition %s", p.Name)
		}
	}
	// Sample: every key, the values of 100 rows.
	v = d.verify(t, id, `{"mode":"sample","sample":100}`)
	require.True(t, v.Equal, "%+v", v)
	for _, c := range v.Collections {
		require.EqualValues(t, 100, c.RowsCompared)
	}
	r := d.runCLI(t, "task", "verify", id)
	require.Equal(t, 0, r.code, "verify of an equal task exits 0: %s%s", r.stdout, r.stderr)
	require.Equal(t, []string{"Equal:", "true"}, tableCells(t, r.stdout, "Equal:"))

	// Bad input names the field.
	for body, field := range map[string]string{`{"mode":"quick"}`: "mode", `{"sample":-5}`: "sample", `{"mode":"full","sample":10}`: "sample", `{"sampel":10}`: "sampel", `{"sample":"ten"}`: "sample"} {
		code, raw := d.postVerify(t, id, body)
		require.Equal(t, http.StatusBadRequest, code, "%s: %s", body, raw)
		var p struct {
			Field string `json:"field"`
		}
		require.NoError(t, json.Unmarshal(raw, &p))
		require.Equal(t, field, p.Field, "%s: %s", body, raw)
	}

	if bed.Env["TARGET_MODE"] == "replicate" {
		t.Log("a replica target refuses direct writes: the negative half runs with an api target")
		return
	}

	// Change the target behind the task's back: delete one row of each, and
	// give another row of each the values of a row the source never had.
	require.NoError(t, dst.Delete(ctx, ints.CollectionName, "", FieldID+" in [17]"))
	require.NoError(t, upsertWithValuesOf(ctx, dst, ints, []int64{42}, 100000))
	require.NoError(t, dst.Delete(ctx, strs.CollectionName, "", FieldID+` in ["pk-00000005"]`))
	cols, err := NewDataset(strs, 100000, 1).Columns()
	require.NoError(t, err)
	for i, col := range cols {
		if col.Name() == FieldID {
			cols[i] = entity.NewColumnVarChar(FieldID, []string{"pk-00000009"})
		}
	}
	_, err = dst.Upsert(ctx, strs.CollectionName, "", cols...)
	require.NoError(t, err)

	v = d.verify(t, id, `{"mode":"full"}`)
	require.False(t, v.Equal)
	byName := map[string]int{}
	for i, c := range v.Collections {
		byName[c.Name] = i
	}
	ci := v.Collections[byName[ints.CollectionName]]
	require.Equal(t, "not_equal", ci.Result)
	require.Equal(t, []string{"17"}, ci.MissingKeys)
	require.Empty(t, ci.ExtraKeys)
	require.Equal(t, []string{"42"}, ci.DifferingKeys)
	require.EqualValues(t, intRows-1, ci.TargetRows)
	require.EqualValues(t, 1, ci.Missing)
	require.EqualValues(t, 1, ci.Differing)
	require.NotEqual(t, ci.SourceKeyHash, ci.TargetKeyHash)
	require.Len(t, ci.DifferingFields, 1)
	require.True(t, strings.HasPrefix(ci.DifferingFields[0], "42: "), ci.DifferingFields[0])
	require.Contains(t, ci.DifferingFields[0], FieldFloatVector)
	require.NotContains(t, ci.DifferingFields[0], FieldID+",")
	cs := v.Collections[byName[strs.CollectionName]]
	require.Equal(t, "not_equal", cs.Result)
	require.Equal(t, []string{"pk-00000005"}, cs.MissingKeys)
	require.Equal(t, []string{"pk-00000009"}, cs.DifferingKeys)
	require.EqualValues(t, 2, cs.Missing+cs.Differing)

	// Sample mode still finds every missing key (it reads all keys).
	v = d.verify(t, id, `{"sample":10}`)
	require.False(t, v.Equal)
	for _, c := range v.Collections {
		if c.Name == ints.CollectionName {
			require.Equal(t, []string{"17"}, c.MissingKeys)
		}
	}

	// The gauge is set by every run.
	metrics := d.metricsText(t)
	require.Contains(t, metrics, fmt.Sprintf(`milvus_cdc_daemon_verify_mismatched_rows{collection="default.%s",task_id="%s"}`, ints.CollectionName, id))

	// The CLI exits 4 and names the keys.
	r = d.runCLI(t, "task", "verify", id, "--full")
	require.Equal(t, 4, r.code, "verify of a differing task exits 4: %s%s", r.stdout, r.stderr)
	require.Equal(t, []string{"Equal:", "false"}, tableCells(t, r.stdout, "Equal:"))
	require.Contains(t, r.stdout, "missing on the target: 17\n")
	require.Contains(t, r.stdout, "differing values: 42: ")
	require.Contains(t, r.stdout, "missing on the target: pk-00000005\n")
	require.Contains(t, r.stdout, "differing values: pk-00000009: ")
	require.Contains(t, d.metricsText(t), fmt.Sprintf(`milvus_cdc_daemon_verify_mismatched_rows{collection="default.%s",task_id="%s"} 2`, ints.CollectionName, id))
	t.Logf("CLI verify --full:\n%s", r.stdout)
}

func (d *Daemon) metricsText(t testing.TB) string {
	t.Helper()
	resp, err := http.Get("http://" + d.addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(raw)
}

// smallSchema is an Int64 key and an 8-dimensional float vector: many rows
// cheaply.
func smallSchema(name string) *entity.Schema {
	return &entity.Schema{
		CollectionName: name,
		Description:    "milvus-cdc e2e: many small rows",
		Fields: []*entity.Field{
			entity.NewField().WithName(FieldID).WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true).WithIsAutoID(false),
			entity.NewField().WithName(FieldFloatVector).WithDataType(entity.FieldTypeFloatVector).WithDim(FloatVectorDim),
		},
	}
}

// TestVerifyLargeCollection verifies a collection of
// E2E_VERIFY_ROWS rows (e.g. 1000000; skipped when unset) in both
// modes and logs how long each took and the daemon's peak memory, which
// must not grow with the row count: both sides are read a chunk at a time.
func TestVerifyLargeCollection(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("E2E_VERIFY_ROWS"))
	if n <= 0 {
		t.Skip("set E2E_VERIFY_ROWS to the row count to verify")
	}
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := smallSchema(UniqueName("e2e_verify_large"))
	coll := schema.CollectionName
	id := d.createScopeTask(t, coll)
	replicatedCollection(t, ctx, src, dst, schema, 2)
	started := time.Now()
	_, err := NewDataset(schema, 0, n).Insert(ctx, src, 10000)
	require.NoError(t, err)
	t.Logf("%d rows written to the source in %s", n, time.Since(started))
	Eventually(t, ctx, 30*time.Minute, 5*time.Second, "target holds every row", func(ctx context.Context) (bool, string, error) {
		c, err := CountRows(ctx, dst, coll)
		return c == int64(n), fmt.Sprintf("target rows %d of %d", c, n), err
	})
	t.Logf("replicated in %s; daemon peak RSS %s", time.Since(started), d.peakRSS(t))
	for _, body := range []string{`{"mode":"sample"}`, `{"mode":"full"}`} {
		started := time.Now()
		v := d.verify(t, id, body)
		require.True(t, v.Equal, "%s: %+v", body, v)
		require.EqualValues(t, n, v.Collections[0].SourceRows)
		require.EqualValues(t, n, v.Collections[0].TargetRows)
		t.Logf("verify %s of %d rows: %s, %d rows compared, daemon peak RSS %s", body, n, time.Since(started), v.Collections[0].RowsCompared, d.peakRSS(t))
	}
}

// peakRSS is the daemon process's peak resident memory (VmHWM).
func (d *Daemon) peakRSS(t testing.TB) string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}
