// Package bench holds the pure parts of the benchmark: the result records
// (drain, lag, memory and the cost curve) with their JSON and table forms,
// lag statistics, and /proc and /metrics parsing of the daemon's cost. The
// program that drives the test bed is bench/cmd/bench; keeping the
// arithmetic here lets `make test` check it without a bed.
package bench
