//go:build e2e

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Bed is the running test bed as described by .testbed/env.
type Bed struct {
	// Env holds every KEY=value line of the env file, including keys this struct
	// does not name.
	Env map[string]string
	// EnvFile is the file the bed was read from.
	EnvFile string

	SourceAddr string // host:port of the source Milvus proxy
	TargetAddr string // host:port of the target Milvus proxy
	MQType     string // "pulsar" or "kafka"

	EtcdEndpoints []string
	SourceRoot    string // source etcd.rootPath, e.g. cdc-src
	SourceMetaSub string // source etcd.metaSubPath, e.g. meta
	TargetRoot    string

	PulsarAddress    string // pulsar://host:port (MQType pulsar)
	PulsarWebAddress string
	PulsarTenant     string
	PulsarNamespace  string
	KafkaBrokers     []string // MQType kafka

	ReplicateChannel string   // e.g. cdc-src-replicate-msg
	DMLChannels      []string // the source's physical DML channels
	CDCConfig        string   // path of the daemon config rendered for this bed
}

// ErrNoBed means no env file was found: the bed is not up.
var ErrNoBed = errors.New("no test bed env file (run `make testbed-up`, or set TESTBED_ENV)")

// LoadBed reads the bed description from $TESTBED_ENV, else from .testbed/env in
// the repository root (the first parent directory holding go.mod).
func LoadBed() (*Bed, error) {
	path := os.Getenv("TESTBED_ENV")
	if path == "" {
		root, err := repoRoot()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(root, ".testbed", "env")
	}
	env, err := readEnvFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoBed, path)
	}
	if err != nil {
		return nil, err
	}
	return bedFromEnv(path, env)
}

// RequireBed loads the bed or fails the test. It does not skip: the e2e tests run
// only under `make e2e`, where a missing bed is a broken run, not a reason to pass.
func RequireBed(t testing.TB) *Bed {
	t.Helper()
	bed, err := LoadBed()
	if err != nil {
		t.Fatalf("test bed: %v", err)
	}
	return bed
}

func bedFromEnv(path string, env map[string]string) (*Bed, error) {
	b := &Bed{Env: env, EnvFile: path}
	var missing []string
	need := func(key string) string {
		v := env[key]
		if v == "" {
			missing = append(missing, key)
		}
		return v
	}
	b.SourceAddr = hostPort(need("SOURCE_MILVUS_URI"))
	b.TargetAddr = hostPort(need("TARGET_MILVUS_URI"))
	b.MQType = need("MQ_TYPE")
	b.EtcdEndpoints = splitList(need("ETCD_ENDPOINTS"))
	b.SourceRoot = need("SOURCE_ROOT_PATH")
	b.SourceMetaSub = orDefault(env["SOURCE_META_SUB_PATH"], "meta")
	b.TargetRoot = env["TARGET_ROOT_PATH"]
	b.ReplicateChannel = need("REPLICATE_CHANNEL")
	b.CDCConfig = env["CDC_CONFIG"]
	b.DMLChannels = splitList(env["SOURCE_DML_CHANNELS"])
	if len(b.DMLChannels) == 0 {
		n, err := strconv.Atoi(orDefault(env["SOURCE_DML_CHANNEL_NUM"], "0"))
		if err != nil {
			return nil, fmt.Errorf("%s: SOURCE_DML_CHANNEL_NUM=%q is not a number", path, env["SOURCE_DML_CHANNEL_NUM"])
		}
		for i := 0; i < n; i++ {
			b.DMLChannels = append(b.DMLChannels, fmt.Sprintf("%s-rootcoord-dml_%d", b.SourceRoot, i))
		}
	}
	switch b.MQType {
	case "pulsar":
		b.PulsarAddress = need("PULSAR_ADDRESS")
		b.PulsarWebAddress = env["PULSAR_WEB_ADDRESS"]
		b.PulsarTenant = orDefault(env["PULSAR_TENANT"], "public")
		b.PulsarNamespace = orDefault(env["PULSAR_NAMESPACE"], "default")
	case "kafka":
		b.KafkaBrokers = splitList(need("KAFKA_BROKERS"))
	case "":
	default:
		return nil, fmt.Errorf("%s: MQ_TYPE=%q: want pulsar or kafka", path, b.MQType)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s lacks %s (re-run `make testbed-up`)", path, strings.Join(missing, ", "))
	}
	return b, nil
}

// MetaRoot is the source's etcd meta prefix, e.g. "cdc-src/meta".
func (b *Bed) MetaRoot() string { return b.SourceRoot + "/" + b.SourceMetaSub }

// readEnvFile parses KEY=value lines; blank lines and # comments are skipped.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want KEY=value, got %q", path, n, line)
		}
		env[strings.TrimSpace(strings.TrimPrefix(k, "export "))] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return env, sc.Err()
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; set TESTBED_ENV")
		}
		dir = parent
	}
}

// hostPort strips a scheme: the SDK takes "host:port".
func hostPort(uri string) string {
	for _, scheme := range []string{"http://", "https://", "tcp://"} {
		uri = strings.TrimPrefix(uri, scheme)
	}
	return strings.TrimSuffix(uri, "/")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
