package channeltest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel"
)

// Fault is a failure a harness can make its fake provider produce.
type Fault int

// The faults. None is a working address.
const (
	// None: the provider accepts the message.
	None Fault = iota
	// InvalidAddress: the provider rejects the address as malformed or
	// unknown (SMTP 550 5.1.1, LINE 400); expected code Permanent.
	InvalidAddress
	// Unregistered: the address is gone (expired push token, a LINE user
	// who blocked the account); expected code Unregistered.
	Unregistered
	// RateLimited: the provider refuses for now (HTTP 429, SMTP 450/451
	// rate messages the adapter recognises); expected code RateLimited.
	RateLimited
	// Temporary: a transient failure (HTTP 5xx, SMTP 4xx); expected code
	// Temporary.
	Temporary
	// Misconfigured: the sender's credentials, TLS or sender address are
	// wrong (HTTP 401/403, SMTP 535); expected code Misconfigured.
	Misconfigured
	// Hang: the provider accepts the request and never answers; the sender
	// must give up when its context is done, with code Temporary.
	Hang
)

var faultNames = [...]string{
	None:           "None",
	InvalidAddress: "InvalidAddress",
	Unregistered:   "Unregistered",
	RateLimited:    "RateLimited",
	Temporary:      "Temporary",
	Misconfigured:  "Misconfigured",
	Hang:           "Hang",
}

// String returns the fault's name, such as "InvalidAddress".
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Code returns the error code a sender must report for the fault.
func (f Fault) Code() channel.ErrorCode {
	switch f {
	case None:
		return channel.OK
	case InvalidAddress:
		return channel.Permanent
	case Unregistered:
		return channel.Unregistered
	case RateLimited:
		return channel.RateLimited
	case Temporary, Hang:
		return channel.Temporary
	case Misconfigured:
		return channel.Misconfigured
	}
	return channel.Unknown
}

// Received is one message as the fake provider recorded it, decoded the way
// the recipient would read it (MIME decoded for mail).
type Received struct {
	To             string // the recipient address
	Subject        string // empty for providers without subjects
	Text           string // the body as the recipient reads it
	IdempotencyKey string // what the provider received for deduplication (a header, a retry key), or empty
}

// Capabilities describes what the provider behind a harness can do, so the
// suite checks only what applies.
type Capabilities struct {
	// Kind is the channel the sender must report.
	Kind channel.Kind
	// Subject: the provider carries the subject (mail, push title), and
	// it must arrive intact.
	Subject bool
	// IdempotencyKey: the provider receives something derived from
	// Message.IdempotencyKey (Received.IdempotencyKey): the same for the
	// same key, different for different keys.
	IdempotencyKey bool
	// Deduplicates: the provider itself drops a second message with the
	// same idempotency key (LINE answers 409 to a repeated retry key); the
	// sender must report the repeat as a success.
	Deduplicates bool
	// RetryAfter: the RateLimited fault comes with a wait that the sender
	// must report through channel.RetryAfter.
	RetryAfter bool
	// NoProviderID: the provider returns no message ID, so an empty
	// Receipt.ProviderID is accepted.
	NoProviderID bool
	// AddressFaults are the faults Harness.Address can produce.
	AddressFaults []Fault
	// SenderFaults are the faults FaultySenders.NewFaultySender can
	// produce (the harness must implement FaultySenders if non-empty).
	SenderFaults []Fault
}

// Harness wires a Sender to a local fake of its provider. The suite calls
// NewSender once per check; all senders of one harness may share one fake.
type Harness interface {
	// Capabilities describes the provider.
	Capabilities() Capabilities
	// NewSender returns a sender talking to the fake. The suite closes it
	// with channel.Close when the check ends.
	NewSender(t *testing.T) channel.Sender
	// Address returns an address the fake answers with fault f. Every call
	// returns an address not returned before, so the suite can tell its
	// messages apart in Received.
	Address(t *testing.T, f Fault) string
	// Received returns every message the fake has accepted so far.
	Received(t *testing.T) []Received
}

