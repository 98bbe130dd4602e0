// Package config defines the daemon's configuration: one struct carrying every
// key and its default, loading from a YAML file plus MILVUS_CDC_ environment
// overrides, and one Validate that names the bad key and how to fix it.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix is the prefix of environment overrides: MILVUS_CDC_SOURCE_ETCD_ROOTPATH
// overrides source.etcd.rootPath.
const EnvPrefix = "MILVUS_CDC"

// Config is the whole daemon configuration. The mapstructure tags are the YAML
// keys (camelCase, as agreed in the shared schema).
type Config struct {
	Address         string `mapstructure:"address"`
	MaxTaskNum      int    `mapstructure:"maxTaskNum"`
	MaxNameLength   int    `mapstructure:"maxNameLength"`
	MaxRequestBytes int64  `mapstructure:"maxRequestBytes"`
	// MemoryLimit is the daemon's memory target (a size: 256MiB, 1GiB): Go's
	// soft memory limit, and twice the pack bytes the pipelines hold at once.
	MemoryLimit string    `mapstructure:"memoryLimit"`
	Log         LogConfig `mapstructure:"log"`
	MetaStore   MetaStore `mapstructure:"metaStore"`
	Source      Source    `mapstructure:"source"`
	Debug       Debug     `mapstructure:"debug"`
	// Server secures the API: bearer tokens and TLS (config/server.go).
	Server Server `mapstructure:"server"`
	// TaskSecrets bounds where target tokens given by reference are read.
	TaskSecrets TaskSecrets `mapstructure:"taskSecrets"`
	// Cluster is used with an external meta store: daemons sharing it share
	// the tasks, one owner per task (docs/operations.md).
	Cluster Cluster `mapstructure:"cluster"`
}

// Cluster configures membership when several daemons share an external
// meta-store etcd. With the embedded etcd it is not used.
type Cluster struct {
	// LeaseTTL is the membership lease: a daemon that stops renewing it
	// (killed, frozen, cut off) loses its tasks after this long.
	LeaseTTL time.Duration `mapstructure:"leaseTTL"`
	// AdvertiseAddress is the API address other members forward requests
	// to (host:port, or a URL with scheme); empty = the listen address, with
	// the host name for an unspecified host.
	AdvertiseAddress string `mapstructure:"advertiseAddress"`
	// MemberID names this daemon in the cluster; empty = the advertised
	// address. Keep it stable across restarts.
	MemberID string `mapstructure:"memberID"`
	// Rebalance lets a member that owns at least two tasks more than
	// another hand one over (a member that joined or restarted gets tasks);
	// false keeps tasks where they are until their owner stops.
	Rebalance bool `mapstructure:"rebalance"`
	// TLS is how a member calls another member's API when it forwards a
	// request (the API serves TLS).
	TLS ClusterTLS `mapstructure:"tls"`
}

// ClusterTLS is the client side of member-to-member calls. CAFile verifies
// the other members' API certificates (empty: server.tls.clientCAFile, else
// the system's roots); CertFile and KeyFile are the client certificate shown
// to members that require one (mutual TLS; empty: server.tls.certFile and
// keyFile, which then need the clientAuth key usage).
type ClusterTLS struct {
	CAFile   string `mapstructure:"caFile"`
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
}

// Advertised is the advertised API address: cluster.advertiseAddress, else
// the listen address with the host name for an unspecified host, as an
// https URL when the API serves TLS.
func (c Config) Advertised() string {
	if c.Cluster.AdvertiseAddress != "" {
		return c.Cluster.AdvertiseAddress
	}
	if c.Server.TLS.Enabled() {
		return "https://" + c.listenHostPort()
	}
	return c.listenHostPort()
}

