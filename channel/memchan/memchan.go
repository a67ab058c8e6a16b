package memchan

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/anpikit/anpi/channel"
)

// Options configures a Sender. A nil *Options means the defaults.
type Options struct {
	// Kind is the channel the sender pretends to be; default channel.Email.
	Kind channel.Kind
	// Now is the clock for receipts; default time.Now.
	Now func() time.Time
	// Deduplicate makes the sender behave like a provider that drops a
	// repeated idempotency key (LINE): the repeat succeeds with the first
	// receipt and is not recorded again.
	Deduplicate bool
}

// Sent is one message the sender accepted.
type Sent struct {
	Message channel.Message // a copy, Data included
	Receipt channel.Receipt // what Send returned
}

// Sender is an in-memory channel.Sender and channel.BatchSender. It is safe
// for concurrent use.
type Sender struct {
	kind  channel.Kind
	now   func() time.Time
	dedup bool

	mu     sync.Mutex
	seq    int
	sent   []Sent
	byKey  map[string]channel.Receipt
	faults map[string]fault
}

type fault struct {
	err   error
	block bool
}

var (
	_ channel.Sender      = (*Sender)(nil)
	_ channel.BatchSender = (*Sender)(nil)
)

// New returns an empty Sender.
func New(opts *Options) *Sender {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Kind == "" {
		o.Kind = channel.Email
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sender{kind: o.Kind, now: o.Now, dedup: o.Deduplicate,
		byKey: map[string]channel.Receipt{}, faults: map[string]fault{}}
}

// Kind returns the kind given in Options.
func (s *Sender) Kind() channel.Kind { return s.kind }

// FailWith makes every send to address fail with err until Clear. Build err
// with channel.Errorf or channel.WithRetryAfter to choose its code.
func (s *Sender) FailWith(address string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[address] = fault{err: err}
}

// Block makes every send to address wait until its context is done, like a
// provider that never answers, until Clear.
func (s *Sender) Block(address string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[address] = fault{block: true}
}

// Clear removes the fault set on address.
func (s *Sender) Clear(address string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, address)
}

// Sent returns a copy of the messages accepted so far, in order.
func (s *Sender) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Sent, len(s.sent))
	copy(out, s.sent)
	return out
}

// Reset forgets the messages sent and the idempotency keys seen; faults stay.
func (s *Sender) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = nil
	s.byKey = map[string]channel.Receipt{}
}

// Send records m, or fails as set by FailWith or Block. A message with no
// address or text fails with code Permanent; a done context, with code
// Temporary.
func (s *Sender) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	if err := m.Validate(); err != nil {
		return channel.Receipt{}, err
	}
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, channel.NewError(channel.Temporary, err, "memchan: send "+strconv.Quote(m.IdempotencyKey))
	}
	s.mu.Lock()
	f, ok := s.faults[m.To]
	s.mu.Unlock()
	if ok && f.block {
		<-ctx.Done()
		return channel.Receipt{}, channel.NewError(channel.Temporary, ctx.Err(), "memchan: send "+strconv.Quote(m.IdempotencyKey))
	}
	if ok {
		return channel.Receipt{}, f.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dedup && m.IdempotencyKey != "" {
		if rc, ok := s.byKey[m.IdempotencyKey]; ok {
			return rc, nil
		}
	}
	s.seq++
	rc := channel.Receipt{ProviderID: "mem-" + strconv.Itoa(s.seq), At: s.now()}
	c := *m
	if m.Data != nil {
		c.Data = make(map[string]string, len(m.Data))
		for k, v := range m.Data {
			c.Data[k] = v
		}
	}
	s.sent = append(s.sent, Sent{Message: c, Receipt: rc})
	if m.IdempotencyKey != "" {
		s.byKey[m.IdempotencyKey] = rc
	}
	return rc, nil
}

// SendBatch sends each message with Send and returns their results. It fails
// as a whole only if ctx is done before it starts.
func (s *Sender) SendBatch(ctx context.Context, ms []*channel.Message) ([]channel.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, channel.NewError(channel.Temporary, err, "memchan: batch of "+strconv.Itoa(len(ms)))
	}
	res := make([]channel.Result, len(ms))
	for i, m := range ms {
		res[i].Receipt, res[i].Err = s.Send(ctx, m)
	}
	return res, nil
}
