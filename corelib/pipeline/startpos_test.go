package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
)

// pinningSource is the fake source plus channel ends: a channel's end is its
// last pack's end position; a channel without packs is empty.
type pinningSource struct {
	*fakeSource
	fail  string // a channel whose end cannot be read
	mu    sync.Mutex
	asked []string
}

func (s *pinningSource) LatestPosition(_ context.Context, channel string) (source.Position, error) {
	s.mu.Lock()
	s.asked = append(s.asked, channel)
	s.mu.Unlock()
	if channel == s.fail {
		return source.Position{}, errors.New("broker unavailable")
	}
	s.fakeSource.mu.Lock()
	defer s.fakeSource.mu.Unlock()
	packs := s.packs[channel]
	if len(packs) == 0 {
		return source.Position{Channel: channel}, nil
	}
	return packs[len(packs)-1].EndPosition, nil
}

func decodeCheckpoint(t *testing.T, cp corelib.Checkpoint) *msgpb.MsgPosition {
	t.Helper()
	mp := &msgpb.MsgPosition{}
	require.NoError(t, proto.Unmarshal(cp.Position, mp))
	return mp
}

func TestStartPositionsPinEveryChannelInScope(t *testing.T) {
	src := &pinningSource{fakeSource: newFakeSource()}
	src.add(t, "dml_0", 10)
	src.add(t, "dml_0", 20)
	src.add(t, "dml_1", 15)
	f := &Factory{Source: src}

	tests := []struct {
		name  string
		scope []corelib.CollectionScope
		skip  map[string]bool
		want  map[string]uint64 // channel -> pinned timestamp
	}{
		{"one collection", []corelib.CollectionScope{{Database: "db1", Collection: "logs"}}, nil,
			map[string]uint64{"dml_0": 20, "rpc": 0}},
		{"two-shard collection", []corelib.CollectionScope{{Database: "db1", Collection: "orders"}}, nil,
			map[string]uint64{"dml_0": 20, "dml_1": 15, "rpc": 0}},
		{"user positions are kept", []corelib.CollectionScope{{Database: "*", Collection: "*"}}, map[string]bool{"dml_1": true, "rpc": true},
			map[string]uint64{"dml_0": 20}},
		{"nothing in scope still pins the replicate channel", []corelib.CollectionScope{{Database: "db2", Collection: "*"}}, nil,
			map[string]uint64{"rpc": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cps, err := f.StartPositions(context.Background(), corelib.TaskSpec{ID: "t1", Scope: tc.scope}, tc.skip)
			require.NoError(t, err)
			got := map[string]uint64{}
			for _, cp := range cps {
				got[cp.Channel] = cp.Timestamp
				mp := decodeCheckpoint(t, cp)
				require.Equal(t, cp.Channel, mp.GetChannelName())
				require.Equal(t, cp.Timestamp, mp.GetTimestamp())
				if cp.Channel == "rpc" {
					require.Equal(t, corelib.ReplicateChannelCollectionID, cp.CollectionID)
					require.Empty(t, mp.GetMsgID(), "an empty channel is pinned at its oldest message")
				} else {
					require.Zero(t, cp.CollectionID)
					require.Equal(t, src.packs[cp.Channel][len(src.packs[cp.Channel])-1].EndPosition.MsgID, mp.GetMsgID())
				}
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestStartPositionsFailWhenAChannelCannotBeRead(t *testing.T) {
	src := &pinningSource{fakeSource: newFakeSource(), fail: "dml_0"}
	f := &Factory{Source: src}
	_, err := f.StartPositions(context.Background(), corelib.TaskSpec{ID: "t1", Scope: []corelib.CollectionScope{{Database: "db1", Collection: "logs"}}}, nil)
	require.ErrorContains(t, err, "the current end of channel dml_0: broker unavailable")
}

func TestStartPositionsNeedASourceThatKnowsChannelEnds(t *testing.T) {
	f := &Factory{Source: newFakeSource()}
	cps, err := f.StartPositions(context.Background(), corelib.TaskSpec{ID: "t1"}, nil)
	require.NoError(t, err)
	require.Empty(t, cps)
}

// TestPipelineStartsAtThePinnedPositions: what was on the channel when the
// task was created is not replayed; what was written after, before the
// pipeline opened the channel, is applied.
func TestPipelineStartsAtThePinnedPositions(t *testing.T) {
	src := &pinningSource{fakeSource: newFakeSource()}
	src.add(t, "dml_0", 10, insertMsg(10, 11, "logs", 1, 2))
	spec := corelib.TaskSpec{ID: "t1", Scope: []corelib.CollectionScope{{Database: "db1", Collection: "logs"}}}
	cps, err := (&Factory{Source: src}).StartPositions(context.Background(), spec, nil)
	require.NoError(t, err)
	store := &memStore{cps: map[string]corelib.Checkpoint{}}
	for _, cp := range cps {
		_, err := store.SaveCheckpoint(context.Background(), "t1", cp)
		require.NoError(t, err)
	}

	src.add(t, "dml_0", 20, insertMsg(20, 11, "logs", 3)) // after create answered
	rec := newRecorder()
	p := newTestPipeline(src, store, rec, nil)
	require.NoError(t, p.Start(context.Background()))
	defer func() { require.NoError(t, p.Stop(context.Background())) }()
	waitFor(t, "row 3 on the target", func() bool { return len(upserted(rec, "db1.logs")) >= 1 })
	require.Equal(t, []int64{3}, upserted(rec, "db1.logs"))
	waitFor(t, "the checkpoint past row 3", func() bool { return store.get("dml_0").Timestamp == 20 })
}

// oneMessageMQ holds one message whose ID LatestMsgID encodes differently
// from the reader, as Pulsar does (GetLastMessageID's batch size field).
type oneMessageMQ struct {
	mq.Client
	payload []byte
	empty   bool
}

func (c oneMessageMQ) LatestMsgID(context.Context, string) ([]byte, error) {
	if c.empty {
		return nil, mq.ErrEmptyChannel
	}
	return []byte("latest-form"), nil
}

func (c oneMessageMQ) OpenReader(_ context.Context, _ string, start mq.Start) (mq.Reader, error) {
	if string(start.MsgID) != "latest-form" {
		return nil, fmt.Errorf("unexpected start %q", start.MsgID)
	}
	return &oneMessageReader{msg: mq.Message{ID: []byte("delivered-form"), Payload: c.payload}}, nil
}

type oneMessageReader struct{ msg mq.Message }

func (r *oneMessageReader) Next(context.Context) (mq.Message, error) { return r.msg, nil }
func (r *oneMessageReader) Close() error                             { return nil }

func TestMilvusSourceLatestPosition(t *testing.T) {
	tick, err := proto.Marshal(&msgpb.TimeTickMsg{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_TimeTick, Timestamp: 600}})
	require.NoError(t, err)
	s := &MilvusSource{MQ: oneMessageMQ{payload: tick}}
	pos, err := s.LatestPosition(context.Background(), "dml_0")
	require.NoError(t, err)
	require.Equal(t, source.Position{Channel: "dml_0", MsgID: []byte("delivered-form"), Timestamp: 600}, pos,
		"the reader's form of the ID, so the replicate channel's reader recognises its checkpoint message")

	s = &MilvusSource{MQ: oneMessageMQ{empty: true}}
	pos, err = s.LatestPosition(context.Background(), "rpc")
	require.NoError(t, err)
	require.Equal(t, source.Position{Channel: "rpc"}, pos, "an empty channel: from its oldest message")
}

// timedSource also finds positions by time: every data channel's position
// at t is message "at-<channel>" with t's timestamp; expired names a channel
// whose retention dropped t.
type timedSource struct {
	*pinningSource
	expired string
}

func (s *timedSource) PositionAt(_ context.Context, channel string, t time.Time) (source.Position, error) {
	if channel == s.expired {
		return source.Position{}, fmt.Errorf("channel %s holds nothing published before ...: %w", channel, corelib.ErrStartExpired)
	}
	return source.Position{Channel: channel, MsgID: []byte("at-" + channel), Timestamp: source.ComposeTSByTime(t)}, nil
}

func TestStartPositionsStartFrom(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	atTs := source.ComposeTSByTime(at)
	scope := []corelib.CollectionScope{{Database: "db1", Collection: "orders"}}
	type pinned struct {
		ts    uint64
		msgID string
	}
	tests := []struct {
		name      string
		startFrom string
		expired   string
		want      map[string]pinned
		wantErr   error
	}{
		{name: "latest: every channel's end", startFrom: "latest",
			want: map[string]pinned{"dml_0": {20, "\x00"}, "dml_1": {15, "\x00"}, "rpc": {0, ""}}},
		{name: "earliest: no message ID, the oldest message held", startFrom: "earliest",
			want: map[string]pinned{"dml_0": {0, ""}, "dml_1": {0, ""}, "rpc": {0, ""}}},
		{name: "a time: data channels at it, the replicate channel at its end", startFrom: at.Format(time.RFC3339),
			want: map[string]pinned{"dml_0": {atTs, "at-dml_0"}, "dml_1": {atTs, "at-dml_1"}, "rpc": {0, ""}}},
		{name: "a time a channel no longer holds", startFrom: at.Format(time.RFC3339), expired: "dml_1", wantErr: corelib.ErrStartExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := &pinningSource{fakeSource: newFakeSource()}
			ps.add(t, "dml_0", 20) // its end: message ID 0
			ps.add(t, "dml_1", 15)
			f := &Factory{Source: &timedSource{pinningSource: ps, expired: tc.expired}}
			cps, err := f.StartPositions(context.Background(), corelib.TaskSpec{ID: "t1", Scope: scope, StartFrom: tc.startFrom}, nil)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Contains(t, err.Error(), "channel dml_1")
				return
			}
			require.NoError(t, err)
			got := map[string]pinned{}
			for _, cp := range cps {
				mp := decodeCheckpoint(t, cp)
				got[cp.Channel] = pinned{cp.Timestamp, string(mp.GetMsgID())}
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseStartFrom(t *testing.T) {
	tests := []struct {
		in       string
		earliest bool
		at       time.Time
		err      bool
	}{
		{in: ""}, {in: "latest"}, {in: "earliest", earliest: true},
		{in: "2026-01-02T03:04:05Z", at: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{in: "2026-01-02T04:04:05.5+01:00", at: time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC)},
		{in: "Latest", err: true}, {in: "2026-01-02", err: true}, {in: "now", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			earliest, at, err := corelib.ParseStartFrom(tc.in)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.earliest, earliest)
			require.True(t, tc.at.Equal(at), "got %s", at)
		})
	}
}
