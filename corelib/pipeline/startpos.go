package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
)

// latestPositioner is a Source that can say where each channel ends now.
// Without it a new task starts each channel where it is when the pipeline
// opens it, which can be after create has answered.
type latestPositioner interface {
	// LatestPosition is where a reader must start to see everything written
	// to the channel after the call: the last message's ID with its
	// timestamp, or a position without MsgID (the oldest message) when the
	// channel is empty.
	LatestPosition(ctx context.Context, channel string) (source.Position, error)
}

// timePositioner is a Source that can say where a channel was at a time.
type timePositioner interface {
	// PositionAt is where a reader must start to see every message with a
	// timestamp after t; an error wrapping corelib.ErrStartExpired when the
	// channel no longer holds what was written at t.
	PositionAt(ctx context.Context, channel string, t time.Time) (source.Position, error)
}

// startPositionTimeout bounds reading the last message of one channel.
const startPositionTimeout = 15 * time.Second

// startPositionWorkers bounds the channels read at once at task creation.
const startPositionWorkers = 4

var _ corelib.StartPositioner = (*Factory)(nil)

// StartPositions pins where a new task starts: the current end of every
// channel it will read (the physical channels of the in-scope collections
// that exist now, and the replicate channel), as checkpoints to store with
// the task before create answers. A row written after create returned is
// then always replicated, however late the pipeline opens its channel.
// Channels in skip (those the user gave a position for) are left out.
// Collections created later start at their catalog start positions.
func (f *Factory) StartPositions(ctx context.Context, spec corelib.TaskSpec, skip map[string]bool) ([]corelib.Checkpoint, error) {
	lp, ok := f.Source.(latestPositioner)
	if !ok {
		return nil, nil
	}
	snap, err := f.Source.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the source catalog: %w", err)
	}
	rc := f.Source.ReplicateChannel() // the key the pipeline resumes it by
	var channels []string
	for _, ch := range dataChannelsInScope(snap, scopeOf(spec)) {
		if !skip[ch] {
			channels = append(channels, ch)
		}
	}
	if !skip[rc] {
		channels = append(channels, rc)
	}
	earliest, at, err := corelib.ParseStartFrom(spec.StartFrom)
	if err != nil {
		return nil, err
	}
	var positions []source.Position
	switch {
	case earliest:
		// Without a message ID a channel is read from the oldest message
		// the broker holds, the replicate channel too.
		for _, ch := range channels {
			positions = append(positions, source.Position{Channel: ch})
		}
	case !at.IsZero():
		tp, ok := f.Source.(timePositioner)
		if !ok {
			return nil, fmt.Errorf("this source cannot start a task at a time")
		}
		data := channels
		if len(data) > 0 && data[len(data)-1] == rc {
			data = data[:len(data)-1]
		}
		if positions, err = timePositions(ctx, tp, data, at); err != nil {
			return nil, err
		}
		if !skip[rc] { // operations are not ordered by time there: from its end
			latest, err := latestPositions(ctx, lp, []string{rc})
			if err != nil {
				return nil, err
			}
			positions = append(positions, latest...)
		}
	default:
		if positions, err = latestPositions(ctx, lp, channels); err != nil {
			return nil, err
		}
	}
	cps := make([]corelib.Checkpoint, 0, len(positions))
	for _, pos := range positions {
		cp, err := pinnedCheckpoint(pos, rc)
		if err != nil {
			return nil, err
		}
		cps = append(cps, cp)
	}
	return cps, nil
}

// dataChannelsInScope lists, sorted, the physical channels of the created
// collections the scope selects.
func dataChannelsInScope(snap *source.Snapshot, scope Scope) []string {
	view := newMetaView(snap)
	seen := map[string]bool{}
	for _, c := range snap.Collections {
		if c.State != metapb.CollectionState_CollectionCreated || !scope.Collection(view.dbName(c.DBID), c.Name) {
			continue
		}
		for _, ch := range c.PhysicalChannels {
			seen[ch] = true
		}
	}
	out := make([]string, 0, len(seen))
	for ch := range seen {
		out = append(out, ch)
	}
	sort.Strings(out)
	return out
}

// latestPositions asks for the channels' ends a few at a time; the first
// failure is returned.
func latestPositions(ctx context.Context, lp latestPositioner, channels []string) ([]source.Position, error) {
	return positionsOf(ctx, channels, func(ctx context.Context, ch string) (source.Position, error) {
		pos, err := lp.LatestPosition(ctx, ch)
		if err != nil {
			return pos, fmt.Errorf("the current end of channel %s: %w", ch, err)
		}
		return pos, nil
	})
}

