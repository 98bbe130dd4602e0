package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/milvus-cdc/milvus-cdc/internal/bedutil"
)

// bed is the running test bed as its env file describes it.
type bed struct {
	MQ        string
	SourceURI string // host:port
	TargetURI string // host:port
	CDCConfig string
	// TargetMode is the bed's TARGET_MODE: api (a normal target) or
	// replicate (common.ttMsgEnabled=false); beds that predate it are api.
	TargetMode string
	// State is the bed's state directory (TESTBED_STATE): its PID files tell
	// the bench which processes to watch for idleness.
	State string
}

// repoRoot is the first parent of the working directory holding go.mod.
func repoRoot() (string, error) {
	root, err := bedutil.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w; run from the repository", err)
	}
	return root, nil
}

// bedEnvPath is where testbed.sh writes the env file: $TESTBED_ENV if set,
// else $MILVUS_CDC_BED_STATE/env, else <repo>/.testbed/env.
func bedEnvPath(root string) string {
	if p := os.Getenv("TESTBED_ENV"); p != "" {
		return p
	}
	if s := os.Getenv("MILVUS_CDC_BED_STATE"); s != "" {
		return filepath.Join(s, "env")
	}
	return filepath.Join(root, ".testbed", "env")
}

func loadBed(path string) (*bed, error) {
	env, err := bedutil.ReadEnvFile(path)
	if err != nil {
		return nil, fmt.Errorf("test bed env: %w", err)
	}
	b := &bed{MQ: env["MQ_TYPE"], SourceURI: env["SOURCE_MILVUS_ADDR"], TargetURI: env["TARGET_MILVUS_ADDR"], CDCConfig: env["CDC_CONFIG"],
		TargetMode: env["TARGET_MODE"], State: env["TESTBED_STATE"]}
	if b.TargetMode == "" {
		b.TargetMode = "api"
	}
	if b.MQ == "" || b.SourceURI == "" || b.TargetURI == "" || b.CDCConfig == "" {
		return nil, fmt.Errorf("test bed env %s lacks MQ_TYPE, SOURCE_MILVUS_ADDR, TARGET_MILVUS_ADDR or CDC_CONFIG", path)
	}
	return b, nil
}

// runTestbed runs testbed.sh with args, its output going to ours.
func runTestbed(ctx context.Context, root string, args ...string) error {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "deployments/testbed/testbed.sh")}, args...)...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Let `down` finish even when ctx was cancelled by an interrupt.
	cmd.Cancel = func() error { return nil }
	err := cmd.Run()
	logf("testbed.sh %s: %.1f s (err=%v)", strings.Join(args, " "), time.Since(start).Seconds(), err)
	if err != nil {
		return fmt.Errorf("testbed.sh %s: %w", strings.Join(args, " "), err)
	}
	return nil
}
