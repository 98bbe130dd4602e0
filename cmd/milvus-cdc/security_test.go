package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/client"
	"github.com/milvus-cdc/milvus-cdc/config"
	"github.com/milvus-cdc/milvus-cdc/internal/testcerts"
)

// serveReadyz serves a /readyz that answers 200 on the listener cfg
// describes (TLS included), and returns the config with the bound address.
func serveReadyz(t *testing.T, cfg config.Config) config.Config {
	t.Helper()
	cfg.Address = "127.0.0.1:0"
	lis, err := listen(cfg, zap.NewNop())
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	cfg.Address = lis.Addr().String()
	return cfg
}

func TestHealthcheckOverPlainTLSAndMutualTLS(t *testing.T) {
	certs, err := testcerts.Write(t.TempDir())
	require.NoError(t, err)

	plain := serveReadyz(t, config.Default())
	r := runCLI(t, nil, "", "healthcheck", "--url", "http://"+plain.Address+"/readyz")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "ready: http://"+plain.Address+"/readyz")

	tlsCfg := config.Default()
	tlsCfg.Server.TLS = config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}
	tlsCfg = serveReadyz(t, tlsCfg)
	url := "https://" + tlsCfg.Address + "/readyz"
	require.Equal(t, exitOK, runCLI(t, nil, "", "healthcheck", "--url", url).code, "loopback TLS without a CA")
	require.Equal(t, exitOK, runCLI(t, nil, "", "healthcheck", "--url", url, "--cacert", certs.CA).code, "verified against the CA")
	other, err := testcerts.Write(t.TempDir())
	require.NoError(t, err)
	r = runCLI(t, nil, "", "healthcheck", "--url", url, "--cacert", other.CA)
	require.Equal(t, exitFailed, r.code, "a CA that did not sign the certificate")
	require.Contains(t, r.stderr, "certificate")
	r = runCLI(t, nil, "", "healthcheck", "--url", "http://"+tlsCfg.Address+"/readyz")
	require.Equal(t, exitFailed, r.code, "plain http to a TLS listener")

	mtls := config.Default()
	mtls.Server.TLS = config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CA}
	mtls = serveReadyz(t, mtls)
	url = "https://" + mtls.Address + "/readyz"
	require.Equal(t, exitFailed, runCLI(t, nil, "", "healthcheck", "--url", url).code, "no client certificate")
	r = runCLI(t, nil, "", "healthcheck", "--url", url, "--cert", certs.ClientCert, "--key", certs.ClientKey)
	require.Equal(t, exitOK, r.code, r.stderr)
}

func TestHealthcheckReadsTheDaemonConfiguration(t *testing.T) {
	certs, err := testcerts.Write(t.TempDir())
	require.NoError(t, err)
	cfg := config.Default()
	cfg.Server.TLS = config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CA}
	cfg = serveReadyz(t, cfg)
	_, port, _ := strings.Cut(cfg.Address, ":")
	t.Setenv("MILVUS_CDC_ADDRESS", "0.0.0.0:"+port)
	t.Setenv("MILVUS_CDC_SERVER_TLS_CERTFILE", certs.ServerCert)
	t.Setenv("MILVUS_CDC_SERVER_TLS_KEYFILE", certs.ServerKey)
	t.Setenv("MILVUS_CDC_SERVER_TLS_CLIENTCAFILE", certs.CA)
	r := runCLI(t, nil, "", "healthcheck")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "give --cert and --key")
	r = runCLI(t, nil, "", "healthcheck", "--cert", certs.ClientCert, "--key", certs.ClientKey)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "https://127.0.0.1:"+port+"/readyz")
}

func TestReadinessURL(t *testing.T) {
	tests := []struct {
		address string
		tls     bool
		want    string
	}{
		{"0.0.0.0:8444", false, "http://127.0.0.1:8444/readyz"},
		{":9000", true, "https://127.0.0.1:9000/readyz"},
		{"[::]:8444", false, "http://127.0.0.1:8444/readyz"},
		{"10.1.2.3:8444", false, "http://10.1.2.3:8444/readyz"},
	}
	for _, tt := range tests {
		cfg := config.Default()
		cfg.Address = tt.address
		if tt.tls {
			cfg.Server.TLS.CertFile = "c.pem"
		}
		require.Equal(t, tt.want, readinessURL(cfg), tt.address)
	}
}

