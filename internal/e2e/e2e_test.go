package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	fakesmtp "github.com/anpikit/anpi/internal/fake/smtp"
	"github.com/anpikit/anpi/rules"
)

// TestAutoSendAnswerTally follows one 通常 VXSE53 from the bytes to the
// tally: the right people are asked on the right channels, the providers
// receive Japanese (and English) text intact with a personal answer link,
// and answers arrive through the link, a LINE postback, an SMS reply digit
// and an administrator, each moving the tally; a re-answer moves it again.
func TestAutoSendAnswerTally(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind, nil)

			out := w.feed(docS1)
			require.Equal(t, "VXSE53", out.Report.Type)
			require.Len(t, out.Effects, 1)
			f := out.Effects[0]
			require.Equal(t, rules.ActionSend, f.Action)
			require.True(t, f.Created)
			require.Equal(t, len(asked), f.Recipients)
			require.Equal(t, len(asked)-1, f.Queued)
			require.Equal(t, 1, f.NoContact)
			sv := f.Survey
			require.Equal(t, asked, w.recipients(sv))

			survey, err := w.st.GetSurvey(w.ctx, sv)
			require.NoError(t, err)
			require.Equal(t, anpi.AutoSurvey, survey.Kind)
			require.Equal(t, anpi.Open, survey.Status)
			require.Equal(t, "20300601090200", survey.Trigger.EventID)

			// One delivery per recipient, on the first channel he has.
			require.Equal(t, []string{
				"kato/email:queued", "nobody/email:skipped_no_contact", "sato/line:queued", "smith/email:queued",
				"suzuki/sms:queued", "tanaka/fcm:queued", "yamada/email:queued",
			}, w.states(sv))

			st := w.drain()
			require.Equal(t, len(asked)-1, st.Sent, "%+v", st)
			require.Zero(t, st.Retried+st.FellBack+st.Exhausted+st.Errors+st.LeaseLost, "%+v", st)
			require.Equal(t, []string{
				"kato/email:sent", "nobody/email:skipped_no_contact", "sato/line:sent", "smith/email:sent",
				"suzuki/sms:sent", "tanaka/fcm:sent", "yamada/email:sent",
			}, w.states(sv))
			for k, d := range w.deliveries(sv) {
				if d.State == anpi.Sent {
					require.NotEmpty(t, d.ProviderID, k)
					require.Equal(t, 1, d.Attempts, k)
				}
			}

			// What the providers received: one message per person asked
			// and reachable, none to anyone else.
			require.Len(t, w.inbox(), len(asked)-1)
			for _, id := range []string{"ono", "mori"} {
				require.Empty(t, w.to(personByID(id).fcm), id)
			}
			links := map[string]string{}
			for _, tc := range []struct {
				user, addr string
				ch         anpi.Channel
				subject    string
				contains   []string
			}{
				{"yamada", "yamada@home.example", anpi.EmailChannel, "【安否確認】震源・震度情報 震度５強",
					[]string{"山田 太郎 様", "東京都２３区、東京都多摩東部、神奈川県東部", "下のリンクから安否を回答してください。"}},
				{"kato", "kato@home.example", anpi.EmailChannel, "【安否確認】震源・震度情報 震度５強", []string{"加藤 三郎 様"}},
				{"smith", "smith@corp.example", anpi.EmailChannel, "[Safety check] 震源・震度情報 震度５強",
					[]string{"Dear John Smith", "Please tell us whether you are safe"}},
				{"suzuki", "+819011110001", anpi.SMSChannel, "", []string{"【安否確認"}},
				{"sato", personByID("sato").line, anpi.LINEChannel, "【安否確認】震源・震度情報 震度５強", []string{"【安否確認】震源・震度情報 震度５強", "東京都２３区", "安否を回答してください。"}},
				{"tanaka", "fcm-token-tanaka", anpi.FCMChannel, "【安否確認】震源・震度情報 震度５強", []string{"神奈川県東部"}},
			} {
				got := w.to(tc.addr)
				require.Len(t, got, 1, tc.user)
				m := got[0]
				require.Equal(t, tc.ch, m.channel, tc.user)
				require.Equal(t, tc.subject, m.subject, tc.user)
				for _, s := range tc.contains {
					require.Contains(t, m.text, s, tc.user)
				}
				require.NotContains(t, m.text, "\uFFFD", "%s: mangled text", tc.user)
				links[tc.user] = token(t, m)
				if tc.ch == anpi.SMSChannel {
					require.LessOrEqual(t, len([]rune(m.text)), anpi.MaxSMSLen, tc.user)
				}
			}
			// The push and LINE messages carry the link in their URL field
			// too, and the survey in their data (a postback names it).
			lineMsg := w.to(personByID("sato").line)[0]
			require.Equal(t, baseURL+"/a/"+links["sato"], lineMsg.url)
			require.Equal(t, string(sv), lineMsg.data["survey"])
			// Every link is personal.
			seen := map[string]bool{}
			for u, tok := range links {
				require.False(t, seen[tok], "token of %s reused", u)
				seen[tok] = true
			}

			// Opening a link (GET) records nothing (mail scanners open links).
			info, err := w.svc.LookupToken(w.ctx, links["yamada"])
			require.NoError(t, err)
			require.Equal(t, anpi.UserID("yamada"), info.UserID)
			require.Equal(t, sv, info.Survey.ID)
			require.True(t, info.Open)
			require.Nil(t, info.Response)
			require.Zero(t, w.tally(sv).Answered)

			// Answers through every path.
			r, err := w.svc.AnswerByToken(w.ctx, links["yamada"], self("safe", "can"), anpi.ViaWeb)
			require.NoError(t, err)
			require.Equal(t, anpi.UserID("yamada"), r.UserID)
			_, err = w.svc.AnswerByToken(w.ctx, links["tanaka"], self("minor"), "")
			require.NoError(t, err)
			_, err = w.svc.AnswerAs(w.ctx, anpi.SurveyID(lineMsg.data["survey"]), "sato", self("safe"), anpi.ViaLINE)
			require.NoError(t, err)
			requireOK(t, w.smsReply("+819011110001", "1"))
			requireOK(t, w.smsReply("+819011110001", "無事です")) // typed text is not an answer
			_, err = w.svc.AnswerAs(w.ctx, sv, "kato", self("serious", "cannot"), anpi.ViaAdmin)
			require.NoError(t, err)

			for user, via := range map[string]anpi.ResponseChannel{"yamada": anpi.ViaWeb, "tanaka": anpi.ViaWeb,
				"sato": anpi.ViaLINE, "suzuki": anpi.ViaSMS, "kato": anpi.ViaAdmin} {
				resp, err := w.st.GetResponse(w.ctx, sv, anpi.UserID(user))
				require.NoError(t, err, user)
				require.Equal(t, via, resp.Channel, user)
			}
			tl := w.tally(sv)
			require.Equal(t, 7, tl.Targets)
			require.Equal(t, 5, tl.Answered)
			require.Equal(t, 3, tl.Choices[anpi.QuestionSelf]["safe"])
			require.Equal(t, 1, tl.Choices[anpi.QuestionSelf]["minor"])
			require.Equal(t, 1, tl.Choices[anpi.QuestionSelf]["serious"])
			require.Equal(t, 1, tl.Choices[anpi.QuestionWork]["can"])
			require.Equal(t, 1, tl.Choices[anpi.QuestionWork]["cannot"])
			require.Equal(t, 3, tl.Regions["quake:350"].Targets) // yamada, sato, nobody
			require.Equal(t, 2, tl.Regions["quake:350"].Answered)
			w.checkTally(sv)

			// Re-answers move the tally: yamada through the same link, kato
			// through his administrator again.
			_, err = w.svc.AnswerByToken(w.ctx, links["yamada"], self("minor"), anpi.ViaWeb)
			require.NoError(t, err)
			_, err = w.svc.AnswerAs(w.ctx, sv, "kato", self("safe"), anpi.ViaAdmin)
			require.NoError(t, err)
			tl = w.tally(sv)
			require.Equal(t, 5, tl.Answered)
			require.Equal(t, 3, tl.Choices[anpi.QuestionSelf]["safe"])  // sato, suzuki, kato
			require.Equal(t, 2, tl.Choices[anpi.QuestionSelf]["minor"]) // tanaka, yamada
			require.Zero(t, tl.Choices[anpi.QuestionSelf]["serious"])
			require.Zero(t, tl.Choices[anpi.QuestionWork]["can"]+tl.Choices[anpi.QuestionWork]["cannot"])
			w.checkTally(sv)
			hist, err := w.st.ResponseHistory(w.ctx, sv, "yamada")
			require.NoError(t, err)
			require.Len(t, hist, 2)

			// An SMS reply re-answers too.
			requireOK(t, w.smsReply("+819011110001", "3"))
			require.Equal(t, 1, w.tally(sv).Choices[anpi.QuestionSelf]["serious"])
			w.checkTally(sv)

			// A forged link, and a user who was not asked, record nothing.
			_, err = w.svc.AnswerByToken(w.ctx, strings.Repeat("A", 43), self("safe"), anpi.ViaWeb)
			require.Equal(t, anpi.NotFound, anpi.Code(err))
			_, err = w.svc.AnswerAs(w.ctx, sv, "ono", self("safe"), anpi.ViaLINE)
			require.Equal(t, anpi.NotFound, anpi.Code(err))
			require.Equal(t, 5, w.tally(sv).Answered)

			// The same document again (a poller restart) asks nobody twice.
			again := w.feed(docS1)
			for _, f := range again.Effects {
				require.Zero(t, f.Recipients)
				require.Zero(t, f.Queued)
			}
			require.Zero(t, w.drain().Claimed)
			require.Len(t, w.inbox(), len(asked)-1)
		})
	}
}

