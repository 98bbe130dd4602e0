//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	e2eAdminToken = "e2e-admin-0123456789abcdef0123"
	e2eReadToken  = "e2e-viewer-0123456789abcdef012"
	// e2eTargetSecret is the token a task sends to the bed's target (which
	// runs without authorization and ignores it); it must never be stored in
	// plain text once a key is set.
	e2eTargetSecret = "root:E2e-T4rget-S3cret"
)

func authEnv() string {
	return "MILVUS_CDC_SERVER_AUTH_TOKENS=ops:admin:" + e2eAdminToken + ",viewer:read:" + e2eReadToken
}

type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a apiAnswer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "body: %s", a.body)
	return m
}

// call sends one request to the daemon with a bearer token ("" for none).
func (d *Daemon) call(t testing.TB, token, method, path, body string) apiAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+d.addr+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return apiAnswer{status: resp.StatusCode, header: resp.Header, body: raw}
}

// createRESTTask creates a task for one collection of the default database
// through REST with the admin token and waits until it replicates.
func (d *Daemon) createRESTTask(t testing.TB, token, coll, targetToken string) string {
	t.Helper()
	body := map[string]any{
		"target": map[string]any{"uri": "http://" + d.bed.TargetAddr, "connectTimeoutSeconds": 10},
		"scope":  []any{map[string]any{"database": "default", "collection": coll}},
	}
	if targetToken != "" {
		body["target"].(map[string]any)["token"] = targetToken
	}
	if d.bed.Env["TARGET_MODE"] == "replicate" {
		body["writerMode"] = "replicate"
	}
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	a := d.call(t, token, http.MethodPost, "/api/v1/tasks", string(raw))
	require.Equal(t, http.StatusCreated, a.status, "create: %s", a.body)
	id := a.json(t)["id"].(string)
	t.Cleanup(func() {
		if d.cmd != nil {
			d.call(t, token, http.MethodDelete, "/api/v1/tasks/"+id, "")
		}
	})
	Eventually(t, context.Background(), time.Minute, 200*time.Millisecond, "task "+id+" replicating", func(context.Context) (bool, string, error) {
		a := d.call(t, token, http.MethodGet, "/api/v1/tasks/"+id, "")
		var tk struct {
			Pipeline struct {
				Replicating bool   `json:"replicating"`
				Detail      string `json:"detail"`
			} `json:"pipeline"`
		}
		if err := json.Unmarshal(a.body, &tk); err != nil {
			return false, "", err
		}
		return tk.Pipeline.Replicating, tk.Pipeline.Detail, nil
	})
	return id
}

func (d *Daemon) restState(t testing.TB, token, id string) (int, string, string) {
	t.Helper()
	a := d.call(t, token, http.MethodGet, "/api/v1/tasks/"+id, "")
	if a.status != http.StatusOK {
		return a.status, "", ""
	}
	m := a.json(t)
	reason, _ := m["reason"].(string)
	return a.status, m["state"].(string), reason
}

