package meta

// Secrets at rest: with a keyring (metaStore.encryption.keyFile) a task's
// target (URI, token, TLS paths) is stored sealed with AES-256-GCM, bound to
// the task id, next to a redacted copy for people reading etcd; without one
// it is stored as is. SealStoredSecrets rewrites, at start, the tasks stored
// in plain text or under a key that is no longer the active one.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/internal/keyring"
)

// ErrSealed means a stored task's secrets are sealed and this store has no
// key (or not the key) to open them.
var ErrSealed = errors.New("the task's secrets are encrypted")

// storedTask is a task as its etcd value holds it.
type storedTask struct {
	Task
	// SealedTarget is the sealed JSON of Spec.Target; Spec.Target then holds
	// the target without its token and with the URI redacted.
	SealedTarget *keyring.Sealed `json:"sealedTarget,omitempty"`
}

// WithKeyring makes the store seal task secrets with k (nil: plain text).
func (s *Store) WithKeyring(k *keyring.Keyring) *Store {
	s.keys = k
	return s
}

// hasSecret reports whether a target carries a secret: a token or a
// password in its URI.
func hasSecret(t corelib.Target) bool { return t.Token != "" || t.Redacted() != t.URI }

func sealAAD(taskID string) []byte { return []byte("milvus-cdc task " + taskID) }

// encodeTask is the etcd value of t.
func (s *Store) encodeTask(t Task) ([]byte, error) {
	if s.keys == nil || !hasSecret(t.Spec.Target) {
		return json.Marshal(t)
	}
	plain, err := json.Marshal(t.Spec.Target)
	if err != nil {
		return nil, err
	}
	sealed, err := s.keys.Seal(plain, sealAAD(t.Spec.ID))
	if err != nil {
		return nil, fmt.Errorf("seal the secrets of task %s: %w", t.Spec.ID, err)
	}
	redacted := t.Spec.Target
	redacted.Token = ""
	redacted.URI = redacted.Redacted()
	t.Spec.Target = redacted
	return json.Marshal(storedTask{Task: t, SealedTarget: &sealed})
}

// decodeTask reads an etcd value, opening sealed secrets.
func (s *Store) decodeTask(val []byte, rev int64) (Task, error) {
	var st storedTask
	if err := json.Unmarshal(val, &st); err != nil {
		return Task{}, fmt.Errorf("decode stored task: %w", err)
	}
	t := st.Task
	t.Revision = rev
	if st.SealedTarget == nil {
		return t, nil
	}
	if s.keys == nil {
		return Task{}, fmt.Errorf("task %s: %w with key %s and no key file is configured; set metaStore.encryption.keyFile to the file holding that key", t.Spec.ID, ErrSealed, st.SealedTarget.KeyID)
	}
	plain, err := s.keys.Open(*st.SealedTarget, sealAAD(t.Spec.ID))
	if err != nil {
		return Task{}, fmt.Errorf("task %s: %w: %w; metaStore.encryption.keyFile must hold key %s", t.Spec.ID, ErrSealed, err, st.SealedTarget.KeyID)
	}
	var target corelib.Target
	if err := json.Unmarshal(plain, &target); err != nil {
		return Task{}, fmt.Errorf("task %s: decode its sealed target: %w", t.Spec.ID, err)
	}
	t.Spec.Target = target
	return t, nil
}

// SealReport says what SealStoredSecrets found and did.
type SealReport struct {
	Sealed   int // tasks that were in plain text and are now sealed
	Resealed int // tasks moved from an older key to the active one
	// Plain counts tasks with secrets left in plain text (no keyring).
	Plain int
}

// SealStoredSecrets brings every stored task to the store's keyring: tasks
// with plain-text secrets are sealed, tasks sealed under an older key are
// sealed again with the active key. Without a keyring it only counts the
// plain-text tasks, and fails when a task is sealed (its secrets could not
// be read). Each rewrite is a compare-and-swap, so another daemon's write
// in between is never lost; such a task is read again and retried.
func (s *Store) SealStoredSecrets(ctx context.Context) (SealReport, error) {
	var rep SealReport
	resp, err := s.cli.Get(ctx, s.taskPrefix(), clientv3.WithPrefix())
	if err != nil {
		return rep, fmt.Errorf("list tasks to seal their secrets: %w", err)
	}
	for _, kv := range resp.Kvs {
		if err := s.sealOne(ctx, string(kv.Key), kv.Value, kv.ModRevision, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (s *Store) sealOne(ctx context.Context, key string, val []byte, rev int64, rep *SealReport) error {
	for attempt := 0; ; attempt++ {
		var st storedTask
		if err := json.Unmarshal(val, &st); err != nil {
			return fmt.Errorf("decode stored task %s: %w", key, err)
		}
		plainSecret := st.SealedTarget == nil && hasSecret(st.Spec.Target)
		oldKey := st.SealedTarget != nil && s.keys != nil && st.SealedTarget.KeyID != s.keys.ActiveKeyID()
		switch {
		case s.keys == nil && st.SealedTarget != nil:
			_, err := s.decodeTask(val, rev) // the error names the key and the setting
			return err
		case s.keys == nil:
			if plainSecret {
				rep.Plain++
			}
			return nil
		case !plainSecret && !oldKey:
			return nil
		}
		t, err := s.decodeTask(val, rev)
		if err != nil {
			return err
		}
		out, err := s.encodeTask(t)
		if err != nil {
			return err
		}
		txn, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, string(out))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return fmt.Errorf("seal the secrets of task %s: %w", t.Spec.ID, err)
		}
		if txn.Succeeded {
			if plainSecret {
				rep.Sealed++
			} else {
				rep.Resealed++
			}
			return nil
		}
		kvs := txn.Responses[0].GetResponseRange().GetKvs()
		if len(kvs) == 0 {
			return nil // deleted meanwhile: nothing left to protect
		}
		if attempt >= 5 {
			return fmt.Errorf("seal the secrets of task %s: %w", t.Spec.ID, ErrConflict)
		}
		val, rev = kvs[0].Value, kvs[0].ModRevision
	}
}
