package main

// `milvus-cdc healthcheck`: GET /readyz of the daemon this configuration
// describes and exit 0 when it is ready. It is the container health check
// (the distroless image has no curl) and honours the listener's TLS.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/milvus-cdc/milvus-cdc/client"
	"github.com/milvus-cdc/milvus-cdc/config"
)

const healthcheckUsage = `Usage: milvus-cdc healthcheck [--config FILE] [--url URL] [flags]

Asks the daemon's GET /readyz and exits 0 when it answers 200, 1 otherwise.
Without --url the address and TLS come from the daemon's configuration
(--config and the MILVUS_CDC_* environment, as the daemon reads them): a
wildcard listen address is asked on loopback, over https when
server.tls.certFile is set. Over loopback the daemon's certificate is not
verified unless --cacert is given (it names the service, not 127.0.0.1).
/readyz needs no token; a daemon with mutual TLS needs --cert and --key.

Flags:
`

// runHealthcheck runs the health check and returns the exit code.
func runHealthcheck(args []string, cio cliIO) int {
	fs := flag.NewFlagSet("milvus-cdc healthcheck", flag.ContinueOnError)
	fs.SetOutput(cio.stderr)
	configPath := fs.String("config", "", "the daemon's configuration file")
	rawURL := fs.String("url", "", "readiness URL to ask instead of the configuration's address, e.g. https://cdc:8444/readyz")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	var conn client.Connection
	fs.StringVar(&conn.CAFile, "cacert", "", "CA certificate (PEM) to verify the daemon's certificate with")
	fs.StringVar(&conn.CertFile, "cert", "", "client certificate (PEM) for a daemon with mutual TLS")
	fs.StringVar(&conn.KeyFile, "key", "", "private key (PEM) of --cert")
	fs.Usage = func() {
		fmt.Fprint(cio.stderr, healthcheckUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(cio.stderr, "milvus-cdc healthcheck: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	target := *rawURL
	if target == "" {
		cfg, err := config.Load(*configPath)
		if err != nil {
			fmt.Fprintf(cio.stderr, "milvus-cdc healthcheck: invalid configuration:\n%v\n", err)
			return exitUsage
		}
		if cfg.Server.TLS.ClientCAFile != "" && conn.CertFile == "" {
			fmt.Fprintln(cio.stderr, "milvus-cdc healthcheck: the daemon requires client certificates (server.tls.clientCAFile); give --cert and --key")
			return exitUsage
		}
		target = readinessURL(cfg)
	}
	if strings.HasPrefix(target, "https://") && conn.CAFile == "" && isLoopbackURL(target) {
		conn.InsecureSkipVerify = true
	}
	hc, err := conn.HTTPClient(*timeout)
	if err != nil {
		fmt.Fprintf(cio.stderr, "milvus-cdc healthcheck: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	status, body, err := getReadiness(ctx, hc, target)
	if err != nil {
		fmt.Fprintf(cio.stderr, "milvus-cdc healthcheck: %s: %v\n", target, err)
		return exitFailed
	}
	if status != http.StatusOK {
		fmt.Fprintf(cio.stderr, "milvus-cdc healthcheck: %s: HTTP %d: %s\n", target, status, strings.TrimSpace(body))
		return exitFailed
	}
	fmt.Fprintf(cio.stdout, "ready: %s\n", target)
	return exitOK
}

// readinessURL is the /readyz URL of the daemon cfg describes, asked on
// loopback when it listens on every interface.
func readinessURL(cfg config.Config) string {
	host, port, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		host, port = "", "8444" // Load validated it; defensive only
	}
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		host = "127.0.0.1"
	}
	scheme := "http"
	if cfg.Server.TLS.Enabled() {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz"
}

func isLoopbackURL(u string) bool {
	rest := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	hostport, _, _ := strings.Cut(rest, "/")
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return isLoopback(strings.Trim(host, "[]"))
}

func getReadiness(ctx context.Context, hc *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}
