package rules

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnionIDs: ordinals of one index come once each, in index order,
// whatever the lists' order and overlaps; IDs held as strings follow,
// without those already listed.
func TestUnionIDs(t *testing.T) {
	ix := NewIndex()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		require.NoError(t, ix.Add(id, "quake:350"))
	}
	ords := func(ids ...string) IDs {
		l := IDs{ix: ix}
		for _, id := range ids {
			l.ords = append(l.ords, ix.byID[id])
		}
		return l
	}
	got := unionIDs([]IDs{ords("d", "b"), ords("b", "a", "e"), NewIDs("x", "a", "y", "x")})
	require.Equal(t, []string{"a", "b", "d", "e", "x", "y"}, got)
	require.Equal(t, []string{"x", "y"}, unionIDs([]IDs{NewIDs("x"), NewIDs("y", "x")}))
	require.Empty(t, unionIDs(nil))

	other := NewIndex()
	require.NoError(t, other.Add("z", "quake:350"))
	require.NoError(t, other.Add("c", "quake:350"))
	fromOther := IDs{ix: other, ords: []uint32{other.byID["z"], other.byID["c"]}}
	require.Equal(t, []string{"c", "z"}, unionIDs([]IDs{ords("c"), fromOther}), "another index's IDs follow, without repeats")
}
