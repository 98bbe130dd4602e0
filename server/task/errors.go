package task

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable error code. Clients match codes, never message texts.
type Code string

// The error catalog: every error the task API returns has one of these codes.
const (
	CodeBadRequest        Code = "bad_request"         // malformed body, unknown field or request type
	CodeRequestTooLarge   Code = "request_too_large"   // body over maxRequestBytes
	CodeValidation        Code = "validation_failed"   // a field has a bad value
	CodeInvalidPosition   Code = "invalid_position"    // a start position is not base64 msgpb.MsgPosition
	CodeUnsupported       Code = "unsupported"         // something this daemon's pipelines cannot do (e.g. answer synced)
	CodeNotFound          Code = "task_not_found"      // unknown task id
	CodeTaskExists        Code = "task_exists"         // create with an id that is taken
	CodeStateConflict     Code = "task_state_conflict" // pause of a paused task, resume of a running one
	CodeDuplicateScope    Code = "duplicate_scope"     // scope overlaps a task on the same target
	CodeTaskLimit         Code = "task_limit_reached"  // maxTaskNum reached
	CodeRevisionConflict  Code = "revision_conflict"   // someone else changed the task meanwhile
	CodeTargetUnreachable Code = "target_unreachable"  // the target Milvus did not accept a connection
	CodeTargetMode        Code = "target_mode"         // the target does not fit the writer mode (ttMsgEnabled, shards, one task per replica)
	CodeMethodNotAllowed  Code = "method_not_allowed"  // wrong HTTP method
	CodeRouteNotFound     Code = "route_not_found"     // no such path
	CodeSourceUnavailable Code = "source_unavailable"  // the source Milvus could not be asked (synced)
	CodeUnauthenticated   Code = "unauthenticated"     // no or an unknown bearer token (server.auth)
	CodeForbidden         Code = "forbidden"           // the token's role does not allow the request
	CodeStoreUnavailable  Code = "store_unavailable"   // the task store (etcd) did not answer; nothing was changed
	CodeNotOwner          Code = "not_owner"           // another cluster member owns the task and could not be reached
	CodeInternal          Code = "internal"            // store failure or a bug
)

// Entry describes one code: its REST status, its milvus-cdc body code, and a
// one-line title.
type Entry struct {
	Code       Code
	HTTPStatus int
	CompatCode int
	Title      string
}

// Catalog is the single declaration of every error code. docs/api.md and
// docs/openapi.yaml list the same codes.
var Catalog = []Entry{
	{CodeBadRequest, http.StatusBadRequest, 400, "The request is malformed"},
	{CodeRequestTooLarge, http.StatusRequestEntityTooLarge, 500, "The request body is too large"},
	{CodeValidation, http.StatusUnprocessableEntity, 400, "A field has an invalid value"},
	{CodeInvalidPosition, http.StatusUnprocessableEntity, 500, "A start position cannot be decoded"},
	{CodeUnsupported, http.StatusUnprocessableEntity, 400, "The request asks for something this daemon does not support"},
	{CodeNotFound, http.StatusNotFound, 400, "No task has this id"},
	{CodeTaskExists, http.StatusConflict, 200, "A task with this id already exists"},
	{CodeStateConflict, http.StatusConflict, 400, "The task is not in a state that allows this"},
	{CodeDuplicateScope, http.StatusConflict, 400, "Another task on the same target covers this scope"},
	{CodeTaskLimit, http.StatusConflict, 500, "The maximum number of tasks is reached"},
	{CodeRevisionConflict, http.StatusConflict, 500, "The task was changed concurrently; retry"},
	{CodeTargetUnreachable, http.StatusUnprocessableEntity, 500, "The target Milvus cannot be reached"},
	{CodeTargetMode, http.StatusUnprocessableEntity, 500, "The target Milvus does not fit the writer mode (common.ttMsgEnabled, shard counts, one task per replica)"},
	{CodeMethodNotAllowed, http.StatusMethodNotAllowed, 405, "The HTTP method is not allowed here"},
	{CodeRouteNotFound, http.StatusNotFound, 404, "No such path"},
	{CodeSourceUnavailable, http.StatusServiceUnavailable, 500, "The source Milvus cannot be reached"},
	{CodeUnauthenticated, http.StatusUnauthorized, 401, "A valid bearer token is required"},
	{CodeForbidden, http.StatusForbidden, 403, "The token's role does not allow this request"},
	{CodeStoreUnavailable, http.StatusServiceUnavailable, 500, "The task store (etcd) does not answer; nothing was changed"},
	{CodeNotOwner, http.StatusServiceUnavailable, 500, "Another cluster member owns the task and the request could not be handed to it"},
	{CodeInternal, http.StatusInternalServerError, 500, "Internal error"},
}

// Lookup returns the catalog entry of a code (CodeInternal's for unknown codes).
func Lookup(c Code) Entry {
	for _, e := range Catalog {
		if e.Code == c {
			return e
		}
	}
	return Lookup(CodeInternal)
}

// Error is the typed error of the service layer. Message is the text shown to
// clients (milvus-cdc's text where it has one); Field names the offending
// request field in the internal model's terms (REST names), if any.
type Error struct {
	Code    Code
	Message string
	Field   string
	Err     error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error without a field.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf builds a validation-style Error naming a field.
func FieldErrorf(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// wrap builds an Error carrying a cause.
func wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// AsError returns err as *Error, classifying anything else as CodeInternal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error(), Err: err}
}