// TestCancelStopsUnsentAndCorrects feeds the 取消 of the event while some
// deliveries are still in the outbox: those are cancelled and never sent,
// the answer links already sent stop working, and everyone already reached
// gets the short correction, without a link, on the channel he was
// reached on.
func TestCancelStopsUnsentAndCorrects(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			// One message per channel per round: the three emails cannot
			// all go in the first round.
			w := newWorld(t, kind, &worldOptions{limit: dispatchLimit(1)})
			sv := onlySurvey(t, w.feed(docS1))
			st := w.step()
			require.Equal(t, 4, st.Sent, "%+v", st) // one each of fcm, line, email, sms

			var reached, unsent []*anpi.Delivery
			for _, d := range w.deliveries(sv) {
				switch d.State {
				case anpi.Sent:
					reached = append(reached, d)
				case anpi.Queued:
					unsent = append(unsent, d)
				}
			}
			require.Len(t, reached, 4)
			require.Len(t, unsent, 2)
			require.Len(t, w.inbox(), 4)
			var tokens []string
			for _, m := range w.inbox() {
				tokens = append(tokens, token(t, m))
			}

			out := w.feed(docCancel)
			require.True(t, out.Report.Cancel())
			require.Len(t, out.Effects, 1)
			f := out.Effects[0]
			require.Equal(t, rules.ActionCancel, f.Action)
			require.Equal(t, sv, f.Survey)
			require.Equal(t, 2, f.Cancelled)
			require.Equal(t, 4, f.Corrections)
			survey, err := w.st.GetSurvey(w.ctx, sv)
			require.NoError(t, err)
			require.Equal(t, anpi.Cancelled, survey.Status)

			// The links sent stop working; nobody can answer any more.
			for _, tok := range tokens {
				_, err := w.svc.LookupToken(w.ctx, tok)
				require.Equal(t, anpi.NotFound, anpi.Code(err))
				_, err = w.svc.AnswerByToken(w.ctx, tok, self("safe"), anpi.ViaWeb)
				require.Equal(t, anpi.NotFound, anpi.Code(err))
			}
			_, err = w.svc.AnswerAs(w.ctx, sv, "sato", self("safe"), anpi.ViaLINE)
			require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
			require.Zero(t, w.tally(sv).Answered)

			st = w.drain()
			require.Equal(t, 4, st.Sent, "only the corrections go: %+v", st)
			ds := w.deliveries(sv)
			for _, d := range unsent {
				got := ds[string(d.UserID)+"/"+string(d.Channel)]
				require.Equal(t, anpi.CancelledState, got.State, d.UserID)
				require.Zero(t, got.SentAt, d.UserID)
				require.NotContains(t, ds, string(d.UserID)+"/"+string(d.Channel)+"/correction")
				addr := addressOf(t, w, d)
				require.Empty(t, w.to(addr), "%s was cancelled but received something", d.UserID)
			}
			for _, d := range reached {
				c := ds[string(d.UserID)+"/"+string(d.Channel)+"/correction"]
				require.NotNil(t, c, d.UserID)
				require.Equal(t, anpi.Sent, c.State, d.UserID)
				got := w.to(addressOf(t, w, d))
				require.Len(t, got, 2, d.UserID)
				var requests, corrections int
				for _, m := range got {
					if linkRE.MatchString(m.text) || m.url != "" {
						requests++
						continue
					}
					corrections++
					require.True(t, strings.Contains(m.subject+m.text, "取り消") || strings.Contains(m.subject+m.text, "withdrawn"),
						"%s: %q", d.UserID, m.text)
					require.NotContains(t, m.text, "/a/", "%s: a correction carries no link", d.UserID)
				}
				require.Equal(t, 1, requests, d.UserID)
				require.Equal(t, 1, corrections, d.UserID)
			}
			require.Len(t, w.inbox(), 8)

			// The 取消 fed again changes nothing.
			again := w.feed(docCancel)
			for _, f := range again.Effects {
				require.Zero(t, f.Cancelled+f.Corrections)
			}
			require.Zero(t, w.drain().Claimed)
		})
	}
}

