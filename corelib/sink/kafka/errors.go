package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// classify turns a failed produce into the TargetError the pipeline's retry
// policy reads: a broker that is down, slow or electing a leader is
// retryable; an event too large, a topic or operation the credentials may
// not use, or a request the broker rejects as invalid is not.
func classify(err error, rec *kgo.Record, failed, total int, maxBytes int32) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	te := &sink.TargetError{Op: "Produce", Retryable: true, Cause: err}
	where := ""
	if rec != nil {
		where = fmt.Sprintf(" (topic %s, key %s)", rec.Topic, rec.Key)
	}
	var ke *kerr.Error
	isKerr := errors.As(err, &ke)
	if isKerr {
		te.Code = int32(ke.Code)
	}
	switch {
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		size := 0
		if rec != nil {
			size = len(rec.Key) + len(rec.Value)
		}
		if maxBytes <= 0 {
			maxBytes = DefaultMaxMessageBytes
		}
		te.Retryable = false
		te.Reason = fmt.Sprintf("an event of %d bytes%s is larger than the producer or the topic allows: raise target.kafka.maxMessageBytes (now %d) "+
			"and the topic's max.message.bytes (the broker's message.max.bytes) together, or use target.kafka.format json-base64 or a compression to make events smaller: %v",
			size, where, maxBytes, err)
		return te
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.SaslAuthenticationFailed):
		te.Retryable = false
		te.Reason = fmt.Sprintf("the broker refused the producer%s: grant it Write on the topic and IdempotentWrite on the cluster, or fix target.kafka.sasl: %v", where, err)
		return te
	case errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.InvalidRecord), errors.Is(err, kerr.CorruptMessage),
		errors.Is(err, kerr.InvalidRequiredAcks), errors.Is(err, kerr.UnsupportedForMessageFormat), errors.Is(err, kerr.PolicyViolation):
		te.Retryable = false
		te.Reason = fmt.Sprintf("the broker rejected %d of %d events%s: %v", failed, total, where, err)
		return te
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		te.Reason = fmt.Sprintf("the topic does not exist%s: create it or let the writer create it (it needs Create on the cluster): %v", where, err)
		return te
	}
	te.Reason = fmt.Sprintf("%d of %d events were not acknowledged%s: %v", failed, total, where, err)
	return te
}
