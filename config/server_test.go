package config

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const tok = "0123456789abcdef0123"

func TestAPITokensFromTheKeyAndTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(file, []byte("# operators\nops:admin:"+tok+"x\n\n  grafana:read:"+tok+":with:colons  \n"), 0o600))
	t.Setenv("MILVUS_CDC_SERVER_AUTH_TOKENS", "ci:admin:"+tok+"y,dash:read:"+tok+"z")
	t.Setenv("MILVUS_CDC_SERVER_AUTH_TOKENSFILE", file)
	cfg, err := Load("")
	require.NoError(t, err)
	got, err := cfg.Server.Auth.APITokens()
	require.NoError(t, err)
	require.Equal(t, []APIToken{
		{Name: "ci", Role: RoleAdmin, Secret: tok + "y"},
		{Name: "dash", Role: RoleRead, Secret: tok + "z"},
		{Name: "ops", Role: RoleAdmin, Secret: tok + "x"},
		{Name: "grafana", Role: RoleRead, Secret: tok + ":with:colons"},
	}, got)
	require.True(t, cfg.Server.Auth.Enabled())
	require.False(t, Default().Server.Auth.Enabled(), "authentication is off by default")
}

func TestAPITokenErrorsNameTheKeyNotTheSecret(t *testing.T) {
	dir := t.TempDir()
	emptyFile := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(emptyFile, []byte("# nothing\n"), 0o600))
	badFile := filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(badFile, []byte("ops:admin:"+tok+"\nx:superuser:"+tok+"q\n"), 0o600))
	tests := []struct {
		name string
		auth Auth
		want string
	}{
		{"not three parts", Auth{Tokens: []string{"ops:" + tok}}, "config server.auth.tokens[0]: is not name:role:token"},
		{"unknown role", Auth{Tokens: []string{"ops:root:" + tok}}, `config server.auth.tokens[0]: token ops: role "root" is unknown; use admin or read`},
		{"short token", Auth{Tokens: []string{"ops:admin:short"}}, "config server.auth.tokens[0]: token ops is 5 characters; use at least 16"},
		{"bad name", Auth{Tokens: []string{"o p:admin:" + tok}}, `config server.auth.tokens[0]: name "o p" is invalid`},
		{"duplicate name", Auth{Tokens: []string{"ops:admin:" + tok, "ops:read:" + tok + "2"}}, "token name ops is used twice"},
		{"duplicate secret", Auth{Tokens: []string{"a:admin:" + tok, "b:read:" + tok}}, "tokens a and b have the same secret"},
		{"missing file", Auth{TokensFile: filepath.Join(dir, "nope")}, "config server.auth.tokensFile: cannot read"},
		{"empty file", Auth{TokensFile: emptyFile}, "config server.auth.tokensFile: " + emptyFile + " holds no token"},
		{"bad line in the file", Auth{TokensFile: badFile}, "config server.auth.tokensFile: " + badFile + ` line 2: token x: role "superuser" is unknown`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.Server.Auth = tt.auth
			err := cfg.Validate()
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), tok, "an error must not quote a token")
		})
	}
}

