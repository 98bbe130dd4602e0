package server_test

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/milvus-cdc/milvus-cdc/corelib/corelibtest"
	"github.com/milvus-cdc/milvus-cdc/internal/keyring"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/meta/metatest"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

func withTokenReferences(dir string) daemonOption {
	return func(l *task.Limits) { l.TokenFileDir, l.TokenEnvPrefix = dir, "CDC_TARGET_" }
}

func refBody(id, targetFields string) string {
	return `{"id":"` + id + `","target":{"uri":"http://target:19530",` + targetFields + `},"scope":[{"database":"db_` + id + `","collection":"*"}]}`
}

// rawTaskStore returns every value the daemon stored under its root.
func rawTaskStore(t *testing.T, cli *clientv3.Client) string {
	t.Helper()
	resp, err := cli.Get(t.Context(), "cdc-test/", clientv3.WithPrefix())
	require.NoError(t, err)
	var b strings.Builder
	for _, kv := range resp.Kvs {
		b.WriteString(string(kv.Key) + "=" + string(kv.Value) + "\n")
	}
	return b.String()
}

func TestTargetTokenByReference(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "target.token"), []byte(secretToken+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wrong.token"), []byte("root:wrong"), 0o600))
	outside := filepath.Join(t.TempDir(), "outside.token")
	require.NoError(t, os.WriteFile(outside, []byte(secretToken), 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "escape.token")))
	t.Setenv("CDC_TARGET_DR", secretToken)
	t.Setenv("MILVUS_CDC_SERVER_AUTH_TOKENS", "ops:admin:"+adminToken)
	d := startDaemon(t, withTokenReferences(dir))

	tests := []struct {
		name, target string
		status       int
		code, field  string
		detail       string
	}{
		{"file, relative to the directory", `"tokenFile":"target.token"`, 201, "", "", ""},
		{"file, absolute inside the directory", `"tokenFile":"` + filepath.Join(dir, "target.token") + `"`, 201, "", "", ""},
		{"environment variable", `"tokenEnv":"CDC_TARGET_DR"`, 201, "", "", ""},
		{"file outside the directory", `"tokenFile":"` + outside + `"`, 422, "validation_failed", "target.tokenFile", "is not inside taskSecrets.dir"},
		{"dot-dot out of the directory", `"tokenFile":"../outside.token"`, 422, "validation_failed", "target.tokenFile", ""},
		{"symbolic link out of the directory", `"tokenFile":"escape.token"`, 422, "validation_failed", "target.tokenFile", "is not inside taskSecrets.dir"},
		{"missing file", `"tokenFile":"nope.token"`, 422, "validation_failed", "target.tokenFile", "does not exist on the daemon's host"},
		{"the daemon's own variables", `"tokenEnv":"MILVUS_CDC_SERVER_AUTH_TOKENS"`, 422, "validation_failed", "target.tokenEnv", `must start with "CDC_TARGET_"`},
		{"unset variable", `"tokenEnv":"CDC_TARGET_NOPE"`, 422, "validation_failed", "target.tokenEnv", "is not set"},
		{"two ways at once", `"token":"x","tokenFile":"target.token"`, 422, "validation_failed", "target.token", "give the target token one way"},
		{"the wrong token in the file", `"tokenFile":"wrong.token","connectTimeoutSeconds":2`, 422, "target_unreachable", "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "r" + string(rune('a'+i))
			r := d.do(http.MethodPost, "/api/v1/tasks", refBody(id, tt.target))
			if tt.status == 201 {
				require.Equal(t, 201, r.status, "body: %s", r.body)
				target := r.json(t)["target"].(map[string]any)
				require.Equal(t, true, target["tokenSet"])
				return
			}
			requireProblemLike(t, r, tt.status, tt.code, tt.detail, tt.field)
		})
	}
	raw := rawTaskStore(t, d.etcd.Client)
	require.NotContains(t, raw, secretPassword, "a token given by reference is never stored")
	require.Contains(t, raw, `"tokenFile":"target.token"`)
	require.NotContains(t, string(d.do(http.MethodGet, "/api/v1/tasks", "").body), secretPassword)
	d.requireNoSecretLogged()

	// The reference is read again at every start: a removed file makes the
	// resume fail with the field, a restored one lets it run.
	require.Equal(t, http.StatusOK, d.do(http.MethodPost, "/api/v1/tasks/ra/pause", "").status)
	require.NoError(t, os.Rename(filepath.Join(dir, "target.token"), filepath.Join(dir, "moved")))
	requireProblemLike(t, d.do(http.MethodPost, "/api/v1/tasks/ra/resume", ""), 422, "validation_failed", "does not exist", "target.tokenFile")
	require.NoError(t, os.Rename(filepath.Join(dir, "moved"), filepath.Join(dir, "target.token")))
	require.Equal(t, http.StatusOK, d.do(http.MethodPost, "/api/v1/tasks/ra/resume", "").status)
}

