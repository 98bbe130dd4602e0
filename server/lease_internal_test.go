package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLeaseHealthy(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name           string
		remaining, ttl time.Duration
		want           bool
	}{
		{"just renewed", 3 * s, 3 * s, true},
		{"read just before a renewal on time (up to 2 s left, reported 1)", 1 * s, 3 * s, true},
		{"expiring (reported 0: under a second left)", 0, 3 * s, false},
		{"default TTL, renewed on time", 6 * s, 10 * s, true},
		{"default TTL, two renewals missed", 2 * s, 10 * s, false},
		{"default TTL, at a third (reported 3: up to 4 s left)", 3 * s, 10 * s, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, leaseHealthy(tc.remaining, tc.ttl))
		})
	}
}
