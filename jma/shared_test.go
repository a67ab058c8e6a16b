package jma

import (
	"os"
	"path/filepath"
	"testing"
)

// samplesDir finds shared/jma-samples: $ANPI_SHARED_DIR/jma-samples when the
// variable is set, else a "shared" directory beside the repository root,
// found by walking up from the package directory. It skips the test when the
// samples are absent.
func samplesDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("ANPI_SHARED_DIR"); d != "" {
		p := filepath.Join(d, "jma-samples")
		if _, err := os.Stat(p); err != nil {
			t.Skipf("ANPI_SHARED_DIR=%s has no jma-samples directory (%v); set it to the directory holding jma-samples/", d, err)
		}
		return p
	}
	if p := samplesDirOptional(); p != "" {
		return p
	}
	t.Skip("JMA samples not found: expected shared/jma-samples beside the repository root; set ANPI_SHARED_DIR to the directory that holds jma-samples/")
	return ""
}

// samplesDirOptional is samplesDir without skipping: "" when absent.
func samplesDirOptional() string {
	if d := os.Getenv("ANPI_SHARED_DIR"); d != "" {
		p := filepath.Join(d, "jma-samples")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "..", "shared", "jma-samples")
			if _, err := os.Stat(p); err == nil {
				return filepath.Clean(p)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// readSample reads one sample file by name.
func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir(t), name))
	if err != nil {
		t.Fatalf("read sample %s: %v", name, err)
	}
	return b
}
