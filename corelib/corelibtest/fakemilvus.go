// Package corelibtest provides an in-process fake target Milvus for tests: a
// gRPC MilvusService on a bufconn listener that answers Connect and checks
// the token the client sends.
package corelibtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
)

// FakeMilvus is a fake target. When Token is set, Connect fails unless the
// client sends it, like a Milvus with authorization enabled.
type FakeMilvus struct {
	milvuspb.UnimplementedMilvusServiceServer
	Token    string
	Connects atomic.Int64
	lis      *bufconn.Listener
}

// StartFakeMilvus serves a FakeMilvus until the test ends.
func StartFakeMilvus(t testing.TB, token string) *FakeMilvus {
	t.Helper()
	return startFake(t, token, grpc.NewServer())
}

// StartFakeMilvusTLS serves a FakeMilvus over TLS with a fresh self-signed
// certificate for serverName; it returns the certificate's PEM file path.
func StartFakeMilvusTLS(t testing.TB, token, serverName string) (*FakeMilvus, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: serverName},
		DNSNames:     []string{serverName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("certificate: %v", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	path := filepath.Join(t.TempDir(), "server.pem")
	if err := os.WriteFile(path, certPEM, 0o600); err != nil {
		t.Fatalf("write certificate: %v", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	return startFake(t, token, srv), path
}

func startFake(t testing.TB, token string, srv *grpc.Server) *FakeMilvus {
	f := &FakeMilvus{Token: token, lis: bufconn.Listen(1 << 20)}
	milvuspb.RegisterMilvusServiceServer(srv, f)
	go func() { _ = srv.Serve(f.lis) }()
	t.Cleanup(srv.Stop)
	return f
}

// DialOption routes every dial to the fake, whatever address is used.
func (f *FakeMilvus) DialOption() grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return f.lis.DialContext(ctx)
	})
}

// Connect accepts the client if the authorization header carries Token.
func (f *FakeMilvus) Connect(ctx context.Context, _ *milvuspb.ConnectRequest) (*milvuspb.ConnectResponse, error) {
	f.Connects.Add(1)
	if f.Token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		want := base64.StdEncoding.EncodeToString([]byte(f.Token))
		if vals := md.Get("authorization"); len(vals) == 0 || vals[0] != want {
			return &milvuspb.ConnectResponse{Status: &commonpb.Status{
				ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 1800, Reason: "auth check failure, please check username and password are correct",
			}}, nil
		}
	}
	return &milvuspb.ConnectResponse{
		Status:     &commonpb.Status{},
		ServerInfo: &commonpb.ServerInfo{BuildTags: "v2.3.9-fake"},
		Identifier: 1,
	}, nil
}
