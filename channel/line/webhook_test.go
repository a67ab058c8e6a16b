package line_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel/line"
	fake "github.com/anpikit/anpi/internal/fake/line"
)

const secret = "channel-secret"

// recorder is an Events that records calls.
type recorder struct {
	line.NopEvents
	mu       sync.Mutex
	calls    []string
	failText bool
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) Followed(_ context.Context, u string) (string, error) {
	r.add("follow " + u)
	return "友だち追加ありがとうございます。", nil
}

func (r *recorder) Unfollowed(_ context.Context, u string) error {
	r.add("unfollow " + u)
	return nil
}

func (r *recorder) Linked(_ context.Context, user, u string) error {
	r.add("linked " + user + " " + u)
	return nil
}

func (r *recorder) Text(_ context.Context, u, text string) (string, error) {
	if r.failText {
		return "", errors.New("database down")
	}
	r.add("text " + u + " " + text)
	return "回答はこちらのリンクから: https://anpi.example.jp/a/T", nil
}

func (r *recorder) Postback(_ context.Context, u, data string) (string, error) {
	r.add("postback " + u + " " + data)
	return "", nil
}

type webhookEnv struct {
	h      *harness
	ev     *recorder
	wh     *line.Webhook
	nonces *line.MemoryNonces
	now    time.Time
}

func newWebhookEnv(t *testing.T) *webhookEnv {
	e := &webhookEnv{h: newHarness(t, nil), ev: &recorder{}, now: time.Date(2026, 1, 17, 5, 46, 0, 0, time.UTC)}
	e.nonces = line.NewMemoryNonces(func() time.Time { return e.now })
	wh, err := line.NewWebhook(line.WebhookConfig{ChannelSecret: secret, Events: e.ev, Replier: e.h.sender(t), Nonces: e.nonces})
	require.NoError(t, err)
	e.wh = wh
	return e
}

func (e *webhookEnv) post(t *testing.T, body string, sign bool) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/line/webhook", strings.NewReader(body))
	if sign {
		r.Header.Set("X-Line-Signature", fake.Signature(secret, []byte(body)))
	}
	w := httptest.NewRecorder()
	e.wh.ServeHTTP(w, r)
	return w.Code
}

func events(evs ...string) string {
	return `{"destination":"Uxxxxxxxx","events":[` + strings.Join(evs, ",") + `]}`
}

func ev(typ, user, extra string) string {
	return fmt.Sprintf(`{"type":%q,"mode":"active","timestamp":1768628760000,"webhookEventId":"01H%s","replyToken":"rt-%s","source":{"type":"user","userId":%q}%s}`,
		typ, typ, typ, user, extra)
}

func TestWebhookEvents(t *testing.T) {
	e := newWebhookEnv(t)
	u := userID(1)
	code := e.post(t, events(
		ev("follow", u, ""),
		ev("message", u, `,"message":{"type":"text","id":"1","text":"無事です"}`),
		ev("message", u, `,"message":{"type":"sticker","id":"2","packageId":"1","stickerId":"1"}`),
		ev("postback", u, `,"postback":{"data":"answer=safe"}`),
		`{"type":"message","source":{"type":"group","groupId":"C1","userId":"`+u+`"},"message":{"type":"text","text":"group chatter"}}`,
		ev("beacon", u, ""),
		ev("unfollow", u, ""),
	), true)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"follow " + u, "text " + u + " 無事です", "postback " + u + " answer=safe", "unfollow " + u}, e.ev.calls)
	var replies []string
	for _, m := range e.h.srv.Messages() {
		require.Equal(t, "reply", m.Endpoint)
		replies = append(replies, m.To+" "+m.Texts[0])
	}
	require.Equal(t, []string{"rt-follow 友だち追加ありがとうございます。", "rt-message 回答はこちらのリンクから: https://anpi.example.jp/a/T"}, replies)
}

