// Package bench holds the pure parts of the replication benchmark (issue 7):
// lag statistics, /proc parsing of the daemon's cost, and the result records
// with their JSON and table forms. The program that drives the test bed is
// bench/cmd/bench; keeping the arithmetic here lets `make test` check it
// without a bed.
package bench
