package stream

import (
	"bytes"
	"context"
	"fmt"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/corelib/source/mq"
)

// Options tune a reader. The zero value is usable.
type Options struct {
	Log *zap.Logger // nil: no logging
	// KeepReplicated delivers messages with ReplicateInfo.IsReplicate too
	// (by default they are skipped and counted).
	KeepReplicated bool
	// OnSkip, when set, is told of every message the reader skips.
	OnSkip func(Skip)
}

// SkipKind says why a reader skipped a message.
type SkipKind int

const (
	// SkipUndecodable: the payload is not a Milvus message.
	SkipUndecodable SkipKind = iota + 1
	// SkipUnsupported: a Milvus message of a type this daemon does not replay.
	SkipUnsupported
	// SkipReplicated: a message another replicator wrote (not echoed back).
	SkipReplicated
)

// Skip is one skipped message.
type Skip struct {
	Kind SkipKind
	Type commonpb.MsgType // for SkipUnsupported and SkipReplicated
}

// Reason names the skip for status and metrics, e.g. "unsupported message
// Import".
func (s Skip) Reason() string {
	switch s.Kind {
	case SkipUndecodable:
		return "undecodable message"
	case SkipUnsupported:
		return "unsupported message " + s.Type.String()
	case SkipReplicated:
		return "message written by a replicator"
	}
	return "skipped message"
}

func (o Options) skipped(s Skip) {
	if o.OnSkip != nil {
		o.OnSkip(s)
	}
}

func (o Options) logger() *zap.Logger {
	if o.Log == nil {
		return zap.NewNop()
	}
	return o.Log
}

// decoder reads and classifies raw messages of one channel.
type decoder struct {
	raw     mq.Reader
	channel string
	opts    Options
	log     *zap.Logger
	stats   *Stats
}

// next returns the next decoded message worth delivering and its MQ ID.
// Time ticks are always delivered; malformed, unsupported and (unless kept)
// replicated messages are counted, logged at debug level and skipped.
func (d *decoder) next(ctx context.Context) (*source.Message, []byte, error) {
	for {
		raw, err := d.raw.Next(ctx)
		if err != nil {
			return nil, nil, err
		}
		m, err := source.DecodeMessage(raw.Payload)
		switch {
		case err != nil:
			d.stats.addMalformed()
			d.opts.skipped(Skip{Kind: SkipUndecodable})
			d.log.Warn("skipping undecodable message", zap.Binary("msgID", raw.ID), zap.Error(err))
			continue
		case !m.Supported():
			d.stats.addUnsupported(m.Type)
			d.opts.skipped(Skip{Kind: SkipUnsupported, Type: m.Type})
			d.log.Debug("skipping unsupported message type", zap.String("type", m.Type.String()), zap.Binary("msgID", raw.ID))
			continue
		case m.IsReplicate() && !d.opts.KeepReplicated && m.Type != commonpb.MsgType_TimeTick:
			d.stats.addReplicated()
			d.opts.skipped(Skip{Kind: SkipReplicated, Type: m.Type})
			d.log.Debug("skipping replicated message", zap.String("type", m.Type.String()), zap.Binary("msgID", raw.ID))
			continue
		}
		return m, raw.ID, nil
	}
}

func openRaw(ctx context.Context, client mq.Client, channel string, from *source.Position) (mq.Reader, error) {
	start := mq.StartLatest()
	if from != nil {
		if from.Channel != "" && from.Channel != channel {
			return nil, fmt.Errorf("position is for channel %q, not %q", from.Channel, channel)
		}
		start = mq.StartAt(from.MsgID)
		if len(from.MsgID) == 0 {
			// A position without a message ID is a start pinned on a
			// channel that was empty: everything written since counts.
			start = mq.StartEarliest()
		}
	}
	return client.OpenReader(ctx, channel, start)
}

// PackReader delivers the time-tick packs of one DML physical channel.
// Not safe for concurrent Next calls.
type PackReader struct {
	dec     decoder
	filter  *source.SeekFilter
	grouper *source.TickGrouper
}

// OpenPacks reads a physical channel from a checkpoint (the EndPosition of
// the last applied pack, or a collection start position with its create
// time): from its MsgID inclusive, dropping what is at or before its
// Timestamp (source.SeekFilter). A nil from starts at the channel's current
// end; a from without MsgID at the oldest message the channel holds.
func OpenPacks(ctx context.Context, client mq.Client, channel string, from *source.Position, opts Options) (*PackReader, error) {
	raw, err := openRaw(ctx, client, channel, from)
	if err != nil {
		return nil, err
	}
	start := source.Position{Channel: channel}
	if from != nil {
		start = *from
		start.Channel = channel
	}
	return &PackReader{
		dec:     decoder{raw: raw, channel: channel, opts: opts, log: opts.logger().With(zap.String("channel", channel)), stats: &Stats{}},
		filter:  source.NewSeekFilter(start.Timestamp),
		grouper: source.NewTickGrouper(start),
	}, nil
}

// Next blocks until the next time tick closes a pack and returns it
// (possibly with no messages: ticks keep coming on an idle source). Errors
// are those of mq.Reader.Next.
func (r *PackReader) Next(ctx context.Context) (*source.Pack, error) {
	for {
		m, id, err := r.dec.next(ctx)
		if err != nil {
			return nil, err
		}
		if !r.filter.Keep(m) {
			continue
		}
		if p := r.grouper.Add(id, m); p != nil {
			return p, nil
		}
	}
}

// Stats returns the reader's skip counters.
func (r *PackReader) Stats() StatsSnapshot { return r.dec.stats.Snapshot() }

// Close releases the underlying MQ reader.
func (r *PackReader) Close() error { return r.dec.raw.Close() }

// OpReader delivers the operations on the replicate-msg channel, which has
// no time ticks: each message stands alone. Not safe for concurrent Next.
type OpReader struct {
	dec    decoder
	skipID []byte // the already applied checkpoint message, until seen
}

// OpenOps reads the replicate channel after a checkpoint (the position of
// the last applied operation): the message at its MsgID is skipped and
// everything after it delivered. Unlike DML channels this is not a
// timestamp filter: every proxy writes to this channel, so timestamps are
// not monotonic in channel order. A nil from starts at the channel's
// current end; a from without MsgID at the oldest message it holds.
func OpenOps(ctx context.Context, client mq.Client, channel string, from *source.Position, opts Options) (*OpReader, error) {
	raw, err := openRaw(ctx, client, channel, from)
	if err != nil {
		return nil, err
	}
	r := &OpReader{dec: decoder{raw: raw, channel: channel, opts: opts, log: opts.logger().With(zap.String("channel", channel)), stats: &Stats{}}}
	if from != nil {
		r.skipID = from.MsgID
	}
	return r, nil
}

// Next returns the next operation and its position (resume point after it
// is applied). Errors are those of mq.Reader.Next.
func (r *OpReader) Next(ctx context.Context) (*source.Message, source.Position, error) {
	for {
		m, id, err := r.dec.next(ctx)
		if err != nil {
			return nil, source.Position{}, err
		}
		if r.skipID != nil {
			applied := bytes.Equal(id, r.skipID)
			r.skipID = nil
			if applied {
				continue
			}
		}
		return m, source.Position{Channel: r.dec.channel, MsgID: id, Timestamp: m.EndTs}, nil
	}
}

// Stats returns the reader's skip counters.
func (r *OpReader) Stats() StatsSnapshot { return r.dec.stats.Snapshot() }

// Close releases the underlying MQ reader.
func (r *OpReader) Close() error { return r.dec.raw.Close() }
