package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cdc.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestLoadDefaultsWithoutFile(t *testing.T) {
	cfg, err := Load("")
	require.NoError(t, err)
	require.Equal(t, Default(), cfg)
	require.Equal(t, "0.0.0.0:8444", cfg.Address)
	require.True(t, cfg.MetaStore.Embedded())
}

func TestLoadFileOverridesAndKeepsOtherDefaults(t *testing.T) {
	p := writeFile(t, `
address: 127.0.0.1:9000
maxTaskNum: 7
log: {level: debug, format: json}
metaStore:
  rootPath: cdc-a
  etcd:
    endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
    dialTimeout: 2s
source:
  etcd:
    endpoints: ["http://127.0.0.1:12379"]
    rootPath: cdc-src
  mq:
    type: kafka
    kafka:
      brokers: ["127.0.0.1:9092"]
      sasl: {mechanism: PLAIN, username: u, password: p}
`)
	cfg, err := Load(p)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9000", cfg.Address)
	require.Equal(t, 7, cfg.MaxTaskNum)
	require.Equal(t, 256, cfg.MaxNameLength)
	require.Equal(t, "json", cfg.Log.Format)
	require.Equal(t, []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}, cfg.MetaStore.Etcd.Endpoints)
	require.Equal(t, 2*time.Second, cfg.MetaStore.Etcd.DialTimeout)
	require.False(t, cfg.MetaStore.Embedded())
	require.Equal(t, "cdc-src", cfg.Source.Etcd.RootPath)
	require.Equal(t, "meta", cfg.Source.Etcd.MetaSubPath)
	require.Equal(t, []string{"http://127.0.0.1:12379"}, cfg.Source.Etcd.Endpoints)
	require.Equal(t, 5*time.Second, cfg.Source.Etcd.DialTimeout)
	require.Equal(t, "PLAIN", cfg.Source.MQ.Kafka.SASL.Mechanism)
	require.Equal(t, "by-dev-replicate-msg", cfg.Source.ReplicateChannel)
}

func TestEnvOverridesFileAndDefaults(t *testing.T) {
	p := writeFile(t, "source: {etcd: {rootPath: from-file}}\n")
	t.Setenv("MILVUS_CDC_SOURCE_ETCD_ROOTPATH", "from-env")
	t.Setenv("MILVUS_CDC_MAXTASKNUM", "3")
	t.Setenv("MILVUS_CDC_SOURCE_MQ_KAFKA_BROKERS", "k1:9092, k2:9092")
	t.Setenv("MILVUS_CDC_METASTORE_ETCD_ENDPOINTS", "http://e1:2379,http://e2:2379")
	t.Setenv("MILVUS_CDC_SOURCE_ETCD_DIALTIMEOUT", "750ms")
	t.Setenv("MILVUS_CDC_SOURCE_ETCD_ENDPOINTS", "http://s1:2379")
	t.Setenv("MILVUS_CDC_SOURCE_MQ_PULSAR_ADDRESS", "pulsar://p:6650")
	t.Setenv("MILVUS_CDC_LOG_LEVEL", "warn")
	cfg, err := Load(p)
	require.NoError(t, err)
	require.Equal(t, "from-env", cfg.Source.Etcd.RootPath)
	require.Equal(t, 3, cfg.MaxTaskNum)
	require.Equal(t, []string{"k1:9092", "k2:9092"}, cfg.Source.MQ.Kafka.Brokers)
	require.Equal(t, []string{"http://e1:2379", "http://e2:2379"}, cfg.MetaStore.Etcd.Endpoints)
	require.Equal(t, 750*time.Millisecond, cfg.Source.Etcd.DialTimeout)
	require.Equal(t, []string{"http://s1:2379"}, cfg.Source.Etcd.Endpoints)
	require.Equal(t, "pulsar://p:6650", cfg.Source.MQ.Pulsar.Address)
	require.Equal(t, "warn", cfg.Log.Level)
}

func TestEnvValueIsValidated(t *testing.T) {
	t.Setenv("MILVUS_CDC_SOURCE_MQ_TYPE", "rabbit")
	_, err := Load("")
	require.ErrorContains(t, err, `config source.mq.type: "rabbit" is unknown; use pulsar or kafka`)
}

func TestLoadRejectsUnknownKeyAndMissingFile(t *testing.T) {
	_, err := Load(writeFile(t, "adress: 1.2.3.4:5\n"))
	require.ErrorContains(t, err, "adress")

	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "missing.yaml")
}

