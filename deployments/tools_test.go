package deployments

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// requireToolsEnv makes a missing helm or promtool a failure instead of a
// skip; .ci/run installs both and sets it.
const requireToolsEnv = "MILVUS_CDC_REQUIRE_DEPLOY_TOOLS"

// tool finds a command in PATH or in Go's install directory, where
// `go install` puts it. Without it the test is skipped (failed when
// MILVUS_CDC_REQUIRE_DEPLOY_TOOLS=1), naming the install command.
func tool(t *testing.T, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, p := range filepath.SplitList(string(trimNL(out))) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if os.Getenv(requireToolsEnv) == "1" {
		t.Fatalf("%s is not installed (%s=1 requires it); install it with `%s`", name, requireToolsEnv, install)
	}
	t.Skipf("%s is not installed; install it with `%s` (CI does, and sets %s=1)", name, install, requireToolsEnv)
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Install commands of the tools (.ci/run runs the same).
const (
	helmInstall     = "go install helm.sh/helm/v3/cmd/helm@v3.22.0"
	promtoolInstall = "go install github.com/prometheus/prometheus/cmd/promtool@v0.316.0"
)
