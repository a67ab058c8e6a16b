package rules

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// Region kinds of an index key, the same "kind:code" form as anpi.Region.
const (
	RegionQuake   = "quake"   // earthquake 細分区域, e.g. "quake:350"
	RegionTsunami = "tsunami" // 津波予報区, e.g. "tsunami:300"
	RegionWarning = "warning" // weather-warning 市町村等, e.g. "warning:1310100"
)

// RegionKey returns the index key "kind:code" of a region.
func RegionKey(kind, code string) string { return kind + ":" + code }

// ParseRegionKey splits "kind:code" and checks the kind (quake, tsunami or
// warning) and that the code is digits. Codes are not looked up in any
// table: unknown codes are accepted.
func ParseRegionKey(s string) (kind, code string, err error) {
	kind, code, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("rules: region %q: want kind:code, e.g. quake:350", s)
	}
	switch kind {
	case RegionQuake, RegionTsunami, RegionWarning:
	default:
		return "", "", fmt.Errorf("rules: region %q: unknown kind %q (want quake, tsunami or warning)", s, kind)
	}
	if !isDigits(code) || len(code) > 16 {
		return "", "", fmt.Errorf("rules: region %q: code %q is not a digit string", s, code)
	}
	return kind, code, nil
}

// Index maps region keys to recipients. Recipient IDs are interned to dense
// uint32 ordinals and each region keeps a sorted postings list of ordinals,
// which keeps the memory per recipient-region well under 100 bytes and makes
// a lookup a walk over a slice.
//
// An ID keeps its ordinal for the life of the index, also across Remove and
// a later Add, so an ordinal never names two recipients; the memory of a
// removed recipient's ID (a few dozen bytes) is retained.
//
// All methods are safe for concurrent use: reads (Evaluate included) share a
// read lock and an update takes the write lock for the one recipient.
type Index struct {
	mu      sync.RWMutex
	byID    map[string]uint32
	ids     []string // ordinal -> ID
	alive   bitset
	live    int
	regOff  []uint32 // ordinal -> offset in arena
	regLen  []uint16 // ordinal -> number of regions
	arena   []uint32 // region numbers of all recipients
	garbage int      // dead entries in arena

	regionNum  map[string]uint32 // "kind:code" -> region number
	regionKeys []string
	postings   [][]uint32 // region number -> sorted ordinals
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byID: map[string]uint32{}, regionNum: map[string]uint32{}}
}

// MaxRegionsPerRecipient bounds the regions one recipient may register.
const MaxRegionsPerRecipient = 1024

// Add registers id with regions ("quake:350", "tsunami:300",
// "warning:1310100"), replacing any regions registered before. Duplicate
// regions are ignored. It fails, changing nothing, on an empty ID or a
// malformed region.
func (ix *Index) Add(id string, regions ...string) error {
	if id == "" {
		return fmt.Errorf("rules: index: empty recipient id")
	}
	if len(regions) > MaxRegionsPerRecipient {
		return fmt.Errorf("rules: index: recipient %q: %d regions (max %d)", id, len(regions), MaxRegionsPerRecipient)
	}
	for _, r := range regions {
		if _, _, err := ParseRegionKey(r); err != nil {
			return fmt.Errorf("rules: index: recipient %q: %w", id, err)
		}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ord, known := ix.byID[id]
	if !known {
		ord = uint32(len(ix.ids))
		key := strings.Clone(id) // shared by the map and the slice
		ix.byID[key] = ord
		ix.ids = append(ix.ids, key)
		ix.regOff = append(ix.regOff, 0)
		ix.regLen = append(ix.regLen, 0)
	}
	if ix.alive.has(ord) {
		ix.unlink(ord)
	} else {
		ix.alive.set(ord)
		ix.live++
	}
	off := uint32(len(ix.arena))
	n := 0
	for _, r := range regions {
		num, ok := ix.regionNum[r]
		if !ok {
			num = uint32(len(ix.regionKeys))
			key := strings.Clone(r)
			ix.regionNum[key] = num
			ix.regionKeys = append(ix.regionKeys, key)
			ix.postings = append(ix.postings, nil)
		}
		if slices.Contains(ix.arena[off:], num) {
			continue
		}
		ix.arena = append(ix.arena, num)
		n++
		ix.postings[num] = insertSorted(ix.postings[num], ord)
	}
	ix.regOff[ord], ix.regLen[ord] = off, uint16(n)
	ix.maybeCompact()
	return nil
}

// Remove unregisters id; it reports whether id was registered.
func (ix *Index) Remove(id string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ord, ok := ix.byID[id]
	if !ok || !ix.alive.has(ord) {
		return false
	}
	ix.unlink(ord)
	ix.alive.clear(ord)
	ix.live--
	ix.maybeCompact()
	return true
}

// unlink removes ord from the postings of its regions and marks its arena
// entries dead.
func (ix *Index) unlink(ord uint32) {
	off, n := ix.regOff[ord], uint32(ix.regLen[ord])
	for _, num := range ix.arena[off : off+n] {
		ix.postings[num] = removeSorted(ix.postings[num], ord)
	}
	ix.garbage += int(n)
	ix.regLen[ord] = 0
}

// maybeCompact rewrites the arena when more than half of it is dead.
func (ix *Index) maybeCompact() {
	if ix.garbage < 1024 || ix.garbage*2 < len(ix.arena) {
		return
	}
	arena := make([]uint32, 0, len(ix.arena)-ix.garbage)
	for ord := range ix.regOff {
		off, n := ix.regOff[ord], uint32(ix.regLen[ord])
		ix.regOff[ord] = uint32(len(arena))
		arena = append(arena, ix.arena[off:off+n]...)
	}
	ix.arena, ix.garbage = arena, 0
}

func insertSorted(s []uint32, v uint32) []uint32 {
	if n := len(s); n == 0 || s[n-1] < v {
		return append(s, v)
	}
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func removeSorted(s []uint32, v uint32) []uint32 {
	i, found := slices.BinarySearch(s, v)
	if !found {
		return s
	}
	return slices.Delete(s, i, i+1)
}

// Len returns the number of registered recipients.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.live
}

// Has reports whether id is registered.
func (ix *Index) Has(id string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ord, ok := ix.byID[id]
	return ok && ix.alive.has(ord)
}

// Regions returns the regions registered for id, in the order given to Add.
func (ix *Index) Regions(id string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ord, ok := ix.byID[id]
	if !ok || !ix.alive.has(ord) {
		return nil
	}
	off, n := ix.regOff[ord], uint32(ix.regLen[ord])
	out := make([]string, 0, n)
	for _, num := range ix.arena[off : off+n] {
		out = append(out, ix.regionKeys[num])
	}
	return out
}

// Lookup returns the recipients registered for a region key, in ordinal
// (registration) order.
func (ix *Index) Lookup(region string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	num, ok := ix.regionNum[region]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(ix.postings[num]))
	for _, ord := range ix.postings[num] {
		out = append(out, ix.ids[ord])
	}
	return out
}

