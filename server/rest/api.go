package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka"
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
	var req CreateTaskRequest
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

// ListTasks handles GET /api/v1/tasks?state=Running.
func (a *API) ListTasks(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	state, err := parseState(r.URL.Query().Get("state"))
	if err != nil {
		return 0, nil, err
	}
	views, err := a.ctl.List(r.Context(), state)
	if err != nil {
		return 0, nil, err
	}
	out := TaskList{Tasks: make([]Task, 0, len(views))}
	for _, v := range views {
		out.Tasks = append(out.Tasks, fromView(v))
	}
	return http.StatusOK, out, nil
}

// GetTask handles GET /api/v1/tasks/{id}.
func (a *API) GetTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	v, err := a.ctl.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, fromView(v), nil
}

// DeleteTask handles DELETE /api/v1/tasks/{id}: 204.
func (a *API) DeleteTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if err := a.ctl.Delete(r.Context(), mux.Vars(r)["id"], false); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// PauseTask handles POST /api/v1/tasks/{id}/pause: 200 with the task.
func (a *API) PauseTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	v, err := a.ctl.Pause(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, fromView(v), nil
}

// ResumeTask handles POST /api/v1/tasks/{id}/resume: 200 with the task.
func (a *API) ResumeTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	v, err := a.ctl.Resume(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, fromView(v), nil
}

// TaskStatus handles GET /api/v1/tasks/{id}/status.
func (a *API) TaskStatus(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	v, err := a.ctl.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, TaskStatus{ID: v.Spec.ID, State: string(v.State), Reason: v.Reason, Pipeline: v.Pipeline}, nil
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
	wait, err := parseWait(r.URL.Query().Get("waitSeconds"))
	if err != nil {
		return 0, nil, err
	}
	v, rep, err := a.ctl.Synced(r.Context(), mux.Vars(r)["id"], wait)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, TaskSynced{ID: v.Spec.ID, State: string(v.State), SyncReport: rep}, nil
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

func toCreateInput(req CreateTaskRequest) task.CreateInput {
	spec := corelib.TaskSpec{
		ID: req.ID,
		Target: corelib.Target{
			URI:             req.Target.URI,
			Token:           req.Target.Token,
			TokenFile:       req.Target.TokenFile,
			TokenEnv:        req.Target.TokenEnv,
			ConnectTimeout:  time.Duration(req.Target.ConnectTimeoutSeconds) * time.Second,
			ChannelNum:      req.Target.ChannelNum,
			IgnorePartition: req.Target.IgnorePartition,
		},
		EnableUserRole:   req.EnableUserRole,
		DisableAutoStart: req.DisableAutoStart,
		WriterMode:       req.WriterMode,
	}
	if k := req.Target.Kafka; k != nil {
		spec.Target.Kafka = kafkaTargetOf(k)
	}
	if t := req.Target.TLS; t != nil {
		spec.Target.TLS = corelib.TargetTLS{ServerName: t.ServerName, ServerPEMPath: t.ServerPemPath, CAPEMPath: t.CaPemPath, ClientPEMPath: t.ClientPemPath, ClientKeyPath: t.ClientKeyPath}
	}
	for _, s := range req.Scope {
		spec.Scope = append(spec.Scope, corelib.CollectionScope{Database: s.Database, Collection: s.Collection, StartPositions: s.Positions, UseStartPosition: s.UseStartPosition})
	}
	for _, m := range req.NameMapping {
		spec.NameMapping = append(spec.NameMapping, corelib.NameMapping{SourceDatabase: m.SourceDatabase, TargetDatabase: m.TargetDatabase, Collections: m.Collections})
	}
	in := task.CreateInput{Spec: spec}
	if rc := req.ReplicateChannel; rc != nil {
		in.Spec.ReplicateChannel = rc.Name
		in.ReplicateChannelPosition = rc.Position
	}
	return in
}

func fromView(v task.View) Task {
	t := Task{
		ID:     v.Spec.ID,
		State:  string(v.State),
		Reason: v.Reason,
		Target: TargetView{
			URI:                   v.Spec.Target.URI,
			TokenSet:              v.TokenSet,
			TokenFile:             v.Spec.Target.TokenFile,
			TokenEnv:              v.Spec.Target.TokenEnv,
			ConnectTimeoutSeconds: int(v.Spec.Target.ConnectTimeout / time.Second),
			ChannelNum:            v.Spec.Target.ChannelNum,
			IgnorePartition:       v.Spec.Target.IgnorePartition,
		},
		Scope:            make([]Scope, 0, len(v.Spec.Scope)),
		Exclude:          v.Spec.Exclude,
		ReplicateChannel: v.Spec.ReplicateChannel,
		EnableUserRole:   v.Spec.EnableUserRole,
		DisableAutoStart: v.Spec.DisableAutoStart,
		WriterMode:       writerModeOf(v.Spec),
		CreatedAt:        v.CreatedAt,
		UpdatedAt:        v.UpdatedAt,
	}
	if k := v.Spec.Target.Kafka; k != nil {
		t.Target.Kafka = kafkaViewOf(k, kafka.SchemaTopic(k))
	}
	if tls := v.Spec.Target.TLS; tls != (corelib.TargetTLS{}) {
		t.Target.TLS = &TLS{ServerName: tls.ServerName, ServerPemPath: tls.ServerPEMPath, CaPemPath: tls.CAPEMPath, ClientPemPath: tls.ClientPEMPath, ClientKeyPath: tls.ClientKeyPath}
	}
	for _, s := range v.Spec.Scope {
		t.Scope = append(t.Scope, Scope{Database: s.Database, Collection: s.Collection, Positions: s.StartPositions, UseStartPosition: s.UseStartPosition})
	}
	for _, m := range v.Spec.NameMapping {
		t.NameMapping = append(t.NameMapping, NameMapping{SourceDatabase: m.SourceDatabase, TargetDatabase: m.TargetDatabase, Collections: m.Collections})
	}
	if p := v.Pipeline; p != nil {
		st := *p
		t.Pipeline = &st
	}
	return t
}

// ProblemFor renders a service error as a problem, with the HTTP status from
// the error catalog. This is the one place REST errors get their status.
func ProblemFor(err error, instance string) Problem {
	e := task.AsError(err)
	entry := task.Lookup(e.Code)
	return Problem{
		Type:     "urn:milvus-cdc:error:" + string(entry.Code),
		Title:    entry.Title,
		Status:   entry.HTTPStatus,
		Detail:   e.Message,
		Code:     string(entry.Code),
		Field:    e.Field,
		Instance: instance,
	}
}

// String makes Problem readable in logs and test failures.
func (p Problem) String() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail) }

// writerModeOf names a task's writer mode, "api" for tasks stored before
// the field existed.
func writerModeOf(s corelib.TaskSpec) string {
	if s.WriterMode == "" {
		return corelib.WriterModeAPI
	}
	return s.WriterMode
}
