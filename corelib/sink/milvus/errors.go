package milvus

import (
	"errors"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// Milvus error codes (its merr package) that the writer interprets.
const (
	codeCollectionNotFound = 100
	codePartitionNotFound  = 200
	codeIndexNotFound      = 700
	codeDatabaseNotFound   = 800
)

// check turns the (status, transport error) pair every Milvus RPC returns into
// one error, or nil on success.
func check(op string, st *commonpb.Status, err error) error {
	if err != nil {
		s, _ := status.FromError(err)
		retryable := true
		switch s.Code() {
		case codes.Unimplemented, codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated:
			retryable = false
		}
		return &sink.TargetError{Op: op, Reason: s.Message(), Retryable: retryable, Cause: err}
	}
	if st == nil || (st.GetErrorCode() == commonpb.ErrorCode_Success && st.GetCode() == 0) {
		return nil
	}
	code := st.GetCode()
	if code == 0 {
		code = int32(st.GetErrorCode())
	}
	return &sink.TargetError{Op: op, Code: code, Reason: st.GetReason(), Retryable: st.GetRetriable() || isTransient(st)}
}

// isTransient recognises refusals that clear up by themselves: rate limits,
// a target still starting, a collection still loading.
func isTransient(st *commonpb.Status) bool {
	switch st.GetErrorCode() {
	case commonpb.ErrorCode_RateLimit, commonpb.ErrorCode_NotReadyServe, commonpb.ErrorCode_NotReadyCoordActivating:
		return true
	}
	r := strings.ToLower(st.GetReason())
	return strings.Contains(r, "not ready") || strings.Contains(r, "rate limit") || strings.Contains(r, "unhealthy")
}

// isNotFound reports whether err says the object the operation names does not
// exist on the target. Milvus 2.3 reports some of these only in the reason
// text, so the text is checked when the code is generic.
func isNotFound(err error) bool {
	var te *sink.TargetError
	if !errors.As(err, &te) {
		return false
	}
	switch te.Code {
	case codeCollectionNotFound, codePartitionNotFound, codeIndexNotFound, codeDatabaseNotFound:
		return true
	}
	r := strings.ToLower(te.Reason)
	return strings.Contains(r, "not found") || strings.Contains(r, "not exist") || strings.Contains(r, "doesn't exist")
}

// isAlreadyExists reports whether err says the object being created exists.
func isAlreadyExists(err error) bool {
	var te *sink.TargetError
	if !errors.As(err, &te) {
		return false
	}
	r := strings.ToLower(te.Reason)
	return strings.Contains(r, "already exist") || strings.Contains(r, "duplicate")
}
