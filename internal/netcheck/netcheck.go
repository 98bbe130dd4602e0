// Package netcheck tells quickly and precisely whether a TCP address can be
// reached at all: the host does not resolve, the port refuses connections,
// there is no route, or nothing answers in time. The task service asks it
// before the slower gRPC connection check, so an operator who mistyped a
// host or a port learns it at once instead of after the connect timeout.
package netcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Kind classifies why an address cannot be reached.
type Kind int

// The kinds of failure.
const (
	KindOther      Kind = iota
	KindUnresolved      // the host name does not resolve
	KindRefused         // the host answered, nothing listens on the port
	KindNoRoute         // the network or host is unreachable
	KindTimeout         // no answer within the timeout
)

// Error is a failed Reach: the kind, the address and the cause.
type Error struct {
	Kind    Kind
	Host    string // the host as given
	Addr    string // host:port as given
	Timeout time.Duration
	Err     error
}

func (e *Error) Error() string {
	switch e.Kind {
	case KindUnresolved:
		return fmt.Sprintf("cannot resolve host %s: %v; check the host name in the URI", e.Host, e.Err)
	case KindRefused:
		return fmt.Sprintf("connection refused by %s: nothing listens on that port; check the port and that the Milvus there runs", e.Addr)
	case KindNoRoute:
		return fmt.Sprintf("no route to %s: %v", e.Addr, e.Err)
	case KindTimeout:
		return fmt.Sprintf("no TCP connection to %s within %s (a firewall dropping packets, or a host that is down)", e.Addr, e.Timeout)
	}
	return fmt.Sprintf("cannot connect to %s: %v", e.Addr, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Reach resolves the host of hostPort and opens, then closes, one TCP
// connection to it, all within timeout. It returns nil or an *Error.
func Reach(ctx context.Context, hostPort string, timeout time.Duration) error {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return &Error{Kind: KindOther, Host: hostPort, Addr: hostPort, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(kind Kind, err error) error {
		return &Error{Kind: kind, Host: host, Addr: hostPort, Timeout: timeout, Err: err}
	}

	ips := []string{host}
	if net.ParseIP(host) == nil {
		ips, err = net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			if ctx.Err() != nil && !isNotFound(err) {
				return fail(KindTimeout, err)
			}
			return fail(KindUnresolved, dnsReason(err))
		}
	}
	var first error
	var d net.Dialer
	for _, ip := range ips { // every address the name has, as a dialer would
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
		if err == nil {
			_ = conn.Close()
			return nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return fail(classify(ctx, first), first)
}

func classify(ctx context.Context, err error) Kind {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return KindNoRoute
	case ctx.Err() != nil, isTimeout(err):
		return KindTimeout
	}
	return KindOther
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// dnsReason is the resolver's own words ("no such host"), without the
// "lookup host on server:" prefix that repeats what the message says.
func dnsReason(err error) error {
	var de *net.DNSError
	if errors.As(err, &de) && de.Err != "" {
		return errors.New(de.Err)
	}
	return err
}
