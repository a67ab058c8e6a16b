package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
)

// counters are the server's own counters, kept since start. The store holds
// the rest of what /metrics shows (deliveries, tallies), read per scrape.
type counters struct {
	answersWeb atomic.Int64 // answers recorded through the answer page
	enqueues   atomic.Int64 // commits that enqueued deliveries (anpi.Options.OnEnqueue)
	documents  atomic.Int64 // JMA documents handled (any outcome)
	docErrors  atomic.Int64 // JMA documents refused or failed

	// sent receives a value (when it has room) after each provider
	// answer: a "something was sent" signal for whoever waits on mail,
	// such as the tests. Nobody has to read it.
	sent chan struct{}

	mu       sync.Mutex
	sends    map[sendKey]int64    // provider calls per channel and result code
	answers  map[string]int64     // answers recorded through the webhooks, by via (line, sms, voice)
	webhooks map[webhookKey]int64 // webhook requests by provider and outcome
}

// webhookKey is one counter of webhook requests.
type webhookKey struct {
	provider string // line, twilio_sms, twilio_voice
	outcome  string // ok (2xx), rejected (4xx: bad signature, bad body), error (5xx)
}

// answer counts one answer recorded through a webhook.
func (c *counters) answer(via string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answers == nil {
		c.answers = map[string]int64{}
	}
	c.answers[via]++
}

// countWebhook counts the requests of a webhook handler by the class of
// the status it answered.
func countWebhook(provider string, next http.Handler, c *counters) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		outcome := "ok"
		switch {
		case sw.status >= 500:
			outcome = "error"
		case sw.status >= 400:
			outcome = "rejected"
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.webhooks == nil {
			c.webhooks = map[webhookKey]int64{}
		}
		c.webhooks[webhookKey{provider, outcome}]++
	})
}

// newCounters returns zero counters.
func newCounters() *counters { return &counters{sent: make(chan struct{}, 1)} }

// sendKey is one counter of provider answers.
type sendKey struct {
	ch   anpi.Channel
	code string // "ok" or the channel.ErrorCode's name
}

// countSend counts one provider answer on ch and signals c.sent.
func (c *counters) countSend(ch anpi.Channel, err error) {
	code := "ok"
	if err != nil {
		code = channel.Code(err).String()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sends == nil {
		c.sends = map[sendKey]int64{}
	}
	c.sends[sendKey{ch, code}]++
	select {
	case c.sent <- struct{}{}:
	default:
	}
}

// countingSender counts what a provider answers, message by message.
type countingSender struct {
	channel.Sender
	ch anpi.Channel
	c  *counters
}

// countingBatchSender is a countingSender over a BatchSender, so batching
// survives the wrapping (channel.SendAll finds it by type assertion).
type countingBatchSender struct {
	countingSender
	b channel.BatchSender
}

// countSends wraps s so that every provider answer is counted.
func countSends(ch anpi.Channel, s channel.Sender, c *counters) channel.Sender {
	cs := countingSender{Sender: s, ch: ch, c: c}
	if b, ok := s.(channel.BatchSender); ok {
		return &countingBatchSender{countingSender: cs, b: b}
	}
	return &cs
}

// Send sends m and counts the provider's answer.
func (s *countingSender) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	r, err := s.Sender.Send(ctx, m)
	s.c.countSend(s.ch, err)
	return r, err
}

// SendBatch sends ms as one batch and counts each message's result (a
// failed batch counts its error once per message).
func (s *countingBatchSender) SendBatch(ctx context.Context, ms []*channel.Message) ([]channel.Result, error) {
	res, err := s.b.SendBatch(ctx, ms)
	if err != nil {
		for range ms {
			s.c.countSend(s.ch, err)
		}
		return res, err
	}
	for _, r := range res {
		s.c.countSend(s.ch, r.Err)
	}
	return res, nil
}

