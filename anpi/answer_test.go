package anpi_test

import (
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

func safe() []anpi.Answer {
	return []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}}
}

func self(code string) []anpi.Answer {
	return []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{code}}, {QuestionID: anpi.QuestionMessage, Text: "大丈夫です"}}
}

// linkFor renders user's first delivery and returns its answer token.
func (e *env) linkFor(sv anpi.SurveyID, key string) string {
	e.t.Helper()
	m, _, err := e.svc.Render(e.ctx, e.deliveries(sv)[key])
	require.NoError(e.t, err)
	return tokenOf(e.t, m.URL)
}

func TestAnswerByToken(t *testing.T) {
	e := newEnv(t, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey
	tok := e.linkFor(sv, "noto/fcm")

	// The answer page's GET records nothing.
	info, err := e.svc.LookupToken(e.ctx, tok)
	require.NoError(t, err)
	require.Equal(t, sv, info.Survey.ID)
	require.Equal(t, anpi.UserID("noto"), info.UserID)
	require.Equal(t, "noto san", info.User.Name)
	require.Nil(t, info.Response)
	require.True(t, info.Open)
	tally, err := e.st.Tally(e.ctx, sv)
	require.NoError(t, err)
	require.Zero(t, tally.Answered)

	e.clock.Advance(90 * time.Second)
	r, err := e.svc.AnswerByToken(e.ctx, tok, self("minor"), anpi.ViaWeb)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("noto"), r.UserID)
	require.Equal(t, t0.Add(90*time.Second), r.FirstAt)
	tally, err = e.st.Tally(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, 1, tally.Answered)
	require.Equal(t, 1, tally.Choices[anpi.QuestionSelf]["minor"])

	// Answering again moves the tally and keeps the history.
	e.clock.Advance(time.Minute)
	r2, err := e.svc.AnswerByToken(e.ctx, tok, self("safe"), "")
	require.NoError(t, err)
	require.NotEqual(t, r.ID, r2.ID)
	require.Equal(t, anpi.ViaWeb, r2.Channel)
	require.Equal(t, r.FirstAt, r2.FirstAt)
	tally, err = e.st.Tally(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, 1, tally.Answered)
	require.Equal(t, 0, tally.Choices[anpi.QuestionSelf]["minor"])
	require.Equal(t, 1, tally.Choices[anpi.QuestionSelf]["safe"])
	hist, err := e.st.ResponseHistory(e.ctx, sv, "noto")
	require.NoError(t, err)
	require.Len(t, hist, 2)

	info, err = e.svc.LookupToken(e.ctx, tok)
	require.NoError(t, err)
	require.Equal(t, r2.ID, info.Response.ID)

	// Answers that do not fit the form change nothing.
	_, err = e.svc.AnswerByToken(e.ctx, tok, []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"fine"}}}, anpi.ViaWeb)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	require.ErrorContains(t, err, `unknown choice "fine"`)
	_, err = e.svc.AnswerByToken(e.ctx, tok, nil, anpi.ViaWeb)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	hist, err = e.st.ResponseHistory(e.ctx, sv, "noto")
	require.NoError(t, err)
	require.Len(t, hist, 2)
}

