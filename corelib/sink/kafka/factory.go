package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// Register adds the factory of writer mode "kafka" to reg; cluster names
// the source Milvus in every event (source.cluster).
func Register(reg sink.Registry, cluster string) {
	reg[corelib.WriterModeKafka] = &Factory{Cluster: cluster}
}

// Factory makes the writers of mode "kafka".
type Factory struct {
	// Cluster is source.cluster of every event.
	Cluster string
	// DeliveryTimeout is how long the producer keeps trying to deliver an
	// event before the failure shows (and the batch is retried); zero
	// means DefaultDeliveryTimeout.
	DeliveryTimeout time.Duration
	// Options are appended to the producer's options (tests use them).
	Options []kgo.Opt
}

// ErrNoKafkaTarget is returned for a task in writer mode "kafka" whose
// target is not a Kafka target.
var ErrNoKafkaTarget = fmt.Errorf("%w: writer mode %q publishes to Kafka: give the task a Kafka target (target.kafka or kafka_connect_param)", corelib.ErrTargetMode, corelib.WriterModeKafka)

func (f *Factory) deliveryTimeout() time.Duration {
	if f.DeliveryTimeout > 0 {
		return f.DeliveryTimeout
	}
	return DefaultDeliveryTimeout
}

func (f *Factory) client(t corelib.Target) (*kgo.Client, error) {
	if t.Kafka == nil {
		return nil, ErrNoKafkaTarget
	}
	if err := Validate(t.Kafka); err != nil {
		return nil, err
	}
	opts, err := clientOptions(t.Kafka, f.deliveryTimeout())
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(opts, f.Options...)...)
}

// Verify checks that the brokers answer with the task's credentials
// within the connect timeout; it creates nothing.
func (f *Factory) Verify(ctx context.Context, t corelib.Target, _ func(context.Context) ([]*sink.Collection, error)) error {
	cl, err := f.client(t)
	if err != nil {
		return err
	}
	defer cl.Close()
	timeout := t.ConnectTimeout
	if timeout <= 0 {
		timeout = corelib.DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none: the brokers only
	if _, err := req.RequestWith(ctx, cl); err != nil {
		return &unreachableError{msg: fmt.Sprintf("kafka brokers %s unreachable: %v", strings.Join(t.Kafka.Brokers, ","), err), cause: err}
	}
	return nil
}

// unreachableError is a Kafka target that does not answer; it is a
// corelib.ErrTargetUnreachable.
type unreachableError struct {
	msg   string
	cause error
}

func (e *unreachableError) Error() string        { return e.msg }
func (e *unreachableError) Unwrap() error        { return e.cause }
func (e *unreachableError) Is(target error) bool { return target == corelib.ErrTargetUnreachable }

// Open connects a writer and makes its schema topic (one partition, so
// DDL keeps one order) and its fixed data topic exist.
func (f *Factory) Open(ctx context.Context, t corelib.Target, env sink.Env) (sink.Writer, error) {
	cl, err := f.client(t)
	if err != nil {
		return nil, err
	}
	k := t.Kafka
	format := Format(k.Format)
	if format == "" {
		format = FormatJSON
	}
	w := &Writer{
		env: env, cl: cl, cluster: f.Cluster, format: format,
		topics:      topicNamer{fixed: k.Topic, template: k.TopicTemplate, cluster: f.Cluster},
		schemaTopic: SchemaTopic(k), maxBytes: k.MaxMessageBytes,
		ackWait:    2 * f.deliveryTimeout(),
		topicsMade: map[string]bool{}, warned: map[string]bool{},
	}
	if err := w.ensureTopic(ctx, w.schemaTopic, 1); err != nil {
		cl.Close()
		return nil, err
	}
	if k.Topic != "" {
		if err := w.ensureTopic(ctx, k.Topic, -1); err != nil {
			cl.Close()
			return nil, err
		}
	}
	return w, nil
}

// ensureTopic creates a topic unless this run did or it exists;
// partitions -1 is the broker's default. A broker that lets the producer
// write but not create topics is fine when the topic exists or the broker
// creates topics on first use: the refusal is logged, not returned.
func (w *Writer) ensureTopic(ctx context.Context, topic string, partitions int32) error {
	w.mu.Lock()
	done := w.topicsMade[topic]
	w.mu.Unlock()
	if done {
		return nil
	}
	err := w.env.Call(ctx, "CreateTopic "+topic, func(ctx context.Context) error {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 15_000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, -1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, w.cl)
		if err != nil {
			return &sink.TargetError{Op: "CreateTopic", Reason: err.Error(), Retryable: true, Cause: err}
		}
		if len(resp.Topics) != 1 {
			return &sink.TargetError{Op: "CreateTopic", Reason: "the broker answered for no topic", Retryable: true}
		}
		switch err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); {
		case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
			return nil
		case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.PolicyViolation):
			w.env.Log.Info("the broker does not let the writer create the topic; it must exist or be created on first use",
				zap.String("topic", topic), zap.Error(err))
			return nil
		case kerr.IsRetriable(err):
			return &sink.TargetError{Op: "CreateTopic", Code: int32(resp.Topics[0].ErrorCode), Reason: err.Error(), Retryable: true, Cause: err}
		default:
			return &sink.TargetError{Op: "CreateTopic", Code: int32(resp.Topics[0].ErrorCode), Reason: fmt.Sprintf("topic %s: %v", topic, err), Retryable: false, Cause: err}
		}
	})
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.topicsMade[topic] = true
	w.mu.Unlock()
	return nil
}
