//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"errors"
	"os"
	"syscall"

	"github.com/anpikit/anpi/anpi"
)

// fileLock is an exclusive flock on the database's lock file, held while
// the Store is open: a second Store on the same file, in this process or
// another, fails to take it.
type fileLock struct{ f *os.File }

// lockSupported reports whether Open detects a second opener here.
const lockSupported = true

func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: open lock file %s: the directory does not exist: %w", path, err)
	}
	if err != nil {
		return nil, anpi.Errorf(anpi.Unavailable, "sqlite: open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, anpi.Errorf(anpi.FailedPrecondition, "sqlite: the database is already open in another process or Store (lock file %s is held)", path)
		}
		return nil, anpi.Errorf(anpi.Unavailable, "sqlite: lock %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// release unlocks and closes the lock file. The file stays: removing it
// would let two processes lock two different files of the same name.
func (l *fileLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
