package server

import (
	"net/http"
	"net/http/pprof"

	"github.com/gorilla/mux"
)

// addPprof routes Go's profiling handlers under /debug/pprof/ (config key
// debug.pprof). They are registered on our router rather than on
// http.DefaultServeMux so nothing is exposed unless asked for. They are
// deliberately absent from docs/openapi.yaml: a diagnostic surface of the Go
// runtime, not part of the API.
func (s *Server) addPprof(r *mux.Router) {
	const prefix = "/debug/pprof/"
	named := map[string]http.HandlerFunc{
		"cmdline": pprof.Cmdline,
		"profile": pprof.Profile,
		"symbol":  pprof.Symbol,
		"trace":   pprof.Trace,
	}
	for name, h := range named {
		r.Handle(prefix+name, s.instrument(prefix+name, h))
	}
	// Index lists the profiles and serves each runtime profile by name
	// (heap, allocs, goroutine, block, mutex, threadcreate).
	r.PathPrefix(prefix).Handler(s.instrument(prefix+"{profile}", http.HandlerFunc(pprof.Index))).Methods(http.MethodGet)
}