func TestValidateNamesKeyAndFix(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"address", func(c *Config) { c.Address = "nope" }, "config address:"},
		{"maxTaskNum", func(c *Config) { c.MaxTaskNum = 0 }, "config maxTaskNum: is 0; set a positive number"},
		{"maxNameLength", func(c *Config) { c.MaxNameLength = -1 }, "config maxNameLength:"},
		{"maxRequestBytes", func(c *Config) { c.MaxRequestBytes = 10 }, "config maxRequestBytes:"},
		{"memoryLimit not a size", func(c *Config) { c.MemoryLimit = "lots" }, `config memoryLimit: "lots" is not a size; write a size such as 256MiB`},
		{"memoryLimit too small", func(c *Config) { c.MemoryLimit = "16MiB" }, "config memoryLimit: is 16MiB; set at least 64MiB"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, `config log.level: "loud" is unknown; use debug, info, warn or error`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "config log.format:"},
		{"rootPath", func(c *Config) { c.MetaStore.RootPath = " " }, "config metaStore.rootPath:"},
		{"meta auth", func(c *Config) { c.MetaStore.Etcd.Username = "root" }, "config metaStore.etcd.username: username and password must be set together"},
		{"meta tls file", func(c *Config) {
			c.MetaStore.Etcd.TLS = TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}
		}, "config metaStore.etcd.tls.caFile: cannot read /nonexistent/ca.pem"},
		{"embed dir", func(c *Config) { c.MetaStore.Embed.DataDir = "" }, "config metaStore.embed.dataDir:"},
		{"embed url", func(c *Config) { c.MetaStore.Embed.ClientURL = "127.0.0.1:2479" }, "config metaStore.embed.clientURL:"},
		{"source endpoints", func(c *Config) { c.Source.Etcd.Endpoints = nil }, "config source.etcd.endpoints: is empty"},
		{"source timeout", func(c *Config) { c.Source.Etcd.DialTimeout = 0 }, "config source.etcd.dialTimeout:"},
		{"source rootPath", func(c *Config) { c.Source.Etcd.RootPath = "" }, "config source.etcd.rootPath:"},
		{"mq type", func(c *Config) { c.Source.MQ.Type = "rocksmq" }, `config source.mq.type: "rocksmq" is unknown; use pulsar or kafka`},
		{"pulsar address", func(c *Config) { c.Source.MQ.Pulsar.Address = "" }, "config source.mq.pulsar.address:"},
		{"pulsar address without scheme", func(c *Config) { c.Source.MQ.Pulsar.Address = "127.0.0.1:6650" },
			`config source.mq.pulsar.address: "127.0.0.1:6650" needs the scheme pulsar:// (or pulsar+ssl:// for TLS), e.g. pulsar://127.0.0.1:6650`},
		{"pulsar address with another scheme", func(c *Config) { c.Source.MQ.Pulsar.Address = "http://p:6650" },
			`config source.mq.pulsar.address: "http://p:6650" needs the scheme pulsar:// (or pulsar+ssl:// for TLS), e.g. pulsar://p:6650`},
		{"source milvus address", func(c *Config) { c.Source.Milvus.Address = "milvus" },
			`config source.milvus.address: "milvus" is not host:port; set the source Milvus proxy address, e.g. 127.0.0.1:19530`},
		{"source milvus token and user", func(c *Config) {
			c.Source.Milvus.Token, c.Source.Milvus.Username, c.Source.Milvus.Password = "t", "root", "p"
		}, "config source.milvus.token: set either token or username and password, not both"},
		{"source milvus user without password", func(c *Config) { c.Source.Milvus.Username = "root" },
			"config source.milvus.username: username and password must be set together"},
		{"source milvus tls file", func(c *Config) {
			c.Source.Milvus.TLS = SourceMilvusTLS{TLS: TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}}
		}, "config source.milvus.tls.caFile: cannot read /nonexistent/ca.pem"},
		{"source milvus tls files while off", func(c *Config) {
			c.Source.Milvus.TLS = SourceMilvusTLS{TLS: TLS{CAFile: "/etc/ssl/ca.pem"}}
		}, "config source.milvus.tls.enabled: is false but TLS files or a server name are set"},
		{"kafka brokers", func(c *Config) {
			c.Source.MQ.Type = MQKafka
			c.Source.MQ.Kafka.Brokers = nil
		}, "config source.mq.kafka.brokers:"},
		{"kafka sasl", func(c *Config) {
			c.Source.MQ.Type = MQKafka
			c.Source.MQ.Kafka.SASL.Mechanism = "GSSAPI"
		}, "config source.mq.kafka.sasl.mechanism:"},
		{"replicate channel", func(c *Config) { c.Source.ReplicateChannel = "" }, "config source.replicateChannel:"},
		{"pulsar queue zero", func(c *Config) { c.Source.MQ.Pulsar.ReceiverQueueSize = 0 }, "config source.mq.pulsar.receiverQueueSize: is 0; set 1..10000"},
		{"pulsar queue huge", func(c *Config) { c.Source.MQ.Pulsar.ReceiverQueueSize = 20000 }, "config source.mq.pulsar.receiverQueueSize: is 20000"},
		{"kafka fetch tiny", func(c *Config) {
			c.Source.MQ.Type = MQKafka
			c.Source.MQ.Kafka.FetchMaxBytes = 1024
		}, "config source.mq.kafka.fetchMaxBytes: is 1024; set 65536..268435456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.mutate(&cfg)
			require.ErrorContains(t, cfg.Validate(), tt.want)
		})
	}
	require.NoError(t, Default().Validate())
}

func TestShippedConfigLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "configs", "cdc.yaml"))
	require.NoError(t, err)
	want := Default()
	configs, err := filepath.Abs(filepath.Join("..", "configs"))
	require.NoError(t, err)
	want.MetaStore.Embed.DataDir = filepath.Join(configs, "data", "etcd") // relative to the file
	require.Equal(t, want, cfg, "configs/cdc.yaml must state the defaults")
}

// The embedded etcd's data must not move with the working directory: a
// relative dataDir is relative to the configuration file.
func TestRelativeDataDirFollowsTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, "cdc.yaml")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	tests := []struct {
		name string
		path func() string
		env  string
		want string
	}{
		{"default, with a file", func() string { return file("") }, "", filepath.Join(dir, "data", "etcd")},
		{"relative in the file", func() string { return file("metaStore: {embed: {dataDir: ./state/etcd}}\n") }, "", filepath.Join(dir, "state", "etcd")},
		{"absolute in the file", func() string { return file("metaStore: {embed: {dataDir: /var/lib/milvus-cdc}}\n") }, "", "/var/lib/milvus-cdc"},
		{"relative from the environment, with a file", func() string { return file("") }, "env/etcd", filepath.Join(dir, "env", "etcd")},
		{"no file: the working directory, as before", func() string { return "" }, "", "data/etcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("MILVUS_CDC_METASTORE_EMBED_DATADIR", tt.env)
			}
			cfg, err := Load(tt.path())
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.MetaStore.Embed.DataDir)
		})
	}
}

func TestMaskedYAML(t *testing.T) {
	cfg := Default()
	cfg.MetaStore.Etcd.Username, cfg.MetaStore.Etcd.Password = "root", "etcd-S3cret"
	cfg.Source.MQ.Kafka.SASL = SASL{Mechanism: "PLAIN", Username: "u", Password: "kafka-S3cret"}
	cfg.Source.MQ.Pulsar.AuthParams = "token:pulsar-S3cret"
	cfg.Server.Auth.Tokens = []string{"ops:admin:api-S3cret"}
	cfg.Source.Etcd.DialTimeout = 1500 * time.Millisecond
	out, err := cfg.MaskedYAML()
	require.NoError(t, err)
	text := string(out)
	for _, secret := range []string{"etcd-S3cret", "kafka-S3cret", "pulsar-S3cret", "api-S3cret"} {
		require.NotContains(t, text, secret)
	}
	require.Equal(t, 4, strings.Count(text, Masked), text)
	require.Contains(t, text, "ops:admin:"+Masked, "a token entry keeps its name and role")
	require.Contains(t, text, "username: root")
	require.Contains(t, text, "dialTimeout: 1.5s")
	require.Contains(t, text, "password: \"\"", "an unset secret shows as unset")
	require.Less(t, strings.Index(text, "address: 0.0.0.0:8444"), strings.Index(text, "metaStore:"), "the order of configs/cdc.yaml")

	// Without secrets the output is a configuration that loads to the same values.
	plain := Default()
	plain.Source.Etcd.DialTimeout = 1500 * time.Millisecond
	plain.MetaStore.Embed.DataDir = "/abs/etcd"
	out, err = plain.MaskedYAML()
	require.NoError(t, err)
	back, err := Load(writeFile(t, string(out)))
	require.NoError(t, err)
	require.Equal(t, plain, back)
}

func TestDebugAndPrefetchKeysFromEnv(t *testing.T) {
	t.Setenv("MILVUS_CDC_DEBUG_PPROF", "true")
	t.Setenv("MILVUS_CDC_SOURCE_MQ_PULSAR_RECEIVERQUEUESIZE", "4")
	cfg, err := Load("")
	require.NoError(t, err)
	require.True(t, cfg.Debug.Pprof)
	require.Equal(t, 4, cfg.Source.MQ.Pulsar.ReceiverQueueSize)
	require.False(t, Default().Debug.Pprof, "pprof must be off unless asked for")
}

