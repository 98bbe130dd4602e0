package server

// The security front of the route table: authentication and authorization
// of every request (server/auth decides who and which role), the 401/403
// answers, and one audit log line per mutating call.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/server/auth"
	"github.com/milvus-cdc/milvus-cdc/server/compat"
	"github.com/milvus-cdc/milvus-cdc/server/rest"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// auditCaptureBytes is how much of a /cdc answer the audit reads back for
// its code and task id (answers to mutating calls are small).
const auditCaptureBytes = 64 << 10

// security holds what the security front needs besides the options.
type security struct {
	failures *prometheus.CounterVec
	audit    *zap.Logger
}

func newSecurity(reg *prometheus.Registry, lg *zap.Logger) *security {
	s := &security{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "auth_failures_total",
			Help: "Requests refused by authentication (reason no_token or bad_token, HTTP 401) or authorization (reason forbidden, HTTP 403).",
		}, []string{"reason"}),
		audit: lg.Named("audit"),
	}
	reg.MustRegister(s.failures)
	for _, r := range []string{"no_token", "bad_token", "forbidden"} {
		s.failures.WithLabelValues(r) // present from the start, so rate() works
	}
	return s
}

// compatPeek is what the security front reads of a /cdc body before the
// handler does: its request type and task id.
type compatPeek struct{ requestType, taskID string }

// secure wraps the route table: it authenticates the caller, refuses what
// the caller's role does not allow, and audits every mutating call.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var peek compatPeek
		if r.URL.Path == "/cdc" && r.Method == http.MethodPost {
			peek = s.peekCompat(r)
		}
		id, status, err := s.authorize(r, peek.requestType)
		mutating := auth.Mutating(r, peek.requestType)
		route, taskID := s.routeOf(r)
		if taskID == "" {
			taskID = peek.taskID
		}
		if err != nil {
			s.refuse(w, r, status, err)
			if mutating {
				s.logAudit(r, id, route, peek.requestType, taskID, status, 0, "denied")
			}
			return
		}
		r = r.WithContext(auth.WithIdentity(r.Context(), id))
		if !mutating {
			next.ServeHTTP(w, r)
			return
		}
		rec := &auditRecorder{ResponseWriter: w, status: http.StatusOK, capture: route == "/cdc"}
		next.ServeHTTP(rec, r)
		code, outcome := rec.outcome()
		if taskID == "" {
			taskID = rec.createdTaskID()
		}
		s.logAudit(r, id, route, peek.requestType, taskID, rec.status, code, outcome)
	})
}

// authorize returns the caller's identity, or the HTTP status and error to
// refuse the request with. With authentication off every caller is an
// anonymous admin (the daemon warned about it at start).
func (s *Server) authorize(r *http.Request, cdcRequestType string) (auth.Identity, int, error) {
	anonymous := auth.Identity{Name: auth.Anonymous, Role: auth.RoleAdmin}
	if cn := clientCertName(r); cn != "" {
		anonymous.Name = "cert:" + cn
	}
	a := s.opts.Auth
	if !a.Enabled() {
		return anonymous, 0, nil
	}
	need := s.opts.AuthPolicy.Required(r, cdcRequestType)
	id, err := a.Authenticate(r)
	if need == auth.RoleNone {
		if err != nil {
			id = auth.Identity{Name: anonymous.Name} // open route: no role
		}
		return id, 0, nil
	}
	if err != nil {
		reason := "bad_token"
		if errors.Is(err, auth.ErrNoToken) {
			reason = "no_token"
		}
		s.security.failures.WithLabelValues(reason).Inc()
		return auth.Identity{Name: anonymous.Name}, http.StatusUnauthorized, err
	}
	if !id.Role.Allows(need) {
		s.security.failures.WithLabelValues("forbidden").Inc()
		return id, http.StatusForbidden, errors.New("the token " + id.Name + " has role " + string(id.Role) + "; this request needs role " + string(need))
	}
	return id, 0, nil
}

func clientCertName(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].Subject.CommonName
}

