//go:build e2e

package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
)

// These tests check the helpers themselves and need no bed.

func TestBedFromEnvFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		check   func(t *testing.T, b *Bed)
		wantErr string
	}{
		{
			name: "pulsar bed",
			content: "# comment\nMQ_TYPE=pulsar\nSOURCE_MILVUS_URI=http://127.0.0.1:19530\nTARGET_MILVUS_URI=http://127.0.0.1:19630\n" +
				"ETCD_ENDPOINTS=http://127.0.0.1:2379\nSOURCE_ROOT_PATH=cdc-src\nREPLICATE_CHANNEL=cdc-src-replicate-msg\n" +
				"PULSAR_ADDRESS=pulsar://127.0.0.1:6650\nSOURCE_DML_CHANNEL_NUM=2\n",
			check: func(t *testing.T, b *Bed) {
				require.Equal(t, "127.0.0.1:19530", b.SourceAddr)
				require.Equal(t, "127.0.0.1:19630", b.TargetAddr)
				require.Equal(t, []string{"http://127.0.0.1:2379"}, b.EtcdEndpoints)
				require.Equal(t, "cdc-src/meta", b.MetaRoot())
				require.Equal(t, []string{"cdc-src-rootcoord-dml_0", "cdc-src-rootcoord-dml_1"}, b.DMLChannels)
				require.Equal(t, "public", b.PulsarTenant)
			},
		},
		{
			name: "kafka bed with explicit channels",
			content: "MQ_TYPE=kafka\nSOURCE_MILVUS_URI=127.0.0.1:19530\nTARGET_MILVUS_URI=127.0.0.1:19630\nETCD_ENDPOINTS=a:1, b:2\n" +
				"SOURCE_ROOT_PATH=x\nREPLICATE_CHANNEL=x-replicate-msg\nKAFKA_BROKERS=127.0.0.1:9092\nSOURCE_DML_CHANNELS=x-rootcoord-dml_0\n",
			check: func(t *testing.T, b *Bed) {
				require.Equal(t, []string{"a:1", "b:2"}, b.EtcdEndpoints)
				require.Equal(t, []string{"127.0.0.1:9092"}, b.KafkaBrokers)
				require.Equal(t, []string{"x-rootcoord-dml_0"}, b.DMLChannels)
			},
		},
		{name: "missing keys are named", content: "MQ_TYPE=kafka\nKAFKA_BROKERS=k:1\n", wantErr: "SOURCE_MILVUS_URI, TARGET_MILVUS_URI"},
		{name: "unknown broker", content: "MQ_TYPE=nats\n", wantErr: `MQ_TYPE="nats"`},
		{name: "not KEY=value", content: "MQ_TYPE pulsar\n", wantErr: "want KEY=value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "env")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			t.Setenv("TESTBED_ENV", path)
			b, err := LoadBed()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, b)
		})
	}
	t.Run("no env file", func(t *testing.T) {
		t.Setenv("TESTBED_ENV", filepath.Join(t.TempDir(), "absent"))
		_, err := LoadBed()
		require.ErrorIs(t, err, ErrNoBed)
	})
}

func TestCompareRowsFindsEveryKindOfDifference(t *testing.T) {
	src := map[string]Row{"1": {"a": "1", "b": "x"}, "2": {"a": "2"}, "3": {"a": "3"}}
	dst := map[string]Row{"1": {"a": "1", "b": "y"}, "3": {"a": "3", "c": "z"}, "4": {"a": "4"}}
	missing, extra, values := CompareRows(src, dst)
	require.Equal(t, []string{"2"}, missing)
	require.Equal(t, []string{"4"}, extra)
	require.Equal(t, []string{"pk 1 field b: source=x target=y", "pk 3 field c: absent on source"}, values)

	missing, extra, values = CompareRows(src, src)
	require.Empty(t, missing)
	require.Empty(t, extra)
	require.Empty(t, values)
}

func TestCompareSchemas(t *testing.T) {
	a := AllTypesSchema("c")
	require.Empty(t, CompareSchemas(a, AllTypesSchema("c")))

	b := AllTypesSchema("c")
	b.EnableDynamicField = false
	b.Fields[len(b.Fields)-1].WithDim(FloatVectorDim * 2)
	diffs := CompareSchemas(a, b)
	require.Len(t, diffs, 2, "%v", diffs)
	require.Contains(t, diffs[0], "enableDynamicField")
	require.Contains(t, diffs[1], "field f_float_vec type params")

	require.NotEmpty(t, CompareSchemas(a, AllTypesBinarySchema("c")), "float vs binary vector")
}

func TestDatasetIsDeterministicAndComplete(t *testing.T) {
	schema := AllTypesSchema("c")
	rows, err := NewDataset(schema, 10, 5).ExpectedRows()
	require.NoError(t, err)
	again, err := NewDataset(schema, 10, 5).ExpectedRows()
	require.NoError(t, err)
	require.Equal(t, rows, again)
	require.Len(t, rows, 5)
	require.Contains(t, rows, "14")
	require.Len(t, rows["12"], len(schema.Fields)+1, "every field plus $meta")
	require.NotEqual(t, rows["12"][FieldInt32], rows["13"][FieldInt32])

	// A slice of the dataset yields the same rows as the whole: batches do not matter.
	part, err := NewDataset(schema, 12, 1).ExpectedRows()
	require.NoError(t, err)
	require.Equal(t, rows["12"], part["12"])

	cols, err := NewDataset(AllTypesBinarySchema("b"), 0, 3).Columns()
	require.NoError(t, err)
	var types []entity.FieldType
	for _, c := range cols {
		types = append(types, c.Type())
	}
	require.Contains(t, types, entity.FieldTypeBinaryVector)
}

func TestCanonicalJSON(t *testing.T) {
	a, err := canonicalJSON([]byte(`{"b": 1.50, "a": [1, {"y": null, "x": true}]}`))
	require.NoError(t, err)
	b, err := canonicalJSON([]byte(`{"a":[1,{"x":true,"y":null}],"b":1.50}`))
	require.NoError(t, err)
	require.Equal(t, a, b)
	c, err := canonicalJSON([]byte(`{"a":[1,{"x":true,"y":null}],"b":1.5}`))
	require.NoError(t, err)
	require.NotEqual(t, a, c, "numbers compare as written")
	_, err = canonicalJSON([]byte(`{"a":`))
	require.Error(t, err)
}

func TestWaitFor(t *testing.T) {
	calls := 0
	err := WaitFor(context.Background(), time.Second, time.Millisecond, func(context.Context) (bool, string, error) {
		calls++
		return calls == 3, "calls", nil
	})
	require.NoError(t, err)
	require.Equal(t, 3, calls)

	err = WaitFor(context.Background(), 50*time.Millisecond, 10*time.Millisecond, func(context.Context) (bool, string, error) {
		return false, "target has 3 of 5 rows", errors.New("connection refused")
	})
	require.ErrorContains(t, err, "target has 3 of 5 rows")
	require.ErrorContains(t, err, "connection refused")
}
