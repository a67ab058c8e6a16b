package memstore

import (
	"container/heap"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// dheap is a min-heap of deliveries ordered by a time key and then by ID,
// with removal by ID. The store keeps one per channel for the claimable
// deliveries (keyed by NextAttemptAt) and one per channel for the leased
// ones (keyed by LeaseUntil), so a claim looks only at what it may take.
type dheap struct {
	key   func(*anpi.Delivery) time.Time
	items []*hitem
	byID  map[anpi.DeliveryID]*hitem
}

// hitem is a delivery in a heap, with its key and its position.
type hitem struct {
	d   *anpi.Delivery
	key time.Time
	pos int
}

func newDHeap(key func(*anpi.Delivery) time.Time) *dheap {
	return &dheap{key: key, byID: map[anpi.DeliveryID]*hitem{}}
}

func nextAttemptKey(d *anpi.Delivery) time.Time { return d.NextAttemptAt }
func leaseKey(d *anpi.Delivery) time.Time       { return d.LeaseUntil }

func (h *dheap) Len() int { return len(h.items) }

// Less orders by key, then by ID.
func (h *dheap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if !a.key.Equal(b.key) {
		return a.key.Before(b.key)
	}
	return strings.Compare(string(a.d.ID), string(b.d.ID)) < 0
}

func (h *dheap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].pos = i
	h.items[j].pos = j
}

func (h *dheap) Push(x any) {
	it := x.(*hitem)
	it.pos = len(h.items)
	h.items = append(h.items, it)
}

func (h *dheap) Pop() any {
	n := len(h.items) - 1
	it := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	return it
}

// add inserts d (which must not be present).
func (h *dheap) add(d *anpi.Delivery) {
	it := &hitem{d: d, key: h.key(d)}
	h.byID[d.ID] = it
	heap.Push(h, it)
}

// remove deletes the delivery with that ID, if present.
func (h *dheap) remove(id anpi.DeliveryID) {
	if it, ok := h.byID[id]; ok {
		heap.Remove(h, it.pos)
		delete(h.byID, id)
	}
}

// min returns the first delivery, or nil.
func (h *dheap) min() *anpi.Delivery {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0].d
}

// upTo returns, without changing the heap, every delivery whose key is at
// or before t, in heap order. It visits only those deliveries and their
// direct children.
func (h *dheap) upTo(t time.Time) []*anpi.Delivery {
	var out []*anpi.Delivery
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(h.items) || h.items[i].key.After(t) {
			continue
		}
		out = append(out, h.items[i].d)
		stack = append(stack, 2*i+1, 2*i+2)
	}
	return out
}
