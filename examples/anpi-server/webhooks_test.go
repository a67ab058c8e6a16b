package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/channel/line"
	linefake "github.com/anpikit/anpi/internal/fake/line"
	twiliofake "github.com/anpikit/anpi/internal/fake/twilio"
)

// The credentials the fakes accept and the server is given.
const (
	hookLINEToken   = "line-channel-token"
	hookLINESecret  = "line-channel-secret"
	hookTwilioSID   = "AC0123456789abcdef0123456789abcdef"
	hookTwilioToken = "0123456789abcdef0123456789abcdef"
	hookTwilioFrom  = "+815012345678"
	// hookBaseURL is the public URL Twilio signs its callbacks for; the
	// tests reach the server on 127.0.0.1, as a reverse proxy would.
	hookBaseURL = "https://anpi.example.jp"
)

// webhookServer starts the fakes and a server sending to them, with the
// webhooks on, plus extra flags.
func webhookServer(t *testing.T, extra ...string) (*running, *linefake.Server, *twiliofake.Server) {
	t.Helper()
	lf := linefake.Start(&linefake.Options{ChannelToken: hookLINEToken, Unlimited: true})
	t.Cleanup(lf.Close)
	tf := twiliofake.Start(&twiliofake.Options{AccountSID: hookTwilioSID, AuthToken: hookTwilioToken, Unlimited: true})
	t.Cleanup(tf.Close)
	args := append([]string{"-base-url", hookBaseURL,
		"-line-token", hookLINEToken, "-line-secret", hookLINESecret, "-line-api", lf.URL(),
		"-twilio-sid", hookTwilioSID, "-twilio-token", hookTwilioToken, "-twilio-from", hookTwilioFrom, "-twilio-api", tf.URL()},
		extra...)
	return start(t, t.TempDir(), args...), lf, tf
}

// usersIn350 returns the demo users registered in 東京都２３区 (quake area
// 350), where /dev/quake reports.
func usersIn350(t *testing.T, s *server) []anpi.UserID {
	t.Helper()
	users, err := s.st.ListUsers(context.Background(), nil)
	require.NoError(t, err)
	var out []anpi.UserID
	for _, u := range users {
		if slices.Contains(u.Regions, anpi.Region{Kind: anpi.QuakeArea, Code: "350"}) {
			out = append(out, u.ID)
		}
	}
	require.GreaterOrEqual(t, len(out), 3)
	return out
}

// phoneOnly replaces the contacts of user by one private phone number, so
// that the survey reaches him by SMS (or call).
func phoneOnly(t *testing.T, s *server, user anpi.UserID, number string) {
	t.Helper()
	ctx := context.Background()
	cs, err := s.st.Contacts(ctx, user)
	require.NoError(t, err)
	for _, c := range cs {
		require.NoError(t, s.st.DeleteContact(ctx, c.ID))
	}
	require.NoError(t, s.st.PutContact(ctx, &anpi.Contact{ID: anpi.ContactID("ct-test-phone-" + string(user)), UserID: user,
		Kind: anpi.PhoneContact, Scope: anpi.PrivateScope, Address: number, CreatedAt: time.Now()}))
}

// quake reports 震度5強 in area 350 through /dev/quake and returns the
// survey it opened.
func quake(t *testing.T, s *server) anpi.SurveyID {
	t.Helper()
	resp, err := http.PostForm(s.URL()+"/dev/quake", url.Values{"area": {"350"}, "intensity": {"5+"}, "status": {"通常"}})
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	svs, err := s.st.ListSurveys(context.Background(), &anpi.SurveyQuery{Status: anpi.Open})
	require.NoError(t, err)
	var out []anpi.SurveyID
	for _, sv := range svs {
		if sv.Kind == anpi.AutoSurvey {
			out = append(out, sv.ID)
		}
	}
	require.Len(t, out, 1)
	return out[0]
}

// waitFor waits until cond holds: the dispatcher records a send just after
// the provider answers, so it is polled.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// sentTo waits until user's delivery in survey is recorded as sent on ch
// and returns it.
func sentTo(t *testing.T, s *server, survey anpi.SurveyID, user anpi.UserID, ch anpi.Channel) *anpi.Delivery {
	t.Helper()
	var got *anpi.Delivery
	waitFor(t, fmt.Sprintf("the %s delivery to %s", ch, user), func() bool {
		ds, err := s.st.Deliveries(context.Background(), survey)
		require.NoError(t, err)
		for _, d := range ds {
			if d.UserID == user && d.Channel == ch && d.State == anpi.Sent {
				got = d
				return true
			}
		}
		return false
	})
	return got
}

