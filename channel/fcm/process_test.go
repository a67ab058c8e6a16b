package fcm_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	fake "github.com/anpikit/anpi/internal/fake/fcm"
)

// fakeProcessEnv makes the test binary serve the fake instead of running
// tests, so that a benchmark can run the fake in a process of its own and
// measure the sender's CPU apart from the fake's.
const fakeProcessEnv = "ANPI_FCM_FAKE_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(fakeProcessEnv) != "" {
		s := fake.Start(&fake.Options{ProjectID: project, Unlimited: true, CountOnly: true})
		fmt.Println(s.URL())
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		s.Close()
		return
	}
	os.Exit(m.Run())
}

// fakeProcess is the fake running in a child process on 127.0.0.1.
type fakeProcess struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.Closer
}

func startFakeProcess(b *testing.B) *fakeProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), fakeProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(b, err)
	p := &fakeProcess{URL: strings.TrimSpace(line), cmd: cmd, stdin: stdin}
	b.Cleanup(func() { p.stop() })
	return p
}

// stop ends the child and returns the CPU time it used.
func (p *fakeProcess) stop() time.Duration {
	if p.cmd.ProcessState == nil {
		_ = p.stdin.Close()
		_ = p.cmd.Wait()
	}
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
}
