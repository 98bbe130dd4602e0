//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/milvus-cdc/milvus-cdc/internal/bedutil"
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

// readEnvFile parses the bed's KEY=value env file (shared with the benchmark).
func readEnvFile(path string) (map[string]string, error) { return bedutil.ReadEnvFile(path) }

// repoRoot is the directory holding go.mod, above the working directory.
func repoRoot() (string, error) {
	root, err := bedutil.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w; set TESTBED_ENV", err)
	}
	return root, nil
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