// TestAPIAuthenticationOnARealDaemon runs the daemon binary with an admin
// and a read token on the bed: no token gets 401, the read token reads and
// gets 403 on every mutating route of both APIs and the CLI, the admin
// token changes tasks, probes stay open, and every mutating call is in the
// audit log.
func TestAPIAuthenticationOnARealDaemon(t *testing.T) {
	bed := RequireBed(t)
	d := StartDaemon(t, bed, authEnv())
	coll := UniqueName("e2e_auth")
	id := d.createRESTTask(t, e2eAdminToken, coll, "")

	noToken := d.call(t, "", http.MethodGet, "/api/v1/tasks", "")
	require.Equal(t, http.StatusUnauthorized, noToken.status)
	require.Equal(t, "application/problem+json", noToken.header.Get("Content-Type"))
	require.Equal(t, "unauthenticated", noToken.json(t)["code"])
	require.Contains(t, noToken.header.Get("WWW-Authenticate"), "Bearer")
	bad := d.call(t, "not-a-token-of-this-daemon", http.MethodGet, "/api/v1/tasks/"+id, "")
	require.Equal(t, http.StatusUnauthorized, bad.status)
	require.Equal(t, http.StatusUnauthorized, d.call(t, "", http.MethodPost, "/api/v1/tasks/"+id+"/pause", "").status)
	cdcNoToken := d.call(t, "", http.MethodPost, "/cdc", `{"request_type":"list"}`)
	require.Equal(t, http.StatusUnauthorized, cdcNoToken.status)
	require.EqualValues(t, 401, cdcNoToken.json(t)["code"])

	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/"} {
		require.Equal(t, http.StatusOK, d.call(t, "", http.MethodGet, path, "").status, "%s is open", path)
	}

	// The read token reads everything and changes nothing.
	for _, path := range []string{"/api/v1/tasks", "/api/v1/tasks/" + id, "/api/v1/tasks/" + id + "/status", "/api/v1/info"} {
		require.Equal(t, http.StatusOK, d.call(t, e2eReadToken, http.MethodGet, path, "").status, path)
	}
	require.Equal(t, http.StatusOK, d.call(t, e2eReadToken, http.MethodPost, "/cdc", `{"request_type":"get","request_data":{"task_id":"`+id+`"}}`).status)
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/tasks/" + id + "/pause", ""},
		{http.MethodPost, "/api/v1/tasks/" + id + "/resume", ""},
		{http.MethodDelete, "/api/v1/tasks/" + id, ""},
		{http.MethodPost, "/api/v1/tasks", `{"target":{"uri":"http://` + bed.TargetAddr + `"},"scope":[{"database":"x","collection":"*"}]}`},
		{http.MethodPost, "/cdc", `{"request_type":"pause","request_data":{"task_id":"` + id + `"}}`},
		{http.MethodPost, "/cdc", `{"request_type":"maintenance","request_data":{"operation":"set_log_level","params":{"log_level":"debug"}}}`},
	} {
		a := d.call(t, e2eReadToken, c.method, c.path, c.body)
		require.Equal(t, http.StatusForbidden, a.status, "%s %s with a read token: %s", c.method, c.path, a.body)
		if c.path != "/cdc" {
			require.Equal(t, "forbidden", a.json(t)["code"])
		}
	}
	_, state, _ := d.restState(t, e2eReadToken, id)
	require.Equal(t, "Running", state, "the refused pause changed nothing")

	// The CLI passes the token from the environment and explains refusals.
	env := []string{"MILVUS_CDC_SERVER=http://" + d.addr}
	out := d.runCLIEnv(t, env, "task", "list")
	require.Equal(t, 1, out.code, out.stderr)
	require.Contains(t, out.stderr, "the daemon requires a token")
	out = d.runCLIEnv(t, append(env, "MILVUS_CDC_TOKEN="+e2eReadToken), "task", "get", id, "-o", "json")
	require.Equal(t, 0, out.code, out.stderr)
	require.Contains(t, out.stdout, `"id":"`+id+`"`)
	out = d.runCLIEnv(t, append(env, "MILVUS_CDC_TOKEN="+e2eReadToken), "task", "pause", id)
	require.Equal(t, 1, out.code)
	require.Contains(t, out.stderr, "403")
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(e2eAdminToken+"\n"), 0o600))
	out = d.runCLIEnv(t, env, "task", "pause", id, "--token-file", tokenFile)
	require.Equal(t, 0, out.code, out.stderr)
	_, state, _ = d.restState(t, e2eAdminToken, id)
	require.Equal(t, "Paused", state)
	require.Equal(t, http.StatusOK, d.call(t, e2eAdminToken, http.MethodPost, "/api/v1/tasks/"+id+"/resume", "").status)

	// Audit: who, what, which task, how it ended; never a token.
	lines := d.auditLines(t)
	require.Contains(t, lines, auditLine{Who: "ops", Method: "POST", Route: "/api/v1/tasks", TaskID: id, Outcome: "ok", Status: 201})
	require.Contains(t, lines, auditLine{Who: "viewer", Method: "POST", Route: "/api/v1/tasks/{id}/pause", TaskID: id, Outcome: "denied", Status: 403})
	require.Contains(t, lines, auditLine{Who: "anonymous", Method: "POST", Route: "/api/v1/tasks/{id}/pause", TaskID: id, Outcome: "denied", Status: 401})
	for _, l := range lines {
		require.NotEqual(t, "GET", l.Method, "reads are not audited: %+v", l)
	}
	require.Contains(t, lines, auditLine{Who: "ops", Method: "POST", Route: "/api/v1/tasks/{id}/pause", TaskID: id, Outcome: "ok", Status: 200})
	require.Contains(t, lines, auditLine{Who: "ops", Method: "POST", Route: "/api/v1/tasks/{id}/resume", TaskID: id, Outcome: "ok", Status: 200})
	log, err := os.ReadFile(d.logPath)
	require.NoError(t, err)
	require.NotContains(t, string(log), e2eAdminToken)
	require.NotContains(t, string(log), e2eReadToken)
}

type auditLine struct {
	Who     string `json:"who"`
	Method  string `json:"method"`
	Route   string `json:"route"`
	TaskID  string `json:"task_id"`
	Outcome string `json:"outcome"`
	Status  int    `json:"status"`
}

