// Package server is the daemon's HTTP front: one route table for the /cdc
// compatibility API, the REST API under /api/v1, /healthz, /readyz and
// /metrics, and one wrapper that instruments and writes every response.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/server/auth"
	"github.com/milvus-cdc/milvus-cdc/server/compat"
	"github.com/milvus-cdc/milvus-cdc/server/rest"
	"github.com/milvus-cdc/milvus-cdc/server/task"
	"github.com/milvus-cdc/milvus-cdc/server/web"
)

// Options are what the server needs.
type Options struct {
	Controller      *task.Controller
	LogLevel        zap.AtomicLevel // changed by /cdc maintenance set_log_level
	MaxRequestBytes int64
	MaxNameLength   int
	// Ready reports whether the meta store answers; /readyz calls it.
	Ready  func(ctx context.Context) error
	Logger *zap.Logger
	// Registry is served at /metrics; nil creates one. The daemon passes the
	// registry its pipeline metrics are registered on.
	Registry *prometheus.Registry
	// Pprof serves net/http/pprof under /debug/pprof/ (config debug.pprof).
	Pprof bool
	// Auth checks bearer tokens; nil or no token means the API is open.
	Auth *auth.Authenticator
	// AuthPolicy says which role each request needs (server/auth).
	AuthPolicy auth.Policy
	// Info is what GET /api/v1/info tells about this daemon (server/info.go).
	Info Info
	// ForwardTLS is the client TLS of requests forwarded to another cluster
	// member over https (its CA, this member's client certificate); nil
	// uses the system's roots and no client certificate.
	ForwardTLS *tls.Config
}

// Server is the HTTP front of the daemon.
type Server struct {
	opts     Options
	compat   *compat.Handler
	rest     *rest.API
	metrics  *metrics
	router   *mux.Router
	security *security
	handler  http.Handler
	// forwarder carries requests forwarded to other cluster members.
	forwarder http.RoundTripper
}

// New builds the server and its route table.
func New(opts Options) *Server {
	s := &Server{
		opts:      opts,
		compat:    compat.NewHandler(opts.Controller, opts.LogLevel, opts.MaxRequestBytes, opts.MaxNameLength),
		rest:      rest.NewAPI(opts.Controller, opts.MaxRequestBytes),
		metrics:   newMetrics(opts.Controller, opts.Registry),
		forwarder: newForwardTransport(opts.ForwardTLS),
	}
	s.router = s.routes()
	s.security = newSecurity(s.metrics.registry, opts.Logger)
	s.handler = s.secure(s.router)
	return s
}

// Handler returns the root HTTP handler: the route table behind the
// security front (server/security.go).
func (s *Server) Handler() http.Handler { return s.handler }

// Router exposes the route table (the OpenAPI test walks it).
func (s *Server) Router() *mux.Router { return s.router }

// Registry is the Prometheus registry served at /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.registry }