// Count returns the number of recipients registered for a region key.
func (ix *Index) Count(region string) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if num, ok := ix.regionNum[region]; ok {
		return len(ix.postings[num])
	}
	return 0
}

// postingsLocked returns the postings of a region key; the caller holds a lock.
func (ix *Index) postingsLocked(region string) []uint32 {
	if num, ok := ix.regionNum[region]; ok {
		return ix.postings[num]
	}
	return nil
}

// standsIn reports whether ord is registered in one of the regions; the
// caller holds a lock.
func (ix *Index) standsIn(ord uint32, regions map[string]bool) bool {
	off, n := ix.regOff[ord], uint32(ix.regLen[ord])
	for _, num := range ix.arena[off : off+n] {
		if regions[ix.regionKeys[num]] {
			return true
		}
	}
	return false
}

// bitset is a growable set of ordinals in chunks of 4096 (512 bytes),
// allocated on first use: a set of a few recipients of a large index costs a
// few hundred bytes, a dense one 1 bit per ordinal.
type bitset struct {
	chunks []*[64]uint64
}

const chunkBits = 12 // ordinals per chunk: 1<<12

func (b *bitset) has(i uint32) bool {
	c := int(i >> chunkBits)
	if c >= len(b.chunks) || b.chunks[c] == nil {
		return false
	}
	return b.chunks[c][(i>>6)&63]&(1<<(i&63)) != 0
}

// word returns the word holding i, allocating its chunk.
func (b *bitset) word(i uint32) *uint64 {
	c := int(i >> chunkBits)
	if c >= len(b.chunks) {
		b.chunks = append(b.chunks, make([]*[64]uint64, c+1-len(b.chunks))...)
	}
	p := b.chunks[c]
	if p == nil {
		p = new([64]uint64)
		b.chunks[c] = p
	}
	return &p[(i>>6)&63]
}

func (b *bitset) set(i uint32) { *b.word(i) |= 1 << (i & 63) }

// testAndSet sets i and reports whether it was already set.
func (b *bitset) testAndSet(i uint32) bool {
	w := b.word(i)
	m := uint64(1) << (i & 63)
	if *w&m != 0 {
		return true
	}
	*w |= m
	return false
}

func (b *bitset) clear(i uint32) {
	c := int(i >> chunkBits)
	if c < len(b.chunks) && b.chunks[c] != nil {
		b.chunks[c][(i>>6)&63] &^= 1 << (i & 63)
	}
}

// each calls fn for every member in ascending order.
func (b *bitset) each(fn func(uint32)) {
	for c, p := range b.chunks {
		if p == nil {
			continue
		}
		for w, x := range p {
			for x != 0 {
				fn(uint32(c<<chunkBits) + uint32(w<<6) + uint32(bits.TrailingZeros64(x)))
				x &= x - 1
			}
		}
	}
}

func (b *bitset) count() int {
	n := 0
	for _, p := range b.chunks {
		if p != nil {
			for _, x := range p {
				n += bits.OnesCount64(x)
			}
		}
	}
	return n
}
