package csvcell

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"", ""},
		{"plain", "plain"},
		{"=SUM(A1)", "'=SUM(A1)"},
		{"+1", "'+1"},
		{"-部長", "'-部長"},
		{"@home", "'@home"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"'quoted", "'quoted"},
		{"'", "'"},
		{"'=x", "''=x"},
		{"''-1", "'''-1"},
		{"a=b", "a=b"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.out, Escape(tc.in))
			require.Equal(t, tc.in, Unescape(Escape(tc.in)), "round trip")
		})
	}
	// What people type by hand reads as they mean it.
	require.Equal(t, "=x", Unescape("'=x"))
	require.Equal(t, "'abc", Unescape("'abc"))
	require.Equal(t, "-1", Unescape("-1"))
}