// countAnswers counts the answers the answer page records: a POST to
// /a/{token} answered with 303 (the redirect to the thank-you page) is an
// answer the Service recorded.
func countAnswers(next http.Handler, c *counters) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/a/") {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusSeeOther {
			c.answersWeb.Add(1)
		}
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// metricsHandler writes the Prometheus text exposition format (version
// 0.0.4) by hand: no client library is needed for a handful of series.
//
// The delivery and tally figures are read from the store on each scrape,
// over the surveys that are open or held (closed surveys no longer move):
// one Deliveries and one Tally read per such survey.
func metricsHandler(st anpi.Store, disp *dispatch.Dispatcher, c *counters, channels []anpi.Channel) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		var b strings.Builder
		if err := writeMetrics(ctx, &b, st, disp, c, channels); err != nil {
			http.Error(w, "metrics: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		io.WriteString(w, b.String())
	})
}

// writeMetrics writes every series of /metrics to w.
func writeMetrics(ctx context.Context, w io.Writer, st anpi.Store, disp *dispatch.Dispatcher, c *counters, channels []anpi.Channel) error {
	type stateCh struct {
		state anpi.DeliveryState
		ch    anpi.Channel
	}
	byState := map[stateCh]int{}
	var surveys []*anpi.Survey
	for _, status := range []anpi.SurveyStatus{anpi.Open, anpi.Held} {
		ss, err := st.ListSurveys(ctx, &anpi.SurveyQuery{Status: status})
		if err != nil {
			return err
		}
		surveys = append(surveys, ss...)
	}
	var targets, answered int
	for _, sv := range surveys {
		ds, err := st.Deliveries(ctx, sv.ID)
		if err != nil {
			return err
		}
		for _, d := range ds {
			byState[stateCh{d.State, d.Channel}]++
		}
		t, err := st.Tally(ctx, sv.ID)
		if err != nil {
			return err
		}
		targets += t.Targets
		answered += t.Answered
	}
	depth := 0
	for k, n := range byState {
		if k.state == anpi.Queued || k.state == anpi.FailedTemporary || k.state == anpi.Sending {
			depth += n
		}
	}

	header := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	header("anpi_deliveries", "gauge", "Deliveries of the open and held surveys, by state and channel.")
	keys := make([]stateCh, 0, len(byState))
	for k := range byState {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b stateCh) int {
		return cmp.Or(cmp.Compare(a.ch, b.ch), cmp.Compare(a.state, b.state))
	})
	for _, k := range keys {
		fmt.Fprintf(w, "anpi_deliveries{channel=%q,state=%q} %d\n", k.ch, k.state, byState[k])
	}
	header("anpi_queue_depth", "gauge", "Deliveries of the open and held surveys waiting to be sent (queued, retrying or being sent).")
	fmt.Fprintf(w, "anpi_queue_depth %d\n", depth)
	header("anpi_open_surveys", "gauge", "Surveys open or held.")
	fmt.Fprintf(w, "anpi_open_surveys %d\n", len(surveys))
	header("anpi_survey_targets", "gauge", "Recipients of the open and held surveys.")
	fmt.Fprintf(w, "anpi_survey_targets %d\n", targets)
	header("anpi_survey_answered", "gauge", "Recipients of the open and held surveys who answered.")
	fmt.Fprintf(w, "anpi_survey_answered %d\n", answered)
	header("anpi_answers_total", "counter", "Answers recorded through the answer page and the webhooks since start, by path.")
	fmt.Fprintf(w, "anpi_answers_total{via=\"web\"} %d\n", c.answersWeb.Load())
	webhookVias := [...]string{"line", "sms", "voice"} // always shown, zero or not
	c.mu.Lock()
	var viaCounts [len(webhookVias)]int64
	for i, via := range webhookVias {
		viaCounts[i] = c.answers[via]
	}
	hookKeys := make([]webhookKey, 0, len(c.webhooks))
	for k := range c.webhooks {
		hookKeys = append(hookKeys, k)
	}
	slices.SortFunc(hookKeys, func(a, b webhookKey) int {
		return cmp.Or(cmp.Compare(a.provider, b.provider), cmp.Compare(a.outcome, b.outcome))
	})
	hooks := make([]int64, len(hookKeys))
	for i, k := range hookKeys {
		hooks[i] = c.webhooks[k]
	}
	c.mu.Unlock()
	for i, via := range webhookVias {
		fmt.Fprintf(w, "anpi_answers_total{via=%q} %d\n", via, viaCounts[i])
	}
	header("anpi_webhook_requests_total", "counter", "Webhook requests since start, by provider and outcome (ok, rejected: 4xx such as a bad signature, error: 5xx).")
	for i, k := range hookKeys {
		fmt.Fprintf(w, "anpi_webhook_requests_total{provider=%q,outcome=%q} %d\n", k.provider, k.outcome, hooks[i])
	}
	header("anpi_enqueue_commits_total", "counter", "Commits that enqueued deliveries since start.")
	fmt.Fprintf(w, "anpi_enqueue_commits_total %d\n", c.enqueues.Load())
	header("anpi_jma_documents_total", "counter", "JMA documents handled since start, by outcome.")
	fmt.Fprintf(w, "anpi_jma_documents_total{outcome=\"ok\"} %d\n", c.documents.Load()-c.docErrors.Load())
	fmt.Fprintf(w, "anpi_jma_documents_total{outcome=\"error\"} %d\n", c.docErrors.Load())

	header("anpi_provider_sends_total", "counter", "Messages handed to a provider since start, by channel and result (ok or the channel error code).")
	c.mu.Lock()
	sendKeys := make([]sendKey, 0, len(c.sends))
	for k := range c.sends {
		sendKeys = append(sendKeys, k)
	}
	slices.SortFunc(sendKeys, func(a, b sendKey) int { return cmp.Or(cmp.Compare(a.ch, b.ch), cmp.Compare(a.code, b.code)) })
	sends := make([]int64, len(sendKeys))
	for i, k := range sendKeys {
		sends[i] = c.sends[k]
	}
	c.mu.Unlock()
	for i, k := range sendKeys {
		fmt.Fprintf(w, "anpi_provider_sends_total{channel=%q,result=%q} %d\n", k.ch, k.code, sends[i])
	}
	header("anpi_provider_errors_total", "counter", "Messages a provider refused or failed since start, by channel.")
	errs := map[anpi.Channel]int64{}
	for i, k := range sendKeys {
		if k.code != "ok" {
			errs[k.ch] += sends[i]
		}
	}
	for _, ch := range channels {
		fmt.Fprintf(w, "anpi_provider_errors_total{channel=%q} %d\n", ch, errs[ch])
	}

	totals := disp.Totals()
	header("anpi_dispatch_total", "counter", "What the dispatcher did with deliveries since start, by channel and outcome.")
	for _, ch := range channels {
		t := totals[ch]
		for _, kv := range []struct {
			name string
			n    int
		}{{"claimed", t.Claimed}, {"sent", t.Sent}, {"retried", t.Retried}, {"rate_limited", t.RateLimited},
			{"fell_back", t.FellBack}, {"exhausted", t.Exhausted}, {"no_contact", t.NoContact}, {"dropped", t.Dropped},
			{"broken", t.Broken}, {"lease_lost", t.LeaseLost}, {"store_errors", t.Errors}} {
			fmt.Fprintf(w, "anpi_dispatch_total{channel=%q,outcome=%q} %d\n", ch, kv.name, kv.n)
		}
	}
	header("anpi_dispatch_circuit_open", "gauge", "1 when the channel's circuit breaker is open or half-open.")
	for _, ch := range channels {
		open := 0
		if disp.Circuit(ch).State != dispatch.CircuitClosed {
			open = 1
		}
		fmt.Fprintf(w, "anpi_dispatch_circuit_open{channel=%q} %d\n", ch, open)
	}
	return nil
}