// refuse answers 401 or 403: a milvus-cdc envelope on /cdc (with the HTTP
// status too, so that a client that only looks at the status sees it), a
// problem document everywhere else.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status == http.StatusUnauthorized {
		challenge := `Bearer realm="milvus-cdc"`
		if errors.Is(err, auth.ErrBadToken) {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	code := task.CodeUnauthenticated
	if status == http.StatusForbidden {
		code = task.CodeForbidden
	}
	if r.URL.Path == "/cdc" {
		writeJSON(w, status, "application/json", compat.Response{Code: status, Message: err.Error()})
		return
	}
	p := rest.ProblemFor(task.Errorf(code, "%s", err.Error()), r.URL.Path)
	writeJSON(w, p.Status, "application/problem+json", p)
}

// peekCompat reads a /cdc body (as the handler will, at most
// maxRequestBytes and one byte more) and puts it back for the handler.
func (s *Server) peekCompat(r *http.Request) compatPeek {
	limit := s.opts.MaxRequestBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil || int64(len(body)) > limit {
		return compatPeek{}
	}
	req, bad := compat.DecodeRequest(body)
	if bad != nil {
		return compatPeek{}
	}
	p := compatPeek{requestType: req.Type}
	switch d := req.Data.(type) {
	case *compat.CreateRequest:
		p.taskID = d.TaskID
	case *compat.DeleteRequest:
		p.taskID = d.TaskID
	case *compat.TaskIDRequest:
		p.taskID = d.TaskID
	}
	return p
}

// routeOf returns the matched route template and its {id}, if any.
func (s *Server) routeOf(r *http.Request) (string, string) {
	var m mux.RouteMatch
	if !s.router.Match(r, &m) || m.Route == nil {
		return "unmatched", ""
	}
	tpl, err := m.Route.GetPathTemplate()
	if err != nil {
		return "unmatched", ""
	}
	return tpl, m.Vars["id"]
}

// logAudit writes the audit line of one mutating call: who, what, which
// task, and how it ended.
func (s *Server) logAudit(r *http.Request, id auth.Identity, route, requestType, taskID string, status, cdcCode int, outcome string) {
	fields := []zap.Field{
		zap.String("who", id.Name),
		zap.String("role", string(id.Role)),
		zap.String("method", r.Method),
		zap.String("route", route),
		zap.String("task_id", taskID),
		zap.Int("status", status),
		zap.String("outcome", outcome),
		zap.String("remote", r.RemoteAddr),
	}
	if route == "/cdc" {
		fields = append(fields, zap.String("request_type", requestType), zap.Int("cdc_code", cdcCode))
	}
	s.security.audit.Info("api call", fields...)
}

// auditRecorder records the status of an answer and, for /cdc, its start.
type auditRecorder struct {
	http.ResponseWriter
	status  int
	capture bool
	body    bytes.Buffer
}

func (a *auditRecorder) WriteHeader(code int) {
	a.status = code
	a.ResponseWriter.WriteHeader(code)
}

func (a *auditRecorder) Write(b []byte) (int, error) {
	if a.capture && a.body.Len() < auditCaptureBytes {
		a.body.Write(b[:min(len(b), auditCaptureBytes-a.body.Len())])
	}
	return a.ResponseWriter.Write(b)
}

// outcome is ok or failed, and the /cdc body code (0 elsewhere).
func (a *auditRecorder) outcome() (int, string) {
	if a.capture {
		var env struct {
			Code int `json:"code"`
		}
		if json.Unmarshal(a.body.Bytes(), &env) == nil && env.Code != 0 {
			if env.Code == http.StatusOK {
				return env.Code, "ok"
			}
			return env.Code, "failed"
		}
	}
	if a.status < 400 {
		return 0, "ok"
	}
	return 0, "failed"
}

// createdTaskID is the id a create answered with: REST's Location header or
// /cdc's data.task_id.
func (a *auditRecorder) createdTaskID() string {
	if loc := a.Header().Get("Location"); loc != "" {
		return loc[strings.LastIndex(loc, "/")+1:]
	}
	if a.capture {
		var env struct {
			Data struct {
				TaskID string `json:"task_id"`
			} `json:"data"`
		}
		if json.Unmarshal(a.body.Bytes(), &env) == nil {
			return env.Data.TaskID
		}
	}
	return ""
}
