package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/internal/pace"
)

// drainBatch is how many deliveries one round claims on channels that are
// not sent here (no sender, or failed over).
const drainBatch = 100

// Stats counts what the dispatcher did with deliveries.
type Stats struct {
	Claimed     int // deliveries claimed
	Sent        int // accepted by the provider and recorded (CompleteDelivery)
	Retried     int // failed for now, to be claimed again after a backoff
	RateLimited int // provider answers RateLimited (HTTP 429, quota)
	FellBack    int // failed on their channel; a delivery was enqueued on the next one
	Exhausted   int // failed on their channel with no channel left
	NoContact   int // of FellBack and Exhausted: the recipient had no contact on the channel
	Dropped     int // not sent: the Renderer said it is no longer wanted (FailedPrecondition)
	Broken      int // contacts marked broken (Unregistered)
	LeaseLost   int // results not recorded: another dispatcher holds the delivery now
	Errors      int // results not recorded because the store failed
}

// Add adds o's counts to s.
func (s *Stats) Add(o Stats) {
	s.Claimed += o.Claimed
	s.Sent += o.Sent
	s.Retried += o.Retried
	s.RateLimited += o.RateLimited
	s.FellBack += o.FellBack
	s.Exhausted += o.Exhausted
	s.NoContact += o.NoContact
	s.Dropped += o.Dropped
	s.Broken += o.Broken
	s.LeaseLost += o.LeaseLost
	s.Errors += o.Errors
}

// CircuitState is where a channel's circuit breaker stands.
type CircuitState int

// The circuit states.
const (
	// CircuitClosed: the channel sends normally.
	CircuitClosed CircuitState = iota
	// CircuitOpen: the provider failed; nothing is sent until the
	// cooldown is over.
	CircuitOpen
	// CircuitHalfOpen: one probe delivery may go; its result closes or
	// reopens the circuit.
	CircuitHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s CircuitState) String() string { return pace.State(s).String() }

// CircuitStatus describes a channel's circuit breaker.
type CircuitStatus struct {
	State     CircuitState
	OpenSince time.Time // first opening since it was last closed; zero when closed
	OpenUntil time.Time // end of the current cooldown; zero when closed
	Cause     string    // the error that opened it
}

// lane is one channel that has a sender.
type lane struct {
	ch      anpi.Channel
	sender  channel.Sender
	lim     Limit
	bucket  *pace.Bucket
	breaker *pace.Breaker
}

// Dispatcher sends the deliveries of a store's outbox: it claims them with
// leases, renders them, paces and sends them, retries, falls back and
// records the results. See the package documentation.
type Dispatcher struct {
	st       anpi.Store
	o        Options
	clock    Clock
	log      *slog.Logger
	lanes    []*lane // in fallback order, then the others by name
	byChan   map[anpi.Channel]*lane
	next     map[anpi.Channel]anpi.Channel // fallback successor ("" at the end)
	noSender []anpi.Channel                // valid channels without a sender
	running  atomic.Bool
	wake     notifier

	randMu sync.Mutex

	totalsMu sync.Mutex
	totals   map[anpi.Channel]Stats
}

