package compat

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/milvus-cdc/milvus-cdc/server/rest"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// Handler answers /cdc requests through the task service.
type Handler struct {
	ctl           *task.Controller
	level         zap.AtomicLevel
	maxBytes      int64
	maxNameLength int
}

// NewHandler returns a /cdc handler. level is the daemon's log level, which
// the maintenance set_log_level operation changes.
func NewHandler(ctl *task.Controller, level zap.AtomicLevel, maxBytes int64, maxNameLength int) *Handler {
	return &Handler{ctl: ctl, level: level, maxBytes: maxBytes, maxNameLength: maxNameLength}
}

// Serve handles one /cdc request and returns the body to send with HTTP 200
// and the request type ("" when the body could not be decoded).
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request) (Response, string) {
	if r.Method != http.MethodPost {
		return Response{Code: 405, Message: "only support the POST method"}, ""
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBytes))
	if err != nil {
		return Response{Code: 500, Message: fmt.Sprintf("fail to read the request body, error: %v", err)}, ""
	}
	req, bad := DecodeRequest(body)
	if bad != nil {
		return *bad, ""
	}
	data, err := h.dispatch(r.Context(), req)
	if err != nil {
		return errorResponse(req.Type, err), req.Type
	}
	return Response{Code: 200, Data: data}, req.Type
}

// errorResponse maps a service error to milvus-cdc's code and message using
// the error catalog.
func errorResponse(requestType string, err error) Response {
	e := task.AsError(err)
	return Response{
		Code:    task.Lookup(e.Code).CompatCode,
		Message: fmt.Sprintf("fail to handle the %s request, error: %s", requestType, e.Message),
	}
}

func (h *Handler) dispatch(ctx context.Context, req Request) (any, error) {
	switch d := req.Data.(type) {
	case *CreateRequest:
		return h.create(ctx, d)
	case *DeleteRequest:
		if err := h.ctl.Delete(ctx, d.TaskID, d.IgnoreNotFound); err != nil {
			return nil, err
		}
		return EmptyData{}, nil
	case *TaskIDRequest:
		return h.byTaskID(ctx, req.Type, d.TaskID)
	case *ListRequest:
		views, store, err := h.ctl.ListWithStore(ctx, "")
		if err != nil {
			return nil, err
		}
		tasks := make([]Task, 0, len(views))
		for _, v := range views {
			tasks = append(tasks, fromView(v))
		}
		return ListResponse{Tasks: tasks, StoreStatus: rest.StoreStatusOf(store)}, nil
	case *MaintenanceRequest:
		state, err := h.maintenance(d)
		if err != nil {
			return nil, err
		}
		return MaintenanceResponse{State: state}, nil
	}
	return nil, task.Errorf(task.CodeInternal, "unhandled request type %s", req.Type)
}

func (h *Handler) create(ctx context.Context, d *CreateRequest) (any, error) {
	in, err := toCreateInput(d, h.maxNameLength)
	if err != nil {
		return nil, err
	}
	v, err := h.ctl.Create(ctx, in)
	if err != nil {
		if e := task.AsError(err); e.Code == task.CodeTaskExists {
			return CreateResponse{TaskID: v.Spec.ID}, nil // milvus-cdc: create with an existing task_id returns it
		}
		return nil, err
	}
	return CreateResponse{TaskID: v.Spec.ID}, nil
}

func (h *Handler) byTaskID(ctx context.Context, typ, id string) (any, error) {
	switch typ {
	case TypePause:
		_, err := h.ctl.Pause(ctx, id)
		return EmptyData{}, err
	case TypeResume:
		_, err := h.ctl.Resume(ctx, id)
		return EmptyData{}, err
	case TypeGet:
		v, err := h.ctl.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		return GetResponse{Task: fromView(v)}, nil
	case TypePosition:
		cps, err := h.ctl.Checkpoints(ctx, id)
		if err != nil {
			return nil, err
		}
		// This daemon keeps one checkpoint per channel; it has no separate
		// op or target positions yet, so those lists are empty.
		return PositionResponse{Positions: positionsOf(cps), OpPositions: []Position{}, TargetPositions: []Position{}}, nil
	}
	return nil, errors.New("unreachable")
}

// LogLevels are the levels set_log_level accepts (those of config log.level).
var LogLevels = []string{"debug", "info", "warn", "error"}

// maintenance runs an operation and returns the State text. A bad
// set_log_level parameter is an error (code 400) naming the valid levels;
// milvus-cdc answered it with code 200 and the problem in State, which
// looks like success to a client that checks the code.
func (h *Handler) maintenance(d *MaintenanceRequest) (string, error) {
	switch d.Operation {
	case "set_log_level":
		raw, ok := d.Params["log_level"]
		if !ok || raw == nil {
			return "", task.FieldErrorf(task.CodeValidation, "params.log_level", "log_level is required; use one of %s", strings.Join(LogLevels, ", "))
		}
		text := fmt.Sprint(raw)
		lvl, err := zapcore.ParseLevel(text)
		if err != nil || !slices.Contains(LogLevels, lvl.String()) {
			return "", task.FieldErrorf(task.CodeValidation, "params.log_level", "parse log level failed: %q is not a log level; use one of %s", text, strings.Join(LogLevels, ", "))
		}
		h.level.SetLevel(lvl)
		return fmt.Sprintf("set log level to %s", text), nil
	default:
		// set_force_log_msg and reset_log_msg drive milvus-cdc's message
		// sampler, which this daemon does not have.
		return unknownOperation(d.Operation), nil
	}
}

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
