package shareddata

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// EnvVar names the variable that overrides where the shared directory is.
const EnvVar = "ANPI_SHARED_DIR"

// Find returns the path of shared/<sub> (e.g. "jma-samples"), or false when
// it is absent.
func Find(sub string) (string, bool) {
	if d := os.Getenv(EnvVar); d != "" {
		p := filepath.Join(d, sub)
		_, err := os.Stat(p)
		return p, err == nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			p := filepath.Join(dir, "..", "shared", sub)
			if _, err := os.Stat(p); err == nil {
				return filepath.Clean(p), true
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Dir returns the path of shared/<sub>, or skips the test with a message
// saying what is missing.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	p, ok := Find(sub)
	if !ok {
		if d := os.Getenv(EnvVar); d != "" {
			t.Skipf("%s=%s has no %s directory; set it to the directory that holds %s/", EnvVar, d, sub, sub)
		}
		t.Skipf("%s not found: expected shared/%s beside the repository root; set %s to the directory that holds %s/", sub, sub, EnvVar, sub)
	}
	return p
}

// Samples returns the paths of every JMA XML sample (jma-samples/*.xml),
// sorted, or skips the test when they are absent.
func Samples(t testing.TB) []string {
	t.Helper()
	dir := Dir(t, "jma-samples")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(strings.ToLower(e.Name()), ".xml") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("%s holds no .xml files", dir)
	}
	return out
}

// ReadSample reads one JMA sample by file name, or skips the test when the
// samples are absent.
func ReadSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t, "jma-samples"), name))
	if err != nil {
		t.Fatalf("read sample %s: %v", name, err)
	}
	return b
}