func TestCertificateIsReloadedWhenItsFilesChange(t *testing.T) {
	dir := t.TempDir()
	first, err := testcerts.Write(dir)
	require.NoError(t, err)
	rl := &certReloader{certFile: first.ServerCert, keyFile: first.ServerKey, lg: zap.NewNop()}
	require.NoError(t, rl.load())
	before, err := rl.get(&tls.ClientHelloInfo{})
	require.NoError(t, err)

	second, err := testcerts.Write(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(first.ServerCert, []byte(mustRead(t, second.ServerCert)), 0o600))
	require.NoError(t, os.WriteFile(first.ServerKey, []byte(mustRead(t, second.ServerKey)), 0o600))
	future := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(first.ServerCert, future, future))
	require.NoError(t, os.Chtimes(first.ServerKey, future, future))
	same, _ := rl.get(&tls.ClientHelloInfo{})
	require.Same(t, before, same, "not looked at again within reloadCheck")

	rl.lastCheck = time.Now().Add(-2 * reloadCheck)
	after, err := rl.get(&tls.ClientHelloInfo{})
	require.NoError(t, err)
	require.NotEqual(t, before.Certificate[0], after.Certificate[0], "the renewed certificate is served")

	require.NoError(t, os.WriteFile(first.ServerKey, []byte("broken"), 0o600))
	past := future.Add(time.Minute)
	require.NoError(t, os.Chtimes(first.ServerKey, past, past))
	rl.lastCheck = time.Now().Add(-2 * reloadCheck)
	kept, err := rl.get(&tls.ClientHelloInfo{})
	require.NoError(t, err)
	require.Same(t, after, kept, "a broken renewal keeps the previous certificate")
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// TestCLISendsTheToken runs task commands against a daemon stand-in that
// requires a bearer token, with the token from each source.
func TestCLISendsTheToken(t *testing.T) {
	const token = "cli-token-0123456789abcdef"
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		switch r.Header.Get("Authorization") {
		case "Bearer " + token:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"tasks":[]}`))
		case "":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"type":"urn:milvus-cdc:error:unauthenticated","title":"A valid bearer token is required","status":401,"detail":"no bearer token; send Authorization: Bearer <token>","code":"unauthenticated"}`))
		default:
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"title":"forbidden","status":403,"code":"forbidden","detail":"role read"}`))
		}
	}))
	defer srv.Close()
	tokenFile := writeFile(t, "token", token+"\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		err  string
	}{
		{"--token", nil, []string{"--token", token}, exitOK, ""},
		{"--token-file", nil, []string{"--token-file", tokenFile}, exitOK, ""},
		{"MILVUS_CDC_TOKEN", map[string]string{"MILVUS_CDC_TOKEN": token}, nil, exitOK, ""},
		{"MILVUS_CDC_TOKEN_FILE", map[string]string{"MILVUS_CDC_TOKEN_FILE": tokenFile}, nil, exitOK, ""},
		{"flag wins over env", map[string]string{"MILVUS_CDC_TOKEN": "wrong-wrong-wrong-wrong"}, []string{"--token-file", tokenFile}, exitOK, ""},
		{"no token", nil, nil, exitFailed, "the daemon requires a token: give --token-file FILE, --token or $MILVUS_CDC_TOKEN"},
		{"wrong role", nil, []string{"--token", "other-other-other-other"}, exitFailed, "use a token with role admin"},
		{"both flags", nil, []string{"--token", token, "--token-file", tokenFile}, exitUsage, "give --token or --token-file, not both"},
		{"missing file", nil, []string{"--token-file", tokenFile + ".nope"}, exitUsage, "read the token file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"task", "list", "--server", srv.URL}, tt.args...)
			r := runCLI(t, tt.env, "", args...)
			require.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			if tt.err != "" {
				require.Contains(t, r.stderr, tt.err)
			}
			require.NotContains(t, r.stderr, token, "the token is never printed")
		})
	}
	require.Contains(t, got, "Bearer "+token)
}

// TestRunServesTLSWithTokensAndAKey runs the daemon as main does, with TLS,
// two tokens and a key file, and talks to it as an operator would: the CLI
// over https with the CA and a token file, the health check, and the info
// route reporting the settings.
func TestRunServesTLSWithTokensAndAKey(t *testing.T) {
	dir := t.TempDir()
	certs, err := testcerts.Write(dir)
	require.NoError(t, err)
	tokens := writeFile(t, "tokens", "ops:admin:run-admin-0123456789abcdef\nviewer:read:run-viewer-0123456789abcd\n")
	key := writeFile(t, "cdc.key", "k1:"+strings.Repeat("A", 43)+"=\n")
	cfg := config.Default()
	cfg.Address = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.MetaStore.Embed.DataDir = t.TempDir()
	cfg.MetaStore.Embed.ClientURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cfg.MetaStore.Embed.PeerURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cfg.Source.Etcd.Endpoints = []string{fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
	cfg.Server.TLS = config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}
	cfg.Server.Auth.TokensFile = tokens
	cfg.MetaStore.Encryption.KeyFile = key
	require.NoError(t, cfg.Validate())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, zap.NewNop(), zap.NewAtomicLevel()) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("run did not return after cancel")
		}
	}()

	server := "https://" + cfg.Address
	require.Eventually(t, func() bool {
		return runCLI(t, nil, "", "healthcheck", "--url", server+"/readyz", "--cacert", certs.CA).code == exitOK
	}, 30*time.Second, 100*time.Millisecond, "the daemon becomes ready over TLS")

	adminFile := writeFile(t, "admin", "run-admin-0123456789abcdef\n")
	r := runCLI(t, nil, "", "task", "list", "--server", server, "--cacert", certs.CA, "--token-file", adminFile, "-o", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.JSONEq(t, `{"tasks":[]}`, r.stdout)
	r = runCLI(t, nil, "", "task", "list", "--server", server, "--cacert", certs.CA)
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "401")
	r = runCLI(t, nil, "", "task", "list", "--server", server, "--token-file", adminFile)
	require.Equal(t, exitFailed, r.code, "the daemon's CA is not a system root")
	require.Contains(t, r.stderr, "certificate")
	r = runCLI(t, nil, "", "task", "list", "--server", "http://"+cfg.Address, "--token-file", adminFile)
	require.Equal(t, exitFailed, r.code, "plain http to the TLS listener")

	hc, err := client.Connection{Token: "run-viewer-0123456789abcd", CAFile: certs.CA}.HTTPClient(10 * time.Second)
	require.NoError(t, err)
	resp, err := hc.Get(server + "/api/v1/info")
	require.NoError(t, err)
	defer resp.Body.Close()
	var info struct {
		Security map[string]bool   `json:"security"`
		Caller   map[string]string `json:"caller"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	require.Equal(t, map[string]bool{"authEnabled": true, "metricsNeedToken": false, "tls": true, "mutualTLS": false, "secretsEncrypted": true}, info.Security)
	require.Equal(t, map[string]string{"name": "viewer", "role": "read"}, info.Caller)
}

