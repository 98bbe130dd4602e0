package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// SASL mechanisms of target.kafka.sasl.mechanism.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Compression codecs of target.kafka.compression.
var compressions = map[string]kgo.CompressionCodec{
	"":       kgo.NoCompression(),
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// Topic template placeholders.
const (
	placeholderDatabase   = "{database}"
	placeholderCollection = "{collection}"
	placeholderCluster    = "{cluster}"
)

// DefaultSchemaTopicSuffix is appended to target.kafka.topic to name the
// schema topic; DefaultTemplateSchemaTopic is the schema topic of a task
// with a topic template.
const (
	DefaultSchemaTopicSuffix   = ".schema"
	DefaultTemplateSchemaTopic = "milvus-cdc.schema"
)

// DefaultMaxMessageBytes is the producer's largest event when
// target.kafka.maxMessageBytes is zero: franz-go's default, which is the
// broker's default message.max.bytes too.
const DefaultMaxMessageBytes = 1_000_012

// DefaultDeliveryTimeout is how long the producer keeps an unacknowledged
// event before it reports the failure (and the pipeline retries the
// batch). An attempt waits twice as long for acknowledgements the producer
// cannot fail yet (it sent them and awaits the answer) before it reports
// them as late; the next attempt waits for them again.
const DefaultDeliveryTimeout = 10 * time.Second

// legalTopic is the character set Kafka allows in a topic name.
var legalTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// maxTopicLength is Kafka's limit on a topic name.
const maxTopicLength = 249

// FieldError is a Kafka target setting that is not valid: Field names it
// (in the REST API's terms, e.g. "target.kafka.topic").
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Message }

