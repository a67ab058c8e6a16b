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
	items []*anpi.Delivery
	pos   map[anpi.DeliveryID]int
}

func newDHeap(key func(*anpi.Delivery) time.Time) *dheap {
	return &dheap{key: key, pos: map[anpi.DeliveryID]int{}}
}

func nextAttemptKey(d *anpi.Delivery) time.Time { return d.NextAttemptAt }
func leaseKey(d *anpi.Delivery) time.Time       { return d.LeaseUntil }

// before orders deliveries by key, then by ID.
func (h *dheap) before(a, b *anpi.Delivery) bool {
	ka, kb := h.key(a), h.key(b)
	if !ka.Equal(kb) {
		return ka.Before(kb)
	}
	return strings.Compare(string(a.ID), string(b.ID)) < 0
}

func (h *dheap) Len() int           { return len(h.items) }
func (h *dheap) Less(i, j int) bool { return h.before(h.items[i], h.items[j]) }
func (h *dheap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.pos[h.items[i].ID] = i
	h.pos[h.items[j].ID] = j
}

func (h *dheap) Push(x any) {
	d := x.(*anpi.Delivery)
	h.pos[d.ID] = len(h.items)
	h.items = append(h.items, d)
}

func (h *dheap) Pop() any {
	n := len(h.items) - 1
	d := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	delete(h.pos, d.ID)
	return d
}

// add inserts d (which must not be present).
func (h *dheap) add(d *anpi.Delivery) { heap.Push(h, d) }

// remove deletes the delivery with d's ID, if present.
func (h *dheap) remove(id anpi.DeliveryID) {
	if i, ok := h.pos[id]; ok {
		heap.Remove(h, i)
	}
}

// min returns the first delivery, or nil.
func (h *dheap) min() *anpi.Delivery {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0]
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
		if i >= len(h.items) || h.key(h.items[i]).After(t) {
			continue
		}
		out = append(out, h.items[i])
		stack = append(stack, 2*i+1, 2*i+2)
	}
	return out
}
