package milvus

import (
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
)

func longCol(name string, v ...int64) *schemapb.FieldData {
	return &schemapb.FieldData{FieldName: name, Type: schemapb.DataType_Int64, Field: &schemapb.FieldData_Scalars{
		Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: v}}}}}
}

func strCol(name string, v ...string) *schemapb.FieldData {
	return &schemapb.FieldData{FieldName: name, Type: schemapb.DataType_VarChar, Field: &schemapb.FieldData_Scalars{
		Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: v}}}}}
}

func floatVecCol(name string, dim int64, v ...float32) *schemapb.FieldData {
	return &schemapb.FieldData{FieldName: name, Type: schemapb.DataType_FloatVector, Field: &schemapb.FieldData_Vectors{
		Vectors: &schemapb.VectorField{Dim: dim, Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: v}}}}}
}

func binVecCol(name string, dim int64, v ...byte) *schemapb.FieldData {
	return &schemapb.FieldData{FieldName: name, Type: schemapb.DataType_BinaryVector, Field: &schemapb.FieldData_Vectors{
		Vectors: &schemapb.VectorField{Dim: dim, Data: &schemapb.VectorField_BinaryVector{BinaryVector: v}}}}
}

func TestUpsertBatchMergesColumnsByName(t *testing.T) {
	var b UpsertBatch
	require.NoError(t, b.Append([]*schemapb.FieldData{longCol("id", 1, 2), strCol("s", "a", "b"), floatVecCol("v", 2, 1, 2, 3, 4), binVecCol("bv", 8, 0xF0, 0x0F)}, 2, 100))
	// Same columns in another order: merged by name.
	require.NoError(t, b.Append([]*schemapb.FieldData{binVecCol("bv", 8, 0xAA), floatVecCol("v", 2, 5, 6), strCol("s", "c"), longCol("id", 3)}, 1, 50))

	require.EqualValues(t, 3, b.Rows)
	require.Equal(t, 150, b.Bytes)
	require.Equal(t, []int64{1, 2, 3}, b.Columns[0].GetScalars().GetLongData().GetData())
	require.Equal(t, []string{"a", "b", "c"}, b.Columns[1].GetScalars().GetStringData().GetData())
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, b.Columns[2].GetVectors().GetFloatVector().GetData())
	require.Equal(t, []byte{0xF0, 0x0F, 0xAA}, b.Columns[3].GetVectors().GetBinaryVector())
}

func TestUpsertBatchRefusesDifferentColumnsAndStaysUnchanged(t *testing.T) {
	tests := []struct {
		name string
		cols []*schemapb.FieldData
	}{
		{"missing column", []*schemapb.FieldData{longCol("id", 9)}},
		{"other name", []*schemapb.FieldData{longCol("id", 9), strCol("t", "x")}},
		{"other type", []*schemapb.FieldData{longCol("id", 9), longCol("s", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b UpsertBatch
			require.NoError(t, b.Append([]*schemapb.FieldData{longCol("id", 1), strCol("s", "a")}, 1, 10))
			require.ErrorIs(t, b.Append(tt.cols, 1, 10), ErrColumnsDiffer)
			require.EqualValues(t, 1, b.Rows)
			require.Equal(t, []int64{1}, b.Columns[0].GetScalars().GetLongData().GetData())
		})
	}
}

func TestUpsertBatchRefusesOtherDimension(t *testing.T) {
	var b UpsertBatch
	require.NoError(t, b.Append([]*schemapb.FieldData{longCol("id", 1), floatVecCol("v", 2, 1, 2)}, 1, 1))
	err := b.Append([]*schemapb.FieldData{longCol("id", 2), floatVecCol("v", 3, 1, 2, 3)}, 1, 1)
	require.ErrorContains(t, err, `column "v": dimension 3 cannot be merged with 2`)
	require.Equal(t, []int64{1}, b.Columns[0].GetScalars().GetLongData().GetData(), "a refused append changes nothing")
}
