//go:build !unix

package sitefs

import "io/fs"

// links is how many names the file of info has; where the system does not say, one.
func links(fs.FileInfo) uint64 { return 1 }
