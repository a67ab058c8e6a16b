package line

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// Events receives what LINE users do, from Webhook. LINE may deliver an
// event twice (redelivery after an error or a timeout), so implementations
// must be idempotent. A returned error makes the webhook answer 500, which
// asks LINE to redeliver when redelivery is on. A non-empty reply is sent
// back to the user through the event's reply token.
type Events interface {
	// Followed: the user added the account as a friend or unblocked it. A
	// good reply explains how to link the account (see Linker).
	Followed(ctx context.Context, lineUserID string) (reply string, err error)
	// Unfollowed: the user blocked the account; messages no longer reach
	// them. Mark the contact unusable.
	Unfollowed(ctx context.Context, lineUserID string) error
	// Linked: account linking succeeded; userID is our user, resolved from
	// the nonce by the NonceStore.
	Linked(ctx context.Context, userID, lineUserID string) error
	// Text: the user typed text. Typed text is not an answer: reply with
	// the answer link.
	Text(ctx context.Context, lineUserID, text string) (reply string, err error)
	// Postback: the user tapped a postback action; data is the action's
	// data (an answer, when the message offered answer buttons).
	Postback(ctx context.Context, lineUserID, data string) (reply string, err error)
}

// NopEvents implements Events doing nothing; embed it to implement only
// the methods you need.
type NopEvents struct{}

// Followed does nothing.
func (NopEvents) Followed(context.Context, string) (string, error) { return "", nil }

// Unfollowed does nothing.
func (NopEvents) Unfollowed(context.Context, string) error { return nil }

// Linked does nothing.
func (NopEvents) Linked(context.Context, string, string) error { return nil }

// Text does nothing.
func (NopEvents) Text(context.Context, string, string) (string, error) { return "", nil }

// Postback does nothing.
func (NopEvents) Postback(context.Context, string, string) (string, error) { return "", nil }

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	// ChannelSecret verifies X-Line-Signature (required).
	ChannelSecret string
	// Events receives the events (required).
	Events Events
	// Replier sends replies; nil sends none.
	Replier *Sender
	// Nonces resolves account-link nonces to our users; nil ignores
	// accountLink events.
	Nonces NonceStore
	// Logger logs what the webhook drops; default: discard.
	Logger *slog.Logger
	// MaxBodyBytes bounds the request body; default 1 MiB.
	MaxBodyBytes int64
}

// Webhook is the http.Handler LINE posts events to.
type Webhook struct {
	cfg WebhookConfig
}

// NewWebhook checks cfg and returns the handler.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.ChannelSecret == "" {
		return nil, errors.New("line: webhook config: ChannelSecret is empty")
	}
	if cfg.Events == nil {
		return nil, errors.New("line: webhook config: Events is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	return &Webhook{cfg: cfg}, nil
}

// event is the part of a webhook event the handler reads.
type event struct {
	Type           string `json:"type"`
	WebhookEventID string `json:"webhookEventId"`
	ReplyToken     string `json:"replyToken"`
	Source         struct {
		Type   string `json:"type"`
		UserID string `json:"userId"`
	} `json:"source"`
	Message struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"message"`
	Postback struct {
		Data string `json:"data"`
	} `json:"postback"`
	Link struct {
		Result string `json:"result"`
		Nonce  string `json:"nonce"`
	} `json:"link"`
}

// ValidSignature reports whether signature (the X-Line-Signature header)
// is the base64 HMAC-SHA256 of body keyed with the channel secret.
func ValidSignature(channelSecret, signature string, body []byte) bool {
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(channelSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// ServeHTTP verifies the signature, decodes the events and hands them to
// Events, in order. It answers 405 to anything but POST, 413 to a body over
// MaxBodyBytes, 400 to a bad signature or body, 500 if Events failed, and
// 200 otherwise.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(rw, "line webhook: body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(rw, "line webhook: reading the body failed", http.StatusBadRequest)
		return
	}
	if !ValidSignature(w.cfg.ChannelSecret, r.Header.Get("X-Line-Signature"), body) {
		w.cfg.Logger.WarnContext(r.Context(), "line webhook: invalid signature", "remote", r.RemoteAddr)
		http.Error(rw, "line webhook: invalid X-Line-Signature", http.StatusBadRequest)
		return
	}
	var cb struct {
		Events []event `json:"events"`
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		http.Error(rw, "line webhook: body is not a webhook callback: "+err.Error(), http.StatusBadRequest)
		return
	}
	var failed error
	for i := range cb.Events {
		if err := w.handle(r.Context(), &cb.Events[i]); err != nil {
			w.cfg.Logger.ErrorContext(r.Context(), "line webhook: event failed", "event", cb.Events[i].WebhookEventID, "type", cb.Events[i].Type, "err", err)
			failed = err
		}
	}
	if failed != nil {
		http.Error(rw, "line webhook: an event could not be processed", http.StatusInternalServerError)
		return
	}
	rw.WriteHeader(http.StatusOK)
}

func (w *Webhook) handle(ctx context.Context, ev *event) error {
	if ev.Source.Type != "user" || ev.Source.UserID == "" {
		return nil // groups and rooms are not contacts
	}
	user := ev.Source.UserID
	var (
		reply string
		err   error
	)
	switch ev.Type {
	case "follow":
		reply, err = w.cfg.Events.Followed(ctx, user)
	case "unfollow":
		err = w.cfg.Events.Unfollowed(ctx, user)
	case "accountLink":
		err = w.link(ctx, ev)
	case "message":
		if ev.Message.Type != "text" {
			return nil
		}
		reply, err = w.cfg.Events.Text(ctx, user, ev.Message.Text)
	case "postback":
		reply, err = w.cfg.Events.Postback(ctx, user, ev.Postback.Data)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("line webhook: %s event %s: %w", ev.Type, ev.WebhookEventID, err)
	}
	if reply != "" && ev.ReplyToken != "" && w.cfg.Replier != nil {
		if err := w.cfg.Replier.Reply(ctx, ev.ReplyToken, reply); err != nil {
			// A reply is a courtesy: a failed one must not make LINE
			// redeliver the event.
			w.cfg.Logger.WarnContext(ctx, "line webhook: reply failed", "event", ev.WebhookEventID, "err", err)
		}
	}
	return nil
}

func (w *Webhook) link(ctx context.Context, ev *event) error {
	if w.cfg.Nonces == nil {
		w.cfg.Logger.WarnContext(ctx, "line webhook: accountLink event but no NonceStore", "event", ev.WebhookEventID)
		return nil
	}
	if ev.Link.Result != "ok" {
		w.cfg.Logger.InfoContext(ctx, "line webhook: account linking failed on LINE's side", "event", ev.WebhookEventID, "result", ev.Link.Result)
		return nil
	}
	userID, ok, err := w.cfg.Nonces.Take(ctx, ev.Link.Nonce)
	if err != nil {
		return fmt.Errorf("nonce store: %w", err)
	}
	if !ok {
		w.cfg.Logger.WarnContext(ctx, "line webhook: unknown or expired account-link nonce", "event", ev.WebhookEventID)
		return nil
	}
	return w.cfg.Events.Linked(ctx, userID, ev.Source.UserID)
}
