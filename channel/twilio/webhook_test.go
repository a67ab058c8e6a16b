package twilio_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel/twilio"
	fake "github.com/anpikit/anpi/internal/fake/twilio"
)

const public = "https://anpi.example.jp"

type recorder struct {
	mu  sync.Mutex
	evs []twilio.Event
	err error
}

func (r *recorder) Receive(_ context.Context, ev twilio.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
	return r.err
}

func newHandler(t *testing.T, rec *recorder) *twilio.Handler {
	t.Helper()
	h, err := twilio.NewHandler(twilio.HandlerConfig{AuthToken: authToken, PublicURL: public, Receiver: rec})
	require.NoError(t, err)
	return h
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerEvents(t *testing.T) {
	rec := &recorder{}
	h := newHandler(t, rec)
	path := public + "/twilio/callback?survey=s1"
	for _, tc := range []struct {
		name   string
		params url.Values
		want   twilio.Event
		twiml  string
	}{
		{"message status", url.Values{"MessageSid": {"SM1"}, "SmsSid": {"SM1"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {accountSID}, "To": {"+819012345678"}, "From": {from}},
			twilio.Event{Type: twilio.MessageStatus, MessageSID: "SM1", Status: "undelivered", ErrorCode: "30003", AccountSID: accountSID, To: "+819012345678", From: from}, "<Response></Response>"},
		{"call status", url.Values{"CallSid": {"CA1"}, "CallStatus": {"no-answer"}, "To": {"+819012345678"}},
			twilio.Event{Type: twilio.CallStatus, CallSID: "CA1", Status: "no-answer", To: "+819012345678"}, "<Response></Response>"},
		{"gather", url.Values{"CallSid": {"CA2"}, "CallStatus": {"in-progress"}, "Digits": {"2"}},
			twilio.Event{Type: twilio.Gather, CallSID: "CA2", Status: "in-progress", Digits: "2", Choice: "minor", Answered: true}, "回答を受け付けました"},
		{"gather wrong key", url.Values{"CallSid": {"CA3"}, "Digits": {"#"}},
			twilio.Event{Type: twilio.Gather, CallSID: "CA3", Digits: "#"}, "入力が確認できませんでした"},
		{"reply", url.Values{"MessageSid": {"SM2"}, "Body": {"１"}, "From": {"+819012345678"}, "SmsStatus": {"received"}},
			twilio.Event{Type: twilio.InboundSMS, MessageSID: "SM2", Body: "１", From: "+819012345678", Choice: "safe", Answered: true}, "<Response></Response>"},
		{"reply text", url.Values{"MessageSid": {"SM3"}, "Body": {"無事です"}},
			twilio.Event{Type: twilio.InboundSMS, MessageSID: "SM3", Body: "無事です"}, "<Response></Response>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.evs = nil
			w := serve(h, fake.Callback(authToken, path, tc.params))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			require.Contains(t, w.Body.String(), tc.twiml)
			require.Equal(t, "text/xml; charset=utf-8", w.Header().Get("Content-Type"))
			require.Len(t, rec.evs, 1)
			got := rec.evs[0]
			require.Equal(t, tc.params, got.Params)
			got.Params = nil
			require.Equal(t, tc.want, got)
		})
	}
}

func TestHandlerRejects(t *testing.T) {
	rec := &recorder{}
	h := newHandler(t, rec)
	params := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}
	path := public + "/twilio/callback"

	forged := fake.Callback("another-token", path, params)
	require.Equal(t, http.StatusForbidden, serve(h, forged).Code)

	unsigned := fake.Callback(authToken, path, params)
	unsigned.Header.Del("X-Twilio-Signature")
	require.Equal(t, http.StatusForbidden, serve(h, unsigned).Code)

	// Signed for another URL (a replay to another endpoint).
	other := fake.Callback(authToken, public+"/other", params)
	other.URL.Path = "/twilio/callback"
	require.Equal(t, http.StatusForbidden, serve(h, other).Code)

	// A parameter changed after signing.
	tampered := fake.Callback(authToken, path, params)
	tampered.Body = http.NoBody
	body := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"failed"}}.Encode()
	tampered = httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	tampered.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tampered.Header.Set("X-Twilio-Signature", fake.Signature(authToken, path, params))
	require.Equal(t, http.StatusForbidden, serve(h, tampered).Code)

	get := httptest.NewRequest(http.MethodGet, path, nil)
	require.Equal(t, http.StatusMethodNotAllowed, serve(h, get).Code)

	big := fake.Callback(authToken, path, url.Values{"Body": {strings.Repeat("x", 70<<10)}, "MessageSid": {"SM"}})
	require.Equal(t, http.StatusRequestEntityTooLarge, serve(h, big).Code)

	unknown := fake.Callback(authToken, path, url.Values{"Foo": {"bar"}})
	require.Equal(t, http.StatusBadRequest, serve(h, unknown).Code)
	require.Empty(t, rec.evs)

	rec.err = errors.New("store down")
	w := serve(h, fake.Callback(authToken, path, params))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.NotContains(t, w.Body.String(), "store down")
}

func TestHandlerConfig(t *testing.T) {
	rec := &recorder{}
	for _, tc := range []struct {
		cfg  twilio.HandlerConfig
		want string
	}{
		{twilio.HandlerConfig{PublicURL: public, Receiver: rec}, "AuthToken is empty"},
		{twilio.HandlerConfig{AuthToken: authToken, PublicURL: public}, "Receiver is nil"},
		{twilio.HandlerConfig{AuthToken: authToken, Receiver: rec}, "PublicURL"},
		{twilio.HandlerConfig{AuthToken: authToken, Receiver: rec, PublicURL: "anpi.example.jp"}, "PublicURL"},
		{twilio.HandlerConfig{AuthToken: authToken, Receiver: rec, PublicURL: public, Choices: twilio.Choices{}}, "Choices"},
	} {
		_, err := twilio.NewHandler(tc.cfg)
		require.ErrorContains(t, err, tc.want)
		require.Regexp(t, `^twilio: handler config: `, err.Error())
	}
	// A PublicURL with a path prefix (a proxy that strips it) and a slash.
	h, err := twilio.NewHandler(twilio.HandlerConfig{AuthToken: authToken, Receiver: rec, PublicURL: public + "/anpi/"})
	require.NoError(t, err)
	r := fake.Callback(authToken, public+"/anpi/twilio/callback", url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"sent"}})
	r.URL.Path = "/twilio/callback"
	r.RequestURI = ""
	require.Equal(t, http.StatusOK, serve(h, r).Code)
}
