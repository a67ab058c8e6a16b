package anpi_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

func TestOnEnqueueAfterCommitsThatEnqueue(t *testing.T) {
	e := newEnv(t, quakeRule)
	calls := 0
	var queued []int // deliveries the store holds at each call: committed already
	e.svc = e.newService(&anpi.Options{OnEnqueue: func() {
		calls++
		svs, err := e.st.ListSurveys(e.ctx, nil)
		require.NoError(t, err)
		n := 0
		for _, sv := range svs {
			ds, err := e.st.Deliveries(e.ctx, sv.ID)
			require.NoError(t, err)
			n += len(ds)
		}
		queued = append(queued, n)
	}})

	out := e.feed(docVXSE51)
	require.Equal(t, 4, out.Effects[0].Queued)
	require.Equal(t, 1, calls, "one call for the commit of the survey and its deliveries")
	require.Equal(t, []int{5}, queued, "called after the commit")

	e.feed(docVXSE51)
	require.Equal(t, 1, calls, "a document seen again enqueues nothing: no call")

	out = e.feed(docVXSE53)
	require.Positive(t, sends(out.Effects)[0].Queued)
	require.Equal(t, 2, calls, "an escalation that asks more people")
}
