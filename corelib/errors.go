package corelib

import "errors"

// ErrTargetMode is wrapped by every Verify error that says the task's writer
// mode does not fit its target (a normal Milvus for writer mode "replicate",
// a replica for "api", shard counts that cannot be mapped). The control plane
// answers it as a refusal of the writer-mode field, not as an unreachable
// target.
var ErrTargetMode = errors.New("the writer mode does not fit the target")

// ErrTargetUnreachable wraps every failure to connect to a task's target
// (wrong address, refused credentials or TLS, no answer in time).
var ErrTargetUnreachable = errors.New("target milvus unreachable")

// ErrStartExpired is wrapped by the StartPositions error of a task whose
// startFrom time lies before the oldest message a channel still holds (the
// broker's retention dropped what it asks for). The control plane refuses
// the create, naming the channel.
var ErrStartExpired = errors.New("the start time is older than what the broker retains")

// ErrNotOwner is returned (wrapped) when this daemon no longer owns the task
// it acts for: its membership lease expired, or another daemon took the task
// over. A pipeline that sees it stops at once and retries nothing: the new
// owner resumes from the stored checkpoints. errors.Is(ErrNotOwner,
// ErrConflict) holds, so code that gives up on a conflict gives up on it too.
var ErrNotOwner error = notOwnerError{}

type notOwnerError struct{}

func (notOwnerError) Error() string { return "this daemon no longer owns the task" }

func (notOwnerError) Is(target error) bool { return target == ErrConflict }
