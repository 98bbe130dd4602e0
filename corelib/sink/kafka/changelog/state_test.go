package changelog

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func rowEvent(op string, coll int64, partition string, ts uint64, seq int, v string) (*Event, Key) {
	ev := &Event{SchemaVersion: SchemaVersion, Op: op, Source: Source{Collection: "c", CollectionID: coll, Ts: ts, Seq: seq}}
	if partition != "" {
		ev.Source.Partition = &partition
	}
	if op != OpDelete {
		ev.After = map[string]json.RawMessage{"v": json.RawMessage(`"` + v + `"`)}
	}
	return ev, Key{Database: "db", Collection: "c", PK: json.RawMessage(`1`)}
}

func ddlEvent(typ string, coll int64, ts uint64, partition string) (*Event, Key) {
	return &Event{SchemaVersion: SchemaVersion, Type: typ, Partition: partition, Source: Source{Collection: "c", CollectionID: coll, Ts: ts}},
		Key{Database: "db", Collection: "c"}
}

// TestStateRules: the consumer rules of docs/kafka-sink.md, event by event.
func TestStateRules(t *testing.T) {
	type step struct {
		ev  *Event
		key Key
	}
	s := func(ev *Event, k Key) step { return step{ev, k} }
	tests := []struct {
		name        string
		steps       []step
		value       string // the key's value at the end, "" when absent
		received    int
		dups, stale int
	}{
		{"later changes replace earlier ones", []step{s(rowEvent(OpCreate, 1, "_default", 10, 0, "a")), s(rowEvent(OpUpdate, 1, "_default", 11, 0, "b"))}, "b", 1, 0, 0},
		{"a change sent again is a duplicate", []step{s(rowEvent(OpCreate, 1, "_default", 10, 0, "a")), s(rowEvent(OpCreate, 1, "_default", 10, 0, "a"))}, "a", 2, 1, 0},
		{"an older change read later is stale", []step{s(rowEvent(OpUpdate, 1, "_default", 11, 0, "b")), s(rowEvent(OpCreate, 1, "_default", 10, 0, "a"))}, "b", 1, 0, 1},
		{"seq orders one timestamp", []step{s(rowEvent(OpCreate, 1, "_default", 10, 1, "second")), s(rowEvent(OpCreate, 1, "_default", 10, 0, "first"))}, "second", 1, 0, 1},
		{"a delete removes, a replayed insert does not resurrect", []step{s(rowEvent(OpCreate, 1, "_default", 10, 0, "a")), s(rowEvent(OpDelete, 1, "", 12, 0, "")), s(rowEvent(OpCreate, 1, "_default", 10, 0, "a"))}, "", 0, 0, 1},
		{"a dropped partition takes its rows", []step{s(rowEvent(OpCreate, 1, "p1", 10, 0, "a")), s(ddlEvent(TypeDropPartition, 1, 20, "p1"))}, "", 0, 0, 0},
		{"a row of a dropped partition read after the drop is stale", []step{s(ddlEvent(TypeDropPartition, 1, 20, "p1")), s(rowEvent(OpCreate, 1, "p1", 10, 0, "a"))}, "", 0, 0, 1},
		{"a partition created again takes new rows", []step{s(ddlEvent(TypeDropPartition, 1, 20, "p1")), s(rowEvent(OpCreate, 1, "p1", 30, 0, "new"))}, "new", 1, 0, 0},
		{"a snapshot read ranks below an older change streamed after it", []step{s(rowEvent(OpRead, 1, "_default", 50, 3, "snap")), s(rowEvent(OpUpdate, 1, "_default", 10, 0, "live"))}, "live", 1, 0, 0},
		{"a snapshot read after a change is stale", []step{s(rowEvent(OpCreate, 1, "_default", 10, 0, "live")), s(rowEvent(OpRead, 1, "_default", 50, 0, "snap"))}, "live", 1, 0, 1},
		{"a snapshot read sent again is a duplicate", []step{s(rowEvent(OpRead, 1, "_default", 50, 0, "snap")), s(rowEvent(OpRead, 1, "_default", 60, 2, "snap"))}, "snap", 2, 1, 0},
		{"a drop of another partition keeps the row", []step{s(rowEvent(OpCreate, 1, "_default", 10, 0, "a")), s(ddlEvent(TypeDropPartition, 1, 20, "p1"))}, "a", 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &State{}
			require.NoError(t, st.Apply(ddlEvent(TypeCreateCollection, 1, 1, "")))
			for _, step := range tt.steps {
				require.NoError(t, st.Apply(step.ev, step.key))
			}
			rows := st.Collection(1).Rows()
			if tt.value == "" {
				require.Empty(t, rows)
			} else {
				require.Equal(t, `"`+tt.value+`"`, string(rows["1"].Values["v"]))
				require.Equal(t, tt.received, rows["1"].Received)
			}
			require.Equal(t, tt.dups, st.Duplicates)
			require.Equal(t, tt.stale, st.Stale)
		})
	}
}

// TestStateDDLByTimestamp: existence, partitions, indexes and loads follow
// the latest timestamp, whatever order the events come in.
func TestStateDDLByTimestamp(t *testing.T) {
	st := &State{}
	apply := func(ev *Event, k Key) { require.NoError(t, st.Apply(ev, k)) }
	create, k := ddlEvent(TypeCreateCollection, 1, 5, "")
	create.Collection = &CollectionDoc{Partitions: []PartitionDoc{{Name: "_default", CreatedTs: 5}}}
	apply(create, k)
	apply(ddlEvent(TypeCreatePartition, 1, 6, "p1"))
	ix, k := ddlEvent(TypeCreateIndex, 1, 7, "")
	ix.Index = &IndexDoc{Field: "vec"}
	apply(ix, k)
	apply(ddlEvent(TypeLoadCollection, 1, 8, ""))
	c := st.Collection(1)
	require.True(t, c.Exists())
	require.Equal(t, []string{"_default", "p1"}, c.Partitions())
	require.Equal(t, []string{"vec"}, c.Indexed())
	require.True(t, c.Loaded())

	apply(ddlEvent(TypeReleaseCollection, 1, 9, ""))
	apply(ddlEvent(TypeDropPartition, 1, 10, "p1"))
	apply(ddlEvent(TypeDropCollection, 1, 11, ""))
	apply(create, k) // published again at a restart, with its old timestamp
	require.False(t, c.Exists(), "a creation sent again does not undo the later drop")
	require.Equal(t, []string{"_default"}, c.Partitions())
	require.False(t, c.Loaded())

	again, k := ddlEvent(TypeCreateCollection, 2, 12, "") // the same name, a new ID
	apply(again, k)
	require.True(t, st.Collection(2).Exists())
	require.Len(t, st.Collections(), 2)
}

func TestDecode(t *testing.T) {
	_, err := Decode([]byte(`{"schema_version":2,"op":"c"}`))
	require.ErrorContains(t, err, "schema_version 2")
	_, err = Decode([]byte(`{"schema_version":1}`))
	require.ErrorContains(t, err, "exactly one of op and type")
	_, err = Decode([]byte(`{"schema_version":1,"op":"c","type":"flush"}`))
	require.Error(t, err)
	k, err := DecodeKey([]byte(`{"database":"d","collection":"c","pk": "x" }`))
	require.NoError(t, err)
	require.Equal(t, `"x"`, string(k.PK))
}
