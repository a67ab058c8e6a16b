package channel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel"
)

type providerErr struct{ status int }

func (e *providerErr) Error() string { return fmt.Sprintf("unexpected status code: %d", e.status) }

func TestCode(t *testing.T) {
	perr := &providerErr{status: 400}
	tests := []struct {
		name string
		err  error
		want channel.ErrorCode
	}{
		{"nil", nil, channel.OK},
		{"plain", errors.New("boom"), channel.Unknown},
		{"canceled", context.Canceled, channel.Temporary},
		{"deadline wrapped", fmt.Errorf("post: %w", context.DeadlineExceeded), channel.Temporary},
		{"errorf", channel.Errorf(channel.Permanent, "line: push %q: %w", "k", perr), channel.Permanent},
		{"new error", channel.NewError(channel.Misconfigured, perr, "line: push"), channel.Misconfigured},
		{"wrapped twice", fmt.Errorf("dispatch: %w", channel.Errorf(channel.Unregistered, "gone")), channel.Unregistered},
		{"classified ctx", channel.NewError(channel.Permanent, context.Canceled, "x"), channel.Permanent},
		{"retry-after on unknown", channel.WithRetryAfter(errors.New("429"), time.Second), channel.RateLimited},
		{"retry-after keeps code", channel.WithRetryAfter(channel.Errorf(channel.Temporary, "503"), time.Second), channel.Temporary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, channel.Code(tt.err))
		})
	}
}

func TestProviderErrorReachable(t *testing.T) {
	perr := &providerErr{status: 429}
	err := fmt.Errorf("dispatch: %w", channel.WithRetryAfter(channel.NewError(channel.RateLimited, perr, "line: push \"k\""), 7*time.Second))
	var got *providerErr
	require.True(t, errors.As(err, &got))
	require.Equal(t, 429, got.status)
	d, ok := channel.RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, 7*time.Second, d)
	require.Equal(t, "dispatch: line: push \"k\": unexpected status code: 429", err.Error())

	_, ok = channel.RetryAfter(channel.Errorf(channel.RateLimited, "no header"))
	require.False(t, ok)
	_, ok = channel.RetryAfter(errors.New("plain"))
	require.False(t, ok)
	_, ok = channel.RetryAfter(nil)
	require.False(t, ok)
	// The wait is found below an outer classification too.
	outer := channel.NewError(channel.Temporary, channel.WithRetryAfter(errors.New("429"), time.Minute), "batch")
	d, ok = channel.RetryAfter(outer)
	require.True(t, ok)
	require.Equal(t, time.Minute, d)

	require.NoError(t, channel.WithRetryAfter(nil, time.Second))
	plain := errors.New("x")
	require.Equal(t, plain, channel.WithRetryAfter(plain, 0))
}

func TestErrorMessages(t *testing.T) {
	require.Equal(t, "email: send \"k\"", channel.NewError(channel.Permanent, nil, "email: send \"k\"").Error())
	require.Equal(t, "boom", channel.NewError(channel.Permanent, errors.New("boom"), "").Error())
	require.Equal(t, "channel: Temporary", (&channel.Error{Code: channel.Temporary}).Error())
	require.Equal(t, "Misconfigured", channel.Misconfigured.String())
	require.Equal(t, "ErrorCode(99)", channel.ErrorCode(99).String())
	require.True(t, channel.Temporary.Retryable())
	require.True(t, channel.RateLimited.Retryable())
	require.False(t, channel.Permanent.Retryable())
	require.False(t, channel.Unregistered.Retryable())
	require.False(t, channel.Misconfigured.Retryable())
}

func TestKind(t *testing.T) {
	for _, k := range []channel.Kind{channel.Email, channel.FCM, channel.APNs, channel.LINE, channel.SMS, channel.Voice} {
		require.True(t, k.Valid(), k)
	}
	require.False(t, channel.Kind("fax").Valid())
	// The values are anpi.Channel's strings.
	require.Equal(t, "email fcm apns line sms voice\n", fmt.Sprintln(channel.Email, channel.FCM, channel.APNs, channel.LINE, channel.SMS, channel.Voice))
	require.Equal(t, "high", channel.PriorityHigh.String())
	require.Equal(t, "normal", channel.PriorityNormal.String())
}

func TestValidate(t *testing.T) {
	var nilMsg *channel.Message
	for _, m := range []*channel.Message{nilMsg, {Text: "x"}, {To: "a@example.jp"}} {
		err := m.Validate()
		require.Equal(t, channel.Permanent, channel.Code(err), "%+v", m)
	}
	require.NoError(t, (&channel.Message{To: "a", Subject: "s"}).Validate())
}

// oneByOne is a Sender only; batch is a BatchSender too.
type oneByOne struct{ sent []string }

func (s *oneByOne) Kind() channel.Kind { return channel.SMS }
func (s *oneByOne) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	if err := m.Validate(); err != nil {
		return channel.Receipt{}, err
	}
	s.sent = append(s.sent, m.To)
	return channel.Receipt{ProviderID: m.To}, nil
}

type batch struct {
	oneByOne
	res []channel.Result
	err error
}

func (b *batch) SendBatch(ctx context.Context, ms []*channel.Message) ([]channel.Result, error) {
	return b.res, b.err
}

type closer struct {
	oneByOne
	closed bool
}

func (c *closer) Close() error { c.closed = true; return nil }

var _ io.Closer = (*closer)(nil)

func TestSendAll(t *testing.T) {
	ctx := t.Context()
	ms := []*channel.Message{{To: "a", Text: "x"}, {Text: "no address"}, {To: "c", Text: "x"}}
	require.Empty(t, channel.SendAll(ctx, &oneByOne{}, nil))

	s := &oneByOne{}
	res := channel.SendAll(ctx, s, ms)
	require.Len(t, res, 3)
	require.Equal(t, "a", res[0].Receipt.ProviderID)
	require.Equal(t, channel.Permanent, channel.Code(res[1].Err))
	require.Equal(t, []string{"a", "c"}, s.sent)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s = &oneByOne{}
	for _, r := range channel.SendAll(cctx, s, ms) {
		require.Equal(t, channel.Temporary, channel.Code(r.Err))
	}
	require.Empty(t, s.sent)

	b := &batch{res: []channel.Result{{Receipt: channel.Receipt{ProviderID: "1"}}, {Err: channel.Errorf(channel.Permanent, "bad")}, {}}}
	res = channel.SendAll(ctx, b, ms)
	require.Equal(t, b.res, res)
	require.Empty(t, b.sent, "a BatchSender is used as one")

	b = &batch{err: channel.Errorf(channel.Misconfigured, "401")}
	for _, r := range channel.SendAll(ctx, b, ms) {
		require.Equal(t, channel.Misconfigured, channel.Code(r.Err))
	}
	b = &batch{res: []channel.Result{{}}}
	for _, r := range channel.SendAll(ctx, b, ms) {
		require.Equal(t, channel.Temporary, channel.Code(r.Err), "a short result slice is an error")
	}
}

func TestClose(t *testing.T) {
	require.NoError(t, channel.Close(&oneByOne{}))
	c := &closer{}
	require.NoError(t, channel.Close(c))
	require.True(t, c.closed)
}
