package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/channel/line"
	"github.com/anpikit/anpi/channel/twilio"
)

// The webhook paths. The voice one is also the <Gather> action of the calls.
const (
	lineWebhookPath = "/webhooks/line"
	twilioSMSPath   = "/webhooks/twilio/sms"
	twilioVoicePath = "/webhooks/twilio/voice"
)

// The replies the LINE webhook sends back through the event's reply token.
const (
	lineReplyAnswered  = "回答を受け付けました。ありがとうございました。"
	lineReplyNotTaken  = "この回答は受け付けられませんでした。お知らせのリンクから回答してください。"
	lineReplyFollowed  = "友だち追加ありがとうございます。安否確認のお知らせはこのアカウントからお届けします。"
	lineReplyTextIsNot = "メッセージは回答になりません。お知らせのリンクから回答してください。"
)

// mountWebhooks mounts the providers' callbacks the configuration enables:
// LINE with -line-secret, Twilio with its credentials. Each handler checks
// the provider's signature itself (channel/line, channel/twilio).
func (s *server) mountWebhooks(mux *http.ServeMux) error {
	if s.cfg.LINESecret != "" {
		wh, err := line.NewWebhook(line.WebhookConfig{
			ChannelSecret: s.cfg.LINESecret,
			Events:        &lineEvents{s: s},
			Replier:       s.line,
			Nonces:        s.svc.LINENonces(),
			Logger:        s.log,
		})
		if err != nil {
			return fmt.Errorf("LINE webhook (-line-secret): %w", err)
		}
		mux.Handle("POST "+lineWebhookPath, countWebhook("line", wh, s.counters))
	}
	if s.cfg.twilio() {
		// The signature covers the URL Twilio requested: the public one.
		if s.cfg.BaseURL == "" {
			s.log.Warn("Twilio's callbacks are checked against " + s.baseURL + ", which Twilio cannot reach: set -base-url")
		}
		for _, h := range []struct {
			path, provider string
			recv           twilio.ReceiverFunc
		}{{twilioSMSPath, "twilio_sms", s.twilioSMS}, {twilioVoicePath, "twilio_voice", s.twilioVoice}} {
			th, err := twilio.NewHandler(twilio.HandlerConfig{AuthToken: s.cfg.TwilioToken, PublicURL: s.baseURL, Receiver: h.recv})
			if err != nil {
				return fmt.Errorf("Twilio callbacks (-twilio-token, -base-url): %w", err)
			}
			var hh http.Handler = th
			if h.path == twilioVoicePath {
				hh = voiceRefusals(th)
			}
			mux.Handle("POST "+h.path, countWebhook(h.provider, hh, s.counters))
		}
	}
	return nil
}

// lineEvents turns what LINE users do into Service calls.
type lineEvents struct {
	s *server
}

var _ line.Events = (*lineEvents)(nil)

// Followed greets the user, and makes his LINE contact usable again if
// he had blocked the account (Service.LINEFollowChanged). Linking is done
// by the application's own page (Linker.Begin), which this server does not
// have.
func (e *lineEvents) Followed(ctx context.Context, lineUserID string) (string, error) {
	n, err := e.s.svc.LINEFollowChanged(ctx, lineUserID, true)
	if err != nil {
		return "", err // LINE redelivers the event
	}
	e.s.log.InfoContext(ctx, "line: followed", "line_user", anpi.LINEUserRef(lineUserID), "contacts_restored", n)
	return lineReplyFollowed, nil
}

// Unfollowed marks his LINE contact broken: LINE accepts messages to a
// user who blocked the account and delivers none, so the safety checks go
// to his other channels instead (Service.LINEFollowChanged).
func (e *lineEvents) Unfollowed(ctx context.Context, lineUserID string) error {
	n, err := e.s.svc.LINEFollowChanged(ctx, lineUserID, false)
	if err != nil {
		return err
	}
	e.s.log.InfoContext(ctx, "line: unfollowed (blocked): his LINE contact is marked broken", "line_user", anpi.LINEUserRef(lineUserID), "contacts", n)
	return nil
}

// Linked registers the LINE account of our user, the accountLink event's
// nonce having been resolved by the Service's LINENonces.
func (e *lineEvents) Linked(ctx context.Context, userID, lineUserID string) error {
	_, err := e.s.svc.LinkLINE(ctx, anpi.UserID(userID), lineUserID)
	switch anpi.Code(err) {
	case anpi.NotFound, anpi.InvalidArgument:
		// Deleted since the nonce was put, or a malformed ID: a
		// redelivery would not help.
		e.s.log.WarnContext(ctx, "line: account link refused", "user", userID, "err", err)
		return nil
	}
	if err == nil {
		e.s.log.InfoContext(ctx, "line: account linked", "user", userID, "line_user", anpi.LINEUserRef(lineUserID))
	}
	return err
}

// Text answers typed text: it is not an answer.
func (e *lineEvents) Text(context.Context, string, string) (string, error) {
	return lineReplyTextIsNot, nil
}

