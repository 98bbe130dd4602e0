package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// checkpointInterval bounds how often a channel's checkpoint is written to
// the task store while data flows; a pause or stop always writes the last one.
const checkpointInterval = time.Second

// checkpointOf stores a position the way Milvus and milvus-cdc do.
func checkpointOf(channel string, collectionID int64, pos source.Position) (corelib.Checkpoint, error) {
	raw, err := source.EncodePosition(pos)
	if err != nil {
		return corelib.Checkpoint{}, err
	}
	return corelib.Checkpoint{Channel: channel, CollectionID: collectionID, Position: raw, Timestamp: pos.Timestamp}, nil
}

// decodePosition reads a stored checkpoint.
func decodePosition(cp corelib.Checkpoint) (*source.Position, error) {
	pos, err := source.DecodePosition(cp.Position, cp.Channel)
	if err != nil {
		return nil, err
	}
	return &pos, nil
}

// saveCheckpoint persists a channel's position with compare-and-swap,
// retrying a store that fails. A conflict means another daemon runs this
// task too: the run ends with an error wrapping corelib.ErrConflict rather
// than fight over the checkpoint.
func (p *Pipeline) saveCheckpoint(ctx context.Context, h *health, channel string, collectionID int64, pos source.Position) error {
	return p.saveCheckpointBound(ctx, h, channel, collectionID, pos, 0)
}

// saveCheckpointBound saves a checkpoint whose apply bound is raised to at
// least bound (it never goes down: see corelib.Checkpoint.ApplyBound).
func (p *Pipeline) saveCheckpointBound(ctx context.Context, h *health, channel string, collectionID int64, pos source.Position, bound uint64) error {
	cp, err := checkpointOf(channel, collectionID, pos)
	if err != nil {
		return err
	}
	p.mu.Lock()
	prev := p.saved[channel]
	cp.Revision, cp.ApplyBound = prev.Revision, max(prev.ApplyBound, bound)
	p.mu.Unlock()
	var conflict error
	err = retry(ctx, h, p.log, stageSave, "save checkpoint "+channel, func(ctx context.Context) error {
		saved, err := p.deps.Checkpoints.SaveCheckpoint(ctx, p.spec.ID, cp)
		if errors.Is(err, corelib.ErrConflict) {
			conflict = err
			return nil
		}
		if errors.Is(err, corelib.ErrTaskGone) {
			return nil // deleted while stopping: nothing left to resume
		}
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.saved[channel] = saved
		p.mu.Unlock()
		return nil
	})
	if errors.Is(conflict, corelib.ErrNotOwner) {
		return fmt.Errorf("checkpoint of channel %s not saved: %w", channel, conflict)
	}
	if conflict != nil {
		return fmt.Errorf("the checkpoint of channel %s was changed by another writer; is a second daemon running task %s? %w", channel, p.spec.ID, conflict)
	}
	return err
}

// applyBoundLead is how far ahead of the pack about to be applied a
// channel's apply bound is raised: the bound costs one checkpoint write per
// lead of source time, and a restart writes up to one lead of packs
// idempotently (upserts) before it goes back to plain inserts.
const applyBoundLead = 60 * time.Second

// applyBound is the bound to store before applying a pack ending at endTs.
func applyBound(endTs uint64) uint64 {
	return source.ComposeTSByTime(source.PhysicalTime(endTs).Add(applyBoundLead))
}

// storedBound is the apply bound stored for a channel.
func (p *Pipeline) storedBound(channel string) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.saved[channel].ApplyBound
}
