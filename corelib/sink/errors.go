package sink

import (
	"errors"
	"fmt"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Milvus error codes (its merr package) that the writer interprets.
const (
	codeCollectionNotFound = 100
	codePartitionNotFound  = 200
	codeIndexNotFound      = 700
	codeDatabaseNotFound   = 800
)

// TargetError is an operation the target Milvus refused or could not be
// reached for. Retryable says whether trying the same call again later may
// succeed (the target is down, overloaded or not ready yet).
type TargetError struct {
	Op        string // the RPC, e.g. "Upsert"
	Code      int32  // Milvus error code, 0 when the call failed at the transport
	Reason    string
	Retryable bool
	cause     error
}

func (e *TargetError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("target %s failed (code %d): %s", e.Op, e.Code, e.Reason)
	}
	return fmt.Sprintf("target %s failed: %s", e.Op, e.Reason)
}

func (e *TargetError) Unwrap() error { return e.cause }

// IsRetryable reports whether err is a target failure worth retrying.
func IsRetryable(err error) bool {
	var te *TargetError
	return errors.As(err, &te) && te.Retryable
}

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
		return &TargetError{Op: op, Reason: s.Message(), Retryable: retryable, cause: err}
	}
	if st == nil || (st.GetErrorCode() == commonpb.ErrorCode_Success && st.GetCode() == 0) {
		return nil
	}
	code := st.GetCode()
	if code == 0 {
		code = int32(st.GetErrorCode())
	}
	return &TargetError{Op: op, Code: code, Reason: st.GetReason(), Retryable: st.GetRetriable() || isTransient(st)}
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
	var te *TargetError
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
	var te *TargetError
	if !errors.As(err, &te) {
		return false
	}
	r := strings.ToLower(te.Reason)
	return strings.Contains(r, "already exist") || strings.Contains(r, "duplicate")
}