// postLINE posts a LINE webhook body signed with secret and returns the
// status.
func postLINE(t *testing.T, s *server, secret string, events ...map[string]any) int {
	t.Helper()
	body, err := json.Marshal(map[string]any{"destination": "Udeadbeef", "events": events})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.URL()+lineWebhookPath, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Line-Signature", linefake.Signature(secret, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// lineEvent is one webhook event of the LINE user lineUser.
func lineEvent(typ, id, lineUser string, fields map[string]any) map[string]any {
	ev := map[string]any{"type": typ, "webhookEventId": id, "replyToken": "reply-" + id, "mode": "active",
		"timestamp": time.Now().UnixMilli(), "source": map[string]any{"type": "user", "userId": lineUser},
		"deliveryContext": map[string]any{"isRedelivery": false}}
	for k, v := range fields {
		ev[k] = v
	}
	return ev
}

// postTwilio posts a callback form to path, signed with token for the
// public URL, and returns the status and the TwiML answered.
func postTwilio(t *testing.T, s *server, path, token string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliofake.Signature(token, hookBaseURL+path, form))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// smsReply is the form of an inbound SMS from a number.
func smsReply(sid, from, body string) url.Values {
	return url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {hookTwilioSID}, "From": {from}, "To": {hookTwilioFrom},
		"Body": {body}, "NumMedia": {"0"}}
}

// tallyOf reads survey's tally from the store.
func tallyOf(t *testing.T, s *server, survey anpi.SurveyID) *anpi.Tally {
	t.Helper()
	tl, err := s.st.Tally(context.Background(), survey)
	require.NoError(t, err)
	return tl
}

// answerOf returns user's answer to the 本人 question and its path, or
// "" when he has not answered.
func answerOf(t *testing.T, s *server, survey anpi.SurveyID, user anpi.UserID) (string, anpi.ResponseChannel) {
	t.Helper()
	r, err := s.st.GetResponse(context.Background(), survey, user)
	if anpi.Code(err) == anpi.NotFound {
		return "", ""
	}
	require.NoError(t, err)
	for _, a := range r.Answers {
		if a.QuestionID == anpi.QuestionSelf && len(a.Choices) == 1 {
			return a.Choices[0], r.Channel
		}
	}
	return "", r.Channel
}

