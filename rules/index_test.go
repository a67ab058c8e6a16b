package rules

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIndexAddReplaceRemove(t *testing.T) {
	ix := NewIndex()
	require.NoError(t, ix.Add("u1", "quake:350", "warning:1310100"))
	require.NoError(t, ix.Add("u2", "quake:350", "quake:350"))
	require.Equal(t, 2, ix.Len())
	require.Equal(t, []string{"u1", "u2"}, ix.Lookup("quake:350"))
	require.Equal(t, []string{"quake:350"}, ix.Regions("u2"), "duplicates ignored")
	// Replace u1's regions.
	require.NoError(t, ix.Add("u1", "quake:351"))
	require.Equal(t, []string{"u2"}, ix.Lookup("quake:350"))
	require.Zero(t, ix.Count("warning:1310100"))
	require.Equal(t, []string{"quake:351"}, ix.Regions("u1"))
	require.True(t, ix.Remove("u2"))
	require.False(t, ix.Remove("u2"))
	require.False(t, ix.Has("u2"))
	require.Empty(t, ix.Lookup("quake:350"))
	require.Nil(t, ix.Regions("u2"))
	// Re-adding keeps the ordinal and sorts into the postings.
	require.NoError(t, ix.Add("u3", "quake:350"))
	require.NoError(t, ix.Add("u2", "quake:350"))
	require.Equal(t, []string{"u2", "u3"}, ix.Lookup("quake:350"))
	require.Equal(t, 3, ix.Len())
	// A recipient with no region is registered (nationwide rules reach him).
	require.NoError(t, ix.Add("u4"))
	require.True(t, ix.Has("u4"))
}

func TestIndexRejectsBadInput(t *testing.T) {
	ix := NewIndex()
	for _, c := range []struct{ id, region, msg string }{
		{"", "quake:350", "empty recipient id"},
		{"u", "350", "want kind:code"},
		{"u", "volcano:350", `unknown kind "volcano"`},
		{"u", "quake:", "not a digit string"},
		{"u", "quake:35x", "not a digit string"},
	} {
		err := ix.Add(c.id, c.region)
		require.ErrorContains(t, err, c.msg)
	}
	require.Zero(t, ix.Len(), "nothing changed")
}

func TestIndexCompactsAfterChurn(t *testing.T) {
	ix := NewIndex()
	for round := range 5 {
		for i := range 2000 {
			require.NoError(t, ix.Add(fmt.Sprint("u", i), fmt.Sprintf("quake:%03d", (i+round)%188+100)))
		}
	}
	require.Equal(t, 2000, ix.Len())
	require.LessOrEqual(t, len(ix.arena), 4000, "arena compacted")
	total := 0
	for i := range 188 {
		total += ix.Count(fmt.Sprintf("quake:%03d", i+100))
	}
	require.Equal(t, 2000, total)
	require.Equal(t, []string{fmt.Sprintf("quake:%03d", (7+4)%188+100)}, ix.Regions("u7"))
}

// TestIndexConcurrentReads runs evaluations while the index changes (run
// with -race).
func TestIndexConcurrentReads(t *testing.T) {
	ix := NewIndex()
	for i := range 500 {
		require.NoError(t, ix.Add(fmt.Sprint("u", i), "quake:350"))
	}
	rs := []Rule{quakeRule("q", "1")}
	var wg sync.WaitGroup
	counts := make(chan int, 50)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 500 {
			_ = ix.Add(fmt.Sprint("n", i), "quake:350")
			ix.Remove(fmt.Sprint("u", i))
		}
	}()
	go func() {
		defer wg.Done()
		for range 50 {
			ds := Simulate(Scenario{Quake: []QuakeArea{{Area: "350", Intensity: 5}}}, rs, ix)
			n := -1
			if len(ds) == 1 {
				n = ds[0].Count()
			}
			counts <- n
		}
	}()
	wg.Wait()
	close(counts)
	for n := range counts {
		// The writer adds one then removes one: a consistent snapshot
		// holds 500 or 501 recipients.
		require.Contains(t, []int{500, 501}, n)
	}
	require.Equal(t, 500, ix.Count("quake:350"))
}

func TestIDs(t *testing.T) {
	ix := index(t, map[string][]string{"a": {"quake:350"}, "b": {"quake:350"}, "c": {"quake:351"}})
	ds := Simulate(Scenario{Quake: []QuakeArea{{Area: "350", Intensity: 7}}}, []Rule{quakeRule("q", "1")}, ix)
	l := ds[0].Matches[0].Recipients
	require.Equal(t, 2, l.Len())
	var seen []string
	for id := range l.All() {
		// The loop body may change the index: no lock is held while yielding.
		require.NoError(t, ix.Add("new-"+id, "quake:352"))
		seen = append(seen, id)
	}
	require.Equal(t, []string{"a", "b"}, seen)
	ix.Remove("a")
	require.Equal(t, []string{"a", "b"}, l.Strings(), "an ordinal keeps naming its ID")
	for id := range NewIDs("x", "y").All() {
		require.Equal(t, "x", id)
		break
	}
	b, err := l.MarshalJSON()
	require.NoError(t, err)
	require.JSONEq(t, `["a","b"]`, string(b))
	var back IDs
	require.NoError(t, back.UnmarshalJSON(b))
	require.Equal(t, []string{"a", "b"}, back.Strings())
	require.Error(t, back.UnmarshalJSON([]byte(`{}`)))
	require.True(t, IDs{}.IsZero())
}

func TestBitsetIsSparse(t *testing.T) {
	var b bitset
	require.False(t, b.has(1_000_000))
	b.set(1_000_000)
	b.set(3)
	require.True(t, b.testAndSet(3))
	require.False(t, b.testAndSet(4))
	require.True(t, b.has(1_000_000))
	allocated := 0
	for _, c := range b.chunks {
		if c != nil {
			allocated++
		}
	}
	require.Equal(t, 2, allocated, "two chunks of 512 bytes, not 125 KB")
	var got []uint32
	b.each(func(i uint32) { got = append(got, i) })
	require.Equal(t, []uint32{3, 4, 1_000_000}, got)
	require.Equal(t, 3, b.count())
	b.clear(4)
	b.clear(5_000_000)
	require.Equal(t, 2, b.count())
}
