package main

// How the CLI reaches a secured daemon: the bearer token (--token,
// --token-file, MILVUS_CDC_TOKEN) and TLS material for an https address.

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/milvus-cdc/milvus-cdc/client"
)

// Environment variables of the CLI's connection.
const (
	tokenEnv     = "MILVUS_CDC_TOKEN"
	tokenFileEnv = "MILVUS_CDC_TOKEN_FILE"
)

// connFlags are the connection flags every task command takes.
type connFlags struct {
	token, tokenFile          string
	caFile, certFile, keyFile string
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.token, "token", "", "bearer token of the daemon's API (default $"+tokenEnv+"); prefer --token-file, a flag is visible to other local users")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the bearer token (default $"+tokenFileEnv+")")
	fs.StringVar(&c.caFile, "cacert", "", "CA certificate (PEM) that signed an https daemon's certificate (default: the system roots)")
	fs.StringVar(&c.certFile, "cert", "", "client certificate (PEM) for a daemon that requires mutual TLS")
	fs.StringVar(&c.keyFile, "key", "", "private key (PEM) of --cert")
}

// httpClient builds the HTTP client of a task command.
func (c *connFlags) httpClient(getenv func(string) string, timeout time.Duration) (*http.Client, error) {
	tok, err := c.resolveToken(getenv)
	if err != nil {
		return nil, err
	}
	return client.Connection{Token: tok, CAFile: c.caFile, CertFile: c.certFile, KeyFile: c.keyFile}.HTTPClient(timeout)
}

// resolveToken picks the token: --token, else --token-file, else
// $MILVUS_CDC_TOKEN, else $MILVUS_CDC_TOKEN_FILE; none is fine for a
// daemon without authentication.
func (c *connFlags) resolveToken(getenv func(string) string) (string, error) {
	if c.token != "" && c.tokenFile != "" {
		return "", errors.New("give --token or --token-file, not both")
	}
	switch {
	case c.token != "":
		return c.token, nil
	case c.tokenFile != "":
		return client.ReadTokenFile(c.tokenFile)
	case getenv(tokenEnv) != "":
		return getenv(tokenEnv), nil
	case getenv(tokenFileEnv) != "":
		return client.ReadTokenFile(getenv(tokenFileEnv))
	}
	return "", nil
}

// authHint explains a refusal by the daemon's authentication, or is empty.
func authHint(err error) string {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	switch apiErr.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Sprintf(" (the daemon requires a token: give --token-file FILE, --token or $%s)", tokenEnv)
	case http.StatusForbidden:
		return " (this token may only read; use a token with role admin)"
	}
	return ""
}
