//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/config"
)

// readmeSection returns the text of a "## " section of the README.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	root, err := repoRoot()
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	text := string(raw)
	start := strings.Index(text, "\n## "+title+"\n")
	require.NotEqual(t, -1, start, "README.md has no section %q", title)
	rest := text[start+1:]
	if end := strings.Index(rest[3:], "\n## "); end != -1 {
		rest = rest[:end+3]
	}
	return rest
}

var shBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

// readmeSteps returns the two sh blocks of "Step by step": the settings a
// user edits and the commands they run.
func readmeSteps(t *testing.T) (settings, commands string) {
	t.Helper()
	sec := readmeSection(t, "Replicating your Milvus")
	i := strings.Index(sec, "### Step by step")
	require.NotEqual(t, -1, i, "no \"Step by step\" in the README section")
	blocks := shBlock.FindAllStringSubmatch(sec[i:], -1)
	require.GreaterOrEqual(t, len(blocks), 2, "\"Step by step\" needs a settings block and a commands block")
	return blocks[0][1], blocks[1][1]
}

var settingLine = regexp.MustCompile(`^(?:export\s+)?([A-Z][A-Z0-9_]*)=(\S*)`)

// bedSettings rewrites the README's settings for the bed's source, as a user
// would for theirs: every MILVUS_CDC_ variable must be a configuration key
// the test knows the bed's value of, and on a Kafka bed the Pulsar lines
// give way to the brokers, as the README says.
func bedSettings(t *testing.T, bed *Bed, settings string) string {
	t.Helper()
	values := map[string]string{
		"source.milvus.address":       bed.SourceAddr,
		"source.etcd.endpoints":       strings.Join(bed.EtcdEndpoints, ","),
		"source.etcd.rootPath":        bed.SourceRoot,
		"source.etcd.metaSubPath":     bed.SourceMetaSub,
		"source.mq.type":              bed.MQType,
		"source.mq.pulsar.address":    bed.PulsarAddress,
		"source.mq.pulsar.webAddress": bed.PulsarWebAddress,
		"source.mq.pulsar.tenant":     bed.PulsarTenant,
		"source.mq.pulsar.namespace":  bed.PulsarNamespace,
		"source.mq.kafka.brokers":     strings.Join(bed.KafkaBrokers, ","),
		"source.replicateChannel":     bed.ReplicateChannel,
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(settings, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		m := settingLine.FindStringSubmatch(trimmed)
		require.NotNil(t, m, "README setting %q is not NAME=value", trimmed)
		name := m[1]
		if name == "TARGET_URI" {
			out = append(out, "TARGET_URI=http://"+bed.TargetAddr)
			continue
		}
		key, ok := config.KeyOfEnv(name)
		require.True(t, ok, "README sets %s, which is no configuration key", name)
		seen[key] = true
		if bed.MQType == config.MQKafka && strings.HasPrefix(key, "source.mq.pulsar.") {
			continue // "instead of the two Pulsar lines"
		}
		v, ok := values[key]
		require.True(t, ok, "README sets %s (%s); the test does not know the bed's value for it", name, key)
		out = append(out, "export "+name+"="+v)
	}
	for _, must := range []string{"source.etcd.endpoints", "source.etcd.rootPath", "source.mq.type", "source.replicateChannel"} {
		require.True(t, seen[must], "the README's settings must name %s", must)
	}
	if bed.MQType == config.MQKafka {
		out = append(out, "export "+config.EnvName("source.mq.kafka.brokers")+"="+values["source.mq.kafka.brokers"])
	}
	return strings.Join(out, "\n") + "\n"
}

var taskIDCell = regexp.MustCompile(`(?m)^([0-9a-f]{32})\s`)

// TestReadmeReplicatingYourMilvus runs the README's "Replicating your
// Milvus" commands, taken from the README itself, with the settings pointed
// at the bed's source as if it were the reader's own Milvus; then it writes
// to the source and checks that the rows arrive on the target.
func TestReadmeReplicatingYourMilvus(t *testing.T) {
	bed := RequireBed(t)
	if bed.Env["TARGET_MODE"] == "replicate" {
		t.Skip("the README's example task uses the default writer mode, api; this bed's target runs in replicate mode")
	}
	settings, commands := readmeSteps(t)
	require.Contains(t, commands, "bin/milvus-cdc task create -f task.yaml")
	script := "set -eu\n" + bedSettings(t, bed, settings) + commands

	bin, err := daemonBinary()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.Symlink(bin, filepath.Join(dir, "bin", "milvus-cdc")))

	// The reader's machine runs nothing else; this one may, so the daemon
	// and its embedded etcd get free ports instead of 8444/2479/2480.
	port := freePort(t)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvPrefix+"_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		fmt.Sprintf("MILVUS_CDC_ADDRESS=127.0.0.1:%d", port),
		fmt.Sprintf("MILVUS_CDC_SERVER=http://127.0.0.1:%d", port),
		fmt.Sprintf("MILVUS_CDC_METASTORE_EMBED_CLIENTURL=http://127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("MILVUS_CDC_METASTORE_EMBED_PEERURL=http://127.0.0.1:%d", freePort(t)),
	)
	t.Cleanup(func() { stopReadmeDaemon(t, dir, port) })

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err != nil {
		daemonLog, _ := os.ReadFile(filepath.Join(dir, "milvus-cdc.log"))
		t.Fatalf("the README's commands failed: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s\nmilvus-cdc.log:\n%s", err, script, stdout.String(), stderr.String(), tail(daemonLog, 4000))
	}
	out := stdout.String()
	require.Contains(t, out, "configuration OK", "--check-config")
	m := taskIDCell.FindStringSubmatch(out)
	require.NotNil(t, m, "no task id in the output of task create:\n%s", out)
	id := m[1]
	require.Regexp(t, `(?m)^`+id+`\s+Running\s`, out, "task list shows the task Running:\n%s", out)
	require.FileExists(t, filepath.Join(dir, "data", "etcd", "member", "snap", "db"), "the tasks live in ./data/etcd")

	// The reader writes to their Milvus; the rows arrive on the target.
	bctx := context.Background()
	src, dst := bed.ConnectSource(t, bctx), bed.ConnectTarget(t, bctx)
	schema := AllTypesSchema(UniqueName("e2e_readme"))
	coll := schema.CollectionName
	replicatedCollection(t, bctx, src, dst, schema, 2)
	DropCollectionOnCleanup(t, dst, coll)
	_, err = NewDataset(schema, 0, 500).Insert(bctx, src, 250)
	require.NoError(t, err)
	Eventually(t, bctx, catchUp, time.Second, "the README's task replicates the rows", SameCollection(src, dst, coll, coll))

	status := runBinary(t, []string{fmt.Sprintf("MILVUS_CDC_SERVER=http://127.0.0.1:%d", port)}, "task", "status", id)
	require.Equal(t, 0, status.code, status.stderr)
	require.Regexp(t, `(?m)^default\s+`+coll+`\s+\d+\s+500\s`, status.stdout, "task status counts the 500 rows:\n%s", status.stdout)
}

// stopReadmeDaemon deletes the README's tasks and stops the daemon the
// README started, by the PID file it wrote.
func stopReadmeDaemon(t *testing.T, dir string, port int) {
	client := &http.Client{Timeout: 10 * time.Second}
	if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/tasks", port)); err == nil {
		var list struct {
			Tasks []struct {
				ID string `json:"id"`
			} `json:"tasks"`
		}
		_ = decodeJSON(resp, &list)
		for _, tk := range list.Tasks {
			req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("http://127.0.0.1:%d/api/v1/tasks/%s", port, tk.ID), nil)
			if r, err := client.Do(req); err == nil {
				r.Body.Close()
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "milvus-cdc.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Logf("the README's daemon (pid %d) did not stop on SIGTERM within 20 s; killed", pid)
}

func decodeJSON(resp *http.Response, out any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}
