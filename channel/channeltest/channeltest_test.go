package channeltest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/channeltest"
	"github.com/anpikit/anpi/channel/memchan"
)

// brokenEnv selects the broken sender TestBrokenHelper runs the suite on.
const brokenEnv = "ANPI_CHANNELTEST_BROKEN"

// harness wraps a memchan.Sender, optionally broken by wrap.
type harness struct {
	s    *memchan.Sender
	wrap func(channel.Sender) channel.Sender
	seq  atomic.Int64
}

func (h *harness) Capabilities() channeltest.Capabilities {
	return channeltest.Capabilities{
		Kind: channel.Email, Subject: true, IdempotencyKey: true, RetryAfter: true,
		AddressFaults: []channeltest.Fault{channeltest.InvalidAddress, channeltest.Unregistered,
			channeltest.RateLimited, channeltest.Temporary, channeltest.Misconfigured, channeltest.Hang},
	}
}

func (h *harness) NewSender(*testing.T) channel.Sender {
	if h.wrap != nil {
		return h.wrap(h.s)
	}
	return h.s
}

func (h *harness) Address(_ *testing.T, f channeltest.Fault) string {
	a := fmt.Sprintf("u%d@example.jp", h.seq.Add(1))
	switch f {
	case channeltest.None:
	case channeltest.Hang:
		h.s.Block(a)
	case channeltest.RateLimited:
		h.s.FailWith(a, channel.WithRetryAfter(channel.Errorf(channel.RateLimited, "fake: 429"), time.Second))
	default:
		h.s.FailWith(a, channel.Errorf(f.Code(), "fake: %v", f))
	}
	return a
}

func (h *harness) Received(*testing.T) []channeltest.Received {
	var out []channeltest.Received
	for _, s := range h.s.Sent() {
		out = append(out, channeltest.Received{To: s.Message.To, Subject: s.Message.Subject, Text: s.Message.Text, IdempotencyKey: s.Message.IdempotencyKey})
	}
	return out
}

// allTemporary reports every failure as Temporary, losing the class.
type allTemporary struct{ channel.Sender }

func (s allTemporary) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	rc, err := s.Sender.Send(ctx, m)
	if err != nil {
		return rc, channel.Errorf(channel.Temporary, "broken: %v", err)
	}
	return rc, nil
}

// dropSubject loses the subject on the way to the provider.
type dropSubject struct{ channel.Sender }

func (s dropSubject) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	if m != nil {
		c := *m
		c.Subject = ""
		m = &c
	}
	return s.Sender.Send(ctx, m)
}

var broken = map[string]func(channel.Sender) channel.Sender{
	"all-temporary": func(s channel.Sender) channel.Sender { return allTemporary{s} },
	"drop-subject":  func(s channel.Sender) channel.Sender { return dropSubject{s} },
}

func TestMemchanPasses(t *testing.T) {
	channeltest.Run(t, &harness{s: memchan.New(nil)})
}

// TestBrokenHelper is run by TestSuiteFailsBrokenSenders in a subprocess; it
// is skipped otherwise.
func TestBrokenHelper(t *testing.T) {
	mode := os.Getenv(brokenEnv)
	if mode == "" {
		t.Skip("run by TestSuiteFailsBrokenSenders only")
	}
	wrap, ok := broken[mode]
	require.True(t, ok, "unknown %s=%q", brokenEnv, mode)
	channeltest.Run(t, &harness{s: memchan.New(nil), wrap: wrap})
}

func TestSuiteFailsBrokenSenders(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	tests := []struct {
		mode       string
		fail, pass []string
	}{
		{"all-temporary",
			[]string{"Codes/InvalidAddress", "Codes/Unregistered", "Codes/RateLimited", "Codes/Misconfigured"},
			[]string{"Success", "JapaneseUTF8", "Codes/Temporary", "Context/Cancelled", "Concurrent"}},
		{"drop-subject",
			[]string{"JapaneseUTF8"},
			[]string{"Success", "Codes/InvalidAddress", "Context/Hang"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenHelper$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tt.mode)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite must fail a broken sender; output:\n%s", out)
			for _, name := range tt.fail {
				require.Contains(t, string(out), "--- FAIL: TestBrokenHelper/"+name+" ", "the failing check must be named")
			}
			for _, name := range tt.pass {
				require.Contains(t, string(out), "--- PASS: TestBrokenHelper/"+name+" ", "checks the breakage does not touch must pass")
			}
		})
	}
}