func TestWebhookRejects(t *testing.T) {
	e := newWebhookEnv(t)
	body := events(ev("follow", userID(1), ""))
	require.Equal(t, http.StatusBadRequest, e.post(t, body, false), "unsigned")
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("X-Line-Signature", fake.Signature("other-secret", []byte(body)))
	w := httptest.NewRecorder()
	e.wh.ServeHTTP(w, r)
	require.Equal(t, http.StatusBadRequest, w.Code, "signed with another secret")
	require.Equal(t, http.StatusBadRequest, e.post(t, `{"events":[{]}`, true), "not JSON")
	require.Equal(t, http.StatusBadRequest, e.post(t, `{"events":{}}`, true), "events not an array")
	w = httptest.NewRecorder()
	e.wh.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	big := `{"events":[],"pad":"` + string(bytes.Repeat([]byte("x"), 1<<20)) + `"}`
	require.Equal(t, http.StatusRequestEntityTooLarge, e.post(t, big, true))
	require.Empty(t, e.ev.calls)

	e.ev.failText = true
	require.Equal(t, http.StatusInternalServerError, e.post(t, events(ev("message", userID(1), `,"message":{"type":"text","text":"x"}`)), true),
		"a failed event asks LINE to redeliver")

	_, err := line.NewWebhook(line.WebhookConfig{Events: e.ev})
	require.Error(t, err)
	_, err = line.NewWebhook(line.WebhookConfig{ChannelSecret: secret})
	require.Error(t, err)
}

func TestAccountLinking(t *testing.T) {
	e := newWebhookEnv(t)
	ctx := t.Context()
	u := userID(42)
	s := e.h.sender(t)
	linker, err := line.NewLinker(e.nonces, &line.LinkerOptions{Now: func() time.Time { return e.now }})
	require.NoError(t, err)

	// 1. LINE user asks to link: issue a link token for them.
	tok, err := s.IssueLinkToken(ctx, u)
	require.NoError(t, err)
	// 2. Our user "emp-0042" logs in on our page: begin, redirect to LINE.
	to, err := linker.Begin(ctx, "emp-0042", tok)
	require.NoError(t, err)
	loc, err := url.Parse(to)
	require.NoError(t, err)
	require.Equal(t, "https://access.line.me/dialog/bot/accountLink", loc.Scheme+"://"+loc.Host+loc.Path)
	require.Equal(t, tok, loc.Query().Get("linkToken"))
	nonce := loc.Query().Get("nonce")
	require.GreaterOrEqual(t, len(nonce), 24)
	// 3. LINE posts the accountLink event with the nonce.
	link := func(result, nonce string) string {
		return events(ev("accountLink", u, fmt.Sprintf(`,"link":{"result":%q,"nonce":%q}`, result, nonce)))
	}
	require.Equal(t, http.StatusOK, e.post(t, link("failed", nonce), true))
	require.Empty(t, e.ev.calls, "a failed link changes nothing")
	require.Equal(t, http.StatusOK, e.post(t, link("ok", nonce), true))
	require.Equal(t, []string{"linked emp-0042 " + u}, e.ev.calls)
	require.Equal(t, http.StatusOK, e.post(t, link("ok", nonce), true))
	require.Len(t, e.ev.calls, 1, "a nonce is good once")

	// An expired nonce links nobody.
	to, err = linker.Begin(ctx, "emp-0043", tok)
	require.NoError(t, err)
	loc, _ = url.Parse(to)
	e.now = e.now.Add(11 * time.Minute)
	require.Equal(t, http.StatusOK, e.post(t, link("ok", loc.Query().Get("nonce")), true))
	require.Len(t, e.ev.calls, 1)

	_, err = linker.Begin(ctx, "", tok)
	require.Error(t, err)
	_, err = line.NewLinker(nil, nil)
	require.Error(t, err)
}

func FuzzWebhook(f *testing.F) {
	f.Add([]byte(events(ev("follow", userID(1), ""))))
	f.Add([]byte(events(ev("accountLink", userID(1), `,"link":{"result":"ok","nonce":"n"}`))))
	f.Add([]byte(`{"events":[{"type":"message","message":{"type":"text","text":null}}]}`))
	wh, err := line.NewWebhook(line.WebhookConfig{ChannelSecret: secret, Events: line.NopEvents{}, Nonces: line.NewMemoryNonces(nil)})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("X-Line-Signature", fake.Signature(secret, body))
		w := httptest.NewRecorder()
		wh.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d", w.Code)
		}
	})
}