// A member forwarding a request to another member that requires client
// certificates verifies that member against the cluster's CA and presents
// its own client certificate.
func TestForwardTLSBetweenMembers(t *testing.T) {
	certs, err := testcerts.Write(t.TempDir())
	require.NoError(t, err)
	other, err := testcerts.Write(t.TempDir())
	require.NoError(t, err)
	mtls := config.ServerTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CA}
	stc, err := serverTLSConfig(mtls, zap.NewNop())
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	})}
	go func() { _ = srv.Serve(tls.NewListener(lis, stc)) }()
	t.Cleanup(func() { _ = srv.Close() })
	url := "https://" + lis.Addr().String()

	tests := []struct {
		name    string
		cluster config.ClusterTLS
		wantErr string
	}{
		{"client certificate and the server's client CA", config.ClusterTLS{CertFile: certs.ClientCert, KeyFile: certs.ClientKey}, ""},
		{"an explicit CA", config.ClusterTLS{CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}, ""},
		{"a CA that did not sign the member", config.ClusterTLS{CAFile: other.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}, "certificate"},
		{"the server certificate, not issued for clients", config.ClusterTLS{}, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Server.TLS, cfg.Cluster.TLS = mtls, tc.cluster
			tc2, err := forwardTLSConfig(cfg, zap.NewNop())
			require.NoError(t, err)
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc2}, Timeout: 5 * time.Second}
			resp, err := hc.Get(url)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, testcerts.ClientName, string(body), "the member presented its client certificate")
		})
	}

	plain, err := forwardTLSConfig(config.Default(), zap.NewNop())
	require.NoError(t, err)
	require.Nil(t, plain, "no TLS settings: plain http between members")
}