// TestTrainingNeverRealSurvey feeds the 訓練 twin of the event: a rule that
// does not opt in to drills does nothing; one that does gets a drill
// survey, labelled as such in every message and tallied apart from the
// real survey the 通常 report then starts.
func TestTrainingNeverRealSurvey(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind+"/no opt-in", func(t *testing.T) {
			w := newWorld(t, kind, nil)
			out := w.feed(docTraining)
			for _, f := range out.Effects {
				require.Empty(t, f.Survey, "%+v", f)
			}
			for _, d := range out.Decisions {
				require.Equal(t, rules.ActionSkip, d.Action, "%+v", d)
			}
			svs, err := w.st.ListSurveys(w.ctx, nil)
			require.NoError(t, err)
			require.Empty(t, svs)
			require.Zero(t, w.drain().Claimed)
			require.Empty(t, w.inbox())
		})
		t.Run(kind+"/drill rule", func(t *testing.T) {
			w := newWorld(t, kind, &worldOptions{rules: []string{quakeRule, drillRule}})
			out := w.feed(docTraining)
			drill := onlySurvey(t, out)
			for _, f := range out.Effects {
				require.Equal(t, "quake-drill", f.Rule, "%+v", f)
				require.Equal(t, rules.ActionDrill, f.Action)
			}
			svs, err := w.st.ListSurveys(w.ctx, nil)
			require.NoError(t, err)
			require.Len(t, svs, 1)
			require.Equal(t, anpi.DrillSurvey, svs[0].Kind)
			require.Equal(t, drill, svs[0].ID)
			require.True(t, strings.HasPrefix(svs[0].Title, "【訓練】"), svs[0].Title)

			st := w.drain()
			require.Equal(t, len(asked)-1, st.Sent, "%+v", st)
			msgs := w.inbox()
			require.Len(t, msgs, len(asked)-1)
			var link string
			for _, m := range msgs {
				label := "【訓練】"
				if m.to == "smith@corp.example" {
					label = "[DRILL]"
				}
				require.Contains(t, m.subject+m.text, label, "%s message to %s", m.channel, m.to)
				if m.to == "yamada@home.example" {
					link = token(t, m)
				}
			}
			_, err = w.svc.AnswerByToken(w.ctx, link, self("safe"), anpi.ViaWeb)
			require.NoError(t, err)
			require.Equal(t, 1, w.tally(drill).Answered)

			// The 通常 report of the event is real for both rules (opting in
			// to drills does not opt out of real events): two real surveys,
			// neither the drill's, whose answers stay apart.
			out = w.feed(docS1)
			require.Len(t, out.Effects, 2)
			for _, f := range out.Effects {
				require.Equal(t, rules.ActionSend, f.Action, "%+v", f)
				require.NotEqual(t, drill, f.Survey)
				sv, err := w.st.GetSurvey(w.ctx, f.Survey)
				require.NoError(t, err)
				require.Equal(t, anpi.AutoSurvey, sv.Kind)
				require.Equal(t, asked, w.recipients(f.Survey))
				require.Zero(t, w.tally(f.Survey).Answered, "drill answers are tallied apart")
			}
			require.Equal(t, 1, w.tally(drill).Answered)
			old := map[string]bool{}
			for _, m := range msgs {
				old[m.text] = true
			}
			w.drain()
			fresh := 0
			for _, m := range w.inbox() {
				if !old[m.text] {
					fresh++
					require.NotContains(t, m.subject+m.text, "訓練", "%s message to %s", m.channel, m.to)
				}
			}
			require.Equal(t, 2*(len(asked)-1), fresh, "one message per rule and person reached")
		})
	}
}