// timePositions finds the channels' positions at t, a few at a time.
func timePositions(ctx context.Context, tp timePositioner, channels []string, t time.Time) ([]source.Position, error) {
	return positionsOf(ctx, channels, func(ctx context.Context, ch string) (source.Position, error) {
		pos, err := tp.PositionAt(ctx, ch, t)
		if err != nil {
			return pos, fmt.Errorf("the position of channel %s at %s: %w", ch, t.UTC().Format(time.RFC3339), err)
		}
		return pos, nil
	})
}

// positionsOf asks one position per channel, startPositionWorkers at a
// time, each within startPositionTimeout; every failure is returned.
func positionsOf(ctx context.Context, channels []string, ask func(context.Context, string) (source.Position, error)) ([]source.Position, error) {
	out := make([]source.Position, len(channels))
	errs := make([]error, len(channels))
	sem := make(chan struct{}, startPositionWorkers)
	var wg sync.WaitGroup
	for i, ch := range channels {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, startPositionTimeout)
			defer cancel()
			out[i], errs[i] = ask(cctx, ch)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// pinnedCheckpoint stores a pinned position the way the pipeline stores its
// own: a data channel resumes from MsgID inclusive past Timestamp (the
// message there is old and filtered out); the replicate channel resumes
// after MsgID.
func pinnedCheckpoint(pos source.Position, replicate string) (corelib.Checkpoint, error) {
	var collectionID int64
	if pos.Channel == replicate {
		collectionID = corelib.ReplicateChannelCollectionID
	}
	return checkpointOf(pos.Channel, collectionID, pos)
}

// LatestPosition reads where a channel ends: the ID of its last message and
// that message's timestamp, or a position without MsgID when it is empty.
func (s *MilvusSource) LatestPosition(ctx context.Context, channel string) (source.Position, error) {
	id, err := s.MQ.LatestMsgID(ctx, channel)
	if errors.Is(err, mq.ErrEmptyChannel) {
		return source.Position{Channel: channel}, nil
	}
	if err != nil {
		return source.Position{}, err
	}
	r, err := s.MQ.OpenReader(ctx, channel, mq.StartAt(id))
	if err != nil {
		return source.Position{}, err
	}
	defer r.Close()
	m, err := r.Next(ctx)
	if err != nil {
		return source.Position{}, fmt.Errorf("read the last message: %w", err)
	}
	// The ID as a reader delivers it, not as LatestMsgID encodes it: Pulsar
	// serializes the two differently, and the replicate channel's reader
	// skips its checkpoint's message by comparing the bytes.
	pos := source.Position{Channel: channel, MsgID: m.ID}
	// A message this version cannot decode pins no timestamp: the reader
	// then re-reads it, and skips it again.
	if dm, err := source.DecodeMessage(m.Payload); err == nil {
		pos.Timestamp = dm.EndTs
	}
	return pos, nil
}

// seekMargin is how much before the start time a channel is sought by
// publish time: the broker's clock and the source's timestamps may differ
// a little, and the timestamp filter drops what the margin adds.
const seekMargin = 5 * time.Second

// PositionAt finds where a channel was at t: the first message published
// at or after t minus seekMargin, with t's hybrid timestamp, so that the
// reader drops every message stamped at or before t (source.SeekFilter).
// A channel whose oldest held message was published after t has lost what
// t asks for (retention): the error wraps corelib.ErrStartExpired.
func (s *MilvusSource) PositionAt(ctx context.Context, channel string, t time.Time) (source.Position, error) {
	ts, ok := s.MQ.(mq.TimeSeeker)
	if !ok {
		return source.Position{}, fmt.Errorf("the source broker cannot seek by time")
	}
	pos := source.Position{Channel: channel, Timestamp: source.ComposeTSByTime(t)}
	oldest, err := ts.OldestPublishTime(ctx, channel)
	if errors.Is(err, mq.ErrEmptyChannel) {
		return pos, nil // everything it will get is newer: from its start
	}
	if err != nil {
		return source.Position{}, err
	}
	if oldest.After(t) {
		return source.Position{}, fmt.Errorf("channel %s holds nothing published before %s (its oldest message); choose a later startFrom or \"earliest\": %w",
			channel, oldest.UTC().Format(time.RFC3339), corelib.ErrStartExpired)
	}
	id, err := ts.MsgIDAtTime(ctx, channel, t.Add(-seekMargin))
	if errors.Is(err, mq.ErrEmptyChannel) {
		return s.LatestPosition(ctx, channel) // nothing since t: from its end
	}
	if err != nil {
		return source.Position{}, err
	}
	pos.MsgID = id
	return pos, nil
}
