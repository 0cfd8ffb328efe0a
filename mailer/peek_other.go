//go:build !unix

package mailer

import "net"

// peekConn cannot look at a socket without reading it here: it knows nothing.
func peekConn(net.Conn) (spoke, closed bool) { return false, false }
