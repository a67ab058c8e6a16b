//go:build unix

package line_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user + system) the test process has used,
// so benchmarks can report a rate per CPU-second that does not depend on
// what else the machine runs.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
