package twilio

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/client"
)

// EventType says what a callback from Twilio reports.
type EventType string

// The event types.
const (
	// MessageStatus: a status change of a sent SMS (queued, sent,
	// delivered, undelivered, failed).
	MessageStatus EventType = "message-status"
	// CallStatus: a status change of a call (initiated, ringing,
	// in-progress, completed, busy, no-answer, canceled, failed).
	CallStatus EventType = "call-status"
	// Gather: the key the callee pressed after hearing the message.
	Gather EventType = "gather"
	// InboundSMS: a text message sent to the account's number (a reply).
	InboundSMS EventType = "inbound-sms"
)

// Event is one callback, its signature verified.
type Event struct {
	Type       EventType // what the callback reports
	AccountSID string    // the account the callback is for
	MessageSID string    // MessageStatus, InboundSMS: the message ("SM…"), the Receipt.ProviderID of an SMS
	CallSID    string    // CallStatus, Gather: the call ("CA…"), the Receipt.ProviderID of a call
	Status     string    // MessageStatus, CallStatus: the new status
	ErrorCode  string    // MessageStatus: Twilio's error code of a failed or undelivered message
	From, To   string    // E.164 numbers as Twilio posted them
	Body       string    // InboundSMS: the text
	Digits     string    // Gather: the keys pressed
	// Choice is the answer code the Digits (Gather) or the Body
	// (InboundSMS) map to through Choices, and Answered whether they map
	// to one at all.
	Choice   string
	Answered bool // whether Choice is an answer
	// Params is everything Twilio posted.
	Params url.Values
}

// Receiver receives verified callbacks. An error makes the handler answer
// 500.
type Receiver interface {
	Receive(ctx context.Context, ev Event) error
}

// ReceiverFunc adapts a function to Receiver.
type ReceiverFunc func(ctx context.Context, ev Event) error

// Receive calls f.
func (f ReceiverFunc) Receive(ctx context.Context, ev Event) error { return f(ctx, ev) }

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// AuthToken is the account's auth token, the key of the signatures.
	// Required.
	AuthToken string
	// PublicURL is the scheme and host (and path prefix, if a proxy strips
	// one) under which Twilio reaches the handler, e.g.
	// "https://anpi.example.co.jp". The signature covers the URL exactly as
	// Twilio requested it, so behind a reverse proxy it must be given.
	// Required.
	PublicURL string
	// Receiver gets every verified callback. Required.
	Receiver Receiver
	// Choices maps digits and replies to answer codes; default
	// DefaultChoices. Give the senders' Config.Choices, so that the keys
	// the call offers are the keys the handler understands.
	Choices Choices
	// Language is the language of the spoken confirmation after a
	// <Gather>; default "ja-JP".
	Language string
	// MaxBodyBytes bounds a callback's body; default 64 KiB.
	MaxBodyBytes int64
}

// Handler is the http.Handler for Twilio's status callbacks, <Gather>
// actions and inbound-SMS webhooks (mount it at Config.StatusCallback,
// Config.GatherAction and the number's "A message comes in" URL). It
// accepts only POSTs whose X-Twilio-Signature verifies (else 403),
// classifies them into Events, maps digits and replies to answers, and
// calls the Receiver. It answers TwiML: a spoken confirmation for a
// <Gather>, an empty <Response/> otherwise.
type Handler struct {
	cfg       HandlerConfig
	public    string
	validator client.RequestValidator
}

// NewHandler checks cfg and returns a Handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	pre := "twilio: handler config: "
	switch {
	case cfg.AuthToken == "":
		return nil, errors.New(pre + "AuthToken is empty")
	case cfg.Receiver == nil:
		return nil, errors.New(pre + "Receiver is nil")
	case cfg.MaxBodyBytes < 0:
		return nil, fmt.Errorf(pre+"MaxBodyBytes %d is negative", cfg.MaxBodyBytes)
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf(pre+"PublicURL %q is not an absolute http(s) URL without a query", cfg.PublicURL)
	}
	if err := cfg.Choices.check(); err != nil {
		return nil, fmt.Errorf(pre+"Choices: %w", err)
	}
	if cfg.Choices == nil {
		cfg.Choices = DefaultChoices()
	}
	if cfg.Language == "" {
		cfg.Language = DefaultVoiceLanguage
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	return &Handler{cfg: cfg, public: strings.TrimSuffix(cfg.PublicURL, "/"), validator: client.NewRequestValidator(cfg.AuthToken)}, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "twilio callback: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "twilio callback: body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "twilio callback: bad form", http.StatusBadRequest)
		return
	}
	flat := make(map[string]string, len(r.PostForm))
	for k, vs := range r.PostForm {
		if len(vs) > 0 {
			flat[k] = vs[0]
		}
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" || !h.validator.Validate(h.public+r.URL.RequestURI(), flat, sig) {
		http.Error(w, "twilio callback: invalid signature", http.StatusForbidden)
		return
	}
	ev := h.event(r.PostForm)
	if ev.Type == "" {
		http.Error(w, "twilio callback: unknown callback", http.StatusBadRequest)
		return
	}
	if err := h.cfg.Receiver.Receive(r.Context(), ev); err != nil {
		http.Error(w, "twilio callback: not recorded", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	if ev.Type == Gather {
		text := "入力が確認できませんでした。後ほどリンクから回答してください。"
		if ev.Answered {
			text = "回答を受け付けました。ありがとうございました。"
		}
		_, _ = w.Write([]byte(xml.Header))
		_ = xml.NewEncoder(w).Encode(struct {
			XMLName xml.Name `xml:"Response"`
			Say     twimlSay `xml:"Say"`
		}{Say: twimlSay{Language: h.cfg.Language, Text: text}})
		return
	}
	_, _ = w.Write([]byte(xml.Header + "<Response></Response>"))
}

// event classifies a callback by its parameters: Digits means a <Gather>
// action; CallSid and CallStatus a call status; MessageStatus a message
// status; a Body without MessageStatus an inbound SMS.
func (h *Handler) event(p url.Values) Event {
	ev := Event{AccountSID: p.Get("AccountSid"), From: p.Get("From"), To: p.Get("To"), Params: p}
	msgSID := p.Get("MessageSid")
	if msgSID == "" {
		msgSID = p.Get("SmsSid")
	}
	switch {
	case p.Has("Digits"):
		ev.Type, ev.CallSID, ev.Digits, ev.Status = Gather, p.Get("CallSid"), p.Get("Digits"), p.Get("CallStatus")
		ev.Choice, ev.Answered = h.cfg.Choices.Parse(ev.Digits)
	case p.Get("CallSid") != "" && p.Get("CallStatus") != "":
		ev.Type, ev.CallSID, ev.Status = CallStatus, p.Get("CallSid"), p.Get("CallStatus")
	case p.Get("MessageStatus") != "":
		ev.Type, ev.MessageSID, ev.Status, ev.ErrorCode = MessageStatus, msgSID, p.Get("MessageStatus"), p.Get("ErrorCode")
	case p.Has("Body") && msgSID != "":
		ev.Type, ev.MessageSID, ev.Body = InboundSMS, msgSID, p.Get("Body")
		ev.Choice, ev.Answered = h.cfg.Choices.Parse(ev.Body)
	}
	return ev
}
