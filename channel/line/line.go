package line

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/line/line-bot-sdk-go/v8/linebot/messaging_api"

	"github.com/anpikit/anpi/channel"
)

// Limits of the Messaging API that the adapter respects.
const (
	MaxMulticast = 500  // user IDs per multicast request
	MaxTextChars = 5000 // characters per text message
)

// DefaultEndpoint is the Messaging API's base URL.
const DefaultEndpoint = "https://api.line.me"

// Config is what an operator fills in from the LINE Developers console to
// send messages. (The webhook's channel secret goes in WebhookConfig.)
type Config struct {
	// ChannelAccessToken authenticates API calls (required).
	ChannelAccessToken string
	// Endpoint is the API base URL; default DefaultEndpoint. Tests point
	// it at a local fake.
	Endpoint string
	// HTTPClient makes the calls; default a client with a 30 s timeout
	// that keeps up to 64 idle connections to the API (net/http keeps 2 by
	// default, too few for concurrent sends).
	HTTPClient *http.Client
	// Concurrency is how many requests SendBatch has in flight; default 8,
	// enough for LINE's 200 multicast requests/s at a round trip of 40 ms.
	Concurrency int
	// Now is the clock for receipts; default time.Now.
	Now func() time.Time
}

// Sender pushes text messages to LINE users. It implements channel.Sender
// and channel.BatchSender (multicast) and is safe for concurrent use: each
// call builds its own SDK client, because the SDK's WithContext mutates a
// shared one.
type Sender struct {
	cfg Config
}

var (
	_ channel.Sender      = (*Sender)(nil)
	_ channel.BatchSender = (*Sender)(nil)
)

// New checks cfg and returns a Sender.
func New(cfg Config) (*Sender, error) {
	if cfg.ChannelAccessToken == "" {
		return nil, errors.New("line: config: ChannelAccessToken is empty")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if _, err := messaging_api.NewMessagingApiAPI(cfg.ChannelAccessToken, messaging_api.WithEndpoint(cfg.Endpoint)); err != nil {
		return nil, fmt.Errorf("line: config: Endpoint %q: %w", cfg.Endpoint, err)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
		if tr, ok := http.DefaultTransport.(*http.Transport); ok {
			tr = tr.Clone()
			tr.MaxIdleConnsPerHost = 64
			cfg.HTTPClient.Transport = tr
		}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{cfg: cfg}, nil
}

// Kind returns channel.LINE.
func (s *Sender) Kind() channel.Kind { return channel.LINE }

// api returns an SDK client bound to ctx, for one call.
func (s *Sender) api(ctx context.Context) (*messaging_api.MessagingApiAPI, error) {
	api, err := messaging_api.NewMessagingApiAPI(s.cfg.ChannelAccessToken,
		messaging_api.WithEndpoint(s.cfg.Endpoint), messaging_api.WithHTTPClient(s.cfg.HTTPClient))
	if err != nil {
		return nil, channel.NewError(channel.Misconfigured, err, "line: client")
	}
	return api.WithContext(ctx), nil
}

// text returns the text LINE shows: m.Text, and m.URL on a line of its own
// if the text does not contain it already.
func text(m *channel.Message) string {
	t := m.Text
	if m.URL != "" && !strings.Contains(t, m.URL) {
		if t != "" {
			t += "\n"
		}
		t += m.URL
	}
	return t
}

// check validates m for LINE and returns its text.
func check(m *channel.Message) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	if !validUserID(m.To) {
		return "", channel.Errorf(channel.Permanent, "line: message %q: recipient is not a LINE user ID (U + 32 hex digits)", m.IdempotencyKey)
	}
	t := text(m)
	if t == "" {
		return "", channel.Errorf(channel.Permanent, "line: message %q: no text (LINE has no subject)", m.IdempotencyKey)
	}
	if n := len(t); n > MaxTextChars && utf8.RuneCountInString(t) > MaxTextChars {
		n = utf8.RuneCountInString(t)
		return "", channel.Errorf(channel.Permanent, "line: message %q: text of %d characters, more than LINE's %d", m.IdempotencyKey, n, MaxTextChars)
	}
	return t, nil
}

func textMessages(t string) []messaging_api.MessageInterface {
	return []messaging_api.MessageInterface{messaging_api.TextMessage{Text: t}}
}

// Send pushes m to one user (POST /v2/bot/message/push) with a retry key
// derived from m.IdempotencyKey; a 409 (the key was accepted before) is a
// success.
func (s *Sender) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	t, err := check(m)
	if err != nil {
		return channel.Receipt{}, err
	}
	return s.push(ctx, m, t)
}

func (s *Sender) push(ctx context.Context, m *channel.Message, t string) (channel.Receipt, error) {
	what := fmt.Sprintf("line: push %q", m.IdempotencyKey)
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, channel.NewError(channel.Temporary, err, what)
	}
	api, err := s.api(ctx)
	if err != nil {
		return channel.Receipt{}, err
	}
	res, body, err := api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: m.To, Messages: textMessages(t)},
		RetryKey("push", m.IdempotencyKey))
	if err == nil {
		id := res.Header.Get("X-Line-Request-Id")
		if body != nil && len(body.SentMessages) > 0 && body.SentMessages[0].Id != "" {
			id = body.SentMessages[0].Id
		}
		return channel.Receipt{ProviderID: id, At: s.cfg.Now()}, nil
	}
	if res != nil && res.StatusCode == http.StatusConflict {
		return channel.Receipt{ProviderID: acceptedID(res), At: s.cfg.Now()}, nil
	}
	return channel.Receipt{}, classify(ctx, what, res, err)
}

