package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLimiterDropsEndedWindows: the limit holds per key within a window,
// and keys whose window has ended are forgotten as time goes on, however
// many there are, without a sweep of the whole map.
func TestLimiterDropsEndedWindows(t *testing.T) {
	var l limiter
	l.seen = map[string]*window{}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const keys = 3 * maxTracked
	for i := range keys {
		require.True(t, l.allow(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Millisecond), 2, time.Minute))
	}
	require.Len(t, l.seen, keys, "all within one window")
	require.True(t, l.allow("0", t0.Add(time.Second), 2, time.Minute))
	require.False(t, l.allow("0", t0.Add(2*time.Second), 2, time.Minute), "the third POST of key 0 in its window")

	// 60.5 s after the start, the windows that began in the first half
	// second have ended.
	now := t0.Add(time.Minute + 500*time.Millisecond)
	require.True(t, l.allow("new", now, 2, time.Minute))
	require.Len(t, l.seen, keys-501+1, "the 501 ended windows are gone, the new key is in")
	require.True(t, l.allow("0", now, 2, time.Minute), "key 0's window ended: it may post again")

	// Long after, only the last key is left.
	later := t0.Add(time.Hour)
	require.True(t, l.allow("last", later, 2, time.Minute))
	require.Len(t, l.seen, 1)
	require.Len(t, l.order, 1)
}
