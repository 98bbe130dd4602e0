package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// Connection is how to reach a secured daemon: a bearer token and the TLS
// material (PEM files) for an https address.
type Connection struct {
	// Token is sent as Authorization: Bearer on every request.
	Token string
	// CAFile verifies the daemon's certificate (empty: the system roots).
	CAFile string
	// CertFile and KeyFile are the client certificate for mutual TLS.
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any daemon certificate (the health check
	// over loopback uses it; never for a remote daemon).
	InsecureSkipVerify bool
}

// HTTPClient returns an http.Client that sends the token and uses the TLS
// material, with timeout as its overall request timeout (0: none).
func (c Connection) HTTPClient(timeout time.Duration) (*http.Client, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	base.TLSClientConfig = tc
	var rt http.RoundTripper = base
	if c.Token != "" {
		if strings.ContainsAny(c.Token, "\r\n") {
			return nil, errors.New("the token contains a line break; give the token alone")
		}
		rt = bearerTransport{token: c.Token, base: base}
	}
	return &http.Client{Timeout: timeout, Transport: rt}, nil
}

func (c Connection) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // only when asked for
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA file %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("give the client certificate and its key together (--cert and --key)")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// bearerTransport adds the token to every request.
type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// ReadTokenFile reads a token from a file: its content without the final
// line break.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the token file: %w", err)
	}
	tok := strings.TrimRight(string(b), "\r\n")
	if tok == "" {
		return "", fmt.Errorf("the token file %s is empty", path)
	}
	return tok, nil
}