// TestEmailBounceFallsBackToSMS bounces one recipient's mail with 550
// 5.1.1 at the SMTP relay: his delivery fails permanently, his contact
// records the error (without his address), and he is asked by SMS, where
// he answers through the link.
func TestEmailBounceFallsBackToSMS(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind, nil)
			w.smtp.Fail("kato@home.example", fakesmtp.Bounce)
			sv := onlySurvey(t, w.feed(docS1))

			st := w.drain()
			require.Equal(t, 1, st.FellBack, "%+v", st)
			require.Equal(t, len(asked)-1, st.Sent, "%+v", st)
			ds := w.deliveries(sv)
			mail := ds["kato/email"]
			require.Equal(t, anpi.FailedPermanent, mail.State)
			require.Contains(t, mail.LastError, "5.1.1")
			require.NotContains(t, mail.LastError, "kato@home.example")
			sms := ds["kato/sms"]
			require.NotNil(t, sms)
			require.Equal(t, anpi.Sent, sms.State)
			require.Equal(t, 0, sms.Round)

			c, err := w.st.GetContact(w.ctx, "kato-email")
			require.NoError(t, err)
			require.Contains(t, c.Check.LastError, "5.1.1")
			require.False(t, c.Check.Broken, "SMTP cannot tell a deleted mailbox: not broken")

			require.Empty(t, w.to("kato@home.example"), "the relay accepted nothing for him")
			got := w.to("+819011110002")
			require.Len(t, got, 1)
			require.Contains(t, got[0].text, "【安否確認")
			_, err = w.svc.AnswerByToken(w.ctx, token(t, got[0]), self("safe"), anpi.ViaWeb)
			require.NoError(t, err)
			resp, err := w.st.GetResponse(w.ctx, sv, "kato")
			require.NoError(t, err)
			require.Equal(t, "safe", resp.Answers[0].Choices[0])
			require.Equal(t, 1, w.tally(sv).Answered)

			// Others on email were not disturbed.
			require.Len(t, w.to("yamada@home.example"), 1)
			require.Len(t, w.to("smith@corp.example"), 1)
		})
	}
}