func TestServerTLSValidation(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "c.pem")
	require.NoError(t, os.WriteFile(pem, []byte("x"), 0o600))
	tests := []struct {
		name string
		tls  ServerTLS
		want string
	}{
		{"cert without key", ServerTLS{CertFile: pem}, "config server.tls.certFile: certFile and keyFile must be set together"},
		{"client CA without TLS", ServerTLS{ClientCAFile: pem}, "config server.tls.clientCAFile: needs server.tls.certFile"},
		{"missing key file", ServerTLS{CertFile: pem, KeyFile: filepath.Join(dir, "nope")}, "config server.tls.keyFile: cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.Server.TLS = tt.tls
			require.ErrorContains(t, cfg.Validate(), tt.want)
		})
	}
	cfg := Default()
	cfg.Server.TLS = ServerTLS{CertFile: pem, KeyFile: pem, ClientCAFile: pem}
	require.NoError(t, cfg.Validate())
	require.True(t, cfg.Server.TLS.Enabled())
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	t.Setenv("MILVUS_CDC_METASTORE_ETCD_USERNAME", "root")
	t.Setenv("MILVUS_CDC_METASTORE_ETCD_PASSWORDFILE", write("etcd", "etcd-secret\n"))
	t.Setenv("MILVUS_CDC_SOURCE_MQ_PULSAR_AUTHPARAMSFILE", write("pulsar", "token:abc\r\n"))
	t.Setenv("MILVUS_CDC_SOURCE_MQ_KAFKA_SASL_PASSWORDFILE", write("kafka", "kafka-secret"))
	cfg, err := Load("")
	require.NoError(t, err)
	require.Equal(t, "etcd-secret", cfg.MetaStore.Etcd.Password)
	require.Equal(t, "token:abc", cfg.Source.MQ.Pulsar.AuthParams)
	require.Equal(t, "kafka-secret", cfg.Source.MQ.Kafka.SASL.Password)
}

func TestSecretFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"both ways", map[string]string{"MILVUS_CDC_SOURCE_ETCD_PASSWORD": "p", "MILVUS_CDC_SOURCE_ETCD_PASSWORDFILE": empty}, "config source.etcd.passwordFile: set either source.etcd.password or source.etcd.passwordFile, not both"},
		{"missing", map[string]string{"MILVUS_CDC_SOURCE_MQ_KAFKA_SASL_PASSWORDFILE": filepath.Join(dir, "nope")}, "config source.mq.kafka.sasl.passwordFile: cannot read"},
		{"empty", map[string]string{"MILVUS_CDC_SOURCE_MQ_PULSAR_AUTHPARAMSFILE": empty}, "config source.mq.pulsar.authParamsFile: " + empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := Load("")
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestEncryptionAndTaskSecretsValidation(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.key")
	require.NoError(t, os.WriteFile(badKey, []byte("k1:c2hvcnQ=\n"), 0o600))
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"missing key file", func(c *Config) { c.MetaStore.Encryption.KeyFile = filepath.Join(dir, "nope") }, "config metaStore.encryption.keyFile: cannot read the key file"},
		{"short key", func(c *Config) { c.MetaStore.Encryption.KeyFile = badKey }, "config metaStore.encryption.keyFile: line 1: key k1 is 5 bytes; use 32"},
		{"relative dir", func(c *Config) { c.TaskSecrets.Dir = "secrets" }, `config taskSecrets.dir: "secrets" is relative`},
		{"missing dir", func(c *Config) { c.TaskSecrets.Dir = filepath.Join(dir, "nope") }, "config taskSecrets.dir:"},
		{"daemon prefix", func(c *Config) { c.TaskSecrets.EnvPrefix = "MILVUS_CDC_X" }, "config taskSecrets.envPrefix:"},
		{"empty prefix", func(c *Config) { c.TaskSecrets.EnvPrefix = "" }, "config taskSecrets.envPrefix:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.mutate(&cfg)
			require.ErrorContains(t, cfg.Validate(), tt.want)
		})
	}
}

// TestShippedConfigNamesEveryKey keeps configs/cdc.yaml complete: it names
// exactly the keys the daemon knows (their defaults: TestShippedConfigLoads).
func TestShippedConfigNamesEveryKey(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "configs", "cdc.yaml"))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	var inFile []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			inFile = append(inFile, prefix+k)
		}
	}
	walk("", doc)
	sort.Strings(inFile)
	require.Equal(t, SortedKeys(), inFile, "configs/cdc.yaml must name every key, and only those")
	require.Equal(t, "MILVUS_CDC_SOURCE_ETCD_ROOTPATH", EnvName("source.etcd.rootPath"))
	k, ok := KeyOfEnv("MILVUS_CDC_SERVER_AUTH_TOKENSFILE")
	require.True(t, ok)
	require.Equal(t, "server.auth.tokensFile", k)
}
