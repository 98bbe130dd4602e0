package milvus

import (
	"errors"
	"fmt"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
)

// ErrColumnsDiffer is returned by UpsertBatch.Append when the new rows do not
// have the same columns as the rows already in the batch; the caller writes
// the batch and starts a new one.
var ErrColumnsDiffer = errors.New("columns differ from the batch")

// UpsertBatch merges consecutive inserts into one collection and partition so
// the target receives few large writes instead of many small ones. The first
// appended columns become the batch's own; later rows are appended to them.
type UpsertBatch struct {
	DB, Collection, Partition string
	Columns                   []*schemapb.FieldData
	Rows                      uint32
	Bytes                     int // payload size of the merged messages, for the caller's limits
}

// Append adds rows to the batch. cols is taken over by the batch when the
// batch is empty and must not be used by the caller afterwards.
func (b *UpsertBatch) Append(cols []*schemapb.FieldData, rows uint32, bytes int) error {
	if b.Rows == 0 {
		b.Columns, b.Rows, b.Bytes = cols, rows, bytes
		return nil
	}
	if len(cols) != len(b.Columns) {
		return ErrColumnsDiffer
	}
	byName := make(map[string]*schemapb.FieldData, len(cols))
	for _, c := range cols {
		byName[c.GetFieldName()] = c
	}
	for _, dst := range b.Columns {
		src, ok := byName[dst.GetFieldName()]
		if !ok || src.GetType() != dst.GetType() {
			return ErrColumnsDiffer
		}
		if err := sameDimension(dst, src); err != nil {
			return err
		}
	}
	// Checked first, appended after: a failure leaves the batch unchanged.
	for _, dst := range b.Columns {
		if err := appendColumn(dst, byName[dst.GetFieldName()]); err != nil {
			return err
		}
	}
	b.Rows += rows
	b.Bytes += bytes
	return nil
}

// appendColumn appends src's values to dst; both hold the same field.
func appendColumn(dst, src *schemapb.FieldData) error {
	dst.ValidData = append(dst.ValidData, src.GetValidData()...)
	switch d := dst.GetField().(type) {
	case *schemapb.FieldData_Scalars:
		return appendScalars(dst.GetFieldName(), d.Scalars, src.GetScalars())
	case *schemapb.FieldData_Vectors:
		return appendVectors(dst.GetFieldName(), d.Vectors, src.GetVectors())
	}
	return fmt.Errorf("column %q: no data to append to", dst.GetFieldName())
}

func appendScalars(name string, dst, src *schemapb.ScalarField) error {
	switch d := dst.GetData().(type) {
	case *schemapb.ScalarField_BoolData:
		d.BoolData.Data = append(d.BoolData.Data, src.GetBoolData().GetData()...)
	case *schemapb.ScalarField_IntData:
		d.IntData.Data = append(d.IntData.Data, src.GetIntData().GetData()...)
	case *schemapb.ScalarField_LongData:
		d.LongData.Data = append(d.LongData.Data, src.GetLongData().GetData()...)
	case *schemapb.ScalarField_FloatData:
		d.FloatData.Data = append(d.FloatData.Data, src.GetFloatData().GetData()...)
	case *schemapb.ScalarField_DoubleData:
		d.DoubleData.Data = append(d.DoubleData.Data, src.GetDoubleData().GetData()...)
	case *schemapb.ScalarField_StringData:
		d.StringData.Data = append(d.StringData.Data, src.GetStringData().GetData()...)
	case *schemapb.ScalarField_BytesData:
		d.BytesData.Data = append(d.BytesData.Data, src.GetBytesData().GetData()...)
	case *schemapb.ScalarField_JsonData:
		d.JsonData.Data = append(d.JsonData.Data, src.GetJsonData().GetData()...)
	case *schemapb.ScalarField_ArrayData:
		d.ArrayData.Data = append(d.ArrayData.Data, src.GetArrayData().GetData()...)
	default:
		return fmt.Errorf("column %q: scalar type %T cannot be merged", name, d)
	}
	return nil
}

// sameDimension refuses to merge dense vectors of different dimensions;
// sparse vectors carry a per-batch maximum and merge freely.
func sameDimension(dst, src *schemapb.FieldData) error {
	d, s := dst.GetVectors(), src.GetVectors()
	if d == nil || d.GetDim() == s.GetDim() || dst.GetType() == schemapb.DataType_SparseFloatVector {
		return nil
	}
	return fmt.Errorf("column %q: dimension %d cannot be merged with %d", dst.GetFieldName(), s.GetDim(), d.GetDim())
}

func appendVectors(name string, dst, src *schemapb.VectorField) error {
	switch d := dst.GetData().(type) {
	case *schemapb.VectorField_FloatVector:
		d.FloatVector.Data = append(d.FloatVector.Data, src.GetFloatVector().GetData()...)
	case *schemapb.VectorField_BinaryVector:
		d.BinaryVector = append(d.BinaryVector, src.GetBinaryVector()...)
	case *schemapb.VectorField_Float16Vector:
		d.Float16Vector = append(d.Float16Vector, src.GetFloat16Vector()...)
	case *schemapb.VectorField_Bfloat16Vector:
		d.Bfloat16Vector = append(d.Bfloat16Vector, src.GetBfloat16Vector()...)
	case *schemapb.VectorField_SparseFloatVector:
		s := src.GetSparseFloatVector()
		d.SparseFloatVector.Contents = append(d.SparseFloatVector.Contents, s.GetContents()...)
		d.SparseFloatVector.Dim = max(d.SparseFloatVector.Dim, s.GetDim())
		dst.Dim = d.SparseFloatVector.Dim
	default:
		return fmt.Errorf("column %q: vector type %T cannot be merged", name, d)
	}
	return nil
}
