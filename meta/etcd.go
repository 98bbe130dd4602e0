package meta

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/milvus-cdc/milvus-cdc/config"
)

// Embedded is an etcd server running inside the daemon.
type Embedded struct {
	etcd      *embed.Etcd
	ClientURL string
}

// StartEmbedded starts a single-member etcd on loopback with a persistent data
// directory and waits until it serves. It logs only errors.
func StartEmbedded(c config.Embed, lg *zap.Logger) (*Embedded, error) {
	curl, err := url.Parse(c.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("metaStore.embed.clientURL: %w", err)
	}
	purl, err := url.Parse(c.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("metaStore.embed.peerURL: %w", err)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("metaStore.embed.dataDir: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "milvus-cdc"
	cfg.Dir = c.DataDir
	cfg.ListenClientUrls = []url.URL{*curl}
	cfg.AdvertiseClientUrls = []url.URL{*curl}
	cfg.ListenPeerUrls = []url.URL{*purl}
	cfg.AdvertisePeerUrls = []url.URL{*purl} // the default would not match InitialCluster
	cfg.InitialCluster = cfg.Name + "=" + purl.String()
	// Checkpoints are rewritten often; keep one hour of history only.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg.Named("embedded-etcd").WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel)))

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", c.DataDir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, errors.New("embedded etcd not ready after 60s")
	}
	return &Embedded{etcd: e, ClientURL: curl.String()}, nil
}

// Close stops the embedded etcd.
func (e *Embedded) Close() { e.etcd.Close() }

// NewClient returns an etcd client for the given endpoints, auth and TLS
// without waiting for etcd to answer (the client connects in the background).
func NewClient(c config.Etcd, lg *zap.Logger) (*clientv3.Client, error) {
	cc := clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: c.DialTimeout,
		Username:    c.Username,
		Password:    c.Password,
		Logger:      lg.Named("etcd-client").WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel)),
	}
	if c.TLS.Enabled {
		info := transport.TLSInfo{CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile, TrustedCAFile: c.TLS.CAFile}
		tc, err := info.ClientConfig() // CA-only works too: the key pair is optional
		if err != nil {
			return nil, fmt.Errorf("etcd TLS: %w", err)
		}
		cc.TLS = tc
	}
	cli, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("connect etcd %v: %w", c.Endpoints, err)
	}
	return cli, nil
}

// Dial is NewClient plus a check that etcd answers within the dial timeout.
func Dial(ctx context.Context, c config.Etcd, lg *zap.Logger) (*clientv3.Client, error) {
	cli, err := NewClient(c, lg)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, c.DialTimeout)
	defer cancel()
	if _, err := cli.Get(pctx, "health", clientv3.WithCountOnly()); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("etcd %v does not answer within %s: %w", c.Endpoints, c.DialTimeout, err)
	}
	return cli, nil
}
