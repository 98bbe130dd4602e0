package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/milvus-cdc/milvus-cdc/internal/keyring"
)

// Encryption seals the secrets stored in the task store (target tokens and
// passwords) with a key file; see internal/keyring for its format.
type Encryption struct {
	// KeyFile holds the keys; empty stores task secrets in plain text (the
	// daemon warns at start).
	KeyFile string `mapstructure:"keyFile"`
}

// TaskSecrets bounds where a task's target token may be read from when a
// create request gives it by reference (target.tokenFile, target.tokenEnv)
// instead of by value: an API caller must not be able to make the daemon
// send an arbitrary file or variable of its host to a target it chooses.
type TaskSecrets struct {
	// Dir is the directory target.tokenFile must be inside (a relative
	// tokenFile is relative to it); empty refuses target.tokenFile.
	Dir string `mapstructure:"dir"`
	// EnvPrefix is the prefix target.tokenEnv must start with.
	EnvPrefix string `mapstructure:"envPrefix"`
}

// DefaultTaskSecretsEnvPrefix is the default of taskSecrets.envPrefix.
const DefaultTaskSecretsEnvPrefix = "CDC_TARGET_"

var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secretFile is one secret the configuration takes by value or from a file.
type secretFile struct {
	key      string  // the value's key, e.g. metaStore.etcd.password
	value    *string // the value
	fromFile string  // the file key's value
}

// secretFiles lists every key pair value/valueFile of the configuration.
func (c *Config) secretFiles() []secretFile {
	return []secretFile{
		{"metaStore.etcd.password", &c.MetaStore.Etcd.Password, c.MetaStore.Etcd.PasswordFile},
		{"source.etcd.password", &c.Source.Etcd.Password, c.Source.Etcd.PasswordFile},
		{"source.milvus.token", &c.Source.Milvus.Token, c.Source.Milvus.TokenFile},
		{"source.milvus.password", &c.Source.Milvus.Password, c.Source.Milvus.PasswordFile},
		{"source.mq.pulsar.authParams", &c.Source.MQ.Pulsar.AuthParams, c.Source.MQ.Pulsar.AuthParamsFile},
		{"source.mq.kafka.sasl.password", &c.Source.MQ.Kafka.SASL.Password, c.Source.MQ.Kafka.SASL.PasswordFile},
	}
}

// resolveSecretFiles reads every *File secret into its value key, so the
// rest of the daemon sees one value. A key given both ways is refused.
func (c *Config) resolveSecretFiles() error {
	var errs []string
	for _, s := range c.secretFiles() {
		if s.fromFile == "" {
			continue
		}
		fileKey := fileKeyOf(s.key)
		if *s.value != "" {
			errs = append(errs, fmt.Sprintf("config %s: set either %s or %s, not both", fileKey, s.key, fileKey))
			continue
		}
		data, err := os.ReadFile(s.fromFile)
		if err != nil {
			errs = append(errs, fmt.Sprintf("config %s: cannot read %s: %v; point it at the file holding the secret", fileKey, s.fromFile, err))
			continue
		}
		v := strings.TrimRight(string(data), "\r\n")
		if v == "" {
			errs = append(errs, fmt.Sprintf("config %s: %s is empty; write the secret into it", fileKey, s.fromFile))
			continue
		}
		*s.value = v
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

func fileKeyOf(key string) string { return key + "File" }

// validateSecrets checks the key file and the task-secret bounds.
func (c Config) validateSecrets(bad func(key, format string, args ...any)) {
	if f := c.MetaStore.Encryption.KeyFile; f != "" {
		if _, err := keyring.Load(f); err != nil {
			bad("metaStore.encryption.keyFile", "%v", err)
		}
	}
	if d := c.TaskSecrets.Dir; d != "" {
		if !filepath.IsAbs(d) {
			bad("taskSecrets.dir", "%q is relative; use an absolute directory such as /etc/milvus-cdc/secrets", d)
		} else if st, err := os.Stat(d); err != nil || !st.IsDir() {
			bad("taskSecrets.dir", "%s is not a readable directory; create it or unset the key", d)
		}
	}
	if p := c.TaskSecrets.EnvPrefix; p == "" || !envNamePattern.MatchString(p) || strings.HasPrefix(p, EnvPrefix) {
		bad("taskSecrets.envPrefix", "%q must be a non-empty environment variable prefix of letters, digits and '_' that does not start with %s (the daemon's own settings); default %s", p, EnvPrefix, DefaultTaskSecretsEnvPrefix)
	}
}
