//go:build unix

package mailer

import (
	"errors"
	"net"
	"syscall"
)

// peekConn tells, without waiting, whether the peer of c has sent something not yet read, or closed
// the connection. Go's sockets are non-blocking, so a peek that finds nothing returns EAGAIN at once.
func peekConn(c net.Conn) (spoke, closed bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, true
	}
	var n int
	var rerr error
	var b [1]byte
	if err := raw.Read(func(fd uintptr) bool {
		for {
			n, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			if rerr != syscall.EINTR {
				return true
			}
		}
	}); err != nil {
		return false, true
	}
	switch {
	case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EWOULDBLOCK):
		return false, false
	case rerr != nil, n == 0:
		return false, true // reset, or the peer's FIN
	}
	return true, false
}
