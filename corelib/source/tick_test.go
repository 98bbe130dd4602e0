package source

import (
	"fmt"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/stretchr/testify/require"
)

// step is one message read from the channel: a type letter, its ts and its
// Base.MsgID. I = insert, D = delete, T = time tick, X = drop collection.
type step struct {
	kind  byte
	ts    uint64
	msgID int64
}

func (s step) message(t *testing.T) *Message {
	t.Helper()
	b := &commonpb.MsgBase{MsgID: s.msgID, Timestamp: s.ts}
	var raw []byte
	switch s.kind {
	case 'I':
		b.MsgType = commonpb.MsgType_Insert
		raw = marshal(t, &msgpb.InsertRequest{Base: b, Timestamps: []uint64{s.ts}})
	case 'D':
		b.MsgType = commonpb.MsgType_Delete
		raw = marshal(t, &msgpb.DeleteRequest{Base: b, Timestamps: []uint64{s.ts}})
	case 'T':
		b.MsgType = commonpb.MsgType_TimeTick
		raw = marshal(t, &msgpb.TimeTickMsg{Base: b})
	case 'X':
		b.MsgType = commonpb.MsgType_DropCollection
		raw = marshal(t, &msgpb.DropCollectionRequest{Base: b})
	}
	m, err := DecodeMessage(raw)
	require.NoError(t, err)
	return m
}

// label renders a message as kind+ts+"#"+msgID, e.g. "I5#2".
func label(m *Message) string {
	k := map[commonpb.MsgType]string{
		commonpb.MsgType_Insert: "I", commonpb.MsgType_Delete: "D",
		commonpb.MsgType_TimeTick: "T", commonpb.MsgType_DropCollection: "X",
	}[m.Type]
	return fmt.Sprintf("%s%d#%d", k, m.BeginTs, m.MsgID())
}

// mqID is the fake MQ message ID of the i-th message read.
func mqID(i int) []byte { return []byte{byte(i)} }

type wantPack struct {
	begin, end uint64
	msgs       []string
	endID      int // index of the message the end position points at
}

func TestTickGrouper(t *testing.T) {
	tests := []struct {
		name    string
		startTs uint64
		steps   []step
		want    []wantPack
		left    int
	}{
		{
			name:  "messages up to the tick form a pack ending at the tick",
			steps: []step{{'I', 5, 1}, {'I', 7, 2}, {'T', 10, 0}},
			want:  []wantPack{{0, 10, []string{"I5#1", "I7#2"}, 2}},
		},
		{
			name:  "sorted by ts, delete before insert at equal ts (upsert)",
			steps: []step{{'I', 8, 1}, {'I', 6, 2}, {'D', 6, 3}, {'X', 7, 4}, {'T', 10, 0}},
			want:  []wantPack{{0, 10, []string{"D6#3", "I6#2", "X7#4", "I8#1"}, 4}},
		},
		{
			name:  "duplicate DML by msgID dropped within a pack, upsert halves kept",
			steps: []step{{'I', 5, 1}, {'I', 5, 1}, {'D', 5, 1}, {'D', 6, 2}, {'D', 6, 2}, {'T', 10, 0}},
			want:  []wantPack{{0, 10, []string{"D5#1", "I5#1", "D6#2"}, 5}},
		},
		{
			name:  "same msgID in different packs is not a duplicate",
			steps: []step{{'I', 5, 1}, {'T', 10, 0}, {'I', 15, 1}, {'T', 20, 0}},
			want:  []wantPack{{0, 10, []string{"I5#1"}, 1}, {10, 20, []string{"I15#1"}, 3}},
		},
		{
			name:  "message newer than the tick waits; end position points at it",
			steps: []step{{'I', 5, 1}, {'I', 12, 2}, {'T', 10, 0}, {'I', 14, 3}, {'T', 20, 0}},
			want:  []wantPack{{0, 10, []string{"I5#1"}, 1}, {10, 20, []string{"I12#2", "I14#3"}, 4}},
		},
		{
			name:  "empty packs still advance time",
			steps: []step{{'T', 10, 0}, {'T', 20, 0}},
			want:  []wantPack{{0, 10, nil, 0}, {10, 20, nil, 1}},
		},
		{
			name:    "stale and repeated ticks are ignored",
			startTs: 10,
			steps:   []step{{'T', 10, 0}, {'T', 9, 0}, {'I', 11, 1}, {'T', 12, 0}},
			want:    []wantPack{{10, 12, []string{"I11#1"}, 3}},
		},
		{
			name:  "no tick yet: nothing emitted, messages buffered",
			steps: []step{{'I', 5, 1}, {'D', 6, 2}},
			left:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewTickGrouper(Position{Channel: "ch", MsgID: []byte("start"), Timestamp: tt.startTs})
			var got []*Pack
			for i, s := range tt.steps {
				if p := g.Add(mqID(i), s.message(t)); p != nil {
					got = append(got, p)
				}
			}
			require.Len(t, got, len(tt.want))
			prevEnd := Position{Channel: "ch", MsgID: []byte("start"), Timestamp: tt.startTs}
			for i, w := range tt.want {
				p := got[i]
				var labels []string
				for _, m := range p.Msgs {
					labels = append(labels, label(m))
				}
				require.Equal(t, w.msgs, labels, "pack %d", i)
				require.Equal(t, w.begin, p.BeginTs, "pack %d begin", i)
				require.Equal(t, w.end, p.EndTs, "pack %d end", i)
				require.Equal(t, "ch", p.Channel)
				require.Equal(t, Position{Channel: "ch", MsgID: mqID(w.endID), Timestamp: w.end}, p.EndPosition, "pack %d end position", i)
				require.Equal(t, prevEnd, p.StartPosition, "pack %d start position", i)
				prevEnd = p.EndPosition
			}
			require.Equal(t, tt.left, g.Buffered())
		})
	}
}

