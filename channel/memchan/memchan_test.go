package memchan_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/channeltest"
	"github.com/anpikit/anpi/channel/memchan"
)

// harness runs the conformance suite against one shared memchan.Sender.
type harness struct {
	s    *memchan.Sender
	seq  atomic.Int64
	caps channeltest.Capabilities
}

func newHarness(opts *memchan.Options) *harness {
	s := memchan.New(opts)
	return &harness{s: s, caps: channeltest.Capabilities{
		Kind: s.Kind(), Subject: true, IdempotencyKey: true, Deduplicates: opts != nil && opts.Deduplicate, RetryAfter: true,
		AddressFaults: []channeltest.Fault{channeltest.InvalidAddress, channeltest.Unregistered, channeltest.RateLimited,
			channeltest.Temporary, channeltest.Misconfigured, channeltest.Hang},
	}}
}

func (h *harness) Capabilities() channeltest.Capabilities { return h.caps }
func (h *harness) NewSender(*testing.T) channel.Sender    { return h.s }

func (h *harness) Address(_ *testing.T, f channeltest.Fault) string {
	a := fmt.Sprintf("user%d@example.jp", h.seq.Add(1))
	switch f {
	case channeltest.Hang:
		h.s.Block(a)
	case channeltest.RateLimited:
		h.s.FailWith(a, channel.WithRetryAfter(channel.Errorf(channel.RateLimited, "memchan: 429"), 3*time.Second))
	case channeltest.None:
	default:
		h.s.FailWith(a, channel.Errorf(f.Code(), "memchan: injected %v", f))
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

func TestConformance(t *testing.T) {
	channeltest.Run(t, newHarness(nil))
}

func TestConformanceDeduplicate(t *testing.T) {
	channeltest.Run(t, newHarness(&memchan.Options{Kind: channel.LINE, Deduplicate: true}))
}

func TestRecordsCopies(t *testing.T) {
	at := time.Date(2026, 1, 17, 5, 46, 0, 0, time.UTC)
	s := memchan.New(&memchan.Options{Kind: channel.SMS, Now: func() time.Time { return at }})
	m := &channel.Message{To: "+819012345678", Text: "ご無事ですか", Data: map[string]string{"k": "v"}}
	rc, err := s.Send(t.Context(), m)
	require.NoError(t, err)
	require.Equal(t, channel.Receipt{ProviderID: "mem-1", At: at}, rc)
	m.Data["k"] = "changed"
	m.Text = "changed"
	sent := s.Sent()
	require.Len(t, sent, 1)
	require.Equal(t, "ご無事ですか", sent[0].Message.Text)
	require.Equal(t, "v", sent[0].Message.Data["k"])

	s.FailWith(m.To, channel.Errorf(channel.Unregistered, "gone"))
	_, err = s.Send(t.Context(), m)
	require.Equal(t, channel.Unregistered, channel.Code(err))
	s.Clear(m.To)
	_, err = s.Send(t.Context(), m)
	require.NoError(t, err)
	s.Reset()
	require.Empty(t, s.Sent())
}
