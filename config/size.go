package config

import (
	"fmt"
	"strconv"
	"strings"
)

// MinMemoryLimit is the smallest memoryLimit accepted: below it the daemon
// could not hold one large insert message of a Milvus source.
const MinMemoryLimit = 64 << 20

// sizeUnits are the suffixes ParseSize accepts, longest first so that "MiB"
// is not read as "B".
var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"TB", 1000 * 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseSize reads a byte size: a whole number with an optional unit, binary
// (KiB, MiB, GiB, TiB) or decimal (KB, MB, GB, TB), e.g. "256MiB". A bare
// number is bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, factor = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	if n > (1<<62)/factor {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * factor, nil
}

// MemoryLimitBytes is memoryLimit in bytes (Validate has checked it).
func (c Config) MemoryLimitBytes() int64 {
	n, _ := ParseSize(c.MemoryLimit)
	return n
}
