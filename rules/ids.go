package rules

import (
	"encoding/json"
	"iter"
	"math/bits"
)

// IDs is a list of recipient IDs. Lists built by evaluation hold index
// ordinals (4 bytes each, no pointers for the garbage collector to scan) and
// resolve them to IDs when read; an ordinal names one ID for the life of an
// Index, so a list stays valid when the index changes afterwards. Lists
// built by hand or restored from JSON hold the IDs themselves.
type IDs struct {
	ix   *Index
	ords []uint32
	strs []string
}

// NewIDs returns a list of the given IDs.
func NewIDs(ids ...string) IDs { return IDs{strs: ids} }

// Len returns the number of IDs.
func (l IDs) Len() int { return len(l.ords) + len(l.strs) }

// IsZero reports whether the list is empty (for encoding/json omitzero).
func (l IDs) IsZero() bool { return l.Len() == 0 }

// Strings returns the IDs, in the list's order.
func (l IDs) Strings() []string {
	out := make([]string, 0, l.Len())
	return l.appendTo(out)
}

func (l IDs) appendTo(out []string) []string {
	if len(l.ords) > 0 {
		l.ix.mu.RLock()
		out = l.appendLocked(out)
		l.ix.mu.RUnlock()
		return append(out, l.strs...)
	}
	return append(out, l.strs...)
}

// appendLocked is appendTo for a caller holding the index lock.
func (l IDs) appendLocked(out []string) []string {
	for _, o := range l.ords {
		out = append(out, l.ix.ids[o])
	}
	return out
}

// MarshalJSON writes the IDs as a JSON array of strings.
func (l IDs) MarshalJSON() ([]byte, error) { return json.Marshal(l.Strings()) }

// UnmarshalJSON reads a JSON array of strings.
func (l *IDs) UnmarshalJSON(b []byte) error {
	var s []string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*l = IDs{strs: s}
	return nil
}

// ordinals returns the ordinals of the list in ix, the caller holding ix's
// lock: stored ordinals when the list refers to ix, else the IDs looked up
// (IDs not registered are left out).
func (l IDs) ordinals(ix *Index) []uint32 {
	if l.ix == ix && len(l.strs) == 0 {
		return l.ords
	}
	var out []uint32
	if len(l.ords) > 0 {
		l.ix.mu.RLock()
		defer l.ix.mu.RUnlock()
		for _, o := range l.ords {
			if int(o) < len(l.ix.ids) {
				if n, ok := ix.byID[l.ix.ids[o]]; ok {
					out = append(out, n)
				}
			}
		}
	}
	for _, id := range l.strs {
		if n, ok := ix.byID[id]; ok {
			out = append(out, n)
		}
	}
	return out
}

// All iterates over the IDs in the list's order. It resolves ordinals in
// batches and never holds the index lock while yielding, so the loop body
// may change the index.
func (l IDs) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		var buf []string
		for i := 0; i < len(l.ords); i += 1024 {
			batch := l.ords[i:min(i+1024, len(l.ords))]
			buf = buf[:0]
			l.ix.mu.RLock()
			for _, o := range batch {
				buf = append(buf, l.ix.ids[o])
			}
			l.ix.mu.RUnlock()
			for _, id := range buf {
				if !yield(id) {
					return
				}
			}
		}
		for _, id := range l.strs {
			if !yield(id) {
				return
			}
		}
	}
}

// unionIDs returns the IDs of lists without repeats: the ordinals of the
// index the first list of ordinals refers to, deduplicated on a bitset and
// read in ordinal order, then every other ID in list order. A bitset costs
// 1 bit per ordinal of the index, where a map of 100,000 IDs cost a tenth
// of a second.
func unionIDs(lists []IDs) []string {
	var ix *Index
	n := 0
	for _, l := range lists {
		n += l.Len()
		if ix == nil && len(l.ords) > 0 {
			ix = l.ix
		}
	}
	out := make([]string, 0, n)
	var rest []string // IDs not read from ix's ordinals, in list order
	for _, l := range lists {
		if ix != nil && l.ix == ix {
			rest = append(rest, l.strs...)
		} else {
			rest = l.appendTo(rest)
		}
	}
	if ix != nil {
		var set bitset
		ix.mu.RLock()
		for _, l := range lists {
			if l.ix == ix {
				for _, o := range l.ords {
					set.set(o)
				}
			}
		}
		for c, chunk := range set.chunks {
			if chunk == nil {
				continue
			}
			for w, word := range chunk {
				for word != 0 {
					b := uint32(bits.TrailingZeros64(word))
					word &= word - 1
					out = append(out, ix.ids[uint32(c)<<chunkBits|uint32(w)<<6|b])
				}
			}
		}
		ix.mu.RUnlock()
	}
	if len(rest) == 0 {
		return out
	}
	seen := make(map[string]bool, len(out)+len(rest))
	for _, id := range out {
		seen[id] = true
	}
	for _, id := range rest {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