func bad(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrTopicEmpty is the refusal of a Kafka target without a topic, in
// milvus-cdc's words.
var ErrTopicEmpty = errors.New("the kafka topic is empty")

// Validate checks a Kafka target's settings without touching the network:
// every error is a *FieldError naming the setting and the fix.
func Validate(k *corelib.KafkaTarget) error {
	if len(k.Brokers) == 0 {
		return bad("target.kafka.brokers", "the downstream address is empty: list the Kafka brokers as host:port")
	}
	for _, b := range k.Brokers {
		if strings.TrimSpace(b) == "" || strings.ContainsAny(b, " /") {
			return bad("target.kafka.brokers", "the kafka broker %q is not host:port", b)
		}
	}
	switch {
	case k.Topic == "" && k.TopicTemplate == "":
		return &FieldError{Field: "target.kafka.topic", Message: ErrTopicEmpty.Error()}
	case k.Topic != "" && k.TopicTemplate != "":
		return bad("target.kafka.topicTemplate", "set either target.kafka.topic or target.kafka.topicTemplate, not both")
	case k.Topic != "":
		if err := checkTopic(k.Topic); err != nil {
			return bad("target.kafka.topic", "the kafka topic %q is invalid: %v", k.Topic, err)
		}
	default:
		if err := checkTemplate(k.TopicTemplate); err != nil {
			return bad("target.kafka.topicTemplate", "the topic template %q is invalid: %v", k.TopicTemplate, err)
		}
	}
	if k.SchemaTopic != "" {
		if err := checkTopic(k.SchemaTopic); err != nil {
			return bad("target.kafka.schemaTopic", "the schema topic %q is invalid: %v", k.SchemaTopic, err)
		}
	}
	if s := k.SASL; s.Mechanism != "" || s.Username != "" || s.Password != "" {
		switch strings.ToUpper(s.Mechanism) {
		case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		default:
			return bad("target.kafka.sasl.mechanism", "the SASL mechanism %q is unknown: use %s, %s or %s", s.Mechanism, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
		}
		if s.Username == "" || s.Password == "" {
			return bad("target.kafka.sasl.username", "SASL needs both a username and a password")
		}
	}
	if t := k.TLS; (t.CertFile == "") != (t.KeyFile == "") {
		return bad("target.kafka.tls.certFile", "set both the client certificate and its key for mutual TLS, or neither")
	}
	if _, ok := compressions[strings.ToLower(k.Compression)]; !ok {
		return bad("target.kafka.compression", "the compression %q is unknown: use none, gzip, snappy, lz4 or zstd", k.Compression)
	}
	switch Format(k.Format) {
	case "", FormatJSON, FormatJSONBase64:
	default:
		return bad("target.kafka.format", "the format %q is unknown: use %q (vectors as JSON arrays, the default) or %q (vectors as base64)", k.Format, FormatJSON, FormatJSONBase64)
	}
	if k.MaxMessageBytes != 0 && (k.MaxMessageBytes < 1024 || k.MaxMessageBytes > 1<<30) {
		return bad("target.kafka.maxMessageBytes", "maxMessageBytes %d is out of range: use 1024 to 1073741824, or 0 for the default %d", k.MaxMessageBytes, DefaultMaxMessageBytes)
	}
	return nil
}

func checkTopic(t string) error {
	switch {
	case len(t) > maxTopicLength:
		return fmt.Errorf("longer than %d characters", maxTopicLength)
	case t == "." || t == "..":
		return errors.New(`"." and ".." are not topic names`)
	case !legalTopic.MatchString(t):
		return errors.New("use only letters, digits, '.', '_' and '-'")
	}
	return nil
}

// checkTemplate accepts placeholders and legal topic characters.
func checkTemplate(tmpl string) error {
	rest := strings.NewReplacer(placeholderDatabase, "d", placeholderCollection, "c", placeholderCluster, "k").Replace(tmpl)
	if strings.ContainsAny(rest, "{}") {
		return errors.New("the placeholders are {database}, {collection} and {cluster}")
	}
	if !strings.Contains(tmpl, "{") {
		return errors.New("it has no placeholder; use target.kafka.topic for one topic")
	}
	return checkTopic(rest)
}

// SchemaTopic is the topic of the DDL events of a Kafka target.
func SchemaTopic(k *corelib.KafkaTarget) string {
	switch {
	case k.SchemaTopic != "":
		return k.SchemaTopic
	case k.Topic != "":
		return k.Topic + DefaultSchemaTopicSuffix
	}
	return DefaultTemplateSchemaTopic
}

// topicNamer names the data topic of a collection.
type topicNamer struct {
	fixed, template, cluster string
}

// topic is the data topic of a target database and collection. Names
// Milvus accepts are legal in topics; anything else is replaced by '_'.
func (n topicNamer) topic(database, collection string) string {
	if n.fixed != "" {
		return n.fixed
	}
	t := strings.NewReplacer(placeholderDatabase, database, placeholderCollection, collection, placeholderCluster, n.cluster).Replace(n.template)
	if !legalTopic.MatchString(t) {
		b := []byte(t)
		for i, c := range b {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				b[i] = '_'
			}
		}
		t = string(b)
	}
	if len(t) > maxTopicLength {
		t = t[:maxTopicLength]
	}
	return t
}

// clientOptions are the franz-go options of a target: brokers, security,
// and a producer that is idempotent with acks from all in-sync replicas.
func clientOptions(k *corelib.KafkaTarget, deliveryTimeout time.Duration) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		// Idempotent (franz-go's default), which needs acks from all in-sync
		// replicas: per-partition order holds across the producer's retries.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(compressions[strings.ToLower(k.Compression)]),
		kgo.RecordDeliveryTimeout(deliveryTimeout),
		kgo.DialTimeout(10 * time.Second),
		kgo.ProducerLinger(5 * time.Millisecond),
		// Bounds the events buffered in the client; Produce waits for room.
		kgo.MaxBufferedBytes(256 << 20),
		kgo.MaxBufferedRecords(100_000),
	}
	if m := k.MaxMessageBytes; m > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(m))
	}
	if k.SASL.Mechanism != "" {
		switch strings.ToUpper(k.SASL.Mechanism) {
		case MechanismPlain:
			opts = append(opts, kgo.SASL(plain.Auth{User: k.SASL.Username, Pass: k.SASL.Password}.AsMechanism()))
		case MechanismSCRAMSHA256:
			opts = append(opts, kgo.SASL(scram.Auth{User: k.SASL.Username, Pass: k.SASL.Password}.AsSha256Mechanism()))
		case MechanismSCRAMSHA512:
			opts = append(opts, kgo.SASL(scram.Auth{User: k.SASL.Username, Pass: k.SASL.Password}.AsSha512Mechanism()))
		}
	}
	if k.TLS.Enabled || k.TLS.CAFile != "" || k.TLS.CertFile != "" {
		tc, err := tlsConfig(k.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	return opts, nil
}

// tlsConfig builds the producer's TLS setup from PEM files.
func tlsConfig(t corelib.KafkaTLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("target.kafka.tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("target.kafka.tls.caFile %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("target.kafka.tls.certFile/keyFile: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}