func TestTokenFileIsRefusedWithoutADirectory(t *testing.T) {
	d := startDaemon(t)
	requireProblemLike(t, d.do(http.MethodPost, "/api/v1/tasks", refBody("n1", `"tokenFile":"/etc/passwd"`)), 422, "validation_failed", "set taskSecrets.dir", "target.tokenFile")
}

// TestStoredSecretsAreEncrypted creates tasks through both APIs on a daemon
// whose store has a key, then restarts it on a store holding a plain-text
// task, and reads the raw etcd keys each time.
func TestStoredSecretsAreEncrypted(t *testing.T) {
	k, err := keyring.Parse([]byte("k1:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", keyring.KeySize)))))
	require.NoError(t, err)
	d := &testDaemon{t: t, etcd: metatest.StartEtcd(t), fake: corelibtest.StartFakeMilvus(t, secretToken)}
	d.limits = task.Limits{MaxTaskNum: 100, MaxNameLength: 256, ReplicateChannel: "by-dev-replicate-msg", StoreTimeout: 2 * time.Second}

	// A task stored in plain text by a daemon without a key.
	plain := meta.NewStore(d.etcd.Client, "cdc-test")
	d.store = plain
	d.boot()
	r := d.do(http.MethodPost, "/api/v1/tasks", `{"id":"old","target":{"uri":"http://root:`+secretPassword+`@target:19530","token":"`+secretToken+`"},"scope":[{"database":"db_old","collection":"*"}]}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Contains(t, rawTaskStore(t, d.etcd.Client), secretPassword, "without a key the secret is in plain text")
	d.http.Close()
	d.ctl.Shutdown(t.Context())

	// Restart with a key: the migration seals it, new tasks are sealed.
	d.store = meta.NewStore(d.etcd.Client, "cdc-test").WithKeyring(k)
	rep, err := d.store.SealStoredSecrets(t.Context())
	require.NoError(t, err)
	require.Equal(t, meta.SealReport{Sealed: 1}, rep)
	require.NotContains(t, rawTaskStore(t, d.etcd.Client), secretPassword, "after the migration")
	d.boot()
	r = d.do(http.MethodPost, "/api/v1/tasks", `{"id":"new","target":{"uri":"http://target:19530","token":"`+secretToken+`"},"scope":[{"database":"db_new","collection":"*"}]}`)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	c := d.cdc(`{"request_type":"create","request_data":{"task_id":"compat","milvus_connect_param":{"uri":"http://target:19530","token":"` + secretToken + `"},"db_collections":{"db_compat":[{"name":"*"}]}}}`)
	require.EqualValues(t, 200, c["code"], "%v", c)
	raw := rawTaskStore(t, d.etcd.Client)
	require.NotContains(t, raw, secretPassword, "after create through both APIs")
	require.Equal(t, 3, strings.Count(raw, `"sealedTarget":{"kid":"k1"`), raw)

	// The sealed tasks run: pause and resume reach the target with the token.
	before := d.fake.Connects.Load()
	require.Equal(t, http.StatusOK, d.do(http.MethodPost, "/api/v1/tasks/old/pause", "").status)
	require.Equal(t, http.StatusOK, d.do(http.MethodPost, "/api/v1/tasks/old/resume", "").status)
	require.Greater(t, d.fake.Connects.Load(), before)
	require.NotContains(t, rawTaskStore(t, d.etcd.Client), secretPassword, "after updates")
}

// requireProblemLike is requireProblem with detail as a part of the text.
func requireProblemLike(t *testing.T, r httpResult, status int, code, detailPart, field string) {
	t.Helper()
	requireProblem(t, r, status, code, "", field)
	require.Contains(t, r.json(t)["detail"], detailPart)
}