// Postback records the answer of an answer button. Its data is a query,
// "survey=<survey ID>&self=<answer code>": the survey is what the LINE
// message's data names (anpi puts "survey" in channel.Message.Data), the
// code one of the 本人 question's. The person is the one of the survey's
// recipients reached on LINE at that LINE user ID, which LINE's signature
// vouches for. Data that records nothing gets a polite reply and a 200,
// so LINE does not redeliver it; only a store failure asks for a
// redelivery.
func (e *lineEvents) Postback(ctx context.Context, lineUserID, data string) (string, error) {
	q, err := url.ParseQuery(data)
	survey, choice := anpi.SurveyID(q.Get("survey")), q.Get(anpi.QuestionSelf)
	if err != nil || survey == "" || choice == "" {
		e.s.log.InfoContext(ctx, "line: postback is not an answer", "line_user", anpi.LINEUserRef(lineUserID))
		return lineReplyNotTaken, nil
	}
	_, err = e.s.svc.AnswerByLINE(ctx, survey, lineUserID, choice)
	switch anpi.Code(err) {
	case anpi.NotFound, anpi.InvalidArgument, anpi.FailedPrecondition, anpi.PermissionDenied:
		e.s.log.InfoContext(ctx, "line: postback answer not recorded", "survey", survey, "line_user", anpi.LINEUserRef(lineUserID), "err", err)
		return lineReplyNotTaken, nil
	}
	if err != nil {
		return "", err
	}
	e.s.counters.answer("line")
	return lineReplyAnswered, nil
}

// twilioSMS receives what comes to the SMS callback: a reply of one menu
// digit is an answer (Service.AnswerBySMS); other text, and replies from
// numbers no open survey reached, are logged and answered with an empty
// TwiML response, so Twilio neither retries nor shows an error.
func (s *server) twilioSMS(ctx context.Context, ev twilio.Event) error {
	switch ev.Type {
	case twilio.InboundSMS:
		if !ev.Answered {
			s.log.InfoContext(ctx, "twilio: SMS reply is not an answer", "message", ev.MessageSID)
			return nil
		}
		_, err := s.svc.AnswerBySMS(ctx, ev.From, ev.Choice)
		return s.phoneAnswered(ctx, "sms", "message", ev.MessageSID, err)
	case twilio.MessageStatus:
		s.log.DebugContext(ctx, "twilio: message status", "message", ev.MessageSID, "status", ev.Status, "error_code", ev.ErrorCode)
	default:
		s.log.WarnContext(ctx, "twilio: unexpected callback at the SMS webhook", "type", ev.Type)
	}
	return nil
}

// twilioVoice receives what comes to the voice callback: the key pressed
// during a call (Service.AnswerByCall). A key off the menu, or a call no
// open survey made (the survey closed while the phone rang), records
// nothing; voiceRefusals then corrects what the callee hears.
func (s *server) twilioVoice(ctx context.Context, ev twilio.Event) error {
	switch ev.Type {
	case twilio.Gather:
		if !ev.Answered {
			s.log.InfoContext(ctx, "twilio: key pressed is not an answer", "call", ev.CallSID)
			return nil
		}
		_, err := s.svc.AnswerByCall(ctx, ev.CallSID, ev.Choice)
		if err != nil && anpi.Code(err) != anpi.Internal && anpi.Code(err) != anpi.Unavailable {
			if o, ok := ctx.Value(voiceOutcomeKey{}).(*voiceOutcome); ok {
				o.refused = true
			}
		}
		return s.phoneAnswered(ctx, "voice", "call", ev.CallSID, err)
	case twilio.CallStatus:
		s.log.DebugContext(ctx, "twilio: call status", "call", ev.CallSID, "status", ev.Status)
	default:
		s.log.WarnContext(ctx, "twilio: unexpected callback at the voice webhook", "type", ev.Type)
	}
	return nil
}

// phoneAnswered logs and counts the outcome of a telephone answer. Only a
// failure of the store is returned (Twilio then retries); an answer the
// Service refuses is logged and dropped.
func (s *server) phoneAnswered(ctx context.Context, via, key, sid string, err error) error {
	switch anpi.Code(err) {
	case anpi.NotFound, anpi.InvalidArgument, anpi.FailedPrecondition, anpi.PermissionDenied:
		s.log.InfoContext(ctx, "twilio: answer not recorded", key, sid, "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	s.counters.answer(via)
	return nil
}

// voiceOutcome tells voiceRefusals, through the request's context, that
// the Service refused the key pressed.
type voiceOutcome struct{ refused bool }

// voiceOutcomeKey is the context key of the *voiceOutcome.
type voiceOutcomeKey struct{}

// voiceRefusedTwiML is what a callee hears when his key was a menu key but
// the Service did not record it.
const voiceRefusedTwiML = `<?xml version="1.0" encoding="UTF-8"?>
<Response><Say language="ja-JP">この回答は受け付けられませんでした。お知らせのリンクから回答してください。</Say></Response>`

// voiceRefusals wraps twilio.Handler, which speaks "回答を受け付けました" for
// any menu key: when the Service refused the answer (a call it does not
// know, a survey closed meanwhile), the callee hears that it was not
// taken instead. The handler's answer is buffered to be replaced; it is a
// few hundred bytes.
func voiceRefusals(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := &voiceOutcome{}
		b := &bufferedResponse{h: http.Header{}}
		next.ServeHTTP(b, r.WithContext(context.WithValue(r.Context(), voiceOutcomeKey{}, o)))
		if b.status == 0 {
			b.status = http.StatusOK
		}
		if o.refused && b.status == http.StatusOK {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			_, _ = io.WriteString(w, voiceRefusedTwiML)
			return
		}
		for k, v := range b.h {
			w.Header()[k] = v
		}
		w.WriteHeader(b.status)
		_, _ = w.Write(b.body.Bytes())
	})
}

// bufferedResponse is an http.ResponseWriter that keeps the answer.
type bufferedResponse struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

// Header returns the header to be sent.
func (b *bufferedResponse) Header() http.Header { return b.h }

// Write keeps p.
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// WriteHeader keeps the first status.
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
