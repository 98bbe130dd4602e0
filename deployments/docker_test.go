package deployments

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/milvus-cdc/milvus-cdc/config"
)

// defaultPort is the port of the daemon's default listen address, read from
// the config package.
func defaultPort(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(config.Default().Address)
	require.NoError(t, err)
	return port
}

// requireConfigEnv fails unless name is the override variable of a config key.
func requireConfigEnv(t *testing.T, where, name string) string {
	t.Helper()
	require.True(t, strings.HasPrefix(name, config.EnvPrefix+"_"), "%s: %s is not a %s_ variable", where, name, config.EnvPrefix)
	key, ok := config.KeyOfEnv(name)
	require.True(t, ok, "%s: %s overrides no configuration key (the keys: config.SortedKeys())", where, name)
	return key
}

// substituted resolves compose's ${VAR:-default} to its default.
var composeVar = regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)

func substituted(s string) string { return composeVar.ReplaceAllString(s, "$1") }

type composeFile struct {
	Services map[string]struct {
		Build       map[string]string `yaml:"build"`
		Image       string            `yaml:"image"`
		Restart     string            `yaml:"restart"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Networks    []string          `yaml:"networks"`
		Secrets     []string          `yaml:"secrets"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Networks map[string]struct {
		External bool   `yaml:"external"`
		Name     string `yaml:"name"`
	} `yaml:"networks"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

func TestComposeFileJoinsMilvusAndPublishesOnlyTheDaemon(t *testing.T) {
	raw, err := os.ReadFile("docker-compose.yml")
	require.NoError(t, err)
	var f composeFile
	require.NoError(t, yaml.Unmarshal(raw, &f))
	require.Len(t, f.Services, 1, "only the daemon: the source and target Milvus are the user's")
	svc, ok := f.Services["milvus-cdc"]
	require.True(t, ok)

	require.Equal(t, []string{defaultPort(t) + ":" + defaultPort(t)}, svc.Ports, "only the daemon's port is published")
	for _, clash := range []string{"19530", "9091", "2379", "6650", "8080", "9092", "9000"} {
		require.NotContains(t, string(raw), `"`+clash+`:`, "publishes Milvus's port %s", clash)
	}
	require.Equal(t, "unless-stopped", svc.Restart)
	require.Equal(t, []string{"CMD", "/usr/local/bin/milvus-cdc", "healthcheck"}, svc.Healthcheck.Test)
	require.Equal(t, "deployments/docker/Dockerfile", svc.Build["dockerfile"])

	require.Equal(t, []string{"milvus"}, svc.Networks)
	network := f.Networks["milvus"]
	require.True(t, network.External, "joins the Milvus compose network, creates none")
	require.Equal(t, "milvus", substituted(network.Name), "the standard milvus-standalone compose file names its network milvus")

	keys := map[string]string{}
	for name, value := range svc.Environment {
		keys[requireConfigEnv(t, "docker-compose.yml", name)] = substituted(value)
	}
	_, port, err := net.SplitHostPort(keys["address"])
	require.NoError(t, err)
	require.Equal(t, defaultPort(t), port, "the published port is the one the daemon listens on")
	require.Equal(t, config.Default().Source.Etcd.RootPath, keys["source.etcd.rootPath"], "Milvus's default etcd.rootPath")
	require.Equal(t, config.Default().Source.ReplicateChannel, keys["source.replicateChannel"], "Milvus's default replicate channel")
	require.NotEmpty(t, keys["metaStore.etcd.endpoints"], "tasks in an external etcd: a container's embedded etcd would need a volume")

	// Secrets are files the daemon reads, mounted from compose secrets.
	for _, key := range []string{"server.auth.tokensFile", "metaStore.encryption.keyFile"} {
		p := keys[key]
		require.True(t, strings.HasPrefix(p, "/run/secrets/"), "%s = %q", key, p)
		name := strings.TrimPrefix(p, "/run/secrets/")
		require.Contains(t, svc.Secrets, name)
		require.NotEmpty(t, f.Secrets[name].File)
	}
	require.NotContains(t, keys, "server.auth.tokens", "no token in the compose file")
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("docker", "Dockerfile"))
	require.NoError(t, err)
	var (
		env              = map[string]string{}
		user, workdir    string
		volumes          []string
		healthcheck      string
		entrypoint, from string
	)
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(string(raw), "\\\n", " ")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch word {
		case "FROM":
			from = rest
		case "ENV":
			k, v, _ := strings.Cut(rest, "=")
			env[k] = v
		case "USER":
			user = rest
		case "WORKDIR":
			workdir = rest
		case "VOLUME":
			require.NoError(t, yaml.Unmarshal([]byte(rest), &volumes))
		case "HEALTHCHECK":
			healthcheck = rest
		case "ENTRYPOINT":
			entrypoint = rest
		}
	}
	require.Contains(t, from, "distroless", "the runtime image")
	require.Equal(t, "nonroot", user)
	require.Equal(t, []string{"/var/lib/milvus-cdc"}, volumes)
	require.Equal(t, "/var/lib/milvus-cdc", workdir, "relative paths land in the volume")
	for name, value := range env {
		key := requireConfigEnv(t, "Dockerfile", name)
		if key == "metaStore.embed.dataDir" {
			require.True(t, strings.HasPrefix(value, volumes[0]+"/"), "the embedded etcd writes into the volume, not %s", value)
		}
	}
	require.Contains(t, env, config.EnvName("metaStore.embed.dataDir"), "the default data/etcd is not writable by nonroot in /")
	require.Contains(t, string(raw), "--chown=65532:65532", "the volume's directory belongs to nonroot")
	require.Regexp(t, `CMD \["/usr/local/bin/milvus-cdc", "healthcheck"\]`, healthcheck)
	require.Equal(t, `["/usr/local/bin/milvus-cdc"]`, entrypoint)
	require.Contains(t, string(raw), "EXPOSE "+defaultPort(t))

	ignore, err := os.ReadFile(filepath.Join("..", ".dockerignore"))
	require.NoError(t, err)
	lines := map[string]bool{}
	for _, l := range strings.Split(string(ignore), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, must := range []string{".git", "bin", "data", ".testbed"} {
		require.True(t, lines[must], ".dockerignore must exclude %s (COPY . . would ship it)", must)
	}
	for _, keep := range []string{"go.mod", "go.sum", "server", "cmd", "*.go", "server/web"} {
		require.False(t, lines[keep], ".dockerignore excludes %s, which the build needs", keep)
	}
}