// listenHostPort is the listen address with the host name for an
// unspecified host.
func (c Config) listenHostPort() string {
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil {
		return c.Address
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, herr := os.Hostname(); herr == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

// MemberID is this daemon's cluster member ID: cluster.memberID, else the
// advertised host:port.
func (c Config) MemberID() string {
	if c.Cluster.MemberID != "" {
		return c.Cluster.MemberID
	}
	if c.Cluster.AdvertiseAddress != "" {
		if u, err := url.Parse(c.Cluster.AdvertiseAddress); err == nil && u.Host != "" {
			return u.Host
		}
		return c.Cluster.AdvertiseAddress
	}
	return c.listenHostPort()
}

// Debug holds switches for diagnosing a running daemon.
type Debug struct {
	// Pprof serves net/http/pprof under /debug/pprof/ on the daemon's
	// address. Off by default: profiles expose internals and cost CPU.
	Pprof bool `mapstructure:"pprof"`
}

// LogConfig selects the zap level and encoder.
type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// TLS is a client TLS setup for etcd or Kafka.
type TLS struct {
	Enabled  bool   `mapstructure:"enabled"`
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
	CAFile   string `mapstructure:"caFile"`
}

// Etcd is an etcd client setup.
type Etcd struct {
	Endpoints []string `mapstructure:"endpoints"`
	Username  string   `mapstructure:"username"`
	Password  string   `mapstructure:"password" secret:"true"`
	// PasswordFile holds the password instead of Password (config/secrets.go).
	PasswordFile string        `mapstructure:"passwordFile"`
	DialTimeout  time.Duration `mapstructure:"dialTimeout"`
	TLS          TLS           `mapstructure:"tls"`
}

// MetaStore is the daemon's own task store.
type MetaStore struct {
	RootPath string `mapstructure:"rootPath"`
	Etcd     Etcd   `mapstructure:"etcd"`
	Embed    Embed  `mapstructure:"embed"`
	// Encryption seals the task secrets kept in etcd.
	Encryption Encryption `mapstructure:"encryption"`
}

// Embed configures the embedded etcd started when metaStore.etcd.endpoints is empty.
type Embed struct {
	// DataDir is the embedded etcd's data. Load makes a relative path
	// relative to the configuration file's directory (with no file, to the
	// working directory), so the task store does not depend on where the
	// daemon was started.
	DataDir   string `mapstructure:"dataDir"`
	ClientURL string `mapstructure:"clientURL"`
	PeerURL   string `mapstructure:"peerURL"`
}

// Embedded reports whether the daemon must run its own etcd.
func (m MetaStore) Embedded() bool { return len(m.Etcd.Endpoints) == 0 }

// SourceEtcd is the source Milvus's etcd plus where Milvus keeps its metadata.
type SourceEtcd struct {
	Etcd        `mapstructure:",squash"`
	RootPath    string `mapstructure:"rootPath"`
	MetaSubPath string `mapstructure:"metaSubPath"`
	KVSubPath   string `mapstructure:"kvSubPath"`
}

// Source is the source Milvus.
type Source struct {
	Milvus               SourceMilvus `mapstructure:"milvus"`
	Etcd                 SourceEtcd   `mapstructure:"etcd"`
	MQ                   MQ           `mapstructure:"mq"`
	ReplicateChannel     string       `mapstructure:"replicateChannel"`
	DefaultPartitionName string       `mapstructure:"defaultPartitionName"`
	// ClusterName names the source Milvus in the change events of writer
	// mode "kafka" (source.cluster); empty means source.etcd.rootPath.
	ClusterName string `mapstructure:"clusterName"`
}

// SourceMilvus is the source Milvus's own API.
type SourceMilvus struct {
	// Address is the source proxy, host:port. A task whose target is this
	// address is refused (it would replicate the source to itself).
	Address string `mapstructure:"address"`
	// Token, or Username and Password, authenticate the daemon's queries of
	// the source's rows (tasks with an initial sync); empty when the source
	// runs without authentication.
	Token string `mapstructure:"token" secret:"true"`
	// TokenFile holds Token instead (config/secrets.go).
	TokenFile string `mapstructure:"tokenFile"`
	Username  string `mapstructure:"username"`
	Password  string `mapstructure:"password" secret:"true"`
	// PasswordFile holds Password instead (config/secrets.go).
	PasswordFile string `mapstructure:"passwordFile"`
	// TLS connects to the source proxy over TLS; caFile is its trust root
	// (the system's when empty), certFile and keyFile a client certificate.
	TLS SourceMilvusTLS `mapstructure:"tls"`
}

// SourceMilvusTLS is the TLS setup of the connection to the source proxy.
type SourceMilvusTLS struct {
	TLS `mapstructure:",squash"`
	// ServerName overrides the name the proxy's certificate is checked for.
	ServerName string `mapstructure:"serverName"`
}

// Credential is the source's token as Milvus takes it: Token, or
// "username:password".
func (m SourceMilvus) Credential() string {
	if m.Token != "" {
		return m.Token
	}
	if m.Username != "" {
		return m.Username + ":" + m.Password
	}
	return ""
}

// Cluster is the source's name in change events: ClusterName, or the etcd
// root path that names a Milvus cluster's metadata.
func (s Source) Cluster() string {
	if s.ClusterName != "" {
		return s.ClusterName
	}
	return s.Etcd.RootPath
}

// MQ is the source Milvus's message queue.
type MQ struct {
	Type   string `mapstructure:"type"`
	Pulsar Pulsar `mapstructure:"pulsar"`
	Kafka  Kafka  `mapstructure:"kafka"`
}

// MQ types.
const (
	MQPulsar = "pulsar"
	MQKafka  = "kafka"
)

// Pulsar is a Pulsar client setup.
type Pulsar struct {
	Address    string `mapstructure:"address"`
	WebAddress string `mapstructure:"webAddress"`
	Tenant     string `mapstructure:"tenant"`
	Namespace  string `mapstructure:"namespace"`
	AuthPlugin string `mapstructure:"authPlugin"`
	AuthParams string `mapstructure:"authParams" secret:"true"`
	// AuthParamsFile holds AuthParams instead (config/secrets.go).
	AuthParamsFile string `mapstructure:"authParamsFile"`
	// ReceiverQueueSize is how many messages each channel reader prefetches.
	// A Milvus insert message can be several MiB, so this bounds memory.
	ReceiverQueueSize int `mapstructure:"receiverQueueSize"`
}

// Kafka is a Kafka client setup.
type Kafka struct {
	Brokers []string `mapstructure:"brokers"`
	SASL    SASL     `mapstructure:"sasl"`
	TLS     TLS      `mapstructure:"tls"`
	// FetchMaxBytes bounds what each channel reader fetches (and buffers) at
	// once. The broker still returns a message larger than this whole, so it
	// bounds memory without ever blocking a channel.
	FetchMaxBytes int32 `mapstructure:"fetchMaxBytes"`
}

// SASL is a Kafka SASL setup; an empty mechanism disables SASL.
type SASL struct {
	Mechanism string `mapstructure:"mechanism"`
	Username  string `mapstructure:"username"`
	Password  string `mapstructure:"password" secret:"true"`
	// PasswordFile holds the password instead of Password (config/secrets.go).
	PasswordFile string `mapstructure:"passwordFile"`
}

// DefaultPulsarReceiverQueueSize is the default of
// source.mq.pulsar.receiverQueueSize (see configs/cdc.yaml for the why).
const DefaultPulsarReceiverQueueSize = 8

// DefaultKafkaFetchMaxBytes is the default of source.mq.kafka.fetchMaxBytes.
const DefaultKafkaFetchMaxBytes = 4 << 20

// Default returns the configuration used for every key the file and the
// environment leave unset. This is the only place defaults live.
func Default() Config {
	return Config{
		Address:         "0.0.0.0:8444",
		MaxTaskNum:      100,
		MaxNameLength:   256,
		MaxRequestBytes: 1 << 20,
		MemoryLimit:     "256MiB",
		Log:             LogConfig{Level: "info", Format: "console"},
		Cluster:         Cluster{LeaseTTL: 10 * time.Second, Rebalance: true},
		MetaStore: MetaStore{
			RootPath: "milvus-cdc",
			Etcd:     Etcd{Endpoints: []string{}, DialTimeout: 5 * time.Second},
			Embed: Embed{
				DataDir:   "data/etcd",
				ClientURL: "http://127.0.0.1:2479",
				PeerURL:   "http://127.0.0.1:2480",
			},
		},
		Source: Source{
			Milvus: SourceMilvus{Address: "127.0.0.1:19530"},
			Etcd: SourceEtcd{
				Etcd:        Etcd{Endpoints: []string{"http://127.0.0.1:2379"}, DialTimeout: 5 * time.Second},
				RootPath:    "by-dev",
				MetaSubPath: "meta",
				KVSubPath:   "kv",
			},
			MQ: MQ{
				Type: MQPulsar,
				Pulsar: Pulsar{
					Address:           "pulsar://127.0.0.1:6650",
					WebAddress:        "http://127.0.0.1:8080",
					Tenant:            "public",
					Namespace:         "default",
					ReceiverQueueSize: DefaultPulsarReceiverQueueSize,
				},
				Kafka: Kafka{Brokers: []string{"127.0.0.1:9092"}, FetchMaxBytes: DefaultKafkaFetchMaxBytes},
			},
			ReplicateChannel:     "by-dev-replicate-msg",
			DefaultPartitionName: "_default",
		},
		Server:      Server{Auth: Auth{Tokens: []string{}}},
		TaskSecrets: TaskSecrets{EnvPrefix: DefaultTaskSecretsEnvPrefix},
	}
}

// Load reads the YAML file at path (none when path is empty), applies
// MILVUS_CDC_* environment overrides on top of the defaults, and validates the
// result. Unknown keys in the file are an error so typos do not pass silently.
func Load(path string) (Config, error) {
	v := viper.New()
	cfg := Default()
	keys := setDefaults(v, cfg)
	if err := checkEnvironment(os.Environ(), keys); err != nil {
		return Config{}, err
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read config file %s: %w", path, err)
		}
	}
	if err := checkDurations(v, keys); err != nil {
		return Config{}, err
	}
	if err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			commaSeparatedToSlice,
		)
	}); err != nil {
		return Config{}, fmt.Errorf("decode config %s: %w", describe(path), err)
	}
	if err := cfg.resolveSecretFiles(); err != nil {
		return Config{}, err
	}
	if path != "" {
		dir, err := filepath.Abs(filepath.Dir(path))
		if err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
		cfg.MetaStore.Embed.DataDir = relativeTo(dir, cfg.MetaStore.Embed.DataDir)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// relativeTo resolves a relative path against dir; absolute and empty paths
// stay as they are.
func relativeTo(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func describe(path string) string {
	if path == "" {
		return "(defaults and environment)"
	}
	return path
}

// commaSeparatedToSlice turns an environment value such as "a:1,b:2" into a
// list; viper hands env values over as plain strings.
func commaSeparatedToSlice(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// configKey is one leaf key of the configuration.
type configKey struct {
	name     string // as in the file, e.g. metaStore.etcd.dialTimeout
	duration bool
}

// envName is the environment variable that overrides a key.
func (k configKey) envName() string {
	return EnvName(k.name)
}

// setDefaults registers every leaf key with viper and returns them.
// Registering is what makes AutomaticEnv see keys that the file does not
// mention.
func setDefaults(v *viper.Viper, cfg Config) []configKey {
	var keys []configKey
	m := map[string]any{}
	if err := mapstructure.Decode(cfg, &m); err != nil {
		panic(fmt.Sprintf("config: cannot flatten defaults: %v", err)) // programming error only
	}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, val := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			if sub, ok := val.(map[string]any); ok {
				walk(key, sub)
				continue
			}
			v.SetDefault(key, val)
			_, isDuration := val.(time.Duration)
			keys = append(keys, configKey{name: key, duration: isDuration})
		}
	}
	walk("", m)
	sort.Slice(keys, func(i, j int) bool { return keys[i].name < keys[j].name })
	return keys
}

// Environment variables with the prefix that are not configuration keys:
// the CLI's daemon address and token, and the settings of the test bed, the
// tests and the deployment checks.
var (
	NotConfigEnv         = []string{"MILVUS_CDC_SERVER", "MILVUS_CDC_TOKEN", "MILVUS_CDC_TOKEN_FILE", "MILVUS_CDC_REQUIRE_DEPLOY_TOOLS"}
	NotConfigEnvPrefixes = []string{"MILVUS_CDC_BED_", "MILVUS_CDC_TEST_"}
)

// checkEnvironment refuses MILVUS_CDC_ variables that override no key: a
// misspelt override would otherwise be ignored without a word.
func checkEnvironment(environ []string, keys []configKey) error {
	known := map[string]bool{}
	for _, k := range keys {
		known[k.envName()] = true
	}
	for _, n := range NotConfigEnv {
		known[n] = true
	}
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix+"_") || known[name] || hasAnyPrefix(name, NotConfigEnvPrefixes) {
			continue
		}
		k := closestKey(name, keys)
		errs = append(errs, fmt.Errorf("environment %s: no configuration key has this name; did you mean %s (%s)? Rename or unset it", name, k.envName(), k.name))
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// closestKey is the key whose variable name is the fewest edits away.
func closestKey(envName string, keys []configKey) configKey {
	best, bestDist := keys[0], -1
	for _, k := range keys {
		if d := editDistance(envName, k.envName()); bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkDurations refuses duration keys given without a unit: YAML reads
// "dialTimeout: 5" as the number 5, which would mean 5 ns.
func checkDurations(v *viper.Viper, keys []configKey) error {
	var errs []error
	for _, k := range keys {
		if !k.duration {
			continue
		}
		switch raw := v.Get(k.name).(type) {
		case time.Duration:
		case string:
			if _, err := time.ParseDuration(strings.TrimSpace(raw)); err != nil {
				errs = append(errs, fmt.Errorf("config %s: %q is not a duration; write a number with a unit, e.g. \"5s\" or \"500ms\"", k.name, raw))
			}
		default:
			errs = append(errs, fmt.Errorf("config %s: %v has no unit (it would mean %v nanoseconds); write a duration with a unit, e.g. \"5s\" or \"500ms\"", k.name, raw, raw))
		}
	}
	return errors.Join(errs...)
}

// Validate checks every key and returns all problems at once, each naming the
// key and the fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		bad("address", "%q is not host:port (%v); set e.g. 0.0.0.0:8444", c.Address, err)
	}
	if c.MaxTaskNum <= 0 {
		bad("maxTaskNum", "is %d; set a positive number such as 100", c.MaxTaskNum)
	}
	if c.MaxNameLength <= 0 {
		bad("maxNameLength", "is %d; set a positive number such as 256", c.MaxNameLength)
	}
	if c.MaxRequestBytes < 1024 {
		bad("maxRequestBytes", "is %d; set at least 1024 (default 1048576)", c.MaxRequestBytes)
	}
	if n, err := ParseSize(c.MemoryLimit); err != nil {
		bad("memoryLimit", "%v; write a size such as 256MiB or 1GiB (default 256MiB)", err)
	} else if n < MinMemoryLimit {
		bad("memoryLimit", "is %s; set at least 64MiB (default 256MiB)", c.MemoryLimit)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is unknown; use debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "console" && c.Log.Format != "json" {
		bad("log.format", "%q is unknown; use console or json", c.Log.Format)
	}
	if strings.TrimSpace(c.MetaStore.RootPath) == "" {
		bad("metaStore.rootPath", "is empty; set a key prefix such as milvus-cdc")
	}
	validateEtcd("metaStore.etcd", c.MetaStore.Etcd, true, bad)
	if c.Cluster.LeaseTTL < 2*time.Second || c.Cluster.LeaseTTL > 10*time.Minute || c.Cluster.LeaseTTL%time.Second != 0 {
		bad("cluster.leaseTTL", "is %s; use whole seconds from 2s to 10m, such as 10s", c.Cluster.LeaseTTL)
	}
	ct := c.Cluster.TLS
	if (ct.CertFile == "") != (ct.KeyFile == "") {
		bad("cluster.tls.certFile", "certFile and keyFile must be set together (the client certificate members present to each other and its key, PEM)")
	}
	requirePEMFiles(bad, map[string]string{"cluster.tls.caFile": ct.CAFile, "cluster.tls.certFile": ct.CertFile, "cluster.tls.keyFile": ct.KeyFile})
	if strings.Contains(c.Cluster.MemberID, "/") {
		bad("cluster.memberID", "%q contains '/'", c.Cluster.MemberID)
	}
	if c.MetaStore.Embedded() {
		if c.MetaStore.Embed.DataDir == "" {
			bad("metaStore.embed.dataDir", "is empty; set a directory such as data/etcd (used because metaStore.etcd.endpoints is empty)")
		}
		validateURL("metaStore.embed.clientURL", c.MetaStore.Embed.ClientURL, bad)
		validateURL("metaStore.embed.peerURL", c.MetaStore.Embed.PeerURL, bad)
		if c.MetaStore.Embed.ClientURL == c.MetaStore.Embed.PeerURL {
			bad("metaStore.embed.peerURL", "equals clientURL; use a different port")
		}
	}
	validateSourceMilvus(c.Source.Milvus, bad)
	validateEtcd("source.etcd", c.Source.Etcd.Etcd, false, bad)
	if c.Source.Etcd.RootPath == "" {
		bad("source.etcd.rootPath", "is empty; set the source Milvus etcd.rootPath, e.g. by-dev")
	}
	if c.Source.Etcd.MetaSubPath == "" {
		bad("source.etcd.metaSubPath", "is empty; set the source Milvus etcd.metaSubPath, e.g. meta")
	}
	if c.Source.Etcd.KVSubPath == "" {
		bad("source.etcd.kvSubPath", "is empty; set the source Milvus etcd.kvSubPath, e.g. kv")
	}
	switch c.Source.MQ.Type {
	case MQPulsar:
		if a := c.Source.MQ.Pulsar.Address; a == "" {
			bad("source.mq.pulsar.address", "is empty; set e.g. pulsar://127.0.0.1:6650")
		} else if !strings.HasPrefix(a, "pulsar://") && !strings.HasPrefix(a, "pulsar+ssl://") {
			bad("source.mq.pulsar.address", "%q needs the scheme pulsar:// (or pulsar+ssl:// for TLS), e.g. pulsar://%s", a, withoutScheme(a))
		}
		if c.Source.MQ.Pulsar.Tenant == "" || c.Source.MQ.Pulsar.Namespace == "" {
			bad("source.mq.pulsar.tenant", "tenant and namespace must be set, e.g. public/default")
		}
		if q := c.Source.MQ.Pulsar.ReceiverQueueSize; q < 1 || q > 10000 {
			bad("source.mq.pulsar.receiverQueueSize", "is %d; set 1..10000 (default %d)", q, DefaultPulsarReceiverQueueSize)
		}
	case MQKafka:
		if len(c.Source.MQ.Kafka.Brokers) == 0 {
			bad("source.mq.kafka.brokers", "is empty; list at least one broker, e.g. [127.0.0.1:9092]")
		}
		if f := c.Source.MQ.Kafka.FetchMaxBytes; f < 64<<10 || f > 256<<20 {
			bad("source.mq.kafka.fetchMaxBytes", "is %d; set 65536..268435456 (default %d)", f, DefaultKafkaFetchMaxBytes)
		}
		switch c.Source.MQ.Kafka.SASL.Mechanism {
		case "":
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
			if c.Source.MQ.Kafka.SASL.Username == "" {
				bad("source.mq.kafka.sasl.username", "is empty while sasl.mechanism is %s; set the user", c.Source.MQ.Kafka.SASL.Mechanism)
			}
		default:
			bad("source.mq.kafka.sasl.mechanism", "%q is unknown; use \"\", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Source.MQ.Kafka.SASL.Mechanism)
		}
		validateTLS("source.mq.kafka.tls", c.Source.MQ.Kafka.TLS, bad)
	default:
		bad("source.mq.type", "%q is unknown; use pulsar or kafka", c.Source.MQ.Type)
	}
	if c.Source.ReplicateChannel == "" {
		bad("source.replicateChannel", "is empty; set the source's {cluster}-replicate-msg channel, e.g. by-dev-replicate-msg")
	}
	if c.Source.DefaultPartitionName == "" {
		bad("source.defaultPartitionName", "is empty; set the source Milvus common.defaultPartitionName, e.g. _default")
	}
	errs = append(errs, c.validateServer(bad)...)
	c.validateSecrets(bad)
	return errors.Join(errs...)
}

// withoutScheme is an address without any "scheme://" prefix.
func withoutScheme(addr string) string {
	if i := strings.Index(addr, "://"); i >= 0 {
		return addr[i+3:]
	}
	return addr
}

func validateSourceMilvus(m SourceMilvus, bad func(string, string, ...any)) {
	addr := m.Address
	hostPort := withoutScheme(addr)
	if host, port, err := net.SplitHostPort(hostPort); err != nil || host == "" || port == "" {
		bad("source.milvus.address", "%q is not host:port; set the source Milvus proxy address, e.g. 127.0.0.1:19530", addr)
	}
	if m.Token != "" && (m.Username != "" || m.Password != "") {
		bad("source.milvus.token", "set either token or username and password, not both")
	}
	if (m.Username == "") != (m.Password == "") {
		bad("source.milvus.username", "username and password must be set together")
	}
	validateTLS("source.milvus.tls", m.TLS.TLS, bad)
	if !m.TLS.Enabled && (m.TLS.CAFile != "" || m.TLS.CertFile != "" || m.TLS.KeyFile != "" || m.TLS.ServerName != "") {
		bad("source.milvus.tls.enabled", "is false but TLS files or a server name are set; set enabled: true or remove them")
	}
}

func validateEtcd(key string, e Etcd, emptyOK bool, bad func(string, string, ...any)) {
	if len(e.Endpoints) == 0 && !emptyOK {
		bad(key+".endpoints", "is empty; list at least one endpoint, e.g. [http://127.0.0.1:2379]")
	}
	for _, ep := range e.Endpoints {
		if strings.TrimSpace(ep) == "" {
			bad(key+".endpoints", "contains an empty entry; remove it")
		}
	}
	if (e.Username == "") != (e.Password == "") {
		bad(key+".username", "username and password must be set together")
	}
	if e.DialTimeout <= 0 {
		bad(key+".dialTimeout", "is %s; set a positive duration such as 5s", e.DialTimeout)
	}
	validateTLS(key+".tls", e.TLS, bad)
}

func validateTLS(key string, t TLS, bad func(string, string, ...any)) {
	if !t.Enabled {
		return
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad(key+".certFile", "certFile and keyFile must be set together (client certificate)")
	}
	for name, p := range map[string]string{"certFile": t.CertFile, "keyFile": t.KeyFile, "caFile": t.CAFile} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			bad(key+"."+name, "cannot read %s: %v; point it at an existing PEM file", p, err)
		}
	}
}

func validateURL(key, raw string, bad func(string, string, ...any)) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		bad(key, "%q is not an http URL with host:port; set e.g. http://127.0.0.1:2479", raw)
	}
}
