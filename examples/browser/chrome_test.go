package browser_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumNames are the binaries looked for on PATH, in order, when
// $ANPI_CHROMIUM is not set.
var chromiumNames = [...]string{"chromium", "chromium-browser", "google-chrome", "headless-shell"}

// inCI reports whether CI=true (or 1): there, a missing prerequisite fails
// the test instead of skipping it, so CI cannot pass by skipping.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// missing skips the test saying what is missing and how to get it, or fails
// it under CI.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

// chromiumPath returns the Chromium binary to drive.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ANPI_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("ANPI_CHROMIUM=%s is not an executable: %v", p, err)
		}
		return p
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "no Chromium found (set ANPI_CHROMIUM, or put one of %v on PATH; on Debian: apt-get install chromium, which bash .ci/run does when none is found)", chromiumNames)
	return ""
}

// syncBuffer collects Chromium's output, written from the allocator's
// goroutines, for the log of a failed test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newBrowser starts a headless Chromium that lives until ctx ends or the test
// finishes, and returns the chromedp context of its first tab. Chromium's own
// output is logged when the test fails.
func newBrowser(ctx context.Context, t *testing.T) context.Context {
	t.Helper()
	out := new(syncBuffer)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.CombinedOutput(out),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start as root with its sandbox on; CI runs as
		// root in a throwaway machine, and the pages are our own.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		if t.Failed() {
			// Without a D-Bus, as in CI, Chromium logs dozens of lines
			// about it; they say nothing about the test.
			var keep []string
			for line := range strings.Lines(out.String()) {
				if !strings.Contains(line, "dbus") {
					keep = append(keep, line)
				}
			}
			if len(keep) > 0 {
				t.Logf("chromium output:\n%s", strings.Join(keep, ""))
			}
		}
	})
	// Start the browser now, so a Chromium that cannot start fails here and
	// not in the first step of the test.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// artifactsDir is where screenshots go: $ANPI_ARTIFACTS (created if
// needed), else the test's temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ANPI_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
		t.Logf("ANPI_ARTIFACTS not set: screenshots go to %s, removed after the test", dir)
		return dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	return dir
}

// saveScreenshot checks that shot is a PNG at least minWidth pixels wide and
// writes it to dir (see artifactsDir) as name.
func saveScreenshot(t *testing.T, dir, name string, shot []byte, minWidth int) {
	t.Helper()
	cfg, err := png.DecodeConfig(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if cfg.Width < minWidth || cfg.Height == 0 {
		t.Fatalf("screenshot %s is %d×%d, want at least %d wide", name, cfg.Width, cfg.Height, minWidth)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot %s (%d×%d)", p, cfg.Width, cfg.Height)
}