// FaultySenders is implemented by harnesses that can produce faults that
// belong to the sender rather than to an address: wrong credentials, an
// untrusted TLS certificate, a server that never answers.
type FaultySenders interface {
	// NewFaultySender returns a sender every Send of which meets fault f.
	NewFaultySender(t *testing.T, f Fault) channel.Sender
}

// Japanese text used by the checks: kanji, kana, half-width katakana, a
// non-BMP kanji (𠮷), full-width digits and an emoji; the subject is long
// enough to be folded in a mail header.
const (
	jaSubject = "【安否確認】地震発生（震度６弱）のため、全社員の安否を確認しています ｱﾝﾋﾟ 𠮷野家 🙏"
	jaText    = "山田 太郎 さん\nご無事ですか。下記のリンクから、ご本人とご家族の状況を回答してください。\n回答期限：１５時００分\nhttps://anpi.example.jp/a/TOKEN\n※このメールに返信しても回答にはなりません。"
)

// HangTimeout is how long the Hang check waits before cancelling, and
// HangGrace how long after that the sender may take to return.
const (
	HangTimeout = 200 * time.Millisecond
	HangGrace   = 10 * time.Second
)

// Run runs the conformance suite against h. Each check is a subtest whose
// name says what failed: Kind, Validate, Success (which also checks that
// Send leaves the message unchanged), JapaneseUTF8,
// IdempotencyKey, Codes/<Fault>, SenderFaults/<Fault>, Context/Cancelled,
// Context/Hang, Concurrent and Batch (for BatchSenders).
func Run(t *testing.T, h Harness) {
	t.Helper()
	caps := h.Capabilities()
	t.Run("Kind", func(t *testing.T) {
		s := newSender(t, h)
		require.Equal(t, caps.Kind, s.Kind(), "Sender.Kind")
		require.True(t, s.Kind().Valid(), "Sender.Kind %q is not a known kind", s.Kind())
	})
	t.Run("Validate", func(t *testing.T) { testValidate(t, h) })
	t.Run("Success", func(t *testing.T) { testSuccess(t, h) })
	t.Run("JapaneseUTF8", func(t *testing.T) { testJapanese(t, h) })
	t.Run("IdempotencyKey", func(t *testing.T) { testIdempotency(t, h) })
	t.Run("Codes", func(t *testing.T) {
		for _, f := range caps.AddressFaults {
			if f == None || f == Hang {
				continue
			}
			t.Run(f.String(), func(t *testing.T) { testAddressFault(t, h, f) })
		}
	})
	t.Run("SenderFaults", func(t *testing.T) {
		if len(caps.SenderFaults) == 0 {
			t.Skip("the harness declares no sender faults")
		}
		fs, ok := h.(FaultySenders)
		require.True(t, ok, "Capabilities.SenderFaults is set but the harness does not implement FaultySenders")
		for _, f := range caps.SenderFaults {
			if f == None || f == Hang {
				continue
			}
			t.Run(f.String(), func(t *testing.T) { testSenderFault(t, h, fs, f) })
		}
	})
	t.Run("Context", func(t *testing.T) {
		t.Run("Cancelled", func(t *testing.T) { testCancelled(t, h) })
		t.Run("Hang", func(t *testing.T) { testHang(t, h) })
	})
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, h) })
	t.Run("Batch", func(t *testing.T) { testBatch(t, h) })
}

func newSender(t *testing.T, h Harness) channel.Sender {
	t.Helper()
	s := h.NewSender(t)
	require.NotNil(t, s, "Harness.NewSender returned nil")
	t.Cleanup(func() {
		if err := channel.Close(s); err != nil {
			t.Errorf("closing the sender: %v", err)
		}
	})
	return s
}

func has(fs []Fault, f Fault) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

// normText makes texts comparable across providers: CRLF line ends become
// LF and trailing line ends go.
func normText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimRight(s, "\n")
}

