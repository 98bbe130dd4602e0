package meta_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/internal/keyring"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/meta/metatest"
)

const (
	tokenSecret = "tok-S3cr3t-value"
	uriPassword = "uri-Pa55word"
)

func secretTask(id string) meta.Task {
	t := newTask(id)
	t.Spec.Target = corelib.Target{URI: "http://admin:" + uriPassword + "@target:19530", Token: "root:" + tokenSecret}
	return t
}

func keyFile(ids ...string) *keyring.Keyring {
	var b strings.Builder
	for _, id := range ids {
		key := []byte(strings.Repeat(id, keyring.KeySize)[:keyring.KeySize]) // the same id, the same key
		b.WriteString(id + ":" + base64.StdEncoding.EncodeToString(key) + "\n")
	}
	k, err := keyring.Parse([]byte(b.String()))
	if err != nil {
		panic(err)
	}
	return k
}

// rawValues returns every etcd value under the store's root, as stored.
func rawValues(t *testing.T, cli *clientv3.Client) map[string]string {
	t.Helper()
	resp, err := cli.Get(context.Background(), "cdc-test/", clientv3.WithPrefix())
	require.NoError(t, err)
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out
}

func requireNoPlainSecret(t *testing.T, raw map[string]string) {
	t.Helper()
	require.NotEmpty(t, raw)
	for k, v := range raw {
		require.NotContains(t, v, tokenSecret, "plain-text token in %s", k)
		require.NotContains(t, v, uriPassword, "plain-text URI password in %s", k)
	}
}

func TestSecretsAreSealedOnCreateAndUpdate(t *testing.T) {
	ctx := context.Background()
	e := metatest.StartEtcd(t)
	s := meta.NewStore(e.Client, "cdc-test").WithKeyring(keyFile("k1"))
	created, err := s.CreateTask(ctx, secretTask("a"), []corelib.Checkpoint{{Channel: "ch", Position: []byte{1}}})
	require.NoError(t, err)

	raw := rawValues(t, e.Client)
	requireNoPlainSecret(t, raw)
	require.Contains(t, raw["cdc-test/tasks/a"], `"sealedTarget":{"kid":"k1"`)
	require.Contains(t, raw["cdc-test/tasks/a"], `"uri":"http://target:19530"`, "a redacted URI stays readable")

	got, err := s.GetTask(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, secretTask("a").Spec.Target, got.Spec.Target, "the store returns the secrets")

	got.State = meta.StateRunning
	_, err = s.UpdateTask(ctx, got)
	require.NoError(t, err)
	requireNoPlainSecret(t, rawValues(t, e.Client))
	list, err := s.ListTasks(ctx)
	require.NoError(t, err)
	require.Equal(t, "root:"+tokenSecret, list[0].Spec.Target.Token)
	require.Equal(t, created.Spec.ID, list[0].Spec.ID)

	// Two seals of the same secret differ (random nonce).
	first := raw["cdc-test/tasks/a"]
	got, _ = s.GetTask(ctx, "a")
	_, err = s.UpdateTask(ctx, got)
	require.NoError(t, err)
	require.NotEqual(t, sealedPart(first), sealedPart(rawValues(t, e.Client)["cdc-test/tasks/a"]))
}

func sealedPart(v string) string { return v[strings.Index(v, `"sealedTarget"`):] }

func TestMigrationSealsPlainTextTasksAndRotatesKeys(t *testing.T) {
	ctx := context.Background()
	e := metatest.StartEtcd(t)
	plain := meta.NewStore(e.Client, "cdc-test")
	_, err := plain.CreateTask(ctx, secretTask("a"), nil)
	require.NoError(t, err)
	noSecret := newTask("b")
	noSecret.Spec.Target.Token = ""
	_, err = plain.CreateTask(ctx, noSecret, nil)
	require.NoError(t, err)
	require.Contains(t, rawValues(t, e.Client)["cdc-test/tasks/a"], tokenSecret, "stored in plain text before the migration")

	rep, err := plain.SealStoredSecrets(ctx)
	require.NoError(t, err)
	require.Equal(t, meta.SealReport{Plain: 1}, rep, "without a key the migration only counts")

	k1 := meta.NewStore(e.Client, "cdc-test").WithKeyring(keyFile("k1"))
	rep, err = k1.SealStoredSecrets(ctx)
	require.NoError(t, err)
	require.Equal(t, meta.SealReport{Sealed: 1}, rep)
	raw := rawValues(t, e.Client)
	requireNoPlainSecret(t, raw)
	require.NotContains(t, raw["cdc-test/tasks/b"], "sealedTarget", "a task without secrets stays as it was")
	rep, err = k1.SealStoredSecrets(ctx)
	require.NoError(t, err)
	require.Equal(t, meta.SealReport{}, rep, "a second run has nothing to do")

	// Rotation: a new key first in the file, the old one still listed.
	k2 := meta.NewStore(e.Client, "cdc-test").WithKeyring(keyFile("k2", "k1"))
	got, err := k2.GetTask(ctx, "a")
	require.NoError(t, err, "the old key still opens")
	require.Equal(t, "root:"+tokenSecret, got.Spec.Target.Token)
	rep, err = k2.SealStoredSecrets(ctx)
	require.NoError(t, err)
	require.Equal(t, meta.SealReport{Resealed: 1}, rep)
	raw = rawValues(t, e.Client)
	requireNoPlainSecret(t, raw)
	require.Contains(t, raw["cdc-test/tasks/a"], `"kid":"k2"`)

	// Once resealed, the old key alone no longer opens; no key says what to set.
	_, err = k1.GetTask(ctx, "a")
	require.ErrorIs(t, err, meta.ErrSealed)
	require.ErrorContains(t, err, "metaStore.encryption.keyFile must hold key k2")
	_, err = plain.SealStoredSecrets(ctx)
	require.ErrorIs(t, err, meta.ErrSealed)
	require.ErrorContains(t, err, "set metaStore.encryption.keyFile to the file holding that key")
	got, err = meta.NewStore(e.Client, "cdc-test").WithKeyring(keyFile("k2")).GetTask(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, secretTask("a").Spec.Target, got.Spec.Target)
}

func TestASealedTargetDoesNotOpenUnderAnotherTask(t *testing.T) {
	ctx := context.Background()
	e := metatest.StartEtcd(t)
	s := meta.NewStore(e.Client, "cdc-test").WithKeyring(keyFile("k1"))
	_, err := s.CreateTask(ctx, secretTask("a"), nil)
	require.NoError(t, err)
	other := secretTask("b")
	other.Spec.Target.Token = "root:other-token"
	_, err = s.CreateTask(ctx, other, nil)
	require.NoError(t, err)
	raw := rawValues(t, e.Client)
	// Copy a's sealed target into b's record.
	b := raw["cdc-test/tasks/b"]
	forged := b[:strings.Index(b, `"sealedTarget"`)] + sealedPart(raw["cdc-test/tasks/a"])
	_, err = e.Client.Put(ctx, "cdc-test/tasks/b", forged)
	require.NoError(t, err)
	_, err = s.GetTask(ctx, "b")
	require.ErrorIs(t, err, meta.ErrSealed, "the seal is bound to the task id")
}
