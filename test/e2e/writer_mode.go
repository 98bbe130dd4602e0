//go:build e2e

package e2e

import "testing"

// Writer modes as the bed's TARGET_MODE and a task's writer_mode name them.
const (
	WriterModeAPI       = "api"
	WriterModeReplicate = "replicate"
)

// TargetMode is the mode the bed's target runs in: "replicate" when it was
// started with common.ttMsgEnabled=false (TARGET_MODE=replicate), else "api".
// The harness creates its tasks in the same writer mode.
func (b *Bed) TargetMode() string {
	if b.Env["TARGET_MODE"] == WriterModeReplicate {
		return WriterModeReplicate
	}
	return WriterModeAPI
}

// SkipInReplicateMode skips a test that cannot run against a replica target,
// e.g. one that writes to the target directly (a target in replicate mode
// refuses ordinary inserts).
func SkipInReplicateMode(t testing.TB, bed *Bed, why string) {
	t.Helper()
	if bed.TargetMode() == WriterModeReplicate {
		t.Skipf("target in replicate mode (TARGET_MODE=replicate): %s", why)
	}
}

// withBedWriterMode gives a /cdc create request that names no writer mode the
// bed's: on a replicate bed every task the harness creates is a replicate
// task unless the test asks otherwise.
func withBedWriterMode(bed *Bed, requestType string, data any) any {
	req, ok := data.(map[string]any)
	if requestType != "create" || !ok || bed == nil || bed.TargetMode() != WriterModeReplicate {
		return data
	}
	if _, set := req["writer_mode"]; set {
		return data
	}
	out := make(map[string]any, len(req)+1)
	for k, v := range req {
		out[k] = v
	}
	out["writer_mode"] = WriterModeReplicate // the bed's target runs with ttMsgEnabled=false
	return out
}
