package task

// Target tokens given by reference: a create request may name a file
// (target.tokenFile, inside taskSecrets.dir) or an environment variable
// (target.tokenEnv, starting with taskSecrets.envPrefix) on the daemon's
// host instead of sending the token. The reference is stored; the token is
// read when the target is checked at create and every time the task's
// pipeline starts, so a renewed file takes effect at the next resume.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// validateTokenReference checks that at most one way of giving the token is
// used and that a reference is one this daemon allows.
func (c *Controller) validateTokenReference(t corelib.Target) error {
	ways := 0
	for _, set := range []bool{t.Token != "", t.TokenFile != "", t.TokenEnv != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		return FieldErrorf(CodeValidation, "target.token", "give the target token one way: token, tokenFile or tokenEnv")
	}
	if t.TokenFile != "" && c.limits.TokenFileDir == "" {
		return FieldErrorf(CodeValidation, "target.tokenFile", "target.tokenFile is off on this daemon: its configuration must set taskSecrets.dir to the directory holding token files")
	}
	if t.TokenEnv != "" {
		prefix := c.limits.TokenEnvPrefix
		if prefix == "" || !strings.HasPrefix(t.TokenEnv, prefix) {
			return FieldErrorf(CodeValidation, "target.tokenEnv", "target.tokenEnv %q must start with %q (taskSecrets.envPrefix in the daemon's configuration)", t.TokenEnv, prefix)
		}
	}
	return nil
}

// withResolvedToken returns the spec with Target.Token read from its
// reference, if it has one. Errors name the field; they never quote a
// token.
func (c *Controller) withResolvedToken(spec corelib.TaskSpec) (corelib.TaskSpec, error) {
	t := spec.Target
	if err := c.validateTokenReference(t); err != nil {
		return spec, err
	}
	switch {
	case t.TokenFile != "":
		tok, err := readTokenFile(c.limits.TokenFileDir, t.TokenFile)
		if err != nil {
			return spec, FieldErrorf(CodeValidation, "target.tokenFile", "%v", err)
		}
		spec.Target.Token = tok
	case t.TokenEnv != "":
		tok := os.Getenv(t.TokenEnv)
		if tok == "" {
			return spec, FieldErrorf(CodeValidation, "target.tokenEnv", "the environment variable %s is not set (or empty) on the daemon's host", t.TokenEnv)
		}
		spec.Target.Token = tok
	}
	return spec, nil
}

// readTokenFile reads name (relative to dir, or absolute) if it is inside
// dir once symbolic links are followed, without its final line break.
func readTokenFile(dir, name string) (string, error) {
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("taskSecrets.dir %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(p))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("the token file %s does not exist on the daemon's host", name)
		}
		return "", fmt.Errorf("the token file %s: %w", name, err)
	}
	rel, err := filepath.Rel(realDir, real)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("the token file %s is not inside taskSecrets.dir (%s)", name, dir)
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return "", fmt.Errorf("the token file %s cannot be read: %w", name, err)
	}
	tok := strings.TrimRight(string(b), "\r\n")
	if tok == "" {
		return "", fmt.Errorf("the token file %s is empty", name)
	}
	return tok, nil
}
