package main

// The daemon's side of API security: the bearer-token authenticator, the
// TLS listener (with certificate reload, optional mutual TLS), the
// start-up warnings when either is off, and what GET /api/v1/info tells.

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/config"
	"github.com/milvus-cdc/milvus-cdc/server"
	"github.com/milvus-cdc/milvus-cdc/server/auth"
)

// apiAuthenticator builds the authenticator from server.auth and says at
// start how the API is protected.
func apiAuthenticator(cfg config.Config, lg *zap.Logger) (*auth.Authenticator, error) {
	tokens, err := cfg.Server.Auth.APITokens()
	if err != nil {
		return nil, err
	}
	a := auth.New(tokens)
	if !a.Enabled() {
		lg.Warn("API authentication is off: anyone who reaches the address can create, change and delete tasks; set server.auth.tokens or server.auth.tokensFile (docs/security.md)",
			zap.String("address", cfg.Address), zap.Bool("mutual_tls", cfg.Server.TLS.ClientCAFile != ""))
		return a, nil
	}
	admins, readers := 0, 0
	for _, t := range tokens {
		if t.Role == config.RoleAdmin {
			admins++
		} else {
			readers++
		}
	}
	lg.Info("API authentication on", zap.Int("admin_tokens", admins), zap.Int("read_tokens", readers), zap.Bool("metrics_need_token", cfg.Server.Auth.MetricsNeedToken))
	return a, nil
}

// listen opens the API listener, with TLS when server.tls.certFile is set.
func listen(cfg config.Config, lg *zap.Logger) (net.Listener, error) {
	lis, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (config address): %w", cfg.Address, err)
	}
	t := cfg.Server.TLS
	if !t.Enabled() {
		if host, _, _ := net.SplitHostPort(cfg.Address); !isLoopback(host) {
			lg.Warn("the API listens without TLS on a non-loopback address: tokens and task secrets travel in clear text; set server.tls.certFile and keyFile", zap.String("address", cfg.Address))
		}
		return lis, nil
	}
	tc, err := serverTLSConfig(t, lg)
	if err != nil {
		_ = lis.Close()
		return nil, err
	}
	lg.Info("API serves TLS", zap.String("cert_file", t.CertFile), zap.Bool("mutual_tls", t.ClientCAFile != ""))
	return tls.NewListener(lis, tc), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverTLSConfig is TLS 1.2+ with the certificate reloaded when its files
// change (a renewed certificate needs no restart), and client certificates
// required and verified when server.tls.clientCAFile is set.
func serverTLSConfig(t config.ServerTLS, lg *zap.Logger) (*tls.Config, error) {
	rl := &certReloader{certFile: t.CertFile, keyFile: t.KeyFile, keys: "server.tls", lg: lg}
	if err := rl.load(); err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: rl.get}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("config server.tls.clientCAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config server.tls.clientCAFile: %s holds no PEM certificate", t.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// certReloader serves the listener's certificate and reloads it when the
// files' modification times change, looked at most every reloadCheck.
type certReloader struct {
	certFile, keyFile string
	keys              string // the config section naming the files, e.g. server.tls
	lg                *zap.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
}

const reloadCheck = 10 * time.Second

func (c *certReloader) load() error {
	cm, km, err := c.modTimes()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("config %s.certFile/keyFile: %w", c.keys, err)
	}
	c.cert, c.certMod, c.keyMod, c.lastCheck = &cert, cm, km, time.Now()
	return nil
}

func (c *certReloader) modTimes() (time.Time, time.Time, error) {
	cs, err := os.Stat(c.certFile)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("config %s.certFile: %w", c.keys, err)
	}
	ks, err := os.Stat(c.keyFile)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("config %s.keyFile: %w", c.keys, err)
	}
	return cs.ModTime(), ks.ModTime(), nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.lastCheck) < reloadCheck {
		return c.cert, nil
	}
	c.lastCheck = time.Now()
	cm, km, err := c.modTimes()
	if err != nil || (cm.Equal(c.certMod) && km.Equal(c.keyMod)) {
		return c.cert, nil // unchanged, or briefly missing while being replaced
	}
	old := c.cert
	if err := c.load(); err != nil {
		c.cert = old // keep serving the previous certificate
		c.lg.Warn("the renewed TLS certificate does not load; still serving the previous one", zap.Error(err))
		return c.cert, nil
	}
	c.lg.Info("TLS certificate reloaded", zap.String("cert_file", c.certFile), zap.String("config", c.keys))
	return c.cert, nil
}

// forwardTLSConfig is the client TLS of member-to-member calls when the API
// serves TLS (nil otherwise): the members' certificates are verified
// against cluster.tls.caFile, else server.tls.clientCAFile (members of one
// deployment usually share the CA), else the system's roots; the client
// certificate (reloaded like the server's) is cluster.tls.certFile, else
// server.tls.certFile.
func forwardTLSConfig(cfg config.Config, lg *zap.Logger) (*tls.Config, error) {
	st, ct := cfg.Server.TLS, cfg.Cluster.TLS
	if !st.Enabled() && ct.CAFile == "" && ct.CertFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	caFile, caKey := ct.CAFile, "cluster.tls.caFile"
	if caFile == "" {
		caFile, caKey = st.ClientCAFile, "server.tls.clientCAFile"
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", caKey, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config %s: %s holds no PEM certificate", caKey, caFile)
		}
		tc.RootCAs = pool
	}
	rl := &certReloader{certFile: ct.CertFile, keyFile: ct.KeyFile, keys: "cluster.tls", lg: lg}
	if rl.certFile == "" {
		rl.certFile, rl.keyFile, rl.keys = st.CertFile, st.KeyFile, "server.tls"
	}
	if rl.certFile != "" {
		if err := rl.load(); err != nil {
			return nil, err
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return rl.get(nil) }
	}
	return tc, nil
}

// daemonInfo is what GET /api/v1/info tells about this daemon.
func daemonInfo(cfg config.Config, started time.Time) server.Info {
	info := server.Info{
		Version:   "(devel)",
		GoVersion: runtime.Version(),
		StartedAt: started.UTC(),
		Source: server.SourceInfo{
			EtcdEndpoints: cfg.Source.Etcd.Endpoints,
			RootPath:      cfg.Source.Etcd.RootPath,
			MQType:        cfg.Source.MQ.Type,
		},
		Security: server.Security{
			AuthEnabled:      cfg.Server.Auth.Enabled(),
			MetricsNeedToken: cfg.Server.Auth.MetricsNeedToken,
			TLS:              cfg.Server.TLS.Enabled(),
			MutualTLS:        cfg.Server.TLS.ClientCAFile != "",
			SecretsEncrypted: cfg.MetaStore.Encryption.KeyFile != "",
		},
	}
	switch cfg.Source.MQ.Type {
	case config.MQKafka:
		info.Source.MQAddress = fmt.Sprint(cfg.Source.MQ.Kafka.Brokers)
	default:
		info.Source.MQAddress = cfg.Source.MQ.Pulsar.Address
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Revision = s.Value
			}
		}
	}
	return info
}
