//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

// fileLock does nothing on this operating system: a second process opening
// the same database is not detected (see the package documentation).
type fileLock struct{}

// lockSupported reports whether Open detects a second opener here.
const lockSupported = false

func lockFile(string) (*fileLock, error) { return &fileLock{}, nil }

func (*fileLock) release() error { return nil }
