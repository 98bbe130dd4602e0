package auth

import (
	"net/http"
	"strings"
)

// Policy says which role each request needs.
type Policy struct {
	// MetricsNeedToken makes GET /metrics need the read role.
	MetricsNeedToken bool
}

// compatReadTypes are the /cdc request types that change nothing.
var compatReadTypes = map[string]bool{"get": true, "list": true, "position": true}

// Required returns the role a request needs. cdcRequestType is the /cdc
// body's request_type (read by the caller; empty elsewhere).
//
// Probes and the status page itself are open (the page holds no data; it
// asks for a token when the API answers 401). Reads (GET, HEAD) need the
// read role, everything else the admin role, so a route added later is
// protected by its method without being listed here. pprof needs admin: a
// profile exposes internals and costs CPU.
func (p Policy) Required(r *http.Request, cdcRequestType string) Role {
	path := r.URL.Path
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case read && (path == "/healthz" || path == "/readyz" || path == "/"):
		return RoleNone
	case read && path == "/metrics":
		if p.MetricsNeedToken {
			return RoleRead
		}
		return RoleNone
	case strings.HasPrefix(path, "/debug/"):
		return RoleAdmin
	case path == "/cdc":
		if r.Method == http.MethodPost && compatReadTypes[strings.ToLower(cdcRequestType)] {
			return RoleRead
		}
		return RoleAdmin
	case read:
		return RoleRead
	default:
		return RoleAdmin
	}
}

// Mutating reports whether a request can change state (and so is audited).
func Mutating(r *http.Request, cdcRequestType string) bool {
	if r.URL.Path == "/cdc" {
		return r.Method == http.MethodPost && !compatReadTypes[strings.ToLower(cdcRequestType)]
	}
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}
