package verify

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"sort"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"

	"github.com/milvus-cdc/milvus-cdc/corelib/source/rows"
)

// dynamicField is the column the query API returns a collection's dynamic
// fields in.
const dynamicField = "$meta"

// columns indexes a chunk's columns by field name and its rows by key.
type columns struct {
	byName map[string]*schemapb.FieldData
	keys   []rows.Key
}

// index reads a chunk: its columns by name and the key of every row.
func index(c *rows.Chunk, pk string) columns {
	cols := columns{byName: make(map[string]*schemapb.FieldData, len(c.Columns))}
	for _, f := range c.Columns {
		name := f.GetFieldName()
		if f.GetIsDynamic() {
			name = dynamicField
		}
		cols.byName[name] = f
	}
	if f := cols.byName[pk]; f != nil {
		cols.keys = keysOf(f)
	}
	return cols
}

// keysOf is the primary-key column as keys.
func keysOf(f *schemapb.FieldData) []rows.Key {
	if ints := f.GetScalars().GetLongData().GetData(); len(ints) > 0 {
		out := make([]rows.Key, len(ints))
		for i, v := range ints {
			out[i] = rows.Key{Int: v}
		}
		return out
	}
	strs := f.GetScalars().GetStringData().GetData()
	out := make([]rows.Key, len(strs))
	for i, v := range strs {
		out[i] = rows.Key{Str: v, IsStr: true}
	}
	return out
}

// compareKeys orders keys as Milvus does: int64 numerically, varchar
// byte-wise.
func compareKeys(a, b rows.Key) int {
	if a.IsStr {
		switch {
		case a.Str < b.Str:
			return -1
		case a.Str > b.Str:
			return 1
		}
		return 0
	}
	switch {
	case a.Int < b.Int:
		return -1
	case a.Int > b.Int:
		return 1
	}
	return 0
}

// mix is a 64-bit finalizer (splitmix64): sums of mixed hashes digest a
// set independently of its order.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// keyHash is the key's hash, the same on both sides for the same key.
func keyHash(k rows.Key) uint64 {
	h := fnv.New64a()
	if k.IsStr {
		_, _ = h.Write([]byte{'s'})
		_, _ = h.Write([]byte(k.Str))
	} else {
		var b [9]byte
		b[0] = 'i'
		binary.LittleEndian.PutUint64(b[1:], uint64(k.Int))
		_, _ = h.Write(b[:])
	}
	return mix(h.Sum64())
}

// rowDigest is a hash of every compared field of one row, in field order.
type rowDigest []uint64

// digest hashes row i's value of each field (absent columns hash as such).
func (c columns) digest(fields []string, i int) rowDigest {
	d := make(rowDigest, len(fields))
	h := fnv.New64a()
	var buf bytes.Buffer
	for j, name := range fields {
		h.Reset()
		buf.Reset()
		f := c.byName[name]
		if f == nil {
			buf.WriteString("\x00absent")
		} else {
			writeCell(&buf, f, i)
		}
		_, _ = h.Write(buf.Bytes())
		d[j] = h.Sum64()
	}
	return d
}

// differingFields names the fields whose hashes differ.
func differingFields(fields []string, a, b rowDigest) []string {
	var out []string
	for j := range fields {
		if a[j] != b[j] {
			out = append(out, fields[j])
		}
	}
	return out
}

