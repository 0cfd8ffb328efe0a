// Package porttest finds a free TCP port on the loopback address for a real server that a test starts
// (Dovecot, mailpit, PostgreSQL), which takes a port number rather than a listener.
package porttest

import (
	"net"
	"testing"
)

// Free is a TCP port on 127.0.0.1 that was free a moment ago; another process may take it before the
// server does.
func Free() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeT is Free, failing t when no port can be had.
func FreeT(t testing.TB) int {
	t.Helper()
	port, err := Free()
	if err != nil {
		t.Fatalf("find a free loopback port: %v", err)
	}
	return port
}
