package porttest

import (
	"fmt"
	"net"
	"testing"
)

// TestFree: the port is free, on the loopback address, for a server to listen on.
func TestFree(t *testing.T) {
	port := FreeT(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("got port %d, want 1-65535", port)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", port, err)
	}
	defer l.Close()
	if other := FreeT(t); other == port {
		t.Errorf("got port %d again while it is taken", other)
	}
}
