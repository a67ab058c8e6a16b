package anpi_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/channel"
)

// tokenOf returns the token of an answer link.
func tokenOf(t testing.TB, url string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(url, baseURL+"/a/")
	require.True(t, ok, "answer link %q", url)
	return tok
}

func TestRenderIssuesTokenStoresOnlyItsHash(t *testing.T) {
	e := newEnv(t, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey
	d := e.deliveries(sv)["noto/fcm"]

	m, cid, err := e.svc.Render(e.ctx, d)
	require.NoError(t, err)
	require.Equal(t, anpi.ContactID("c-noto-fcm"), cid)
	require.Equal(t, "fcm-token-noto", m.To)
	require.Equal(t, d.IdempotencyKey(), m.IdempotencyKey)
	require.Equal(t, channel.PriorityHigh, m.Priority)
	require.Equal(t, string(sv), m.Data["survey"])
	require.Contains(t, m.Text, m.URL)
	require.Contains(t, m.Text, "【安否確認】")
	require.LessOrEqual(t, utf8.RuneCountInString(m.Text), anpi.MaxShortLen)

	tok := tokenOf(t, m.URL)
	h, err := anpi.HashAnswerToken(tok)
	require.NoError(t, err)
	stored, err := e.st.AnswerToken(e.ctx, h)
	require.NoError(t, err)
	require.Equal(t, sv, stored.SurveyID)
	require.Equal(t, anpi.UserID("noto"), stored.UserID)
	require.True(t, stored.ExpiresAt.IsZero(), "no deadline, no expiry")
	raw, err := json.Marshal(stored)
	require.NoError(t, err)
	require.NotContains(t, string(raw), tok, "the store keeps the hash, not the text")

	// Every attempt gets a fresh token.
	m2, _, err := e.svc.Render(e.ctx, d)
	require.NoError(t, err)
	require.NotEqual(t, m.URL, m2.URL)
}

func TestRenderPerChannel(t *testing.T) {
	e := newEnv(t, quakeRule)
	out := e.feed(docVXSE51)
	e.feed(docVXSE53)
	ds := e.deliveries(out.Effects[0].Survey)

	// Email: long style, work address, the user's locale (kaga reads English).
	m, cid, err := e.svc.Render(e.ctx, ds["kaga/email"])
	require.NoError(t, err)
	require.Empty(t, cid)
	require.Equal(t, "kaga@corp.example", m.To)
	require.Contains(t, m.Subject, "[Safety check]")
	require.Contains(t, m.Text, "Dear kaga san")
	require.Contains(t, m.Text, m.URL)

	// A private email beats nothing; the broken push token is never used.
	m, cid, err = e.svc.Render(e.ctx, ds["broken/email"])
	require.NoError(t, err)
	require.Equal(t, anpi.ContactID("c-broken-mail"), cid)
	require.Equal(t, "broken@home.example", m.To)

	// SMS: one segment, link whole.
	m, _, err = e.svc.Render(e.ctx, ds["toyama/sms"])
	require.NoError(t, err)
	require.Equal(t, "+819033334444", m.To)
	require.LessOrEqual(t, utf8.RuneCountInString(m.Text), anpi.MaxSMSLen)
	require.True(t, strings.HasSuffix(m.Text, m.URL), m.Text)
	require.Len(t, m.URL[strings.LastIndex(m.URL, "/")+1:], 22, "SMS links carry the 128-bit token")
	require.Contains(t, m.Text, "震度", "the event still fits beside the link: %s", m.Text)
	t.Logf("SMS: %s", m.Text)
	_, err = e.svc.AnswerByToken(e.ctx, m.URL[strings.LastIndex(m.URL, "/")+1:], safe(), anpi.ViaSMS)
	require.NoError(t, err, "the short token answers")

	// Voice: text to read aloud, no link and no token.
	voice := *ds["toyama/sms"]
	voice.Channel = anpi.VoiceChannel
	m, _, err = e.svc.Render(e.ctx, &voice)
	require.NoError(t, err)
	require.Empty(t, m.URL)
	require.NotContains(t, m.Text, "http")
	require.Contains(t, m.Text, "安否")

	// A channel the user has no contact on is NotFound.
	line := *ds["noto/fcm"]
	line.Channel, line.ContactID = anpi.LINEChannel, ""
	_, _, err = e.svc.Render(e.ctx, &line)
	require.Equal(t, anpi.NotFound, anpi.Code(err))

	// A contact deleted since the enqueue: another one of the kind is used.
	require.NoError(t, e.st.DeleteContact(e.ctx, "c-noto-fcm"))
	require.NoError(t, e.st.PutContact(e.ctx, &anpi.Contact{ID: "c-noto-fcm2", UserID: "noto", Kind: anpi.FCMContact, Scope: anpi.PrivateScope, Address: "fcm-token-noto-new"}))
	m, cid, err = e.svc.Render(e.ctx, ds["noto/fcm"])
	require.NoError(t, err)
	require.Equal(t, anpi.ContactID("c-noto-fcm2"), cid)
	require.Equal(t, "fcm-token-noto-new", m.To)

	_, _, err = e.svc.Render(e.ctx, nil)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
}

func TestRenderStoredTemplate(t *testing.T) {
	e := newEnv(t, quakeRule)
	require.NoError(t, e.st.PutTemplate(e.ctx, &anpi.Template{ID: "ours", Name: "ours",
		Subject: anpi.Text{Ja: "【至急】{event}"}, Body: anpi.Text{Ja: "{recipient}さん {intensity} {areas} {url}"}}))
	e.svc = e.newService(&anpi.Options{TemplateID: "ours"})
	ds := e.deliveries(e.feed(docVXSE51).Effects[0].Survey)
	m, _, err := e.svc.Render(e.ctx, ds["broken/email"])
	require.NoError(t, err)
	require.Equal(t, "【至急】震度速報 震度６強", m.Subject)
	require.True(t, strings.HasPrefix(m.Text, "broken sanさん 震度６強 石川県能登"), m.Text)
	require.Contains(t, m.Text, m.URL)
}

func TestDefaultTemplateIsValid(t *testing.T) {
	require.NoError(t, anpi.DefaultTemplate().Validate())
}

// TestAutoSendMakesLinksWithDeliveries: an auto-send stores each
// delivery's answer token in the transaction that enqueues it, and the
// first Render of the delivery uses that link (nothing to write before the
// message goes); a second Render (a retry), or another Service over the
// same store, makes a fresh link, as Render always did.
func TestAutoSendMakesLinksWithDeliveries(t *testing.T) {
	e := newEnv(t, quakeRule)
	enqueuedAt := e.clock.Now()
	sv := e.feed(docVXSE51).Effects[0].Survey
	e.clock.Advance(time.Minute)
	d := e.deliveries(sv)["noto/fcm"]

	created := func(tok string) time.Time {
		t.Helper()
		h, err := anpi.HashAnswerToken(tok)
		require.NoError(t, err)
		at, err := e.st.AnswerToken(e.ctx, h)
		require.NoError(t, err)
		require.Equal(t, sv, at.SurveyID)
		require.Equal(t, anpi.UserID("noto"), at.UserID)
		return at.CreatedAt
	}
	first := e.linkFor(sv, "noto/fcm")
	require.Equal(t, enqueuedAt, created(first), "stored with the delivery, before it was rendered")
	again := e.linkFor(sv, "noto/fcm")
	require.NotEqual(t, first, again)
	require.Equal(t, e.clock.Now(), created(again), "a retry gets a fresh link")

	other := e.newService(&anpi.Options{Rand: rand.NewChaCha8([32]byte{2})})
	m, _, err := other.Render(e.ctx, d)
	require.NoError(t, err)
	require.Equal(t, e.clock.Now(), created(tokenOf(t, m.URL)), "another replica makes its own")

	// Each link answers.
	for _, tok := range []string{first, again} {
		_, err := e.svc.AnswerByToken(e.ctx, tok, []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}}, anpi.ViaWeb)
		require.NoError(t, err)
	}
}