// TestLINEAndSMSWebhooks links a demo user's LINE account through a signed
// accountLink event, reaches him on LINE and another user by SMS (both
// against the local fakes), and answers through the webhooks: a correctly
// signed postback and a signed SMS reply "1" record the answers and move
// the tally; a badly signed postback or SMS, a postback from a LINE user
// the survey did not reach, a postback that is no answer, and an SMS from
// an unknown number change nothing and are answered without an error
// (except the bad signatures: refused). /metrics counts it all.
func TestLINEAndSMSWebhooks(t *testing.T) {
	r, lf, tf := webhookServer(t)
	s := r.s
	ctx := context.Background()
	require.Equal(t, []anpi.Channel{anpi.LINEChannel, anpi.EmailChannel, anpi.SMSChannel}, s.channels)
	require.Contains(t, r.out.String(), "LINE webhook:     "+hookBaseURL+lineWebhookPath+"\n")
	require.Contains(t, r.out.String(), "Twilio callbacks: "+hookBaseURL+twilioSMSPath+"  "+hookBaseURL+twilioVoicePath+"\n")
	users := usersIn350(t, s)
	onLINE, bySMS := users[0], users[1]
	lineID := "U" + strings.Repeat("0123456789abcdef", 2)
	const phone = "+819011112222"

	// Account linking: the nonce the Linker put in the Service's store,
	// named by a signed accountLink event, links the LINE user.
	linker, err := line.NewLinker(s.svc.LINENonces(), nil)
	require.NoError(t, err)
	dialog, err := linker.Begin(ctx, string(onLINE), "link-token-1")
	require.NoError(t, err)
	du, err := url.Parse(dialog)
	require.NoError(t, err)
	nonce := du.Query().Get("nonce")
	require.NotEmpty(t, nonce)
	require.Equal(t, http.StatusBadRequest, postLINE(t, s, "not-the-secret",
		lineEvent("accountLink", "ev-link-forged", lineID, map[string]any{"link": map[string]any{"result": "ok", "nonce": nonce}})))
	require.Equal(t, http.StatusOK, postLINE(t, s, hookLINESecret,
		lineEvent("accountLink", "ev-link", lineID, map[string]any{"link": map[string]any{"result": "ok", "nonce": nonce}})))
	cs, err := s.st.Contacts(ctx, onLINE)
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(cs, func(c *anpi.Contact) bool { return c.Kind == anpi.LINEContact && c.Address == lineID }),
		"the accountLink event registered the LINE contact")

	phoneOnly(t, s, bySMS, phone)
	sv := quake(t, s)
	sentTo(t, s, sv, onLINE, anpi.LINEChannel)
	sentTo(t, s, sv, bySMS, anpi.SMSChannel)
	require.True(t, slices.ContainsFunc(lf.Messages(), func(m linefake.Message) bool { return m.Endpoint == "push" && m.To == lineID }))
	require.True(t, slices.ContainsFunc(tf.Requests(), func(q twiliofake.Request) bool { return q.Kind == "sms" && q.To == phone }))
	before := tallyOf(t, s, sv)

	// A badly signed postback: refused, nothing recorded.
	postback := func(id, from, data string) map[string]any {
		return lineEvent("postback", id, from, map[string]any{"postback": map[string]any{"data": data}})
	}
	answer := "survey=" + url.QueryEscape(string(sv)) + "&self=minor"
	require.Equal(t, http.StatusBadRequest, postLINE(t, s, "not-the-secret", postback("ev-forged", lineID, answer)))
	got, _ := answerOf(t, s, sv, onLINE)
	require.Empty(t, got)
	require.Equal(t, before.Answered, tallyOf(t, s, sv).Answered)

	// The signed postback: recorded, the tally moves, LINE replies.
	require.Equal(t, http.StatusOK, postLINE(t, s, hookLINESecret, postback("ev-answer", lineID, answer)))
	got, via := answerOf(t, s, sv, onLINE)
	require.Equal(t, "minor", got)
	require.Equal(t, anpi.ViaLINE, via)
	tl := tallyOf(t, s, sv)
	require.Equal(t, before.Answered+1, tl.Answered)
	require.Equal(t, before.Choices[anpi.QuestionSelf]["minor"]+1, tl.Choices[anpi.QuestionSelf]["minor"])
	require.True(t, slices.ContainsFunc(lf.Messages(), func(m linefake.Message) bool {
		return m.Endpoint == "reply" && m.To == "reply-ev-answer" && slices.Contains(m.Texts, lineReplyAnswered)
	}))

	// A second tap re-answers (from the cached index of the survey's LINE
	// recipients): the tally moves from 軽傷 to 無事.
	require.Equal(t, http.StatusOK, postLINE(t, s, hookLINESecret, postback("ev-reanswer", lineID, "survey="+url.QueryEscape(string(sv))+"&self=safe")))
	got, _ = answerOf(t, s, sv, onLINE)
	require.Equal(t, "safe", got)
	tl = tallyOf(t, s, sv)
	require.Equal(t, before.Answered+1, tl.Answered)
	require.Equal(t, before.Choices[anpi.QuestionSelf]["minor"], tl.Choices[anpi.QuestionSelf]["minor"])
	require.Equal(t, before.Choices[anpi.QuestionSelf]["safe"]+1, tl.Choices[anpi.QuestionSelf]["safe"])

	// Signed, but from a LINE user the survey did not reach, or no
	// answer: a polite reply, nothing recorded.
	stranger := "U" + strings.Repeat("fedcba9876543210", 2)
	for i, ev := range []map[string]any{
		postback("ev-stranger", stranger, "survey="+url.QueryEscape(string(sv))+"&self=safe"),
		postback("ev-other-survey", lineID, "survey=sv-nope&self=safe"),
		postback("ev-bad-choice", lineID, "survey="+url.QueryEscape(string(sv))+"&self=dancing"),
		postback("ev-garbage", lineID, "%zz;;"),
	} {
		require.Equal(t, http.StatusOK, postLINE(t, s, hookLINESecret, ev), i)
		require.True(t, slices.ContainsFunc(lf.Messages(), func(m linefake.Message) bool {
			return m.Endpoint == "reply" && m.To == "reply-"+ev["webhookEventId"].(string) && slices.Contains(m.Texts, lineReplyNotTaken)
		}), i)
	}
	got, _ = answerOf(t, s, sv, onLINE)
	require.Equal(t, "safe", got)
	require.Equal(t, tl.Answered, tallyOf(t, s, sv).Answered)

	// SMS: a bad signature is refused and records nothing.
	status, _ := postTwilio(t, s, twilioSMSPath, "not-the-token", smsReply("SM0000000000000000000000000000001", phone, "1"))
	require.Equal(t, http.StatusForbidden, status)
	got, _ = answerOf(t, s, sv, bySMS)
	require.Empty(t, got)

	// The signed reply "1" from his number records 無事.
	status, body := postTwilio(t, s, twilioSMSPath, hookTwilioToken, smsReply("SM0000000000000000000000000000002", phone, "1"))
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "<Response>")
	got, via = answerOf(t, s, sv, bySMS)
	require.Equal(t, "safe", got)
	require.Equal(t, anpi.ViaSMS, via)
	tl = tallyOf(t, s, sv)
	require.Equal(t, before.Answered+2, tl.Answered)

	// An unknown number, and text that is no answer: a polite empty
	// response, nothing recorded.
	for _, form := range []url.Values{
		smsReply("SM0000000000000000000000000000003", "+819099998888", "1"),
		smsReply("SM0000000000000000000000000000004", phone, "無事です"),
	} {
		status, body = postTwilio(t, s, twilioSMSPath, hookTwilioToken, form)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, "<Response>")
	}
	got, _ = answerOf(t, s, sv, bySMS)
	require.Equal(t, "safe", got)
	require.Equal(t, tl.Answered, tallyOf(t, s, sv).Answered)

	// Follow and unfollow: a greeting; the unfollow (a block) marks the
	// LINE contact broken, so the next safety check goes to his other
	// channels, and following again makes it usable.
	lineContact := func() *anpi.Contact {
		t.Helper()
		cs, err := s.st.Contacts(ctx, onLINE)
		require.NoError(t, err)
		i := slices.IndexFunc(cs, func(c *anpi.Contact) bool { return c.Kind == anpi.LINEContact })
		require.GreaterOrEqual(t, i, 0)
		return cs[i]
	}
	require.Equal(t, http.StatusOK, postLINE(t, s, hookLINESecret,
		lineEvent("follow", "ev-follow", stranger, nil), lineEvent("unfollow", "ev-unfollow", lineID, nil)))
	require.True(t, slices.ContainsFunc(lf.Messages(), func(m linefake.Message) bool {
		return m.Endpoint == "reply" && m.To == "reply-ev-follow" && slices.Contains(m.Texts, lineReplyFollowed)
	}))
	require.Contains(t, r.log.String(), "line: unfollowed")
	require.True(t, lineContact().Check.Broken, "blocked: LINE would drop the messages")
	require.Equal(t, http.StatusOK, postLINE(t, s, hookLINESecret, lineEvent("follow", "ev-refollow", lineID, nil)))
	require.False(t, lineContact().Check.Broken, "following again")

	_, metrics := get(t, s.URL()+"/metrics")
	for _, want := range []string{
		`anpi_answers_total{via="line"} 2`, `anpi_answers_total{via="sms"} 1`, `anpi_answers_total{via="voice"} 0`,
		`anpi_webhook_requests_total{provider="line",outcome="ok"} 9`,
		`anpi_webhook_requests_total{provider="line",outcome="rejected"} 2`,
		`anpi_webhook_requests_total{provider="twilio_sms",outcome="ok"} 3`,
		`anpi_webhook_requests_total{provider="twilio_sms",outcome="rejected"} 1`,
	} {
		require.Contains(t, metrics, want+"\n")
	}
}

