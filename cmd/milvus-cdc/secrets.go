package main

import (
	"context"
	"fmt"
	"os"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/config"
	"github.com/milvus-cdc/milvus-cdc/internal/keyring"
	"github.com/milvus-cdc/milvus-cdc/meta"
)

// openTaskStore returns the task store, sealing task secrets with the key
// file when one is configured, and brings the stored tasks to it before any
// task starts: plain-text secrets are sealed, secrets under an older key
// are sealed again with the active one.
func openTaskStore(ctx context.Context, cli *clientv3.Client, cfg config.Config, lg *zap.Logger) (*meta.Store, error) {
	store := meta.NewStore(cli, cfg.MetaStore.RootPath)
	path := cfg.MetaStore.Encryption.KeyFile
	if path != "" {
		k, err := keyring.Load(path)
		if err != nil {
			return nil, fmt.Errorf("config metaStore.encryption.keyFile: %w", err)
		}
		store.WithKeyring(k)
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			lg.Warn("the key file is readable by other users; chmod 600 it", zap.String("key_file", path), zap.String("mode", st.Mode().Perm().String()))
		}
		lg.Info("task secrets are encrypted at rest", zap.String("key_file", path), zap.String("active_key", k.ActiveKeyID()), zap.Strings("keys", k.KeyIDs()))
	}
	rep, err := store.SealStoredSecrets(ctx)
	if err != nil {
		return nil, err
	}
	if rep.Sealed > 0 || rep.Resealed > 0 {
		lg.Info("stored task secrets migrated to the active key", zap.Int("sealed_from_plain_text", rep.Sealed), zap.Int("resealed_from_older_keys", rep.Resealed))
	}
	if path == "" {
		lg.Warn("task secrets (target tokens, passwords in target URIs) are stored in plain text in the task store's etcd; set metaStore.encryption.keyFile to encrypt them (docs/security.md)",
			zap.Int("tasks_with_plain_text_secrets", rep.Plain))
	}
	return store, nil
}
