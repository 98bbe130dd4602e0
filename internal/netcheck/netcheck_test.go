package netcheck

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReach(t *testing.T) {
	open, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = open.Close() })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refusedAddr := closed.Addr().String()
	require.NoError(t, closed.Close())

	tests := []struct {
		name       string
		addr       string
		timeout    time.Duration
		wantKind   Kind
		wantMsg    string // exact, or a prefix when wantPrefix
		wantPrefix bool
	}{
		{name: "listening", addr: open.Addr().String(), timeout: 5 * time.Second},
		{name: "refused", addr: refusedAddr, timeout: 5 * time.Second, wantKind: KindRefused,
			wantMsg: "connection refused by " + refusedAddr + ": nothing listens on that port; check the port and that the Milvus there runs"},
		{name: "unresolvable", addr: "no-such-host.invalid:19530", timeout: 5 * time.Second, wantKind: KindUnresolved,
			wantMsg: "cannot resolve host no-such-host.invalid: ", wantPrefix: true},
		{name: "no answer in time", addr: open.Addr().String(), timeout: time.Nanosecond, wantKind: KindTimeout,
			wantMsg: "no TCP connection to " + open.Addr().String() + " within 1ns (a firewall dropping packets, or a host that is down)"},
		{name: "not host:port", addr: "nohost", timeout: time.Second, wantKind: KindOther,
			wantMsg: "cannot connect to nohost: ", wantPrefix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := Reach(context.Background(), tt.addr, tt.timeout)
			require.Less(t, time.Since(start), 5*time.Second, "answers at once")
			if tt.wantMsg == "" {
				require.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.wantKind, e.Kind, err.Error())
			if tt.wantPrefix {
				require.True(t, strings.HasPrefix(err.Error(), tt.wantMsg), err.Error())

				return
			}
			require.Equal(t, tt.wantMsg, err.Error())
		})
	}
}