// TestVoiceKeyPress calls the people who have only a phone when the
// fallback order has voice and no SMS: the call reads the short text (no
// link) and asks for a key; a key press posted back by Twilio is an
// answer.
func TestVoiceKeyPress(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind, &worldOptions{channels: []anpi.Channel{anpi.FCMChannel, anpi.LINEChannel, anpi.VoiceChannel}})
			sv := onlySurvey(t, w.feed(docS1))
			ds := w.deliveries(sv)
			require.Equal(t, anpi.Queued, ds["suzuki/voice"].State)
			require.Equal(t, anpi.Queued, ds["kato/voice"].State)
			require.Equal(t, anpi.SkippedNoContact, ds["yamada/fcm"].State, "email is not in this order")

			st := w.drain()
			require.Equal(t, 4, st.Sent, "%+v", st) // sato, tanaka, suzuki, kato
			calls := map[string]string{}
			for _, user := range []string{"suzuki", "kato"} {
				got := w.to(personByID(user).phone)
				require.Len(t, got, 1, user)
				require.Equal(t, anpi.VoiceChannel, got[0].channel)
				require.Contains(t, got[0].text, "【安否確認】震源・震度情報 震度５強", user)
				require.Contains(t, got[0].text, "<Gather", user)
				require.NotContains(t, got[0].text, "/a/", "a call carries no link")
				d := w.deliveries(sv)[user+"/voice"]
				require.True(t, strings.HasPrefix(d.ProviderID, "CA"), d.ProviderID)
				calls[user] = d.ProviderID
			}

			rec := w.keyPress(calls["suzuki"], "1")
			requireOK(t, rec)
			require.Contains(t, rec.Body.String(), "回答を受け付けました")
			requireOK(t, w.keyPress(calls["kato"], "#")) // not a menu key: no answer
			resp, err := w.st.GetResponse(w.ctx, sv, "suzuki")
			require.NoError(t, err)
			require.Equal(t, anpi.ViaVoice, resp.Channel)
			require.Equal(t, []string{"safe"}, resp.Answers[0].Choices)
			_, err = w.st.GetResponse(w.ctx, sv, "kato")
			require.Equal(t, anpi.NotFound, anpi.Code(err))

			// kato calls back in and presses 2 on a second try.
			requireOK(t, w.keyPress(calls["kato"], "2"))
			tl := w.tally(sv)
			require.Equal(t, 2, tl.Answered)
			require.Equal(t, 1, tl.Choices[anpi.QuestionSelf]["minor"])
			w.checkTally(sv)

			// A key press for a call nobody made is refused (500: Twilio
			// retries nothing, the caller hears an error) and records nothing.
			rec = w.keyPress("CA0000000000000000000000000000dead", "1")
			require.Equal(t, http.StatusInternalServerError, rec.Code)
			require.Equal(t, 2, w.tally(sv).Answered)
		})
	}
}

