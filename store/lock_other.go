//go:build !unix

package store

import (
	"errors"
	"os"
	"runtime"
)

var errWouldBlock = errors.New("would block")

// flock is unix's; a port to another system needs its own (LockFileEx on Windows).
func flock(*os.File) error {
	return errors.New("run locks are not supported on " + runtime.GOOS)
}
