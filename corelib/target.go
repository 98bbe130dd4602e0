package corelib

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// ErrTargetUnreachable wraps every failure to connect to a target Milvus.
var ErrTargetUnreachable = errors.New("target milvus unreachable")

// ConnectTarget opens a Go SDK client to the target with the task's URI, token
// and TLS material, and waits until the target answered Connect, at most
// t.ConnectTimeout. extra dial options come last (tests use them to dial an
// in-process server). The caller closes the client. Errors wrap
// ErrTargetUnreachable and never contain the token.
func ConnectTarget(ctx context.Context, t Target, extra ...grpc.DialOption) (client.Client, error) {
	timeout := t.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	opts := append([]grpc.DialOption{}, client.DefaultGrpcOpts...) // includes WithBlock
	if t.TLS.Enabled() {
		creds, err := transportCredentials(t.TLS)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrTargetUnreachable, t.Redacted(), err)
		}
		// The SDK puts insecure credentials first when EnableTLSAuth is off;
		// a later WithTransportCredentials replaces them.
		opts = append(opts, grpc.WithTransportCredentials(creds))
	}
	opts = append(opts, extra...)
	c, err := client.NewClient(ctx, client.Config{
		Address:     t.URI,
		APIKey:      t.Token,
		DialOptions: opts,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s: no answer within %s", ErrTargetUnreachable, t.Redacted(), timeout)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrTargetUnreachable, t.Redacted(), err)
	}
	return c, nil
}

// Redacted is the URI without any user:password part, for errors and logs.
func (t Target) Redacted() string {
	at := strings.LastIndex(t.URI, "@")
	if at < 0 {
		return t.URI
	}
	if scheme := strings.Index(t.URI, "://"); scheme >= 0 && scheme < at {
		return t.URI[:scheme+3] + t.URI[at+1:]
	}
	return t.URI[at+1:]
}

// CheckTarget connects to the target and closes the connection again.
func CheckTarget(ctx context.Context, t Target, extra ...grpc.DialOption) error {
	c, err := ConnectTarget(ctx, t, extra...)
	if err != nil {
		return err
	}
	return c.Close()
}

// transportCredentials builds gRPC TLS credentials from PEM files: the server
// certificate or a CA as trust root, plus an optional client key pair.
func transportCredentials(t TargetTLS) (credentials.TransportCredentials, error) {
	cfg := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	roots := x509.NewCertPool()
	for _, p := range []string{t.ServerPEMPath, t.CAPEMPath} {
		if p == "" {
			continue
		}
		pem, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read TLS trust file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no PEM certificate in %s", p)
		}
		cfg.RootCAs = roots
	}
	if t.ClientPEMPath != "" || t.ClientKeyPath != "" {
		pair, err := tls.LoadX509KeyPair(t.ClientPEMPath, t.ClientKeyPath)
		if err != nil {
			return nil, fmt.Errorf("load TLS client key pair: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg), nil
}