// receivedFor returns what the fake recorded for address to.
func receivedFor(t *testing.T, h Harness, to string) []Received {
	t.Helper()
	var out []Received
	for _, r := range h.Received(t) {
		if r.To == to {
			out = append(out, r)
		}
	}
	return out
}

func newMessage(t *testing.T, to, key string) *channel.Message {
	return &channel.Message{
		To:             to,
		Subject:        "安否確認 " + key,
		Text:           "ご無事ですか。 " + key + "\nhttps://anpi.example.jp/a/" + key,
		URL:            "https://anpi.example.jp/a/" + key,
		Data:           map[string]string{"survey": "s1", "key": key},
		IdempotencyKey: key,
		Priority:       channel.PriorityHigh,
	}
}

func uniqueKey(t *testing.T, suffix string) string {
	return strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + "-" + suffix
}

func testValidate(t *testing.T, h Harness) {
	s := newSender(t, h)
	ctx := t.Context()
	_, err := s.Send(ctx, nil)
	require.Error(t, err, "Send(nil) must fail")
	require.Equal(t, channel.Permanent, channel.Code(err), "Send(nil): code of %v", err)
	m := newMessage(t, "", uniqueKey(t, "empty"))
	_, err = s.Send(ctx, m)
	require.Error(t, err, "Send with an empty address must fail")
	require.Equal(t, channel.Permanent, channel.Code(err), "Send with an empty address: code of %v", err)
}

func testSuccess(t *testing.T, h Harness) {
	caps := h.Capabilities()
	s := newSender(t, h)
	to := h.Address(t, None)
	require.NotEmpty(t, to, "Harness.Address(None)")
	require.NotEqual(t, to, h.Address(t, None), "Harness.Address must return a new address on every call")
	m := newMessage(t, to, uniqueKey(t, "1"))
	orig := *m
	origData := maps.Clone(m.Data)
	before := time.Now()
	rc, err := s.Send(t.Context(), m)
	require.NoError(t, err, "Send to a working address")
	require.Equal(t, origData, m.Data, "Send must not modify Message.Data")
	require.Equal(t, orig, *m, "Send must not modify the message")
	require.False(t, rc.At.IsZero(), "Receipt.At is zero")
	require.False(t, rc.At.Before(before.Add(-24*time.Hour)), "Receipt.At %v is far in the past", rc.At)
	if !caps.NoProviderID {
		require.NotEmpty(t, rc.ProviderID, "Receipt.ProviderID is empty (set Capabilities.NoProviderID if the provider returns none)")
	}
	got := receivedFor(t, h, to)
	require.Len(t, got, 1, "the fake must have received the message exactly once")
	require.Contains(t, normText(got[0].Text), normText(m.Text), "text")
}

func testJapanese(t *testing.T, h Harness) {
	caps := h.Capabilities()
	s := newSender(t, h)
	to := h.Address(t, None)
	m := &channel.Message{To: to, Subject: jaSubject, Text: jaText, URL: "https://anpi.example.jp/a/TOKEN", IdempotencyKey: uniqueKey(t, "ja")}
	_, err := s.Send(t.Context(), m)
	require.NoError(t, err, "Send of a Japanese message")
	got := receivedFor(t, h, to)
	require.Len(t, got, 1, "the fake must have received the message exactly once")
	if caps.Subject {
		require.Equal(t, jaSubject, got[0].Subject, "the Japanese subject must arrive intact")
	}
	require.Contains(t, normText(got[0].Text), normText(jaText), "the Japanese text must arrive intact")
}