// TestVoiceKeyPress runs the server with -twilio-voice: a user with only a
// phone is called (against the fake), the call's <Gather> posts to the
// voice webhook, and the signed key press "2" records 軽傷 for him. A bad
// signature, and a key pressed during a call no survey made, change
// nothing.
func TestVoiceKeyPress(t *testing.T) {
	r, _, tf := webhookServer(t, "-twilio-voice")
	s := r.s
	require.Equal(t, []anpi.Channel{anpi.LINEChannel, anpi.EmailChannel, anpi.VoiceChannel}, s.channels)
	user := usersIn350(t, s)[0]
	const phone = "+819033334444"
	phoneOnly(t, s, user, phone)
	sv := quake(t, s)
	d := sentTo(t, s, sv, user, anpi.VoiceChannel)
	i := slices.IndexFunc(tf.Requests(), func(q twiliofake.Request) bool { return q.Kind == "call" && q.To == phone })
	require.GreaterOrEqual(t, i, 0)
	call := tf.Requests()[i]
	require.Equal(t, call.SID, d.ProviderID)
	require.Contains(t, call.Twiml, `action="`+hookBaseURL+twilioVoicePath+`"`, "the call's key press comes to the voice webhook")
	before := tallyOf(t, s, sv)

	gather := func(callSID, digits string) url.Values {
		return url.Values{"CallSid": {callSID}, "AccountSid": {hookTwilioSID}, "From": {hookTwilioFrom}, "To": {phone},
			"CallStatus": {"in-progress"}, "Digits": {digits}, "FinishedOnKey": {""}}
	}
	status, _ := postTwilio(t, s, twilioVoicePath, "not-the-token", gather(call.SID, "2"))
	require.Equal(t, http.StatusForbidden, status)
	got, _ := answerOf(t, s, sv, user)
	require.Empty(t, got)

	status, body := postTwilio(t, s, twilioVoicePath, hookTwilioToken, gather(call.SID, "2"))
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "回答を受け付けました")
	got, via := answerOf(t, s, sv, user)
	require.Equal(t, "minor", got)
	require.Equal(t, anpi.ViaVoice, via)
	require.Equal(t, before.Answered+1, tallyOf(t, s, sv).Answered)

	// A call no survey made, and a key off the menu: answered, nothing
	// recorded, and the callee hears so.
	for _, tc := range []struct {
		form url.Values
		says string
	}{
		{gather("CA"+strings.Repeat("0", 32), "1"), "この回答は受け付けられませんでした"},
		{gather(call.SID, "9"), "入力が確認できませんでした"},
	} {
		status, body = postTwilio(t, s, twilioVoicePath, hookTwilioToken, tc.form)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, "<Response>")
		require.Contains(t, body, tc.says)
		require.NotContains(t, body, "回答を受け付けました")
	}
	got, _ = answerOf(t, s, sv, user)
	require.Equal(t, "minor", got)
	require.Equal(t, before.Answered+1, tallyOf(t, s, sv).Answered)

	_, metrics := get(t, s.URL()+"/metrics")
	require.Contains(t, metrics, `anpi_answers_total{via="voice"} 1`+"\n")
	require.Contains(t, metrics, `anpi_webhook_requests_total{provider="twilio_voice",outcome="ok"} 3`+"\n")
	require.Contains(t, metrics, `anpi_webhook_requests_total{provider="twilio_voice",outcome="rejected"} 1`+"\n")
}

// TestWebhookFlags: -line-secret is hidden by -h when set by the
// environment, needs -line-token; -twilio-voice needs -base-url; without
// the LINE secret there is no LINE webhook.
func TestWebhookFlags(t *testing.T) {
	var out strings.Builder
	env := map[string]string{"ANPI_LINE_SECRET": "very-secret-value"}
	err := run(context.Background(), []string{"-h"}, func(k string) string { return env[k] }, &out, &out, nil)
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Contains(t, out.String(), "-line-secret\tANPI_LINE_SECRET")
	require.Contains(t, out.String(), "-twilio-voice\tANPI_TWILIO_VOICE")
	require.NotContains(t, out.String(), "very-secret-value")

	_, err = parseConfig([]string{"-line-secret", "x"}, noEnv, io.Discard)
	require.ErrorContains(t, err, "-line-token")
	_, err = parseConfig([]string{"-twilio-voice"}, noEnv, io.Discard)
	require.ErrorContains(t, err, "-base-url")

	r := start(t, t.TempDir(), "-line-token", hookLINEToken)
	resp, err := http.Post(r.s.URL()+lineWebhookPath, "application/json", strings.NewReader(`{"events":[]}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no webhook without -line-secret")
}
