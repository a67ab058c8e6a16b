package dispatch

import (
	"math"
	"sync"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// Handoff passes deliveries from the transaction that enqueues them to a
// Dispatcher in the same process, without a claim: the Service (given the
// Handoff as anpi.Options.Handoff) writes them already leased to the
// dispatcher (given it as Options.Handoff) and hands them over once they
// are committed, and the dispatcher sends them before claiming others.
// A national fan-out thus costs the store one write per delivery instead
// of three (enqueue, claim, result), and its first messages leave as soon
// as their chunk commits.
//
// Nothing is lost when the process dies: a handed delivery is in the
// store under its lease, and another dispatcher (or this one, restarted)
// claims it once the lease ends, as any claimed delivery whose sender
// crashed. The dispatcher takes a handed delivery to send only while its
// lease has more than SendTimeout left (it drops the others, for a claim
// once their lease ends), and takes only as many per channel as it sends
// (Limit.Rate) in half the time a lease leaves after SendTimeout: like a
// claimed batch, a handed one is sent well inside its lease.
//
// A Handoff serves one Dispatcher, and takes deliveries only while that
// dispatcher runs. Its methods are safe for concurrent use.
type Handoff struct {
	mu      sync.Mutex
	d       *Dispatcher                   // the dispatcher it serves; nil until New
	queues  map[anpi.Channel]*handedQueue // per channel with a sender
	running bool                          // d.Run is running
	dropped int                           // handed deliveries whose lease ran short, left to a claim
}

// handedQueue holds the handed deliveries of one channel, oldest first.
type handedQueue struct {
	ds  []*anpi.Delivery
	cap int
}

// NewHandoff returns a Handoff to give to both anpi.New and New.
func NewHandoff() *Handoff { return &Handoff{} }

// maxHanded caps how many deliveries of one channel wait in a Handoff.
const maxHanded = 50_000

// attach makes h serve d, taking per channel at most what d sends in half
// the time a lease leaves after SendTimeout.
func (h *Handoff) attach(d *Dispatcher) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.d != nil {
		return anpi.Errorf(anpi.InvalidArgument, "dispatch: new: options: the Handoff serves dispatcher %s already", h.d.o.Owner)
	}
	h.d = d
	h.queues = map[anpi.Channel]*handedQueue{}
	spare := (d.o.Lease - d.o.SendTimeout).Seconds() / 2
	for _, l := range d.lanes {
		n := math.Min(l.lim.Rate*spare, maxHanded)
		h.queues[l.ch] = &handedQueue{cap: max(int(n), l.lim.Batch)}
	}
	return nil
}

// setRunning tells h whether its dispatcher runs; when it stops, the
// deliveries still waiting are returned, to be put back.
func (h *Handoff) setRunning(on bool) []*anpi.Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = on
	if on {
		return nil
	}
	var rest []*anpi.Delivery
	for _, q := range h.queues {
		rest = append(rest, q.ds...)
		q.ds = nil
	}
	return rest
}

// Lease implements anpi.Handoff: it takes deliveries of channel c while its
// dispatcher runs, sends on c and has room for them. The lease is the
// dispatcher's Lease from now.
func (h *Handoff) Lease(c anpi.Channel, now time.Time) (owner string, until time.Time, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running {
		return "", time.Time{}, false
	}
	q := h.queues[c]
	if q == nil || len(q.ds) >= q.cap {
		return "", time.Time{}, false
	}
	return h.d.o.Owner, now.Add(h.d.o.Lease), true
}

// Hand implements anpi.Handoff: it queues committed deliveries leased to
// it and wakes the dispatcher. Deliveries not leased to it, of a channel
// it does not send, or handed once its dispatcher stopped are ignored:
// their leases run out and a claim takes them.
func (h *Handoff) Hand(ds []*anpi.Delivery) {
	if len(ds) == 0 {
		return
	}
	h.mu.Lock()
	if !h.running {
		h.mu.Unlock()
		return
	}
	for _, dl := range ds {
		if q := h.queues[dl.Channel]; q != nil && dl.State == anpi.Sending && dl.LeaseOwner == h.d.o.Owner {
			q.ds = append(q.ds, dl)
		}
	}
	d := h.d
	h.mu.Unlock()
	d.Notify()
}

// take removes and returns up to n deliveries of channel c that can still
// be sent under their leases at now (more than SendTimeout left); those
// whose lease ran too short are dropped, for a claim to take once it ends.
func (h *Handoff) take(c anpi.Channel, n int, now time.Time) []*anpi.Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queues[c]
	if q == nil {
		return nil
	}
	var out []*anpi.Delivery
	i := 0
	for ; i < len(q.ds) && len(out) < n; i++ {
		if dl := q.ds[i]; dl.LeaseUntil.Sub(now) > h.d.o.SendTimeout {
			out = append(out, dl)
		} else {
			h.dropped++
		}
	}
	clear(q.ds[:i])
	q.ds = q.ds[i:]
	if len(q.ds) == 0 {
		q.ds = nil // let the backing array go
	}
	return out
}

// Waiting returns how many handed deliveries wait to be sent, and how many
// were dropped so far because their lease ran short before their turn.
func (h *Handoff) Waiting() (waiting, dropped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, q := range h.queues {
		waiting += len(q.ds)
	}
	return waiting, h.dropped
}