// New returns a Dispatcher over st. Errors are InvalidArgument (anpi.Code).
func New(st anpi.Store, opts *Options) (*Dispatcher, error) {
	bad := func(format string, args ...any) (*Dispatcher, error) {
		return nil, anpi.Errorf(anpi.InvalidArgument, "dispatch: new: "+format, args...)
	}
	if st == nil {
		return bad("nil store")
	}
	if opts == nil {
		return bad("options are required (Senders and Renderer)")
	}
	o := *opts
	if o.Renderer == nil {
		return bad("options: Renderer is required")
	}
	if len(o.Senders) == 0 {
		return bad("options: no Senders")
	}
	for c, s := range o.Senders {
		switch {
		case !c.Valid():
			return bad("options: Senders: unknown channel %q", c)
		case s == nil:
			return bad("options: Senders: nil sender for %s", c)
		case s.Kind() != channel.Kind(c):
			return bad("options: Senders: the sender for %s is a %s sender", c, s.Kind())
		}
	}
	if len(o.Fallback) == 0 {
		o.Fallback = DefaultFallback()
	}
	seen := map[anpi.Channel]bool{}
	for _, c := range o.Fallback {
		if !c.Valid() {
			return bad("options: Fallback: unknown channel %q", c)
		}
		if seen[c] {
			return bad("options: Fallback: channel %s listed twice", c)
		}
		seen[c] = true
	}
	o.Fallback = slices.Clone(o.Fallback)
	for c := range o.Limits {
		if !c.Valid() {
			return bad("options: Limits: unknown channel %q", c)
		}
	}
	if o.Lease == 0 {
		o.Lease = time.Minute
	}
	if o.SendTimeout == 0 {
		o.SendTimeout = o.Lease / 2
	}
	if o.Lease < 0 || o.SendTimeout < 0 || o.SendTimeout >= o.Lease {
		return bad("options: need 0 < SendTimeout (%s) < Lease (%s)", o.SendTimeout, o.Lease)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Backoff.Base <= 0 {
		o.Backoff.Base = 2 * time.Second
	}
	if o.Backoff.Max <= 0 {
		o.Backoff.Max = 2 * time.Minute
	}
	if o.Backoff.Max < o.Backoff.Base {
		return bad("options: Backoff.Max %s is below Backoff.Base %s", o.Backoff.Max, o.Backoff.Base)
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.Circuit.Failures <= 0 {
		o.Circuit.Failures = 5
	}
	if o.Circuit.Cooldown <= 0 {
		o.Circuit.Cooldown = time.Minute
	}
	if o.Circuit.Failover == 0 {
		o.Circuit.Failover = 5 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = pace.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Owner == "" {
		o.Owner = defaultOwner()
	}
	d := &Dispatcher{st: st, o: o, clock: o.Clock, log: o.Logger, byChan: map[anpi.Channel]*lane{},
		next: map[anpi.Channel]anpi.Channel{}, totals: map[anpi.Channel]Stats{}}
	d.wake.init()
	// Lanes in fallback order, then senders not in the order.
	order := slices.Clone(o.Fallback)
	var extra []anpi.Channel
	for c := range o.Senders {
		if !seen[c] {
			extra = append(extra, c)
		}
	}
	slices.Sort(extra)
	order = append(order, extra...)
	now := d.clock.Now()
	for _, c := range order {
		s, ok := o.Senders[c]
		if !ok {
			continue
		}
		lim, err := resolveLimit(c, o.Limits[c])
		if err != nil {
			return nil, err
		}
		l := &lane{ch: c, sender: s, lim: lim,
			bucket:  pace.NewBucket(lim.Rate, lim.Burst, now, nil),
			breaker: pace.NewBreaker(o.Circuit.Failures, o.Circuit.Cooldown)}
		d.lanes = append(d.lanes, l)
		d.byChan[c] = l
	}
	for _, c := range allChannels() {
		if _, ok := o.Senders[c]; !ok {
			d.noSender = append(d.noSender, c)
		}
		d.next[c] = d.successor(c)
	}
	if o.Handoff != nil {
		if err := o.Handoff.attach(d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func resolveLimit(c anpi.Channel, l Limit) (Limit, error) {
	def := DefaultLimit(c)
	if l.Rate < 0 || l.Burst < 0 || l.Batch < 0 || l.Concurrency < 0 {
		return l, anpi.Errorf(anpi.InvalidArgument, "dispatch: new: options: Limits[%s]: negative field in %+v", c, l)
	}
	if l.Rate == 0 {
		l.Rate = def.Rate
	}
	if l.Burst == 0 {
		l.Burst = max(def.Burst, 1)
	}
	if l.Batch == 0 {
		l.Batch = def.Batch
	}
	if l.Concurrency == 0 {
		l.Concurrency = def.Concurrency
	}
	l.Batch = max(1, min(l.Batch, l.Burst))
	return l, nil
}

func allChannels() []anpi.Channel {
	return []anpi.Channel{anpi.EmailChannel, anpi.FCMChannel, anpi.APNsChannel, anpi.LINEChannel, anpi.SMSChannel, anpi.VoiceChannel}
}

// successor returns the channel a delivery on c falls back to: the next one
// in the order that has a sender, or "" when there is none. A channel
// outside the order falls back to the first of the order.
func (d *Dispatcher) successor(c anpi.Channel) anpi.Channel {
	i := slices.Index(d.o.Fallback, c)
	for _, n := range d.o.Fallback[i+1:] {
		if _, ok := d.o.Senders[n]; ok && n != c {
			return n
		}
	}
	return ""
}

func defaultOwner() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "dispatch"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// Owner returns the name the dispatcher claims deliveries under.
func (d *Dispatcher) Owner() string { return d.o.Owner }

// Limit returns the limit in force for channel c (zero when c has no
// sender).
func (d *Dispatcher) Limit(c anpi.Channel) Limit {
	if l, ok := d.byChan[c]; ok {
		return l.lim
	}
	return Limit{}
}

// Circuit returns the state of channel c's circuit breaker.
func (d *Dispatcher) Circuit(c anpi.Channel) CircuitStatus {
	l, ok := d.byChan[c]
	if !ok {
		return CircuitStatus{}
	}
	return CircuitStatus{State: CircuitState(l.breaker.State(d.clock.Now())), OpenSince: l.breaker.OpenSince(),
		OpenUntil: l.breaker.OpenUntil(), Cause: l.breaker.Cause()}
}

// Totals returns what the dispatcher has done since New, per channel of
// the claimed deliveries.
func (d *Dispatcher) Totals() map[anpi.Channel]Stats {
	d.totalsMu.Lock()
	defer d.totalsMu.Unlock()
	out := make(map[anpi.Channel]Stats, len(d.totals))
	for c, s := range d.totals {
		out[c] = s
	}
	return out
}

func (d *Dispatcher) count(c anpi.Channel, s Stats) {
	d.totalsMu.Lock()
	defer d.totalsMu.Unlock()
	t := d.totals[c]
	t.Add(s)
	d.totals[c] = t
}

// Notify wakes Run's idle loops so that they claim now rather than at
// their next poll: call it after enqueuing deliveries. It never blocks.
func (d *Dispatcher) Notify() { d.wake.notify() }

// int64n returns a uniform integer in [0, n).
func (d *Dispatcher) int64n(n int64) int64 {
	if d.o.Rand == nil {
		return mrand.Int64N(n)
	}
	d.randMu.Lock()
	defer d.randMu.Unlock()
	return d.o.Rand.Int64N(n)
}

// Step makes one round on every channel, for tests and for callers that
// drive the dispatcher themselves: it falls back the due deliveries of
// channels not sent here, then, for each channel whose circuit lets it,
// claims as many deliveries as its token bucket has tokens for right now
// (at most Limit.Batch; one as a half-open probe), sends them and records
// the results. It never waits on the clock. It returns what it did, and
// the store errors it met (joined), after trying every channel.
func (d *Dispatcher) Step(ctx context.Context) (Stats, error) {
	var total Stats
	var errs []error
	st, _, err := d.drain(ctx)
	total.Add(st)
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range d.lanes {
		now := d.clock.Now()
		ok, probe := l.breaker.Allow(now)
		if !ok {
			continue
		}
		n := l.lim.Batch
		if probe {
			n = 1
		}
		if n = l.bucket.Take(now, n); n == 0 {
			if probe {
				l.breaker.Release()
			}
			continue
		}
		ds, err := d.fetch(ctx, l, n, probe, now)
		l.bucket.Return(now, n-len(ds))
		if err != nil {
			errs = append(errs, err)
		}
		if len(ds) > 0 {
			total.Add(d.process(ctx, l, ds, probe))
		}
	}
	return total, errors.Join(errs...)
}

// Run sends until ctx is done, then waits for the rounds in flight (their
// sends are bounded by SendTimeout and finish even though ctx is done, so
// their results are recorded; batches still waiting for tokens are put
// back, due at once) and returns nil. Each channel runs Limit.Concurrency
// loops that claim a batch, wait for its tokens, send it and record;
// one more loop falls back the deliveries of channels not sent here. Store
// errors are logged and retried after PollInterval. Running two Runs of
// one Dispatcher at once is FailedPrecondition.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return anpi.Errorf(anpi.FailedPrecondition, "dispatch: run: already running")
	}
	defer d.running.Store(false)
	if h := d.o.Handoff; h != nil {
		h.setRunning(true)
		defer func() {
			// Handed deliveries not sent are put back, due at once.
			if rest := h.setRunning(false); len(rest) > 0 {
				d.putBack(ctx, rest)
			}
		}()
	}
	var wg sync.WaitGroup
	for _, l := range d.lanes {
		for range l.lim.Concurrency {
			wg.Go(func() { d.work(ctx, l) })
		}
	}
	wg.Go(func() { d.drainLoop(ctx) })
	wg.Wait()
	return nil
}

// sleep waits for d on the clock, for wake (may be nil) or for ctx, and
// reports whether ctx is still alive.
func (d *Dispatcher) sleep(ctx context.Context, dur time.Duration, wake <-chan struct{}) bool {
	if dur <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-d.clock.After(dur):
	case <-wake:
	case <-ctx.Done():
	}
	return ctx.Err() == nil
}

// work is one sending loop of a channel: claim a batch, wait for its
// tokens, send it, record the results. Claiming first means an idle loop
// holds no tokens; the wait for tokens is short next to the lease (at most
// Concurrency batches queue up, Concurrency·Batch/Rate).
func (d *Dispatcher) work(ctx context.Context, l *lane) {
	for ctx.Err() == nil {
		now := d.clock.Now()
		ok, probe := l.breaker.Allow(now)
		if !ok {
			wait := d.o.PollInterval
			if until := l.breaker.OpenUntil(); until.After(now) {
				wait = until.Sub(now)
			}
			d.sleep(ctx, wait, nil)
			continue
		}
		n := l.lim.Batch
		if probe {
			n = 1
		}
		wake := d.wake.wait()
		ds, err := d.fetch(ctx, l, n, probe, now)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Error("dispatch: claim failed", "channel", l.ch, "error", err)
			}
			d.sleep(ctx, d.o.PollInterval, nil)
			continue
		}
		if len(ds) == 0 {
			d.sleep(ctx, d.o.PollInterval, wake)
			continue
		}
		if w := l.bucket.Reserve(d.clock.Now(), len(ds)); w > 0 && !d.sleep(ctx, w, nil) {
			d.abandon(ctx, l, ds, probe)
			return
		}
		d.process(ctx, l, ds, probe)
	}
}

// drainLoop falls back the deliveries of channels not sent here.
func (d *Dispatcher) drainLoop(ctx context.Context) {
	for ctx.Err() == nil {
		wake := d.wake.wait()
		_, got, err := d.drain(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("dispatch: claim failed", "error", err)
		}
		if got < drainBatch {
			d.sleep(ctx, d.o.PollInterval, wake)
		}
	}
}

// notifier wakes every waiter at once: wait returns a channel that notify
// closes.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) init() { n.ch = make(chan struct{}) }

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.ch)
	n.ch = make(chan struct{})
}

// errorf returns an anpi error of the store's code, prefixed.
func errorf(err error, format string, args ...any) error {
	return anpi.Errorf(anpi.Code(err), "dispatch: "+format+": %w", append(args, err)...)
}
