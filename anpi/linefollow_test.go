package anpi_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// TestLINEFollowChanged: a LINE user who blocks the official account gets
// his LINE contact marked broken (LINE would accept and drop the messages),
// so his LINE delivery renders nothing and falls back; following again
// makes it usable; a break for another reason stays; a LINE user nobody
// linked changes nothing.
func TestLINEFollowChanged(t *testing.T) {
	e := newEnv(t, quakeRule)
	const joetsuLINE = "U0123456789abcdef0123456789abcdef"
	sv := e.feed(docVXSE51).Effects[0].Survey
	d := e.deliveries(sv)["joetsu/line"]

	n, err := e.svc.LINEFollowChanged(e.ctx, joetsuLINE, false)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ck := e.contact("c-joetsu-line").Check
	require.True(t, ck.Broken)
	require.Equal(t, anpi.LINEBlocked, ck.LastError)
	_, _, err = e.svc.Render(e.ctx, d)
	require.Equal(t, anpi.NotFound, anpi.Code(err), "no usable LINE contact: the dispatcher falls back: %v", err)
	n, err = e.svc.LINEFollowChanged(e.ctx, joetsuLINE, false)
	require.NoError(t, err)
	require.Zero(t, n, "blocked already")

	n, err = e.svc.LINEFollowChanged(e.ctx, joetsuLINE, true)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ck = e.contact("c-joetsu-line").Check
	require.False(t, ck.Broken)
	require.Empty(t, ck.LastError)
	m, cid, err := e.svc.Render(e.ctx, d)
	require.NoError(t, err)
	require.Equal(t, anpi.ContactID("c-joetsu-line"), cid)
	require.Equal(t, joetsuLINE, m.To)

	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: "c-joetsu-line"})
	require.NoError(t, err)
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
		require.NotContains(t, a.Detail, joetsuLINE, "a LINE user ID is a private address")
	}
	require.Equal(t, []string{"contact.line_blocked", "contact.line_followed"}, actions)

	// A contact the provider said is gone stays broken when he follows.
	gone := anpi.ContactCheck{Broken: true, LastError: "LINE: unknown user", LastErrorAt: e.clock.Now()}
	require.NoError(t, e.st.RecordContactCheck(e.ctx, "c-joetsu-line", gone))
	n, err = e.svc.LINEFollowChanged(e.ctx, joetsuLINE, true)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, gone, e.contact("c-joetsu-line").Check)

	n, err = e.svc.LINEFollowChanged(e.ctx, "U99999999999999999999999999999999", false)
	require.NoError(t, err)
	require.Zero(t, n, "nobody linked that LINE user")
	_, err = e.svc.LINEFollowChanged(e.ctx, "", false)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
}

// TestLINEFollowChangedFindsNewLinks: a link made by this Service is found
// at once; one made by another replica once the index may be rebuilt
// (a minute after it was built).
func TestLINEFollowChangedFindsNewLinks(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.LINEFollowChanged(e.ctx, "U99999999999999999999999999999999", false) // builds the index
	require.NoError(t, err)

	const tokyoLINE = "Uaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	_, err = e.svc.LinkLINE(e.ctx, "tokyo", tokyoLINE)
	require.NoError(t, err)
	n, err := e.svc.LINEFollowChanged(e.ctx, tokyoLINE, false)
	require.NoError(t, err)
	require.Equal(t, 1, n, "linked by this Service")

	const kagaLINE = "Ubbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	other := e.newService(&anpi.Options{Rand: rand.NewChaCha8([32]byte{3})})
	_, err = other.LinkLINE(e.ctx, "kaga", kagaLINE)
	require.NoError(t, err)
	n, err = e.svc.LINEFollowChanged(e.ctx, kagaLINE, false)
	require.NoError(t, err)
	require.Zero(t, n, "linked by another replica a moment ago: not rebuilt yet")
	e.clock.Advance(time.Minute)
	n, err = e.svc.LINEFollowChanged(e.ctx, kagaLINE, false)
	require.NoError(t, err)
	require.Equal(t, 1, n, "rebuilt a minute later")
}
