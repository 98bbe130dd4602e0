// Command milvus-cdc is the change-data-capture daemon for Milvus: it serves
// the task API, keeps tasks in etcd (an embedded one by default) and runs one
// replication pipeline per task.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/milvus-cdc/milvus-cdc/config"
	"github.com/milvus-cdc/milvus-cdc/corelib/pipeline"
	"github.com/milvus-cdc/milvus-cdc/internal/buildinfo"
	"github.com/milvus-cdc/milvus-cdc/internal/netcheck"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/server"
	"github.com/milvus-cdc/milvus-cdc/server/auth"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

func main() {
	// `milvus-cdc task ...` is the operator CLI (cli.go), `version` prints
	// the build; no arguments, flags only, or `serve` run the daemon.
	daemonArgs, code, handled := dispatch(os.Args[1:], cliIO{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	if handled {
		os.Exit(code)
	}
	configPath := flag.String("config", "", "path of the YAML configuration file (see configs/cdc.yaml); MILVUS_CDC_* environment variables override it")
	checkOnly := flag.Bool("check-config", false, "validate the configuration and exit")
	printConfig := flag.Bool("print-config", false, "print the effective configuration (file, environment and defaults) as YAML, secrets masked, and exit")
	printVersion := flag.Bool("version", false, "print the version, commit and Go version, and exit")
	flag.Usage = daemonUsage
	_ = flag.CommandLine.Parse(daemonArgs) // exits on a bad flag
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "milvus-cdc: unexpected argument %q: the daemon takes only flags\n\n", flag.Arg(0))
		daemonUsage()
		os.Exit(exitUsage)
	}
	if *printVersion {
		fmt.Println(buildinfo.Get())
		return
	}

	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "milvus-cdc: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	if *printConfig {
		out, err := cfg.MaskedYAML()
		if err != nil {
			fmt.Fprintf(os.Stderr, "milvus-cdc: %v\n", err)
			os.Exit(1)
		}
		_, _ = os.Stdout.Write(out)
		return
	}
	if *checkOnly {
		fmt.Println("configuration OK")
		return
	}
	lg, level, err := newLogger(cfg.Log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "milvus-cdc: %v\n", err)
		os.Exit(2)
	}
	defer func() { _ = lg.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, lg, level); err != nil {
		lg.Error("milvus-cdc stopped on an error", zap.Error(err))
		_ = lg.Sync()
		os.Exit(1)
	}
}

