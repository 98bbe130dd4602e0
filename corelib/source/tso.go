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

// ParseTS splits a hybrid timestamp into its physical time and logical part.
func ParseTS(ts uint64) (physical time.Time, logical int64) {
	return time.UnixMilli(int64(ts >> logicalBits)), int64(ts & logicalBitsMask)
}

// PhysicalTime is the wall-clock part of a hybrid timestamp.
func PhysicalTime(ts uint64) time.Time { return time.UnixMilli(int64(ts >> logicalBits)) }

// AddDuration shifts a hybrid timestamp's physical part by d (millisecond
// resolution), keeping the logical part.
func AddDuration(ts uint64, d time.Duration) uint64 {
	physical, logical := int64(ts>>logicalBits), int64(ts&logicalBitsMask)
	return ComposeTS(physical+d.Milliseconds(), logical)
}

// Sane hybrid timestamps have a physical part between 2019-01-01 and
// 9999-12-31 (as Milvus checks); anything else is corrupt or not a hybrid TS.
const (
	minSanePhysicalMs = 1546300800000
	maxSanePhysicalMs = 253402300799000
)

// IsSaneTS reports whether ts looks like a real hybrid timestamp.
func IsSaneTS(ts uint64) bool {
	p := ts >> logicalBits
	return p >= minSanePhysicalMs && p <= maxSanePhysicalMs
}
