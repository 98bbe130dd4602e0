package meta

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// Snapshot progress lives at {root}/snapshots/{taskID} (JSON
// corelib.SnapshotProgress) and goes with the task when it is deleted.

func (s *Store) snapshotKey(id string) string { return s.root + "/snapshots/" + id }

// LoadSnapshot returns a task's snapshot progress with its Revision; false
// when none is stored. It implements corelib.SnapshotStore.
func (s *Store) LoadSnapshot(ctx context.Context, taskID string) (corelib.SnapshotProgress, bool, error) {
	resp, err := s.cli.Get(ctx, s.snapshotKey(taskID))
	if err != nil {
		return corelib.SnapshotProgress{}, false, fmt.Errorf("load the snapshot progress of task %s: %w", taskID, err)
	}
	if len(resp.Kvs) == 0 {
		return corelib.SnapshotProgress{}, false, nil
	}
	var p corelib.SnapshotProgress
	if err := json.Unmarshal(resp.Kvs[0].Value, &p); err != nil {
		return corelib.SnapshotProgress{}, false, fmt.Errorf("decode the snapshot progress of task %s: %w", taskID, err)
	}
	p.Revision = resp.Kvs[0].ModRevision
	return p, true, nil
}

// SaveSnapshot writes a task's snapshot progress with compare-and-swap on
// p.Revision (0 = must not exist), only while the task exists. It
// implements corelib.SnapshotStore.
func (s *Store) SaveSnapshot(ctx context.Context, taskID string, p corelib.SnapshotProgress) (corelib.SnapshotProgress, error) {
	val, err := json.Marshal(p)
	if err != nil {
		return corelib.SnapshotProgress{}, fmt.Errorf("encode the snapshot progress of task %s: %w", taskID, err)
	}
	key, taskKey := s.snapshotKey(taskID), s.taskKey(taskID)
	fence, rev, err := s.ownerCmp(taskID)
	if err != nil {
		return corelib.SnapshotProgress{}, err
	}
	resp, err := s.cli.Txn(ctx).
		If(append(fence,
			clientv3.Compare(clientv3.CreateRevision(taskKey), ">", 0),
			clientv3.Compare(clientv3.ModRevision(key), "=", p.Revision),
		)...).
		Then(clientv3.OpPut(key, string(val))).
		Else(s.fencedElse(taskKey, taskID)...).
		Commit()
	if err != nil {
		return corelib.SnapshotProgress{}, fmt.Errorf("save the snapshot progress of task %s: %w", taskID, err)
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().GetCount() == 0 {
			return corelib.SnapshotProgress{}, fmt.Errorf("task %s: %w: %w", taskID, ErrNotFound, corelib.ErrTaskGone)
		}
		if err := s.notOwner(taskID, rev, resp, 1); err != nil {
			return corelib.SnapshotProgress{}, err
		}
		return corelib.SnapshotProgress{}, fmt.Errorf("snapshot progress of task %s: %w", taskID, ErrConflict)
	}
	p.Revision = resp.Header.Revision
	return p, nil
}

var _ corelib.SnapshotStore = (*Store)(nil)