// writeCell writes a canonical encoding of row i of a column: the same bytes
// for the same value whatever Milvus wrote it (JSON is re-encoded with
// sorted keys).
func writeCell(w *bytes.Buffer, f *schemapb.FieldData, i int) {
	var b8 [8]byte
	putU64 := func(v uint64) {
		binary.LittleEndian.PutUint64(b8[:], v)
		w.Write(b8[:])
	}
	if i < len(f.GetValidData()) && !f.GetValidData()[i] {
		w.WriteString("\x00null")
		return
	}
	if v := f.GetVectors(); v != nil {
		dim := int(v.GetDim())
		switch {
		case v.GetFloatVector() != nil:
			data := v.GetFloatVector().GetData()
			if (i+1)*dim <= len(data) {
				for _, x := range data[i*dim : (i+1)*dim] {
					putU64(uint64(math.Float32bits(x)))
				}
			}
		case v.GetBinaryVector() != nil:
			writeSlice(w, v.GetBinaryVector(), i, dim/8)
		case v.GetFloat16Vector() != nil:
			writeSlice(w, v.GetFloat16Vector(), i, dim*2)
		case v.GetBfloat16Vector() != nil:
			writeSlice(w, v.GetBfloat16Vector(), i, dim*2)
		case v.GetSparseFloatVector() != nil:
			if c := v.GetSparseFloatVector().GetContents(); i < len(c) {
				w.Write(c[i])
			}
		}
		return
	}
	writeScalar(w, f.GetScalars(), i)
}

func writeSlice(w *bytes.Buffer, data []byte, i, width int) {
	if width > 0 && (i+1)*width <= len(data) {
		w.Write(data[i*width : (i+1)*width])
	}
}

func writeScalar(w *bytes.Buffer, s *schemapb.ScalarField, i int) {
	var b8 [8]byte
	putU64 := func(v uint64) {
		binary.LittleEndian.PutUint64(b8[:], v)
		w.Write(b8[:])
	}
	switch {
	case s.GetBoolData() != nil:
		if d := s.GetBoolData().GetData(); i < len(d) {
			if d[i] {
				w.WriteByte(1)
			} else {
				w.WriteByte(0)
			}
		}
	case s.GetIntData() != nil:
		if d := s.GetIntData().GetData(); i < len(d) {
			putU64(uint64(int64(d[i])))
		}
	case s.GetLongData() != nil:
		if d := s.GetLongData().GetData(); i < len(d) {
			putU64(uint64(d[i]))
		}
	case s.GetFloatData() != nil:
		if d := s.GetFloatData().GetData(); i < len(d) {
			putU64(uint64(math.Float32bits(d[i])))
		}
	case s.GetDoubleData() != nil:
		if d := s.GetDoubleData().GetData(); i < len(d) {
			putU64(math.Float64bits(d[i]))
		}
	case s.GetStringData() != nil:
		if d := s.GetStringData().GetData(); i < len(d) {
			w.WriteString(d[i])
		}
	case s.GetJsonData() != nil:
		if d := s.GetJsonData().GetData(); i < len(d) {
			w.Write(canonicalJSON(d[i]))
		}
	case s.GetBytesData() != nil:
		if d := s.GetBytesData().GetData(); i < len(d) {
			w.Write(d[i])
		}
	case s.GetArrayData() != nil:
		if d := s.GetArrayData().GetData(); i < len(d) {
			el := d[i]
			n := elements(el)
			putU64(uint64(n))
			for j := 0; j < n; j++ {
				writeScalar(w, el, j)
				w.WriteByte(0)
			}
		}
	}
}

// elements is the number of values of an array cell.
func elements(s *schemapb.ScalarField) int {
	switch {
	case s.GetBoolData() != nil:
		return len(s.GetBoolData().GetData())
	case s.GetIntData() != nil:
		return len(s.GetIntData().GetData())
	case s.GetLongData() != nil:
		return len(s.GetLongData().GetData())
	case s.GetFloatData() != nil:
		return len(s.GetFloatData().GetData())
	case s.GetDoubleData() != nil:
		return len(s.GetDoubleData().GetData())
	case s.GetStringData() != nil:
		return len(s.GetStringData().GetData())
	}
	return 0
}

// canonicalJSON re-encodes a JSON document with sorted object keys and no
// spaces; bytes that are not JSON are returned as they are.
func canonicalJSON(b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return b
	}
	out, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		return b
	}
	return out
}

// sortedIndex is the row order of a chunk by key (Milvus returns query
// rows in key order; sorting again costs little and relies on nothing).
func sortedIndex(keys []rows.Key) []int {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return compareKeys(keys[idx[a]], keys[idx[b]]) < 0 })
	return idx
}