func TestSeekFilter(t *testing.T) {
	tests := []struct {
		name       string
		checkpoint uint64
		steps      []step
		kept       []string
	}{
		{
			name:       "drops ts <= checkpoint until the first tick >= checkpoint",
			checkpoint: 10,
			steps:      []step{{'I', 9, 1}, {'I', 10, 2}, {'I', 11, 3}, {'T', 10, 0}, {'I', 10, 4}, {'I', 12, 5}},
			kept:       []string{"I11#3", "T10#0", "I10#4", "I12#5"},
		},
		{
			name:       "older ticks do not end the filter",
			checkpoint: 10,
			steps:      []step{{'T', 8, 0}, {'D', 9, 1}, {'T', 12, 0}, {'D', 9, 2}},
			kept:       []string{"T12#0", "D9#2"},
		},
		{
			name:       "control messages are filtered the same way",
			checkpoint: 10,
			steps:      []step{{'X', 10, 1}, {'X', 11, 2}, {'T', 11, 0}},
			kept:       []string{"X11#2", "T11#0"},
		},
		{
			name:       "zero checkpoint passes everything after the first tick",
			checkpoint: 0,
			steps:      []step{{'I', 3, 1}, {'T', 4, 0}, {'I', 5, 2}},
			kept:       []string{"I3#1", "T4#0", "I5#2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewSeekFilter(tt.checkpoint)
			var kept []string
			for _, s := range tt.steps {
				m := s.message(t)
				if f.Keep(m) {
					kept = append(kept, label(m))
				}
			}
			require.Equal(t, tt.kept, kept)
			require.True(t, f.Passed())
		})
	}
}

// Resuming from a pack's end position with SeekFilter + a grouper started
// at that position yields exactly the packs not yet delivered.
func TestResumeFromEndPositionLosesAndRepeatsNothing(t *testing.T) {
	steps := []step{{'I', 5, 1}, {'I', 12, 2}, {'T', 10, 0}, {'D', 14, 3}, {'T', 20, 0}, {'I', 21, 4}, {'T', 30, 0}}
	var msgs []*Message
	for _, s := range steps {
		msgs = append(msgs, s.message(t))
	}
	collect := func(start Position, from int, filter *SeekFilter) []string {
		g := NewTickGrouper(start)
		var out []string
		for i := from; i < len(msgs); i++ {
			if filter != nil && !filter.Keep(msgs[i]) {
				continue
			}
			if p := g.Add(mqID(i), msgs[i]); p != nil {
				for _, m := range p.Msgs {
					out = append(out, label(m))
				}
				out = append(out, fmt.Sprintf("|%d", p.EndTs))
			}
		}
		return out
	}
	all := collect(Position{Channel: "ch"}, 0, nil)
	require.Equal(t, []string{"I5#1", "|10", "I12#2", "D14#3", "|20", "I21#4", "|30"}, all)

	// The first pack ends at tt 10 but I12 (read at index 1) is still
	// pending, so the end position points at index 1.
	g := NewTickGrouper(Position{Channel: "ch"})
	var first *Pack
	for i := 0; first == nil; i++ {
		first = g.Add(mqID(i), msgs[i])
	}
	require.Equal(t, mqID(1), first.EndPosition.MsgID)
	resumed := collect(first.EndPosition, 1, NewSeekFilter(first.EndPosition.Timestamp))
	require.Equal(t, all[2:], resumed)
}
