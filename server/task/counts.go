package task

import (
	"context"

	"github.com/milvus-cdc/milvus-cdc/meta"
)

// Why a task is paused, for the tasks_paused metric: the alert on paused
// tasks must not fire on an operator's own pause.
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

// CountPaused returns the number of Paused tasks per cause (every cause
// present).
func (c *Controller) CountPaused(ctx context.Context) (map[string]int, error) {
	tasks, err := c.store.ListTasks(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, cause := range PauseCauses {
		counts[cause] = 0
	}
	for _, t := range tasks {
		if t.State == meta.StatePaused {
			counts[PauseCause(t)]++
		}
	}
	return counts, nil
}