func TestAnswerByTokenRefusesTokensAlike(t *testing.T) {
	e := newEnv(t, quakeRule)
	e.svc = e.newService(&anpi.Options{AnswerWindow: time.Hour})
	sv := e.feed(docVXSE51).Effects[0].Survey
	good := e.linkFor(sv, "noto/fcm")
	revoked := e.linkFor(sv, "joetsu/line")
	_, err := e.st.RevokeAnswerTokens(e.ctx, sv, "joetsu", e.clock.Now())
	require.NoError(t, err)
	unknown, _, err := anpi.NewAnswerToken(nil)
	require.NoError(t, err)

	cases := map[string]string{
		"malformed":     "not-a-token",
		"empty":         "",
		"bad base64":    good[:len(good)-1] + "!",
		"unknown":       unknown,
		"revoked":       revoked,
		"one char more": good + "A",
	}
	var msg string
	for name, tok := range cases {
		_, err := e.svc.AnswerByToken(e.ctx, tok, safe(), anpi.ViaWeb)
		require.Equal(t, anpi.NotFound, anpi.Code(err), name)
		if msg == "" {
			msg = err.Error()
		}
		require.Equal(t, msg, err.Error(), "%s: every refusal reads the same", name)
		_, err = e.svc.LookupToken(e.ctx, tok)
		require.Equal(t, anpi.NotFound, anpi.Code(err), name)
		require.Equal(t, msg, err.Error(), name)
	}

	// The link works until the deadline, then reads as unknown too.
	_, err = e.svc.AnswerByToken(e.ctx, good, safe(), anpi.ViaWeb)
	require.NoError(t, err)
	e.clock.Advance(time.Hour)
	_, err = e.svc.AnswerByToken(e.ctx, good, safe(), anpi.ViaWeb)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	require.Equal(t, msg, err.Error())
	tally, err := e.st.Tally(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, 1, tally.Answered)
}

func TestAnswerClosedSurvey(t *testing.T) {
	e := newEnv(t, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey
	tok := e.linkFor(sv, "noto/fcm")
	s, err := e.st.GetSurvey(e.ctx, sv)
	require.NoError(t, err)
	s.Status, s.ClosedAt = anpi.Closed, e.clock.Now()
	require.NoError(t, e.st.UpdateSurvey(e.ctx, s))

	_, err = e.svc.AnswerByToken(e.ctx, tok, safe(), anpi.ViaWeb)
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
	info, err := e.svc.LookupToken(e.ctx, tok)
	require.NoError(t, err)
	require.False(t, info.Open)
}

func TestAnswerAs(t *testing.T) {
	e := newEnv(t, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey

	r, err := e.svc.AnswerAs(e.ctx, sv, "joetsu", safe(), anpi.ViaLINE)
	require.NoError(t, err)
	require.Equal(t, anpi.ViaLINE, r.Channel)
	r, err = e.svc.AnswerAs(e.ctx, sv, "nobody", self("serious"), anpi.ViaAdmin)
	require.NoError(t, err)
	require.Equal(t, anpi.ViaAdmin, r.Channel)
	tally, err := e.st.Tally(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, 2, tally.Answered)

	_, err = e.svc.AnswerAs(e.ctx, sv, "tokyo", safe(), anpi.ViaLINE)
	require.Equal(t, anpi.NotFound, anpi.Code(err), "not a recipient")
	_, err = e.svc.AnswerAs(e.ctx, "no-such-survey", "joetsu", safe(), anpi.ViaLINE)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	_, err = e.svc.AnswerAs(e.ctx, sv, "joetsu", safe(), "pigeon")
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
}

// Whatever a client puts in the link, the answer is NotFound (or success
// for the one real token) and nothing panics.
func FuzzAnswerByToken(f *testing.F) {
	e := newEnv(f, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey
	m, _, err := e.svc.Render(e.ctx, e.deliveries(sv)["noto/fcm"])
	if err != nil {
		f.Fatal(err)
	}
	real := strings.TrimPrefix(m.URL, baseURL+"/a/")
	f.Add(real)
	f.Add("")
	f.Add(real[:42] + "=")
	f.Add(strings.Repeat("A", 43))
	f.Add("../../etc/passwd")
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := e.svc.AnswerByToken(e.ctx, tok, safe(), anpi.ViaWeb)
		if tok == real {
			require.NoError(t, err)
			return
		}
		require.Equal(t, anpi.NotFound, anpi.Code(err), "%q", tok)
	})
}

// Answers, renders and documents at the same time (run with -race).
func TestServiceConcurrentUse(t *testing.T) {
	e := newEnv(t, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey
	ds := e.deliveries(sv)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Go(func() {
			m, _, err := e.svc.Render(e.ctx, ds["noto/fcm"])
			if err != nil {
				errs <- err
				return
			}
			if _, err := e.svc.AnswerByToken(e.ctx, strings.TrimPrefix(m.URL, baseURL+"/a/"), self([]string{"safe", "minor"}[i%2]), anpi.ViaWeb); err != nil {
				errs <- err
			}
			if _, err := e.svc.AnswerAs(e.ctx, sv, "joetsu", safe(), anpi.ViaLINE); err != nil {
				errs <- err
			}
		})
	}
	wg.Go(func() {
		if _, err := e.svc.HandleDocument(e.ctx, fixture(t, docVXSE53)); err != nil {
			errs <- err
		}
		if _, err := e.svc.Tick(e.ctx); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	tally, err := e.st.Tally(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, 2, tally.Answered)
	require.Equal(t, 6, tally.Targets)
	hist, err := e.st.ResponseHistory(e.ctx, sv, "noto")
	require.NoError(t, err)
	require.Len(t, hist, 8)
}

// TestLegacyAnswerLinkStillWorks: a link made before tokens had locators
// is stored under the SHA-256 of its text; it still opens its page and
// records answers (each path), and its revocation still counts.
func TestLegacyAnswerLinkStillWorks(t *testing.T) {
	e := newEnv(t, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey
	text, located, err := anpi.NewAnswerToken(nil)
	require.NoError(t, err)
	legacy := anpi.TokenHash(sha256.Sum256([]byte(text)))
	require.NotEqual(t, located, legacy)
	require.NoError(t, e.st.PutAnswerTokens(e.ctx, []*anpi.AnswerToken{{Hash: legacy, SurveyID: sv, UserID: "noto", CreatedAt: e.clock.Now()}}))

	info, err := e.svc.LookupToken(e.ctx, text)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("noto"), info.UserID)
	safe := []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}}
	r, err := e.svc.AnswerByToken(e.ctx, text, safe, anpi.ViaWeb)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("noto"), r.UserID)
	for range 2 {
		_, err = e.svc.SubmitAnswer(e.ctx, text, anpi.ViaWeb, func(*anpi.TokenInfo) ([]anpi.Answer, error) { return safe, nil })
		require.NoError(t, err)
	}
	_, err = e.st.RevokeAnswerTokens(e.ctx, sv, "noto", e.clock.Now())
	require.NoError(t, err)
	_, err = e.svc.SubmitAnswer(e.ctx, text, anpi.ViaWeb, func(*anpi.TokenInfo) ([]anpi.Answer, error) { return safe, nil })
	require.Equal(t, anpi.NotFound, anpi.Code(err))
}

