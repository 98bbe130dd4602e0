// Package pipeline runs one replication task: it reads the source's
// metadata and message channels (package source), orders the operations the
// way the source applied them, and replays them on the target (package sink),
// persisting a checkpoint per source channel only after the target
// acknowledged everything up to it.
package pipeline
