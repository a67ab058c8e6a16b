package jma

import (
	"testing"

	"github.com/anpikit/anpi/internal/shareddata"
)

// samplesDir returns ../shared/jma-samples, or skips the test saying what is
// missing (see package shareddata).
func samplesDir(t testing.TB) string {
	t.Helper()
	return shareddata.Dir(t, "jma-samples")
}

// samplesDirOptional is samplesDir without skipping: "" when absent.
func samplesDirOptional() string {
	p, _ := shareddata.Find("jma-samples")
	return p
}

// readSample reads one sample file by name.
func readSample(t testing.TB, name string) []byte {
	t.Helper()
	return shareddata.ReadSample(t, name)
}