func testIdempotency(t *testing.T, h Harness) {
	caps := h.Capabilities()
	if !caps.IdempotencyKey {
		t.Skip("the provider receives no idempotency key")
	}
	s := newSender(t, h)
	ctx := t.Context()
	to := h.Address(t, None)
	k1, k2 := uniqueKey(t, "a"), uniqueKey(t, "b")
	m1 := newMessage(t, to, k1)
	_, err := s.Send(ctx, m1)
	require.NoError(t, err, "first send")
	retry := newMessage(t, to, k1)
	_, err = s.Send(ctx, retry)
	require.NoError(t, err, "a retry with the same idempotency key must succeed")
	_, err = s.Send(ctx, newMessage(t, to, k2))
	require.NoError(t, err, "send with another key")
	got := receivedFor(t, h, to)
	want := 3
	if caps.Deduplicates {
		want = 2
	}
	require.Len(t, got, want, "messages the fake recorded (Deduplicates=%v)", caps.Deduplicates)
	require.NotEmpty(t, got[0].IdempotencyKey, "the idempotency key must reach the provider")
	require.NotEqual(t, got[0].IdempotencyKey, got[len(got)-1].IdempotencyKey, "different keys must reach the provider differently")
	if !caps.Deduplicates {
		require.Equal(t, got[0].IdempotencyKey, got[1].IdempotencyKey, "a retry must carry the same key to the provider")
	}
}

func checkFaultErr(t *testing.T, h Harness, f Fault, err error, what string) {
	t.Helper()
	require.Error(t, err, "%s: fault %v must fail", what, f)
	require.Equal(t, f.Code(), channel.Code(err), "%s: fault %v: code of %q", what, f, err)
	if f == RateLimited && h.Capabilities().RetryAfter {
		d, ok := channel.RetryAfter(err)
		require.True(t, ok, "%s: fault RateLimited: channel.RetryAfter must report the provider's wait (error %q)", what, err)
		require.Positive(t, d, "%s: RetryAfter", what)
	}
	var ce *channel.Error
	require.True(t, errors.As(err, &ce), "%s: the error must be a *channel.Error", what)
	require.NotEmpty(t, err.Error(), "%s: error message", what)
}

func testAddressFault(t *testing.T, h Harness, f Fault) {
	s := newSender(t, h)
	to := h.Address(t, f)
	_, err := s.Send(t.Context(), newMessage(t, to, uniqueKey(t, "1")))
	checkFaultErr(t, h, f, err, "Send")
	require.Empty(t, receivedFor(t, h, to), "a failed message must not be recorded as received")
}

func testSenderFault(t *testing.T, h Harness, fs FaultySenders, f Fault) {
	s := fs.NewFaultySender(t, f)
	require.NotNil(t, s, "NewFaultySender returned nil")
	t.Cleanup(func() { _ = channel.Close(s) })
	to := h.Address(t, None)
	_, err := s.Send(t.Context(), newMessage(t, to, uniqueKey(t, "1")))
	checkFaultErr(t, h, f, err, "Send")
	require.Empty(t, receivedFor(t, h, to), "a failed message must not be recorded as received")
}

func testCancelled(t *testing.T, h Harness) {
	s := newSender(t, h)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	to := h.Address(t, None)
	_, err := s.Send(ctx, newMessage(t, to, uniqueKey(t, "1")))
	require.Error(t, err, "Send with a cancelled context must fail")
	require.Equal(t, channel.Temporary, channel.Code(err), "Send with a cancelled context: code of %q", err)
	require.Empty(t, receivedFor(t, h, to), "Send with a cancelled context must not deliver")
}

func testHang(t *testing.T, h Harness) {
	caps := h.Capabilities()
	var s channel.Sender
	var to string
	switch {
	case has(caps.AddressFaults, Hang):
		s = newSender(t, h)
		to = h.Address(t, Hang)
	case has(caps.SenderFaults, Hang):
		fs, ok := h.(FaultySenders)
		require.True(t, ok, "Capabilities.SenderFaults has Hang but the harness does not implement FaultySenders")
		s = fs.NewFaultySender(t, Hang)
		t.Cleanup(func() { _ = channel.Close(s) })
		to = h.Address(t, None)
	default:
		t.Skip("the harness cannot make the provider hang")
	}
	ctx, cancel := context.WithTimeout(t.Context(), HangTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Send(ctx, newMessage(t, to, uniqueKey(t, "1")))
		done <- err
	}()
	select {
	case err := <-done:
		require.Error(t, err, "Send to a provider that never answers must fail")
		require.Equal(t, channel.Temporary, channel.Code(err), "Send past its deadline: code of %q", err)
	case <-time.After(HangTimeout + HangGrace):
		t.Fatalf("Send did not return %v after its context was done", HangGrace)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	const n = 24
	s := newSender(t, h)
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = h.Address(t, None)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Send(t.Context(), newMessage(t, addrs[i], uniqueKey(t, fmt.Sprint(i))))
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "concurrent send %d", i)
	}
	for i, to := range addrs {
		got := receivedFor(t, h, to)
		require.Len(t, got, 1, "concurrent send %d: received", i)
		require.Contains(t, normText(got[0].Text), uniqueKey(t, fmt.Sprint(i)), "concurrent send %d: text mixed up", i)
	}
}

