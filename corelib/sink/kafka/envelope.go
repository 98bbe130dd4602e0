package kafka

import (
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/changelog"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// The row events are appended by hand rather than through encoding/json:
// they are the writer's whole cost, and every source message shares one
// source prefix among its rows. changelog.Event is the same envelope as a
// Go type, and the JSON Schema in docs/ describes it.

// batchEncoder turns the changes of one batch into records, in order.
type batchEncoder struct {
	w        *Writer
	channel  string
	position string // base64 of the batch position
	nowMs    int64
	// seq numbering: the next seq of each timestamp met in the batch.
	lastTs  uint64
	lastSeq int
	seqs    map[uint64]int
	recs    []*kgo.Record
	hint    int // the size of the last row event, to size the next one
}

func (e *batchEncoder) nextSeq(ts uint64) int {
	if ts == e.lastTs && e.seqs != nil {
		e.lastSeq++
		return e.lastSeq
	}
	if e.seqs == nil {
		e.seqs = map[uint64]int{}
	} else {
		e.seqs[e.lastTs] = e.lastSeq + 1
	}
	e.lastTs, e.lastSeq = ts, e.seqs[ts]
	return e.lastSeq
}

// encodePosition renders a batch position as the events carry it.
func encodePosition(pos source.Position) (string, error) {
	raw, err := source.EncodePosition(pos)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// change appends the records of one change.
func (e *batchEncoder) change(c sink.Change) error {
	switch c := c.(type) {
	case *sink.Insert:
		op := changelog.OpCreate
		if c.Read {
			op = changelog.OpRead // a row the initial snapshot copied
		}
		return e.insert(c.Coll, c.Msg, c.Request(), op)
	case *sink.Upsert:
		return e.insert(c.Insert.Coll, c.Insert.Msg, c.Insert.Request(), changelog.OpUpdate)
	case *sink.Delete:
		return e.delete(c)
	case *sink.DropShard:
		return nil // the drop follows as an operation, on the schema topic
	}
	return fmt.Errorf("%w: change %T", sink.ErrUnsupported, c)
}

// sourcePrefix is the part of "source" every row of a message shares, up
// to and including the comma before "ts".
func (e *batchEncoder) sourcePrefix(coll *sink.Collection, partition *string) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"schema_version":`...)
	b = strconv.AppendInt(b, changelog.SchemaVersion, 10)
	b = append(b, `,"op":"?","ts_ms":`...)
	b = strconv.AppendInt(b, e.nowMs, 10)
	b = append(b, `,"source":{"connector":"`+changelog.Connector+`","cluster":`...)
	b = appendString(b, e.w.cluster)
	b = append(b, `,"database":`...)
	b = appendString(b, coll.Database)
	b = append(b, `,"collection":`...)
	b = appendString(b, coll.Name)
	b = append(b, `,"collection_id":`...)
	b = strconv.AppendInt(b, coll.ID, 10)
	b = append(b, `,"partition":`...)
	if partition == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *partition)
	}
	b = append(b, `,"channel":`...)
	b = appendString(b, e.channel)
	b = append(b, `,"position":"`...)
	b = append(b, e.position...)
	b = append(b, `","ts":`...)
	return b
}

// opOffset is where the op letter sits in a source prefix.
var opOffset = len(`{"schema_version":` + strconv.Itoa(changelog.SchemaVersion) + `,"op":"`)

// keyPrefix is the Kafka key up to the primary key's value.
func keyPrefix(coll *sink.Collection) []byte {
	b := append([]byte(nil), `{"database":`...)
	b = appendString(b, coll.TargetDatabase)
	b = append(b, `,"collection":`...)
	b = appendString(b, coll.TargetName)
	return append(b, `,"pk":`...)
}

// rowTail appends the source timestamp and seq, closing "source".
func (e *batchEncoder) rowTail(b []byte, ts uint64) []byte {
	b = strconv.AppendUint(b, ts, 10)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, int64(ts>>18), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, int64(e.nextSeq(ts)), 10)
	return append(b, '}')
}

// primaryKey finds the collection's primary key field.
func primaryKey(coll *sink.Collection) (*schemapb.FieldSchema, error) {
	if coll.Info != nil && coll.Info.Schema != nil {
		for _, f := range coll.Info.Schema.GetFields() {
			if f.GetIsPrimaryKey() {
				return f, nil
			}
		}
	}
	return nil, &sink.TargetError{Op: "Produce", Reason: fmt.Sprintf("the source schema of %s names no primary key, so its events cannot be keyed", coll), Retryable: false}
}

// malformed is the refusal of a source message the writer cannot encode.
func malformed(coll *sink.Collection, m *source.Message, err error) error {
	return &sink.TargetError{Op: "Produce", Reason: fmt.Sprintf("the source message of %s at ts %d cannot be encoded: %v", coll, m.EndTs, err), Retryable: false, Cause: err}
}

// insert appends one event per row of an insert (op c) or of the insert
// half of an upsert (op u).
func (e *batchEncoder) insert(coll *sink.Collection, m *source.Message, req interface {
	GetNumRows() uint64
	GetTimestamps() []uint64
	GetFieldsData() []*schemapb.FieldData
	GetPartitionName() string
}, op string) error {
	pkField, err := primaryKey(coll)
	if err != nil {
		return err
	}
	rows := int(req.GetNumRows())
	var pk *column
	cols := make([]*column, 0, len(req.GetFieldsData()))
	names := make([][]byte, 0, len(req.GetFieldsData()))
	for _, fd := range req.GetFieldsData() {
		if fd.GetFieldId() > 0 && fd.GetFieldId() < 100 {
			continue // system fields (row ID, timestamp)
		}
		c, known, err := newColumn(fd, rows, e.w.format)
		if err != nil {
			return malformed(coll, m, err)
		}
		if !known {
			e.w.unknownField(coll, fd)
			continue
		}
		if fd.GetFieldName() == pkField.GetName() || (fd.GetFieldId() != 0 && fd.GetFieldId() == pkField.GetFieldID()) {
			pk = c
		}
		cols = append(cols, c)
		names = append(names, append(appendString(nil, fd.GetFieldName()), ':'))
	}
	if pk == nil {
		return malformed(coll, m, fmt.Errorf("no values for the primary key %s", pkField.GetName()))
	}
	partition := req.GetPartitionName()
	prefix := e.sourcePrefix(coll, &partition)
	prefix[opOffset] = op[0]
	kp := keyPrefix(coll)
	topic := e.w.topics.topic(coll.TargetDatabase, coll.TargetName)
	tss := req.GetTimestamps()
	for i := 0; i < rows; i++ {
		ts := m.EndTs
		if i < len(tss) {
			ts = tss[i]
		}
		v := make([]byte, 0, max(e.hint+e.hint/8, len(prefix)+64)) // rows of a message are about one size
		v = append(v, prefix...)
		v = e.rowTail(v, ts)
		v = append(v, `,"before":null,"after":{`...)
		for j, c := range cols {
			if j > 0 {
				v = append(v, ',')
			}
			v = append(v, names[j]...)
			v = c.appendValue(v, i)
		}
		v = append(v, '}', '}')
		k := append(make([]byte, 0, len(kp)+24), kp...)
		k = pk.appendValue(k, i)
		k = append(k, '}')
		e.hint = len(v)
		e.add(topic, k, v)
	}
	return nil
}

// delete appends one event per key: before holds the key alone.
func (e *batchEncoder) delete(d *sink.Delete) error {
	coll, req := d.Coll, d.Request()
	pkField, err := primaryKey(coll)
	if err != nil {
		return err
	}
	var partition *string
	if p := req.GetPartitionName(); p != "" && req.GetPartitionID() != -1 {
		partition = &p
	}
	prefix := e.sourcePrefix(coll, partition)
	prefix[opOffset] = changelog.OpDelete[0]
	kp := keyPrefix(coll)
	topic := e.w.topics.topic(coll.TargetDatabase, coll.TargetName)
	before := append(append([]byte(`,"before":{`), appendString(nil, pkField.GetName())...), ':')
	keys := d.Keys()
	ints, strs := keys.GetIntId().GetData(), keys.GetStrId().GetData()
	n := len(ints)
	if keys.GetStrId() != nil {
		n = len(strs)
	}
	tss := req.GetTimestamps()
	for i := 0; i < n; i++ {
		var pkv []byte
		if keys.GetStrId() != nil {
			pkv = appendString(nil, strs[i])
		} else {
			pkv = strconv.AppendInt(nil, ints[i], 10)
		}
		ts := d.Msg.EndTs
		if i < len(tss) {
			ts = tss[i]
		}
		v := make([]byte, 0, len(prefix)+len(before)+64)
		v = append(v, prefix...)
		v = e.rowTail(v, ts)
		v = append(v, before...)
		v = append(v, pkv...)
		v = append(v, `},"after":null}`...)
		k := make([]byte, 0, len(kp)+len(pkv)+1)
		k = append(append(append(k, kp...), pkv...), '}')
		e.add(topic, k, v)
	}
	return nil
}

func (e *batchEncoder) add(topic string, key, value []byte) {
	e.recs = append(e.recs, &kgo.Record{Topic: topic, Key: key, Value: value})
}
