// Package rest serves the REST task API under /api/v1: a strict request
// decoder, the handlers, and the explicit conversion between the wire types
// (package api) and the internal task model. Errors are
// application/problem+json with a stable code from the task package's error
// catalog.
package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/internal/strictjson"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// API holds the REST handlers. Each handler returns the status and body to
// send, or a typed error that the server renders as a problem.
type API struct {
	ctl      *task.Controller
	maxBytes int64
}

// NewAPI returns the REST handlers over the task service.
func NewAPI(ctl *task.Controller, maxBytes int64) *API {
	return &API{ctl: ctl, maxBytes: maxBytes}
}

// CreateTask handles POST /api/v1/tasks: 201 with the task.
func (a *API) CreateTask(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r); err != nil {
		return 0, nil, err
	}
	var req api.CreateTaskRequest
	if err := DecodeStrict(http.MaxBytesReader(w, r.Body, a.maxBytes), &req); err != nil {
		return 0, nil, err
	}
	v, err := a.ctl.Create(r.Context(), toCreateInput(req))
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", "/api/v1/tasks/"+v.Spec.ID)
	return http.StatusCreated, fromView(v), nil
}

// UpdateTask handles PATCH /api/v1/tasks/{id}: 200 with the task.
func (a *API) UpdateTask(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r); err != nil {
		return 0, nil, err
	}
	var req api.UpdateTaskRequest
	if err := DecodeStrict(http.MaxBytesReader(w, r.Body, a.maxBytes), &req); err != nil {
		return 0, nil, err
	}
	in, err := toUpdateInput(req)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.ctl.Update(r.Context(), mux.Vars(r)["id"], in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, fromView(v), nil
}

// ListTasks handles GET /api/v1/tasks?state=Running.
func (a *API) ListTasks(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r, "state"); err != nil {
		return 0, nil, err
	}
	state, err := parseState(r.URL.Query().Get("state"))
	if err != nil {
		return 0, nil, err
	}
	views, store, err := a.ctl.ListWithStore(r.Context(), state)
	if err != nil {
		return 0, nil, err
	}
	out := api.TaskList{Tasks: make([]api.Task, 0, len(views)), Store: StoreStatusOf(store)}
	for _, v := range views {
		out.Tasks = append(out.Tasks, fromView(v))
	}
	return http.StatusOK, out, nil
}

// GetTask handles GET /api/v1/tasks/{id}.
func (a *API) GetTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r); err != nil {
		return 0, nil, err
	}
	v, err := a.ctl.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, fromView(v), nil
}

// DeleteTask handles DELETE /api/v1/tasks/{id}: 204.
func (a *API) DeleteTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r); err != nil {
		return 0, nil, err
	}
	if err := a.ctl.Delete(r.Context(), mux.Vars(r)["id"], false); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// PauseTask handles POST /api/v1/tasks/{id}/pause: 200 with the task.
func (a *API) PauseTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r); err != nil {
		return 0, nil, err
	}
	v, err := a.ctl.Pause(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, fromView(v), nil
}

// ResumeTask handles POST /api/v1/tasks/{id}/resume: 200 with the task.
func (a *API) ResumeTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r); err != nil {
		return 0, nil, err
	}
	v, err := a.ctl.Resume(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, fromView(v), nil
}

// TaskStatus handles GET /api/v1/tasks/{id}/status.
func (a *API) TaskStatus(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r); err != nil {
		return 0, nil, err
	}
	v, err := a.ctl.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, statusOf(v), nil
}

// Synced waits: the default and the largest wait of GET .../synced.
const (
	DefaultSyncedWait = 5 * time.Second
	MaxSyncedWait     = 60 * time.Second
)

// TaskSynced handles GET /api/v1/tasks/{id}/synced?waitSeconds=5: 200
// whether or not the task is synced (the body says), 503 when the source
// cannot be asked.
func (a *API) TaskSynced(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r, "waitSeconds"); err != nil {
		return 0, nil, err
	}
	wait, err := parseWait(r.URL.Query().Get("waitSeconds"))
	if err != nil {
		return 0, nil, err
	}
	v, rep, err := a.ctl.Synced(r.Context(), mux.Vars(r)["id"], wait)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, syncedOf(v, rep), nil
}

