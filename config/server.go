package config

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Server secures the HTTP listener: who may call the API (bearer tokens)
// and how the connection is protected (TLS).
type Server struct {
	Auth Auth      `mapstructure:"auth"`
	TLS  ServerTLS `mapstructure:"tls"`
}

// Auth lists the API's bearer tokens. No token at all means the API is open
// (the daemon warns at start and the status page says so).
type Auth struct {
	// Tokens are "name:role:token" entries, usually set through the
	// environment (MILVUS_CDC_SERVER_AUTH_TOKENS, comma-separated) rather
	// than written into the configuration file.
	Tokens []string `mapstructure:"tokens" secret:"afterLastColon"`
	// TokensFile is a file with one "name:role:token" entry a line; blank
	// lines and lines starting with # are ignored.
	TokensFile string `mapstructure:"tokensFile"`
	// MetricsNeedToken makes GET /metrics require a token (any role); by
	// default it stays open like /healthz and /readyz.
	MetricsNeedToken bool `mapstructure:"metricsNeedToken"`
}

// ServerTLS is the listener's TLS setup: a certificate and key turn TLS on,
// a client CA additionally requires every client to present a certificate
// it signed (mutual TLS).
type ServerTLS struct {
	CertFile     string `mapstructure:"certFile"`
	KeyFile      string `mapstructure:"keyFile"`
	ClientCAFile string `mapstructure:"clientCAFile"`
}

// Enabled reports whether the listener serves TLS.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" }

// API roles: admin may change tasks, read may only look.
const (
	RoleAdmin = "admin"
	RoleRead  = "read"
)

// APIToken is one bearer token of the API.
type APIToken struct {
	Name   string
	Role   string
	Secret string
}

// MinTokenLength is the shortest accepted bearer token: a guessable token
// is no protection.
const MinTokenLength = 16

var tokenNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Enabled reports whether any token is configured (the file is not read).
func (a Auth) Enabled() bool { return len(a.Tokens) > 0 || a.TokensFile != "" }

// APITokens returns every configured token: the tokens key first, then the
// file's. Errors name the key (and the file's line) but never the secret.
func (a Auth) APITokens() ([]APIToken, error) {
	var out []APIToken
	var errs []string
	for i, entry := range a.Tokens {
		t, err := parseTokenEntry(entry)
		if err != nil {
			errs = append(errs, fmt.Sprintf("config server.auth.tokens[%d]: %v", i, err))
			continue
		}
		out = append(out, t)
	}
	if a.TokensFile != "" {
		fromFile, err := readTokensFile(a.TokensFile)
		if err != nil {
			errs = append(errs, err.Error())
		}
		if err == nil && len(fromFile) == 0 {
			errs = append(errs, fmt.Sprintf("config server.auth.tokensFile: %s holds no token; add a line name:role:token or unset the key", a.TokensFile))
		}
		out = append(out, fromFile...)
	}
	errs = append(errs, duplicateTokens(out)...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

func readTokensFile(path string) ([]APIToken, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config server.auth.tokensFile: cannot read %s: %v; point it at a file of name:role:token lines", path, err)
	}
	defer f.Close()
	var out []APIToken
	var errs []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t, err := parseTokenEntry(line)
		if err != nil {
			errs = append(errs, fmt.Sprintf("config server.auth.tokensFile: %s line %d: %v", path, n, err))
			continue
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Sprintf("config server.auth.tokensFile: reading %s: %v", path, err))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

// parseTokenEntry reads "name:role:token"; the token may itself contain
// colons. Messages never quote the token.
func parseTokenEntry(entry string) (APIToken, error) {
	parts := strings.SplitN(strings.TrimSpace(entry), ":", 3)
	if len(parts) != 3 {
		return APIToken{}, fmt.Errorf("is not name:role:token (e.g. ops:admin:<%d+ random characters>)", MinTokenLength)
	}
	t := APIToken{Name: parts[0], Role: parts[1], Secret: parts[2]}
	if !tokenNamePattern.MatchString(t.Name) {
		return APIToken{}, fmt.Errorf("name %q is invalid; use up to 64 letters, digits, '.', '_', '@' or '-'", t.Name)
	}
	if t.Role != RoleAdmin && t.Role != RoleRead {
		return APIToken{}, fmt.Errorf("token %s: role %q is unknown; use %s or %s", t.Name, t.Role, RoleAdmin, RoleRead)
	}
	if len(t.Secret) < MinTokenLength {
		return APIToken{}, fmt.Errorf("token %s is %d characters; use at least %d random characters (e.g. openssl rand -hex 24)", t.Name, len(t.Secret), MinTokenLength)
	}
	if strings.ContainsAny(t.Secret, " \t,") {
		return APIToken{}, fmt.Errorf("token %s contains a space, tab or comma; use letters, digits and punctuation only", t.Name)
	}
	return t, nil
}

func duplicateTokens(ts []APIToken) []string {
	var errs []string
	names := map[string]bool{}
	secrets := map[string]string{}
	for _, t := range ts {
		if names[t.Name] {
			errs = append(errs, fmt.Sprintf("config server.auth: token name %s is used twice; give every token its own name (it is what the audit log records)", t.Name))
		}
		names[t.Name] = true
		if other, ok := secrets[t.Secret]; ok {
			errs = append(errs, fmt.Sprintf("config server.auth: tokens %s and %s have the same secret; give each its own", other, t.Name))
		}
		secrets[t.Secret] = t.Name
	}
	return errs
}

// validateServer checks server.auth and server.tls.
func (c Config) validateServer(bad func(key, format string, args ...any)) []error {
	var errs []error
	if _, err := c.Server.Auth.APITokens(); err != nil {
		errs = append(errs, err) // already "config server.auth...: ..." lines
	}
	t := c.Server.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad("server.tls.certFile", "certFile and keyFile must be set together (the listener's certificate and its private key, PEM)")
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		bad("server.tls.clientCAFile", "needs server.tls.certFile and keyFile: mutual TLS is TLS first")
	}
	requirePEMFiles(bad, map[string]string{"server.tls.certFile": t.CertFile, "server.tls.keyFile": t.KeyFile, "server.tls.clientCAFile": t.ClientCAFile})
	return errs
}

// requirePEMFiles reports each set key (config key → path) whose file
// cannot be read.
func requirePEMFiles(bad func(key, format string, args ...any), files map[string]string) {
	for key, p := range files {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			bad(key, "cannot read %s: %v; point it at an existing PEM file", p, err)
		}
	}
}
