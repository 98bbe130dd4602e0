package kafka

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
)

// Format is how an event encodes vectors.
type Format string

// Formats of target.kafka.format.
const (
	// FormatJSON writes vectors as JSON arrays of numbers (sparse vectors as
	// an object from index to value).
	FormatJSON Format = "json"
	// FormatJSONBase64 writes vectors as base64 (standard, padded) of their
	// little-endian bytes, as Milvus stores them: about a quarter of the
	// size of the JSON arrays.
	FormatJSONBase64 Format = "json-base64"
)

// column appends the JSON value of one field of one row. It is built once
// per field of a source message, after checking that the field holds a
// value for every row, so appending never indexes out of range.
type column struct {
	name  string
	valid []bool // nil when the field is not nullable (or every row is valid)
	// index maps a row to its position in the field's data when a nullable
	// field carries values for its valid rows only; nil when positions match.
	index []int
	value func(dst []byte, i int) []byte
}

// appendValue appends the field's value for row i, null for a null row.
func (c *column) appendValue(dst []byte, row int) []byte {
	if c.valid != nil && !c.valid[row] {
		return append(dst, "null"...)
	}
	i := row
	if c.index != nil {
		i = c.index[row]
	}
	return c.value(dst, i)
}

// newColumn prepares the encoder of one field of a message of rows rows.
// It fails when the field holds fewer values than the rows need (a
// malformed message), and returns ok false for a type this writer does not
// know (written as null).
func newColumn(fd *schemapb.FieldData, rows int, format Format) (c *column, ok bool, err error) {
	c = &column{name: fd.GetFieldName()}
	values := rows
	if v := fd.GetValidData(); len(v) > 0 {
		if len(v) < rows {
			return nil, true, fmt.Errorf("field %s has %d validity flags for %d rows", c.name, len(v), rows)
		}
		c.valid = v[:rows]
		values = 0
		for _, ok := range c.valid {
			if ok {
				values++
			}
		}
	}
	n, value, known := encoderOf(fd, format)
	if !known {
		return nil, false, nil
	}
	switch {
	case n >= rows:
	case n >= values && c.valid != nil:
		// Only the valid rows carry a value: map rows to positions.
		c.index = make([]int, rows)
		next := 0
		for i, ok := range c.valid {
			c.index[i] = next
			if ok {
				next++
			}
		}
	default:
		return nil, true, fmt.Errorf("field %s (%s) has %d values for %d rows", c.name, fd.GetType(), n, rows)
	}
	c.value = value
	return c, true, nil
}

// encoderOf returns how many values a field holds and how to append value
// i; known is false for a type this writer does not encode.
func encoderOf(fd *schemapb.FieldData, format Format) (n int, value func([]byte, int) []byte, known bool) {
	switch fd.GetType() {
	case schemapb.DataType_Bool, schemapb.DataType_Int8, schemapb.DataType_Int16, schemapb.DataType_Int32,
		schemapb.DataType_Int64, schemapb.DataType_Float, schemapb.DataType_Double, schemapb.DataType_String,
		schemapb.DataType_VarChar, schemapb.DataType_JSON, schemapb.DataType_Array, schemapb.DataType_Geometry:
		return scalarEncoder(fd.GetScalars())
	case schemapb.DataType_FloatVector, schemapb.DataType_BinaryVector, schemapb.DataType_Float16Vector,
		schemapb.DataType_BFloat16Vector, schemapb.DataType_SparseFloatVector:
		return vectorEncoder(fd.GetVectors(), format)
	}
	return 0, nil, false
}

// scalarEncoder encodes a scalar column by what it holds (the data type
// decides the holder: Int8/16/32 are in IntData, VarChar in StringData).
func scalarEncoder(s *schemapb.ScalarField) (int, func([]byte, int) []byte, bool) {
	switch d := s.GetData().(type) {
	case *schemapb.ScalarField_BoolData:
		v := d.BoolData.GetData()
		return len(v), func(dst []byte, i int) []byte { return strconv.AppendBool(dst, v[i]) }, true
	case *schemapb.ScalarField_IntData:
		v := d.IntData.GetData()
		return len(v), func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(v[i]), 10) }, true
	case *schemapb.ScalarField_LongData:
		v := d.LongData.GetData()
		return len(v), func(dst []byte, i int) []byte { return strconv.AppendInt(dst, v[i], 10) }, true
	case *schemapb.ScalarField_FloatData:
		v := d.FloatData.GetData()
		return len(v), func(dst []byte, i int) []byte { return appendFloat(dst, float64(v[i]), 32) }, true
	case *schemapb.ScalarField_DoubleData:
		v := d.DoubleData.GetData()
		return len(v), func(dst []byte, i int) []byte { return appendFloat(dst, v[i], 64) }, true
	case *schemapb.ScalarField_StringData:
		v := d.StringData.GetData()
		return len(v), func(dst []byte, i int) []byte { return appendString(dst, v[i]) }, true
	case *schemapb.ScalarField_JsonData:
		v := d.JsonData.GetData()
		return len(v), func(dst []byte, i int) []byte { return appendJSON(dst, v[i]) }, true
	case *schemapb.ScalarField_BytesData:
		v := d.BytesData.GetData()
		return len(v), func(dst []byte, i int) []byte { return appendBase64(dst, v[i]) }, true
	case *schemapb.ScalarField_GeometryData:
		v := d.GeometryData.GetData() // WKB
		return len(v), func(dst []byte, i int) []byte { return appendBase64(dst, v[i]) }, true
	case *schemapb.ScalarField_ArrayData:
		v := d.ArrayData.GetData()
		return len(v), func(dst []byte, i int) []byte { return appendArray(dst, v[i]) }, true
	case nil:
		return 0, nil, true
	}
	return 0, nil, false
}

