// Package milvusconn opens gRPC connections to a Milvus (a task's target, or
// the source when its rows are read) with the token and TLS material of a
// corelib.Target, and checks that the Milvus answers.
package milvusconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// Conn is an open connection to a target Milvus: the raw MilvusService the
// writers call, and the SDK client that owns the connection.
type Conn struct {
	Service milvuspb.MilvusServiceClient
	client  client.Client
}

// Close closes the connection.
func (c *Conn) Close() error { return c.client.Close() }

// Connect opens a connection to the target with the task's URI, token and
// TLS material, and waits until the target answered Connect, at most
// t.ConnectTimeout. extra dial options come last (tests use them to dial an
// in-process server; the replicate writer adds its interceptor). Errors wrap
// corelib.ErrTargetUnreachable and never contain the token.
func Connect(ctx context.Context, t corelib.Target, extra ...grpc.DialOption) (*Conn, error) {
	timeout := t.ConnectTimeout
	if timeout <= 0 {
		timeout = corelib.DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	opts := append([]grpc.DialOption{}, client.DefaultGrpcOpts...) // includes WithBlock
	if t.TLS.Enabled() {
		creds, err := transportCredentials(t.TLS)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", corelib.ErrTargetUnreachable, t.Redacted(), err)
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
			return nil, fmt.Errorf("%w: %s: no answer within %s", corelib.ErrTargetUnreachable, t.Redacted(), timeout)
		}
		return nil, fmt.Errorf("%w: %s: %w", corelib.ErrTargetUnreachable, t.Redacted(), err)
	}
	gc, ok := c.(*client.GrpcClient)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("%w: %s: unexpected client type %T", corelib.ErrTargetUnreachable, t.Redacted(), c)
	}
	return &Conn{Service: gc.Service, client: c}, nil
}

// CheckTarget connects to the target and closes the connection again.
func CheckTarget(ctx context.Context, t corelib.Target, extra ...grpc.DialOption) error {
	c, err := Connect(ctx, t, extra...)
	if err != nil {
		return err
	}
	return c.Close()
}

// transportCredentials builds gRPC TLS credentials from PEM files: the server
// certificate or a CA as trust root, plus an optional client key pair.
func transportCredentials(t corelib.TargetTLS) (credentials.TransportCredentials, error) {
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