// auditLines reads the audit logger's lines from the daemon's JSON log.
func (d *Daemon) auditLines(t testing.TB) []auditLine {
	t.Helper()
	f, err := os.Open(d.logPath)
	require.NoError(t, err)
	defer f.Close()
	var out []auditLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Logger string `json:"logger"`
			auditLine
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Logger == "audit" {
			out = append(out, l.auditLine)
		}
	}
	return out
}

// runCLIEnv runs the built binary with env added to this process's.
func (d *Daemon) runCLIEnv(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	return runBinary(t, env, args...)
}

// runBinaryWithEnvOnly runs the binary with exactly env, expecting it to
// exit by itself within a minute.
func runBinaryWithEnvOnly(t *testing.T, bin string, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "milvus-cdc %v did not exit within a minute", args)
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// rawStore returns every value the daemon stored in the bed's etcd under its
// task-store root.
func (d *Daemon) rawStore(t testing.TB) string {
	t.Helper()
	root := ""
	for _, kv := range d.env {
		if v, ok := strings.CutPrefix(kv, "MILVUS_CDC_METASTORE_ROOTPATH="); ok {
			root = v
		}
	}
	require.NotEmpty(t, root)
	cli, err := clientv3.New(clientv3.Config{Endpoints: d.bed.EtcdEndpoints, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, root+"/", clientv3.WithPrefix())
	require.NoError(t, err)
	var b strings.Builder
	for _, kv := range resp.Kvs {
		fmt.Fprintf(&b, "%s=%s\n", kv.Key, kv.Value)
	}
	require.NotEmpty(t, b.String(), "nothing stored under %s", root)
	return b.String()
}

// TestStoredSecretsOnARealDaemon: a task created without a key is stored
// with its token in plain text; the daemon restarted with a key file seals
// it (the raw etcd keys no longer hold it) and the task still replicates; a
// task created with the key is sealed from the start; a daemon without the
// key refuses to start and says which setting to set.
func TestStoredSecretsOnARealDaemon(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	src := bed.ConnectSource(t, ctx)
	dst := bed.ConnectTarget(t, ctx)
	d := StartDaemon(t, bed)
	schema := AllTypesSchema(UniqueName("e2e_sealed"))
	coll := schema.CollectionName
	id := d.createRESTTask(t, "", coll, e2eTargetSecret)
	require.Contains(t, d.rawStore(t), e2eTargetSecret, "without a key the token is stored as given")

	keyFile := filepath.Join(t.TempDir(), "cdc.key")
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	require.NoError(t, os.WriteFile(keyFile, []byte("e2e1:"+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600))
	d.Stop(t)
	d.env = append(d.env, "MILVUS_CDC_METASTORE_ENCRYPTION_KEYFILE="+keyFile)
	d.Start(t)
	raw := d.rawStore(t)
	require.NotContains(t, raw, e2eTargetSecret, "after the start-up migration")
	require.Contains(t, raw, `"sealedTarget":{"kid":"e2e1"`)
	log, err := os.ReadFile(d.logPath)
	require.NoError(t, err)
	require.Contains(t, string(log), "stored task secrets migrated to the active key")

	// The sealed task runs: a collection and rows written now arrive on the
	// target, every row with its values.
	replicatedCollection(t, ctx, src, dst, schema, 1)
	DropCollectionOnCleanup(t, dst, coll)
	_, err = NewDataset(schema, 0, 200).Insert(ctx, src, 100)
	require.NoError(t, err)
	Eventually(t, ctx, catchUp, time.Second, "the target holds the source's rows", SameCollection(src, dst, coll, coll))
	_, state, _ := d.restState(t, "", id)
	require.Equal(t, "Running", state)
	if bed.Env["TARGET_MODE"] == "replicate" {
		// A replica target takes one task: make room for the second one.
		require.Equal(t, http.StatusNoContent, d.call(t, "", http.MethodDelete, "/api/v1/tasks/"+id, "").status)
	}
	other := d.createRESTTask(t, "", UniqueName("e2e_sealed2"), e2eTargetSecret)
	require.NotContains(t, d.rawStore(t), e2eTargetSecret, "a task created with the key is sealed")
	_, state, _ = d.restState(t, "", other)
	require.Equal(t, "Running", state)

	// Without the key the daemon does not start, and says what to set.
	d.Stop(t)
	d.env = append(d.env, "MILVUS_CDC_METASTORE_ENCRYPTION_KEYFILE=")
	cmdOut := runBinaryWithEnvOnly(t, d.bin, d.env, "--config", d.bed.CDCConfig)
	require.NotEqual(t, 0, cmdOut.code, "a daemon without the key must not start on sealed tasks")
	require.Contains(t, cmdOut.stdout+cmdOut.stderr, "set metaStore.encryption.keyFile")
	d.env = d.env[:len(d.env)-1]
	d.Start(t) // with the key again, for the cleanup's deletes
}