// VerifyTask handles POST /api/v1/tasks/{id}/verify: 200 with the
// comparison, equal or not (the body says); an empty body means mode sample.
func (a *API) VerifyTask(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := onlyQuery(r); err != nil {
		return 0, nil, err
	}
	var req api.VerifyRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBytes))
	switch {
	case err != nil:
		return 0, nil, DecodeStrict(failedReader{err}, &req) // the same errors as any other body
	case len(bytes.TrimSpace(body)) > 0: // no body: the defaults
		if err := DecodeStrict(bytes.NewReader(body), &req); err != nil {
			return 0, nil, err
		}
	}
	id := mux.Vars(r)["id"]
	rep, err := a.ctl.Verify(r.Context(), id, corelib.VerifyOptions{Mode: req.Mode, Sample: req.Sample})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, verifyOf(id, rep), nil
}

// failedReader is a body that failed to be read.
type failedReader struct{ err error }

func (f failedReader) Read([]byte) (int, error) { return 0, f.err }

// onlyQuery refuses query parameters the route does not take (a typo such
// as ?stat=Paused would otherwise be ignored and list every task), naming
// the parameter and the ones the route accepts. Names are case-sensitive, as
// the handlers read them.
func onlyQuery(r *http.Request, allowed ...string) error {
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if slices.Contains(allowed, name) {
			continue
		}
		if len(allowed) == 0 {
			return task.FieldErrorf(task.CodeBadRequest, name, "unknown query parameter %q: %s %s takes no query parameters", name, r.Method, routeOf(r))
		}
		return task.FieldErrorf(task.CodeBadRequest, name, "unknown query parameter %q: %s %s takes only %s", name, r.Method, routeOf(r), strings.Join(allowed, ", "))
	}
	if len(allowed) > 0 && len(q) > 0 {
		for _, name := range allowed {
			if len(q[name]) > 1 {
				return task.FieldErrorf(task.CodeBadRequest, name, "the query parameter %q is given %d times; give it once", name, len(q[name]))
			}
		}
	}
	return nil
}

// routeOf is the route template of the request, for messages.
func routeOf(r *http.Request) string {
	if route := mux.CurrentRoute(r); route != nil {
		if tmpl, err := route.GetPathTemplate(); err == nil {
			return tmpl
		}
	}
	return r.URL.Path
}

// parseWait reads waitSeconds: a number of seconds from 0 to MaxSyncedWait.
func parseWait(s string) (time.Duration, error) {
	if s == "" {
		return DefaultSyncedWait, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > MaxSyncedWait.Seconds() || f != f {
		return 0, task.FieldErrorf(task.CodeBadRequest, "waitSeconds", "waitSeconds must be a number of seconds from 0 to %d, got %q", int(MaxSyncedWait.Seconds()), s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func parseState(s string) (meta.State, error) {
	if s == "" {
		return "", nil
	}
	for _, st := range []meta.State{meta.StateInitial, meta.StateRunning, meta.StatePaused, meta.StateFailed} {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", task.FieldErrorf(task.CodeBadRequest, "state", "unknown state %q; use Initial, Running, Paused or Failed", s)
}

// DecodeStrict decodes exactly one JSON object into v, refusing unknown
// fields, trailing data, and bodies over the reader's limit, with errors that
// name the offending field. It never panics, whatever the input.
func DecodeStrict(r io.Reader, v any) error {
	body, err := io.ReadAll(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return task.Errorf(task.CodeRequestTooLarge, "the request body exceeds %d bytes", tooLarge.Limit)
		}
		return task.Errorf(task.CodeBadRequest, "cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return task.Errorf(task.CodeBadRequest, "the request body is empty; send a JSON object")
	}
	// encoding/json lets the last of two equal keys win and turns bytes that
	// are not UTF-8 into U+FFFD; both would act on something not sent.
	var loose *strictjson.Error
	if errors.As(strictjson.Check(body, reflect.TypeOf(v)), &loose) {
		return task.FieldErrorf(task.CodeBadRequest, loose.Path, "%s", loose.Message)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return task.Errorf(task.CodeBadRequest, "the request body has data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return task.Errorf(task.CodeBadRequest, "the request body has data after the JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return task.Errorf(task.CodeBadRequest, "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ) && isInteger(typ.Type.Kind()) && strings.HasPrefix(typ.Value, "number"):
		// A fraction, an exponent or a number beyond 64 bits.
		return task.FieldErrorf(task.CodeBadRequest, typ.Field, "field %q must be a whole number (no fraction or exponent) that fits 64 bits, got %s", typ.Field, typ.Value)
	case errors.As(err, &typ):
		return task.FieldErrorf(task.CodeBadRequest, typ.Field, "field %q must be %s, got %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return task.Errorf(task.CodeBadRequest, "malformed JSON: the body ends early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return task.FieldErrorf(task.CodeBadRequest, field, "unknown field %q; see docs/openapi.yaml for the accepted fields", field)
	default:
		return task.Errorf(task.CodeBadRequest, "malformed JSON: %v", err)
	}
}

func isInteger(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return kind
}