// TestDraftTestSendThenSend: a crisis manager saves a manual send as a
// draft, test-sends it to himself, then sends it; each recipient gets one
// message on his channel and answers move the tally.
func TestDraftTestSendThenSend(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind, nil)
			require.NoError(t, w.st.GrantRole(w.ctx, anpi.RoleGrant{UserID: "tanaka", Role: anpi.CrisisManager}))
			d, err := w.svc.SaveDraft(w.ctx, "tanaka", &anpi.SendRequest{Title: "台風接近 安否確認",
				Targeting: anpi.Targeting{Users: []anpi.UserID{"yamada", "suzuki", "tanaka"}}})
			require.NoError(t, err)
			require.Empty(t, w.deliveries(d.ID), "a draft sends nothing")

			test, err := w.svc.SendDraft(w.ctx, "tanaka", d.ID, "yamada")
			require.NoError(t, err)
			w.drain()
			got := w.to("yamada@home.example")
			require.Len(t, got, 1)
			require.Contains(t, got[0].text, "【訓練】", "a test send is labelled as a drill: %s", got[0].text)
			require.Equal(t, anpi.TestSurvey, test.Survey.Kind)

			sent, err := w.svc.SendDraft(w.ctx, "tanaka", d.ID)
			require.NoError(t, err)
			require.Equal(t, d.ID, sent.Survey.ID)
			w.drain()
			require.Equal(t, []string{"suzuki/sms:sent", "tanaka/fcm:sent", "yamada/email:sent"}, w.states(d.ID))
			require.Len(t, w.to("yamada@home.example"), 2, "the test, then the send")
			require.Len(t, w.to("+819011110001"), 1)
			_, err = w.svc.AnswerByToken(w.ctx, token(t, w.to("yamada@home.example")[1]), self("safe"), anpi.ViaWeb)
			require.NoError(t, err)
			require.Equal(t, 1, w.tally(d.ID).Answered)
			require.Equal(t, 3, w.tally(d.ID).Targets)
			w.checkTally(d.ID)
		})
	}
}
