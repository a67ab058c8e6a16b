package apns_test

import (
	"bufio"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	fake "github.com/anpikit/anpi/internal/fake/apns"
)

// fakeProcessEnv makes the test binary serve the fake instead of running
// tests, so that a benchmark can run the fake in a process of its own and
// measure the sender's CPU apart from the fake's.
const fakeProcessEnv = "ANPI_APNS_FAKE_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(fakeProcessEnv) != "" {
		// No PublicKey: the child cannot know the parent's key, so it
		// checks the token's form but not its signature.
		s := fake.Start(&fake.Options{TeamID: teamID, KeyID: keyID, CountOnly: true})
		fmt.Println(s.URL(), base64.StdEncoding.EncodeToString(s.Certificate()))
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		s.Close()
		return
	}
	os.Exit(m.Run())
}

// fakeProcess is the fake running in a child process on 127.0.0.1.
type fakeProcess struct {
	URL   string
	Roots *x509.CertPool
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
	url, certB64, ok := strings.Cut(strings.TrimSpace(line), " ")
	require.True(b, ok, "child said %q", line)
	der, err := base64.StdEncoding.DecodeString(certB64)
	require.NoError(b, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(b, err)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	p := &fakeProcess{URL: url, Roots: roots, cmd: cmd, stdin: stdin}
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
