package source

import "time"

// Hybrid timestamps (Milvus TSO): physical Unix milliseconds in the high
// bits, an 18-bit logical counter in the low bits.
const (
	logicalBits     = 18
	logicalBitsMask = (1 << logicalBits) - 1
)

// ComposeTS builds a hybrid timestamp from physical milliseconds and a
// logical counter (only its low 18 bits are kept).
func ComposeTS(physicalMs int64, logical int64) uint64 {
	return uint64(physicalMs)<<logicalBits | uint64(logical)&logicalBitsMask
}

// ComposeTSByTime is the hybrid timestamp of a wall-clock time, logical 0.
func ComposeTSByTime(t time.Time) uint64 { return ComposeTS(t.UnixMilli(), 0) }

// PhysicalTime is the wall-clock part of a hybrid timestamp.
func PhysicalTime(ts uint64) time.Time { return time.UnixMilli(int64(ts >> logicalBits)) }
