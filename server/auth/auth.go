// Package auth decides who may call the daemon's HTTP API: it checks bearer
// tokens in constant time, tells which role a request needs (open, read or
// admin), and carries the caller's identity in the request context for the
// audit log.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/milvus-cdc/milvus-cdc/config"
)

// Role is what a token may do.
type Role string

// Roles, weakest first.
const (
	RoleNone  Role = ""               // no role needed (open routes)
	RoleRead  Role = config.RoleRead  // look at tasks, status, metrics
	RoleAdmin Role = config.RoleAdmin // also create, change, delete tasks
)

// Allows reports whether a caller with role r may do what needs role need.
func (r Role) Allows(need Role) bool {
	switch need {
	case RoleNone:
		return true
	case RoleRead:
		return r == RoleRead || r == RoleAdmin
	default:
		return r == RoleAdmin
	}
}

// Identity is who made a request.
type Identity struct {
	// Name is the token's name, "cert:<common name>" for a client
	// certificate without a token, or Anonymous.
	Name string
	Role Role
}

// Anonymous is the name of a caller without a token.
const Anonymous = "anonymous"

// Errors of Authenticate.
var (
	// ErrNoToken: the request has no Authorization: Bearer header.
	ErrNoToken = errors.New("no bearer token; send Authorization: Bearer <token>")
	// ErrBadToken: the token is not one of the configured tokens.
	ErrBadToken = errors.New("the bearer token is not valid")
)

type entry struct {
	digest [sha256.Size]byte
	id     Identity
}

// Authenticator knows the configured tokens. The zero value and nil mean
// authentication is off.
type Authenticator struct {
	tokens []entry
}

// New returns an authenticator of tokens; none means authentication is off.
func New(tokens []config.APIToken) *Authenticator {
	a := &Authenticator{}
	for _, t := range tokens {
		a.tokens = append(a.tokens, entry{digest: sha256.Sum256([]byte(t.Secret)), id: Identity{Name: t.Name, Role: Role(t.Role)}})
	}
	return a
}

// Enabled reports whether requests need a token.
func (a *Authenticator) Enabled() bool { return a != nil && len(a.tokens) > 0 }

// Authenticate returns the identity of the request's bearer token. Tokens
// are compared as SHA-256 digests with subtle.ConstantTimeCompare, against
// every configured token without stopping early, so the time taken tells
// neither which token nor how much of it matched.
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
	tok, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return Identity{Name: Anonymous}, ErrNoToken
	}
	d := sha256.Sum256([]byte(tok))
	found := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Identity{Name: Anonymous}, ErrBadToken
	}
	return a.tokens[found].id, nil
}

// bearer extracts the token of an "Authorization: Bearer <token>" header
// (the scheme is case-insensitive, RFC 9110).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity a request was authenticated as
// (Anonymous when none was recorded).
func FromContext(ctx context.Context) Identity {
	if id, ok := ctx.Value(ctxKey{}).(Identity); ok {
		return id
	}
	return Identity{Name: Anonymous}
}
