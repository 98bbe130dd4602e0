package pipeline

import (
	"context"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink/milvus"
)

// TestApplyPackMergesOnlySmallInserts: consecutive small inserts become one
// upsert, small ones merge with large ones, but two inserts of
// milvus.MergeBelowBytes or more are written as they are (no copy of their vectors).
func TestApplyPackMergesOnlySmallInserts(t *testing.T) {
	sized := func(m dataMsg, size int) dataMsg { m.size = size; return m }
	small, big := 1<<10, milvus.MergeBelowBytes
	tests := []struct {
		name string
		msgs []dataMsg
		want []string
	}{
		{"small ones merge", []dataMsg{
			sized(insert(12, "", "users", "_default", 1, 2), small),
			sized(insert(12, "", "users", "_default", 3), small),
		}, []string{"Upsert default.users._default rows=3"}},
		{"large ones go alone", []dataMsg{
			sized(insert(12, "", "users", "_default", 1, 2), big),
			sized(insert(12, "", "users", "_default", 3), big),
		}, []string{"Upsert default.users._default rows=2", "Upsert default.users._default rows=1"}},
		{"small ones join a large one", []dataMsg{
			sized(insert(12, "", "users", "_default", 1), big),
			sized(insert(12, "", "users", "_default", 2), small),
			sized(insert(12, "", "users", "_default", 3), small),
		}, []string{"Upsert default.users._default rows=3"}},
		{"a large one joins small ones", []dataMsg{
			sized(insert(12, "", "users", "_default", 1), small),
			sized(insert(12, "", "users", "_default", 2), big),
		}, []string{"Upsert default.users._default rows=2"}},
		{"large, small, large: the second large one starts a call", []dataMsg{
			sized(insert(12, "", "users", "_default", 1), big),
			sized(insert(12, "", "users", "_default", 2), small),
			sized(insert(12, "", "users", "_default", 3), big),
		}, []string{"Upsert default.users._default rows=2", "Upsert default.users._default rows=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []int64 // before applying: a merge appends to the first message's columns
			for _, m := range tt.msgs {
				ids = append(ids, m.msg.(*msgpb.InsertRequest).GetFieldsData()[0].GetScalars().GetLongData().GetData()...)
			}
			r, rec := newTestReplicator(map[string][]string{"*": {"*"}}, nil)
			require.NoError(t, r.applyPack(context.Background(), "dml_1", tt.msgs))
			var upserts []string
			for _, c := range rec.Calls() {
				if len(c) > 6 && c[:6] == "Upsert" {
					upserts = append(upserts, c)
				}
			}
			require.Equal(t, tt.want, upserts)
			require.Equal(t, ids, rec.upserted["default.users"], "every row written once, in order")
		})
	}
}
