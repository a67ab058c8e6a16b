package anpi_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/rules"
)

// A held send outlives a restart: the new Service restores it from the
// store and releases it when it comes due, asking whom the first would
// have asked, once.
func TestAutoSendHoldSurvivesRestart(t *testing.T) {
	e := newEnv(t, quakeHoldRule)
	out := e.feed(docVXSE53)
	require.Equal(t, rules.ActionHold, out.Effects[0].Action)
	_, err := e.st.EngineState(e.ctx, "rules.holds")
	require.NoError(t, err, "the hold is saved")

	// The process dies; a new one starts on the same store. The
	// document does not come again (it was fed by the API).
	e.svc = e.newService(nil)
	require.NoError(t, e.svc.Preload(e.ctx))
	due, ok := e.svc.NextDue()
	require.True(t, ok, "the hold is back")
	require.Equal(t, t0.Add(5*time.Minute), due)

	e.clock.Advance(5 * time.Minute)
	effects, err := e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Len(t, effects, 1)
	require.Equal(t, rules.ActionSend, effects[0].Action)
	require.Equal(t, 5, effects[0].Recipients, "as without the restart (TestAutoSendHoldReleasedByTick)")
	_, err = e.st.EngineState(e.ctx, "rules.holds")
	require.Equal(t, anpi.NotFound, anpi.Code(err), "nothing held any more: %v", err)

	// Another restart asks nobody again.
	e.svc = e.newService(nil)
	e.clock.Advance(time.Hour)
	effects, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Empty(t, effects)
}

// Held sends saved unreadably are dropped with a log: they do not stop the
// next documents.
func TestUnreadableHoldsAreDropped(t *testing.T) {
	e := newEnv(t, quakeRule)
	require.NoError(t, e.st.PutEngineState(e.ctx, "rules.holds", []byte("{not json")))
	e.svc = e.newService(nil)
	out := e.feed(docVXSE51)
	require.Len(t, out.Effects, 1)
	require.NotEmpty(t, out.Effects[0].Survey)
}