// run starts the meta store, reloads the tasks and serves HTTP until ctx ends.
func run(ctx context.Context, cfg config.Config, lg *zap.Logger, level zap.AtomicLevel) error {
	etcdCfg := cfg.MetaStore.Etcd
	if cfg.MetaStore.Embedded() {
		emb, err := meta.StartEmbedded(cfg.MetaStore.Embed, lg)
		if err != nil {
			return err
		}
		defer emb.Close()
		etcdCfg.Endpoints = []string{emb.ClientURL}
		lg.Info("embedded etcd started", zap.String("client_url", emb.ClientURL), zap.String("data_dir", cfg.MetaStore.Embed.DataDir))
	}
	cli, err := meta.Dial(ctx, etcdCfg, lg)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	store, err := openTaskStore(ctx, cli, cfg, lg)
	if err != nil {
		return err
	}
	var reloaded atomic.Bool

	// The replication core reads the source lazily: a source that is down
	// shows in each task's status, never in the daemon's availability.
	registry := prometheus.NewRegistry() // /metrics: the daemon's and the pipelines' metrics
	pipelineMetrics, err := pipeline.NewMetrics(registry)
	if err != nil {
		return fmt.Errorf("register pipeline metrics: %w", err)
	}
	factory, closeSource, err := newPipelineFactory(cfg.Source, pipelineMetrics, lg)
	if err != nil {
		return err
	}
	defer closeSource()
	if factory.Budget, err = applyMemoryLimit(cfg.MemoryLimitBytes(), registry, lg); err != nil {
		return err
	}
	verifier, err := newVerifier(cfg.Source.Milvus, factory, registry, lg)
	if err != nil {
		return fmt.Errorf("register verify metrics: %w", err)
	}
	ctl := task.NewController(store, verifyingFactory{Factory: factory, verifier: verifier}, task.Limits{
		MaxTaskNum:       cfg.MaxTaskNum,
		MaxNameLength:    cfg.MaxNameLength,
		ReplicateChannel: cfg.Source.ReplicateChannel,
		TokenFileDir:     cfg.TaskSecrets.Dir,
		TokenEnvPrefix:   cfg.TaskSecrets.EnvPrefix,
		// A task must not replicate the source to itself; the probe answers
		// a mistyped host or port at once.
		SourceMilvusAddress: cfg.Source.Milvus.Address,
		Probe:               netcheck.Reach,
		NoRebalance:         !cfg.Cluster.Rebalance,
	}, lg)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctl.Shutdown(sctx)
	}()
	if !cfg.MetaStore.Embedded() {
		// Daemons sharing an external store share its tasks: one owner each.
		cl, err := store.JoinCluster(ctx, cfg.MemberID(), cfg.Advertised(), cfg.Cluster.LeaseTTL, lg)
		if err != nil {
			return err
		}
		ctl.SetCluster(cl)
		go ctl.RunCluster(ctx)
	}

	authn, err := apiAuthenticator(cfg, lg)
	if err != nil {
		return err
	}
	forwardTLS, err := forwardTLSConfig(cfg, lg)
	if err != nil {
		return err
	}
	srv := server.New(server.Options{
		Controller:      ctl,
		LogLevel:        level,
		MaxRequestBytes: cfg.MaxRequestBytes,
		MaxNameLength:   cfg.MaxNameLength,
		Ready: func(ctx context.Context) error {
			if !reloaded.Load() {
				return errors.New("stored tasks are still being reloaded")
			}
			return store.Ping(ctx)
		},
		Logger:     lg,
		Registry:   registry,
		Pprof:      cfg.Debug.Pprof,
		Auth:       authn,
		AuthPolicy: auth.Policy{MetricsNeedToken: cfg.Server.Auth.MetricsNeedToken},
		ForwardTLS: forwardTLS,
		Info:       daemonInfo(cfg, time.Now()),
	})
	lis, err := listen(cfg, lg)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errCh := make(chan error, 1)
	go func() { errCh <- httpSrv.Serve(lis) }()
	bi := buildinfo.Get()
	lg.Info("milvus-cdc serving", zap.String("address", lis.Addr().String()), zap.Bool("embedded_etcd", cfg.MetaStore.Embedded()),
		zap.String("version", bi.Version), zap.String("commit", bi.Commit))

	// Reload after the listener is up: a slow target must not keep the API
	// (or /healthz) down; /readyz says when the reload is done.
	reloadDone := make(chan error, 1)
	go func() {
		err := ctl.Reload(ctx)
		reloaded.Store(err == nil)
		reloadDone <- err
	}()

	select {
	case err := <-errCh:
		return fmt.Errorf("http server: %w", err)
	case err := <-reloadDone:
		if err != nil {
			_ = httpSrv.Close()
			return err
		}
		select {
		case err := <-errCh:
			return fmt.Errorf("http server: %w", err)
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	lg.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// newLogger builds the zap logger; the returned level can be changed at run time.
func newLogger(c config.LogConfig) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("log.level: %w", err)
	}
	level := zap.NewAtomicLevelAt(lvl)
	zc := zap.NewProductionConfig()
	if c.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.Development = false
		zc.DisableStacktrace = true
	}
	zc.Level = level
	zc.Sampling = nil
	lg, err := zc.Build()
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("build logger: %w", err)
	}
	return lg, level, nil
}

// applyMemoryLimit makes memoryLimit Go's soft memory limit, unless the
// environment set one (GOMEMLIMIT wins, as Go documents), and returns the
// pipelines' budget for the packs being applied: half of it, the rest being
// the readers' prefetch, the writers' encoded requests and the daemon itself.
func applyMemoryLimit(limit int64, reg prometheus.Registerer, lg *zap.Logger) (*pipeline.Budget, error) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
	b, err := pipeline.NewBudget(limit/2, reg)
	if err != nil {
		return nil, fmt.Errorf("register memory budget metrics: %w", err)
	}
	lg.Debug("memory limit", zap.Int64("bytes", limit), zap.Int64("packBudgetBytes", limit/2))
	return b, nil
}
