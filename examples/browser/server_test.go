package browser_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serverPkg is the reference server, built from the workspace the test runs
// in, so the test drives the code of this checkout.
const serverPkg = "github.com/anpikit/anpi/examples/anpi-server"

// anpiServer is a running examples/anpi-server subprocess on 127.0.0.1.
type anpiServer struct {
	URL      string // http://127.0.0.1:port
	Email    string // the administrator's login
	Password string // the one-time password of the first start
}

// buildServer builds the reference server into dir and returns the binary;
// with the race detector when the test has it (CI runs go test -race).
func buildServer(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		missing(t, "no go command on PATH to build %s: %v", serverPkg, err)
	}
	bin := filepath.Join(dir, "anpi-server")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, gobin, append(args, serverPkg)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", serverPkg, err, out)
	}
	return bin
}

// startServer starts the reference server bin on a free port of
// 127.0.0.1 with a fresh data directory, in development mode (mail goes to
// its in-process sink, shown at /dev/mail). It reads the address and the
// administrator's one-time password from the banner on stdout and checks
// /readyz. The server is stopped with SIGTERM when the test ends, and must
// exit cleanly; its log (stderr) is shown when the test fails.
func startServer(ctx context.Context, t *testing.T, bin string) *anpiServer {
	t.Helper()
	dir := t.TempDir()

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-dev")
	// The server's environment must not configure it: ANPI_* from the
	// caller's shell (a relay, PostgreSQL) would change what is tested.
	for _, kv := range cmd.Environ() {
		if !strings.HasPrefix(kv, "ANPI_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := new(syncBuffer)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	banner := new(syncBuffer)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			banner.Write([]byte(sc.Text() + "\n"))
			select {
			case lines <- sc.Text():
			default: // nobody reads past the banner: drop the rest
			}
		}
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		// A graceful stop: the server finishes its requests, stops its
		// dispatcher and closes the store, then exits 0.
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("stop the server: %v", err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the server did not exit cleanly on SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("the server did not stop within 30 s of SIGTERM; killed")
			<-exited
		}
		if t.Failed() {
			t.Logf("server stdout:\n%s\nserver log:\n%s", banner.String(), logs.String())
		}
	})

	s := &anpiServer{}
	for s.Password == "" || s.URL == "" {
		var line string
		select {
		case line = <-lines:
		case err := <-exited:
			t.Fatalf("the server exited before printing its banner: %v\n%s\n%s", err, banner.String(), logs.String())
		case <-ctx.Done():
			t.Fatalf("no login in the server's banner before the deadline:\n%s\n%s", banner.String(), logs.String())
		}
		key, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch key {
		case "open":
			s.URL = strings.TrimSuffix(value, "/admin/")
		case "email":
			s.Email = value
		case "password":
			s.Password = value
		}
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.Email == "" {
		t.Fatalf("banner gave URL %q, email %q:\n%s", s.URL, s.Email, banner.String())
	}
	// The banner comes once the server is ready; /readyz must agree.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz after the banner: %s", resp.Status)
	}
	return s
}