// TestRememberedTokenRevoked: the Service answers a link it made from
// memory, but a revocation a moment before still refuses the answer: the
// store checks the token in the write.
func TestRememberedTokenRevoked(t *testing.T) {
	e := newEnv(t, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey
	tok := e.linkFor(sv, "noto/fcm")
	safe := []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}}
	_, err := e.svc.SubmitAnswer(e.ctx, tok, anpi.ViaWeb, func(*anpi.TokenInfo) ([]anpi.Answer, error) { return safe, nil })
	require.NoError(t, err)
	_, err = e.st.RevokeAnswerTokens(e.ctx, sv, "noto", e.clock.Now())
	require.NoError(t, err)
	before, err := e.st.ResponseHistory(e.ctx, sv, "noto")
	require.NoError(t, err)
	_, err = e.svc.SubmitAnswer(e.ctx, tok, anpi.ViaWeb, func(*anpi.TokenInfo) ([]anpi.Answer, error) { return safe, nil })
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	require.Equal(t, "anpi: answer link is unknown or no longer valid", err.Error())
	_, err = e.svc.AnswerByToken(e.ctx, tok, safe, anpi.ViaWeb)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	after, err := e.st.ResponseHistory(e.ctx, sv, "noto")
	require.NoError(t, err)
	require.Equal(t, before, after, "nothing recorded")
}
