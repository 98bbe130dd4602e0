package source

import (
	"sort"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
)

// Position is a point in a physical channel, as Milvus's MsgPosition: MsgID
// is the MQ message ID of the first message not yet fully consumed, and
// Timestamp the last complete time tick. Resuming from a position means
// reading from MsgID inclusively and applying SeekFilter(Timestamp).
type Position struct {
	Channel   string
	MsgID     []byte
	Timestamp uint64
}

// Pack is everything a physical channel carried between two time ticks:
// the messages with BeginTs in (BeginTs, EndTs] of the pack.
type Pack struct {
	Channel        string
	BeginTs, EndTs uint64
	// Msgs are ordered by BeginTs; at equal timestamps a Delete comes before
	// an Insert (an upsert is a Delete and an Insert with the same ts);
	// otherwise MQ order is kept. Insert/Delete duplicates (same type and
	// Base.MsgID, e.g. a producer retry) appear once.
	Msgs []*Message
	// StartPosition is the previous pack's EndPosition (the grouper's start
	// for the first pack).
	StartPosition Position
	// EndPosition is where to resume after this pack is applied: the first
	// message held back for a later pack, or the closing time tick when none
	// is, with Timestamp = EndTs.
	EndPosition Position
}

// bufferedMsg is a message waiting for the time tick that covers it.
type bufferedMsg struct {
	id  []byte
	msg *Message
}

// TickGrouper cuts the message stream of one physical channel into Packs
// at each time tick, as Milvus's MqTtMsgStream does. It is not safe for
// concurrent use; use one per channel.
type TickGrouper struct {
	channel string
	lastTT  uint64
	lastPos Position
	buf     []bufferedMsg
}

// NewTickGrouper starts grouping a channel from a position: its Timestamp is
// the BeginTs of the first pack (0 when starting from the latest message).
func NewTickGrouper(start Position) *TickGrouper {
	return &TickGrouper{channel: start.Channel, lastTT: start.Timestamp, lastPos: start}
}

// Buffered is the number of messages waiting for a time tick.
func (g *TickGrouper) Buffered() int { return len(g.buf) }

// LastTimeTick is the EndTs of the last pack emitted (or the start ts).
func (g *TickGrouper) LastTimeTick() uint64 { return g.lastTT }

// Add takes the next message read from the channel at MQ message ID id.
// It returns a pack when m is a time tick newer than the last one, nil
// otherwise. Stale time ticks (ts <= the last) are ignored.
func (g *TickGrouper) Add(id []byte, m *Message) *Pack {
	if m.Type != commonpb.MsgType_TimeTick {
		g.buf = append(g.buf, bufferedMsg{id: id, msg: m})
		return nil
	}
	tt := m.EndTs
	if tt <= g.lastTT {
		return nil
	}
	var ready []*Message
	var rest []bufferedMsg
	for _, b := range g.buf {
		if b.msg.EndTs <= tt {
			ready = append(ready, b.msg)
		} else {
			rest = append(rest, b)
		}
	}
	end := Position{Channel: g.channel, MsgID: id, Timestamp: tt}
	if len(rest) > 0 {
		end.MsgID = rest[0].id
	}
	pack := &Pack{
		Channel:       g.channel,
		BeginTs:       g.lastTT,
		EndTs:         tt,
		Msgs:          orderPackMsgs(dedupDML(ready)),
		StartPosition: g.lastPos,
		EndPosition:   end,
	}
	g.buf, g.lastTT, g.lastPos = rest, tt, end
	return pack
}

// dedupDML drops an Insert or Delete whose (type, Base.MsgID) already
// appeared in the pack. The type is part of the key so the two halves of an
// upsert can never collapse into one.
func dedupDML(msgs []*Message) []*Message {
	type key struct {
		t  commonpb.MsgType
		id int64
	}
	seen := map[key]struct{}{}
	out := msgs[:0]
	for _, m := range msgs {
		if m.IsDML() {
			k := key{m.Type, m.MsgID()}
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
		}
		out = append(out, m)
	}
	return out
}

// orderPackMsgs sorts by BeginTs, Delete before Insert at equal ts, stable.
func orderPackMsgs(msgs []*Message) []*Message {
	rank := func(m *Message) int {
		if m.Type == commonpb.MsgType_Delete {
			return 0
		}
		return 1
	}
	sort.SliceStable(msgs, func(i, j int) bool {
		if msgs[i].BeginTs != msgs[j].BeginTs {
			return msgs[i].BeginTs < msgs[j].BeginTs
		}
		return rank(msgs[i]) < rank(msgs[j])
	})
	return msgs
}

// SeekFilter drops what was already consumed after resuming a channel from a
// Position (read inclusively from its MsgID): every message with
// BeginTs <= the position's Timestamp, until the first time tick with
// ts >= that Timestamp; from then on everything passes. This mirrors
// Milvus's MqTtMsgStream.Seek.
type SeekFilter struct {
	checkpoint uint64
	passed     bool
}

// NewSeekFilter filters after a resume from a position with that Timestamp.
func NewSeekFilter(checkpointTs uint64) *SeekFilter {
	return &SeekFilter{checkpoint: checkpointTs}
}

// Keep reports whether m should be processed. The time tick that ends the
// filtering is kept (a TickGrouper started at the same position ignores it
// when its ts equals the checkpoint).
func (f *SeekFilter) Keep(m *Message) bool {
	if f.passed {
		return true
	}
	if m.Type == commonpb.MsgType_TimeTick && m.BeginTs >= f.checkpoint {
		f.passed = true
		return true
	}
	return m.BeginTs > f.checkpoint
}

// Passed reports whether the filter has seen its closing time tick.
func (f *SeekFilter) Passed() bool { return f.passed }