// appendArray appends one Array value: a JSON array of its elements.
func appendArray(dst []byte, s *schemapb.ScalarField) []byte {
	n, value, ok := scalarEncoder(s)
	if !ok || value == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = value(dst, i)
	}
	return append(dst, ']')
}

// vectorEncoder encodes a vector column; n is the number of vectors it holds.
func vectorEncoder(v *schemapb.VectorField, format Format) (int, func([]byte, int) []byte, bool) {
	dim := int(v.GetDim())
	b64 := format == FormatJSONBase64
	switch d := v.GetData().(type) {
	case *schemapb.VectorField_FloatVector:
		data := d.FloatVector.GetData()
		if dim <= 0 {
			return 0, nil, true
		}
		return len(data) / dim, func(dst []byte, i int) []byte {
			vec := data[i*dim : (i+1)*dim]
			if b64 {
				return appendFloat32sBase64(dst, vec)
			}
			dst = append(dst, '[')
			for j, x := range vec {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendFloat(dst, float64(x), 32)
			}
			return append(dst, ']')
		}, true
	case *schemapb.VectorField_BinaryVector:
		width := (dim + 7) / 8
		return bytesVectors(d.BinaryVector, width, b64, func(dst []byte, b []byte) []byte {
			for j, x := range b {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendUint(dst, uint64(x), 10)
			}
			return dst
		})
	case *schemapb.VectorField_Float16Vector:
		return bytesVectors(d.Float16Vector, dim*2, b64, func(dst []byte, b []byte) []byte {
			return appendHalfs(dst, b, float16ToFloat32)
		})
	case *schemapb.VectorField_Bfloat16Vector:
		return bytesVectors(d.Bfloat16Vector, dim*2, b64, func(dst []byte, b []byte) []byte {
			return appendHalfs(dst, b, bfloat16ToFloat32)
		})
	case *schemapb.VectorField_SparseFloatVector:
		rows := d.SparseFloatVector.GetContents()
		return len(rows), func(dst []byte, i int) []byte {
			if b64 {
				return appendBase64(dst, rows[i])
			}
			return appendSparse(dst, rows[i])
		}, true
	case nil:
		return 0, nil, true
	}
	return 0, nil, false
}

// bytesVectors encodes fixed-width byte vectors (binary, float16,
// bfloat16): base64 of the bytes, or a JSON array of what elems appends.
func bytesVectors(data []byte, width int, b64 bool, elems func([]byte, []byte) []byte) (int, func([]byte, int) []byte, bool) {
	if width <= 0 {
		return 0, nil, true
	}
	return len(data) / width, func(dst []byte, i int) []byte {
		b := data[i*width : (i+1)*width]
		if b64 {
			return appendBase64(dst, b)
		}
		dst = append(dst, '[')
		dst = elems(dst, b)
		return append(dst, ']')
	}, true
}

func appendHalfs(dst []byte, b []byte, conv func(uint16) float32) []byte {
	for j := 0; j+1 < len(b); j += 2 {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = appendFloat(dst, float64(conv(binary.LittleEndian.Uint16(b[j:]))), 32)
	}
	return dst
}

// appendSparse appends a sparse row (pairs of a uint32 index and a float32
// value, little-endian, as Milvus stores them) as {"index": value, ...}.
func appendSparse(dst []byte, row []byte) []byte {
	dst = append(dst, '{')
	for j := 0; j+8 <= len(row); j += 8 {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(row[j:])), 10)
		dst = append(dst, '"', ':')
		dst = appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(row[j+4:]))), 32)
	}
	return append(dst, '}')
}

// float16ToFloat32 converts an IEEE 754 half-precision value.
func float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0: // zero
		return math.Float32frombits(sign)
	}
	// Subnormal: normalise it.
	e := uint32(113)
	for frac&0x400 == 0 {
		frac <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
}

// bfloat16ToFloat32 converts a bfloat16: the upper half of a float32.
func bfloat16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// appendFloat appends a number; JSON has no NaN or infinities, so those
// are written as the strings "NaN", "Infinity" and "-Infinity".
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

func appendFloat32sBase64(dst []byte, vec []float32) []byte {
	raw := make([]byte, 4*len(vec))
	for j, x := range vec {
		binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(x))
	}
	return appendBase64(dst, raw)
}

func appendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendJSON appends a JSON field's value as JSON; bytes that are not
// valid JSON (Milvus validates JSON on insert, so only a damaged message
// has them) are written as a string instead, keeping the event valid.
func appendJSON(dst []byte, b []byte) []byte {
	if len(b) == 0 {
		return append(dst, "null"...)
	}
	if !json.Valid(b) {
		return appendString(dst, string(b))
	}
	return append(dst, b...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does; HTML characters are not escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but not valid JavaScript in older parsers.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