// acceptedID returns the ID of the request that was accepted first, from a
// 409 answer: the first sent message's ID, or X-Line-Accepted-Request-Id.
func acceptedID(res *http.Response) string {
	if res.Body != nil {
		var b struct {
			SentMessages []struct {
				ID string `json:"id"`
			} `json:"sentMessages"`
		}
		if json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&b) == nil && len(b.SentMessages) > 0 && b.SentMessages[0].ID != "" {
			return b.SentMessages[0].ID
		}
	}
	return res.Header.Get("X-Line-Accepted-Request-Id")
}

// multicast sends one text to up to MaxMulticast users with one request.
// keys are the messages' idempotency keys, for the retry key.
func (s *Sender) multicast(ctx context.Context, to, keys []string, t string) (channel.Receipt, error) {
	what := fmt.Sprintf("line: multicast to %d users (first %q)", len(to), keys[0])
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, channel.NewError(channel.Temporary, err, what)
	}
	api, err := s.api(ctx)
	if err != nil {
		return channel.Receipt{}, err
	}
	res, _, err := api.MulticastWithHttpInfo(&messaging_api.MulticastRequest{To: to, Messages: textMessages(t)},
		RetryKey("multicast", keys...))
	if err == nil {
		return channel.Receipt{ProviderID: res.Header.Get("X-Line-Request-Id"), At: s.cfg.Now()}, nil
	}
	if res != nil && res.StatusCode == http.StatusConflict {
		return channel.Receipt{ProviderID: res.Header.Get("X-Line-Accepted-Request-Id"), At: s.cfg.Now()}, nil
	}
	return channel.Receipt{}, classify(ctx, what, res, err)
}

// SendBatch sends ms with as few requests as it can: messages with the
// same text go out by multicast, MaxMulticast users per request, the others
// by push; Config.Concurrency requests at a time. A multicast that LINE
// refuses with 400 (one bad user ID fails the whole request) is sent again
// as pushes, one per user, to find which message is bad: nothing was sent
// by the refused request. It returns an error only if ctx is done before
// it starts.
func (s *Sender) SendBatch(ctx context.Context, ms []*channel.Message) ([]channel.Result, error) {
	res := make([]channel.Result, len(ms))
	if len(ms) == 0 {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, channel.NewError(channel.Temporary, err, fmt.Sprintf("line: batch of %d", len(ms)))
	}
	texts := make([]string, len(ms))
	var order []string
	groups := map[string][]int{}
	for i, m := range ms {
		t, err := check(m)
		if err != nil {
			res[i].Err = err
			continue
		}
		texts[i] = t
		if _, ok := groups[t]; !ok {
			order = append(order, t)
		}
		groups[t] = append(groups[t], i)
	}
	type job struct {
		idx  []int // indexes into ms; one means push
		text string
	}
	var jobs []job
	for _, t := range order {
		idx := groups[t]
		// A user twice in one multicast would get the text once; send
		// repeats by push.
		seen := map[string]bool{}
		var multi []int
		for _, i := range idx {
			if seen[ms[i].To] {
				jobs = append(jobs, job{idx: []int{i}, text: t})
				continue
			}
			seen[ms[i].To] = true
			multi = append(multi, i)
		}
		for len(multi) > 0 {
			n := min(len(multi), MaxMulticast)
			jobs = append(jobs, job{idx: multi[:n:n], text: t})
			multi = multi[n:]
		}
	}
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if len(j.idx) == 1 {
				i := j.idx[0]
				res[i].Receipt, res[i].Err = s.push(ctx, ms[i], j.text)
				return
			}
			to := make([]string, len(j.idx))
			keys := make([]string, len(j.idx))
			for k, i := range j.idx {
				to[k], keys[k] = ms[i].To, ms[i].IdempotencyKey
			}
			rc, err := s.multicast(ctx, to, keys, j.text)
			if channel.Code(err) == channel.Permanent {
				for _, i := range j.idx {
					res[i].Receipt, res[i].Err = s.push(ctx, ms[i], j.text)
				}
				return
			}
			for _, i := range j.idx {
				res[i].Receipt, res[i].Err = rc, err
			}
		})
	}
	wg.Wait()
	return res, nil
}

// IssueLinkToken issues a one-time link token for lineUserID (POST
// /v2/bot/user/{userId}/linkToken), the first step of account linking; see
// Linker.
func (s *Sender) IssueLinkToken(ctx context.Context, lineUserID string) (string, error) {
	if !validUserID(lineUserID) {
		return "", channel.Errorf(channel.Permanent, "line: issue link token: not a LINE user ID")
	}
	api, err := s.api(ctx)
	if err != nil {
		return "", err
	}
	res, body, err := api.IssueLinkTokenWithHttpInfo(lineUserID)
	if err != nil {
		return "", classify(ctx, "line: issue link token", res, err)
	}
	if body == nil || body.LinkToken == "" {
		return "", channel.Errorf(channel.Temporary, "line: issue link token: empty link token in the answer")
	}
	return body.LinkToken, nil
}

// Reply answers a webhook event through its reply token.
func (s *Sender) Reply(ctx context.Context, replyToken, text string) error {
	if replyToken == "" || text == "" {
		return channel.Errorf(channel.Permanent, "line: reply: empty reply token or text")
	}
	if n := utf8.RuneCountInString(text); n > MaxTextChars {
		return channel.Errorf(channel.Permanent, "line: reply: text of %d characters, more than LINE's %d", n, MaxTextChars)
	}
	api, err := s.api(ctx)
	if err != nil {
		return err
	}
	res, _, err := api.ReplyMessageWithHttpInfo(&messaging_api.ReplyMessageRequest{ReplyToken: replyToken, Messages: textMessages(text)})
	if err != nil {
		return classify(ctx, "line: reply", res, err)
	}
	return nil
}