func TestValidAddressesPass(t *testing.T) {
	for _, mutate := range []func(*Config){
		func(c *Config) { c.Source.MQ.Pulsar.Address = "pulsar+ssl://p:6651" },
		func(c *Config) { c.Source.Milvus.Address = "http://milvus:19530" },
		func(c *Config) { c.Source.Milvus.Address = "[::1]:19530" },
	} {
		cfg := Default()
		mutate(&cfg)
		require.NoError(t, cfg.Validate())
	}
}

// A duration without a unit is refused wherever it comes from: YAML reads
// "dialTimeout: 5" as the number 5, which would mean 5 ns.
func TestDurationsNeedAUnit(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want string
	}{
		{name: "bare number in the file", file: "metaStore: {etcd: {dialTimeout: 5}}\n",
			want: `config metaStore.etcd.dialTimeout: 5 has no unit (it would mean 5 nanoseconds); write a duration with a unit, e.g. "5s" or "500ms"`},
		{name: "float in the file", file: "source: {etcd: {dialTimeout: 1.5}}\n",
			want: `config source.etcd.dialTimeout: 1.5 has no unit (it would mean 1.5 nanoseconds); write a duration with a unit, e.g. "5s" or "500ms"`},
		{name: "bare number in the environment", env: map[string]string{"MILVUS_CDC_SOURCE_ETCD_DIALTIMEOUT": "5"},
			want: `config source.etcd.dialTimeout: "5" is not a duration; write a number with a unit, e.g. "5s" or "500ms"`},
		{name: "quoted duration in the file", file: "metaStore: {etcd: {dialTimeout: \"7s\"}}\n"},
		{name: "plain duration in the file", file: "metaStore: {etcd: {dialTimeout: 7s}}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			cfg, err := Load(path)
			if tt.want == "" {
				require.NoError(t, err)
				require.Equal(t, 7*time.Second, cfg.MetaStore.Etcd.DialTimeout)
				return
			}
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestUnknownEnvironmentVariablesAreRefused(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "misspelt key", env: map[string]string{"MILVUS_CDC_SOURCE_ETCD_ROOTPTH": "x"},
			want: "environment MILVUS_CDC_SOURCE_ETCD_ROOTPTH: no configuration key has this name; did you mean MILVUS_CDC_SOURCE_ETCD_ROOTPATH (source.etcd.rootPath)? Rename or unset it"},
		{name: "a section, not a key", env: map[string]string{"MILVUS_CDC_LOG": "debug"},
			want: "environment MILVUS_CDC_LOG: no configuration key has this name; did you mean MILVUS_CDC_LOG_LEVEL (log.level)? Rename or unset it"},
		{name: "the CLI's address and token are not keys but allowed", env: map[string]string{"MILVUS_CDC_SERVER": "http://x:8444", "MILVUS_CDC_TOKEN": "t", "MILVUS_CDC_TOKEN_FILE": "/f"}},
		{name: "test bed settings are allowed", env: map[string]string{"MILVUS_CDC_BED_STATE": "/tmp/b", "MILVUS_CDC_TEST_PULSAR_URL": "pulsar://x:1"}},
		{name: "other prefixes are not ours", env: map[string]string{"MILVUS_CDCX": "1", "MILVUS_HOST": "h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := Load("")
			if tt.want == "" {
				require.NoError(t, err)
				require.Equal(t, Default(), cfg)
				return
			}
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestAdvertisedAddressAndMemberID(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	tests := []struct {
		name                 string
		address, advertise   string
		tls                  bool
		wantAddr, wantMember string
	}{
		{"listen address", "10.0.0.5:8444", "", false, "10.0.0.5:8444", "10.0.0.5:8444"},
		{"unspecified host", "0.0.0.0:8444", "", false, host + ":8444", host + ":8444"},
		{"TLS adds the scheme, not to the ID", "10.0.0.5:8444", "", true, "https://10.0.0.5:8444", "10.0.0.5:8444"},
		{"explicit URL", "0.0.0.0:8444", "https://cdc-1.cdc:8444", true, "https://cdc-1.cdc:8444", "cdc-1.cdc:8444"},
		{"explicit host:port", "0.0.0.0:8444", "cdc-1:8444", false, "cdc-1:8444", "cdc-1:8444"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Address, c.Cluster.AdvertiseAddress = tc.address, tc.advertise
			if tc.tls {
				c.Server.TLS.CertFile, c.Server.TLS.KeyFile = "c.pem", "k.pem"
			}
			require.Equal(t, tc.wantAddr, c.Advertised())
			require.Equal(t, tc.wantMember, c.MemberID())
		})
	}
}