// routes is the one place every route is declared.
func (s *Server) routes() *mux.Router {
	r := mux.NewRouter()
	// /cdc answers every method itself: milvus-cdc replies code 405 in a 200 body.
	r.Handle("/cdc", s.instrument("/cdc", s.forwardCompat(http.HandlerFunc(s.serveCompat))))

	v1 := "/api/v1/tasks"
	r.Handle(v1, s.wrapREST(v1, s.rest.CreateTask)).Methods(http.MethodPost)
	r.Handle(v1, s.wrapREST(v1, s.rest.ListTasks)).Methods(http.MethodGet)
	r.Handle(v1+"/{id}", s.forward(s.wrapREST(v1+"/{id}", s.rest.GetTask))).Methods(http.MethodGet)
	r.Handle(v1+"/{id}", s.forward(s.wrapREST(v1+"/{id}", s.rest.DeleteTask))).Methods(http.MethodDelete)
	r.Handle(v1+"/{id}", s.forward(s.wrapREST(v1+"/{id}", s.rest.UpdateTask))).Methods(http.MethodPatch)
	r.Handle(v1+"/{id}/pause", s.forward(s.wrapREST(v1+"/{id}/pause", s.rest.PauseTask))).Methods(http.MethodPost)
	r.Handle(v1+"/{id}/resume", s.forward(s.wrapREST(v1+"/{id}/resume", s.rest.ResumeTask))).Methods(http.MethodPost)
	r.Handle(v1+"/{id}/status", s.forward(s.wrapREST(v1+"/{id}/status", s.rest.TaskStatus))).Methods(http.MethodGet)
	r.Handle(v1+"/{id}/synced", s.forward(s.wrapREST(v1+"/{id}/synced", s.rest.TaskSynced))).Methods(http.MethodGet)
	r.Handle(v1+"/{id}/verify", s.forward(s.wrapREST(v1+"/{id}/verify", s.rest.VerifyTask))).Methods(http.MethodPost)
	r.Handle("/api/v1/info", s.wrapREST("/api/v1/info", s.info)).Methods(http.MethodGet)
	r.Handle("/api/v1/cluster", s.wrapREST("/api/v1/cluster", s.cluster)).Methods(http.MethodGet)
	r.Handle("/api/v1/cluster/members/{id}/drain", s.instrument("/api/v1/cluster/members/{id}/drain", s.memberAction((*task.Controller).Drain))).Methods(http.MethodPost)
	r.Handle("/api/v1/cluster/members/{id}/undrain", s.instrument("/api/v1/cluster/members/{id}/undrain", s.memberAction((*task.Controller).Undrain))).Methods(http.MethodPost)

	r.Handle("/", s.instrument("/", web.Handler())).Methods(http.MethodGet) // status page (server/web)
	r.Handle("/healthz", s.instrument("/healthz", http.HandlerFunc(s.healthz))).Methods(http.MethodGet)
	r.Handle("/readyz", s.instrument("/readyz", http.HandlerFunc(s.readyz))).Methods(http.MethodGet)
	r.Handle("/metrics", s.instrument("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))).Methods(http.MethodGet)
	if s.opts.Pprof {
		s.addPprof(r)
	}

	r.MethodNotAllowedHandler = s.wrapREST("unmatched", func(http.ResponseWriter, *http.Request) (int, any, error) {
		return 0, nil, task.Errorf(task.CodeMethodNotAllowed, "this path does not accept that method; see docs/openapi.yaml")
	})
	r.NotFoundHandler = s.wrapREST("unmatched", func(_ http.ResponseWriter, r *http.Request) (int, any, error) {
		return 0, nil, task.Errorf(task.CodeRouteNotFound, "no route %s; see docs/openapi.yaml", r.URL.Path)
	})
	return r
}

// restFunc is a REST handler: the status and body to send, or a typed error.
type restFunc func(w http.ResponseWriter, r *http.Request) (int, any, error)

// wrapREST writes a REST handler's result: JSON on success, a problem (status
// from the error catalog) on error, and recovers panics as internal errors.
func (s *Server) wrapREST(route string, f restFunc) http.Handler {
	return s.instrument(route, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.opts.Logger.Error("panic in handler", zap.String("route", route), zap.Any("panic", p))
				s.writeProblem(w, r, task.Errorf(task.CodeInternal, "internal error"))
			}
		}()
		status, body, err := f(w, r)
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		writeJSON(w, status, "application/json", body)
	}))
}

func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := rest.ProblemFor(err, r.URL.Path)
	if p.Status >= 500 {
		s.opts.Logger.Warn("request failed", zap.String("path", r.URL.Path), zap.String("code", p.Code), zap.String("detail", p.Detail))
	}
	writeJSON(w, p.Status, "application/problem+json", p)
}

// serveCompat writes the milvus-cdc envelope, always with HTTP 200.
func (s *Server) serveCompat(w http.ResponseWriter, r *http.Request) {
	resp, requestType := func() (resp compat.Response, typ string) {
		defer func() {
			if p := recover(); p != nil {
				s.opts.Logger.Error("panic in /cdc handler", zap.Any("panic", p))
				resp = compat.Response{Code: 500, Message: "fail to handle the request, error: internal error"}
			}
		}()
		return s.compat.Serve(w, r)
	}()
	if requestType == "" {
		requestType = "invalid"
	}
	s.metrics.cdcRequests.WithLabelValues(requestType, itoa(resp.Code)).Inc()
	if resp.Code >= 500 {
		s.opts.Logger.Warn("/cdc request failed", zap.String("request_type", requestType), zap.Int("code", resp.Code), zap.String("message", resp.Message))
	}
	writeJSON(w, http.StatusOK, "application/json", resp)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, "application/json", map[string]string{"status": "unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ready"})
}

// writeJSON writes one JSON value followed by a newline (as milvus-cdc's
// json.Encoder does); a nil body writes only the status.
func writeJSON(w http.ResponseWriter, status int, contentType string, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client went away; nothing to do
}

// instrument counts requests and observes latency by route, method and status.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		code := itoa(rec.status)
		s.metrics.requests.WithLabelValues(route, r.Method, code).Inc()
		s.metrics.latency.WithLabelValues(route, r.Method, code).Observe(time.Since(start).Seconds())
		s.opts.Logger.Debug("http request", zap.String("route", route), zap.String("method", r.Method), zap.Int("status", rec.status), zap.Duration("took", time.Since(start)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
