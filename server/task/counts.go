package task

import (
	"context"

	"github.com/milvus-cdc/milvus-cdc/meta"
)

// Why a task is paused, the cause label of the tasks metric: the alert on
// paused tasks must not fire on an operator's own pause.
const (
	PauseCauseUser              = "user"                // paused through the API
	PauseCauseAutoStartDisabled = "auto_start_disabled" // disable_auto_start kept it paused at start-up
	PauseCauseError             = "error"               // its pipeline stopped, or did not start, on an error
)

// PauseCauses lists every cause, so the metric shows each (zero included).
var PauseCauses = []string{PauseCauseUser, PauseCauseAutoStartDisabled, PauseCauseError}

// PauseCause tells why a Paused task is paused.
func PauseCause(t meta.Task) string {
	switch {
	case t.PausedByUser:
		return PauseCauseUser
	case t.Reason == ReasonAutoStartOff:
		return PauseCauseAutoStartDisabled
	default:
		return PauseCauseError
	}
}

// StateCause is a task state and, for Paused, why (empty otherwise).
type StateCause struct {
	State meta.State
	Cause string
}

// CountByStateAndCause returns the number of tasks per state, Paused ones
// split by cause; every state and every pause cause is present.
func (c *Controller) CountByStateAndCause(ctx context.Context) (map[StateCause]int, error) {
	tasks, _, err := c.listTasks(ctx) // from memory while the store does not answer
	if err != nil {
		return nil, err
	}
	return countByStateAndCause(tasks), nil
}

func countByStateAndCause(tasks []meta.Task) map[StateCause]int {
	counts := map[StateCause]int{}
	for _, s := range []meta.State{meta.StateInitial, meta.StateRunning, meta.StateFailed} {
		counts[StateCause{State: s}] = 0
	}
	for _, cause := range PauseCauses {
		counts[StateCause{State: meta.StatePaused, Cause: cause}] = 0
	}
	for _, t := range tasks {
		k := StateCause{State: t.State}
		if t.State == meta.StatePaused {
			k.Cause = PauseCause(t)
		}
		counts[k]++
	}
	return counts
}