func testBatch(t *testing.T, h Harness) {
	caps := h.Capabilities()
	s := newSender(t, h)
	bs, ok := s.(channel.BatchSender)
	if !ok {
		t.Skip("the sender is not a BatchSender")
	}
	ctx := t.Context()
	res, err := bs.SendBatch(ctx, nil)
	require.NoError(t, err, "SendBatch of no messages")
	require.Empty(t, res, "SendBatch of no messages")

	// Identical content to several recipients (a multicast), one message
	// of its own, and, where the harness can, a bad address in the middle.
	var ms []*channel.Message
	same := "全員に同じ本文 " + uniqueKey(t, "same")
	for i := range 5 {
		m := newMessage(t, h.Address(t, None), uniqueKey(t, fmt.Sprint("m", i)))
		m.Subject, m.Text = "一斉送信", same
		ms = append(ms, m)
	}
	bad := -1
	if has(caps.AddressFaults, InvalidAddress) {
		bad = 2
		m := newMessage(t, h.Address(t, InvalidAddress), uniqueKey(t, "bad"))
		m.Subject, m.Text = "一斉送信", same
		ms = append(ms[:bad], append([]*channel.Message{m}, ms[bad:]...)...)
	}
	ms = append(ms, newMessage(t, h.Address(t, None), uniqueKey(t, "own")))

	res, err = bs.SendBatch(ctx, ms)
	require.NoError(t, err, "SendBatch")
	require.Len(t, res, len(ms), "SendBatch must return one result per message")
	for i, r := range res {
		if i == bad {
			require.Error(t, r.Err, "batch message %d (invalid address)", i)
			require.Equal(t, channel.Permanent, channel.Code(r.Err), "batch message %d (invalid address): code of %q", i, r.Err)
			require.Empty(t, receivedFor(t, h, ms[i].To), "batch message %d (invalid address) must not be received", i)
			continue
		}
		require.NoError(t, r.Err, "batch message %d", i)
		require.False(t, r.Receipt.At.IsZero(), "batch message %d: Receipt.At is zero", i)
		got := receivedFor(t, h, ms[i].To)
		require.Len(t, got, 1, "batch message %d: received", i)
		require.Contains(t, normText(got[0].Text), normText(ms[i].Text), "batch message %d: text", i)
		if caps.Subject {
			require.Equal(t, ms[i].Subject, got[0].Subject, "batch message %d: subject", i)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	to := h.Address(t, None)
	res, err = bs.SendBatch(cctx, []*channel.Message{newMessage(t, to, uniqueKey(t, "cancelled"))})
	if err != nil {
		require.Equal(t, channel.Temporary, channel.Code(err), "SendBatch with a cancelled context: code of %q", err)
	} else {
		require.Len(t, res, 1, "SendBatch must return one result per message")
		require.Error(t, res[0].Err, "SendBatch with a cancelled context must fail")
		require.Equal(t, channel.Temporary, channel.Code(res[0].Err), "SendBatch with a cancelled context: code of %q", res[0].Err)
	}
	require.Empty(t, receivedFor(t, h, to), "SendBatch with a cancelled context must not deliver")
}
