package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// testCancelUserDeliveries checks CancelDeliveries restricted to some
// users: only the named users' Queued and FailedTemporary deliveries of the
// survey are cancelled, sent and sending ones are left, other users and
// other surveys are untouched, a long list of users is handled whole
// (SQL stores bind it in chunks), a cancelled delivery is not claimable even
// after it was claimed once, no users cancel nothing, an unknown survey is
// NotFound, and a rolled-back transaction cancels nothing.
func testCancelUserDeliveries(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	outboxFixture(t, st, 4)
	mustSurvey(t, st, newSurvey("other", anpi.Open, t0()))
	round := func(d *anpi.Delivery, r int) *anpi.Delivery { d.Round = r; return d }
	_, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{
		newDelivery("u1-sent", "s", "u1", anpi.EmailChannel, t0()),
		round(newDelivery("u1-queued", "s", "u1", anpi.EmailChannel, at(time.Hour)), 1),
		newDelivery("u2-sending", "s", "u2", anpi.EmailChannel, at(time.Second)),
		round(newDelivery("u2-tmp", "s", "u2", anpi.EmailChannel, at(2*time.Second)), 1),
		newDelivery("u3-queued", "s", "u3", anpi.EmailChannel, at(time.Hour)),
		newDelivery("u4-tmp", "s", "u4", anpi.EmailChannel, at(3*time.Second)),
		newDelivery("elsewhere", "other", "u1", anpi.EmailChannel, at(time.Hour)),
	})
	require.NoError(t, err)
	got, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 10, Lease: 24 * time.Hour, Now: at(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, []anpi.DeliveryID{"u1-sent", "u2-sending", "u2-tmp", "u4-tmp"}, deliveryIDs(got))
	require.NoError(t, st.CompleteDelivery(ctx, "u1-sent", "w", anpi.SendResult{ProviderID: "p", At: at(time.Minute)}))
	for _, id := range []anpi.DeliveryID{"u2-tmp", "u4-tmp"} {
		require.NoError(t, st.FailDelivery(ctx, id, "w", anpi.SendFailure{Error: "busy", At: at(time.Minute), RetryAt: at(2 * time.Minute)}))
	}
	before := map[anpi.DeliveryID]anpi.DeliveryState{
		"u1-sent": anpi.Sent, "u1-queued": anpi.Queued, "u2-sending": anpi.Sending, "u2-tmp": anpi.FailedTemporary,
		"u3-queued": anpi.Queued, "u4-tmp": anpi.FailedTemporary, "elsewhere": anpi.Queued,
	}

	n, err := st.CancelUserDeliveries(ctx, "s", nil, at(90*time.Second))
	require.NoError(t, err)
	require.Zero(t, n, "no users, nothing cancelled")
	_, err = st.CancelUserDeliveries(ctx, "ghost", []anpi.UserID{"u1"}, at(90*time.Second))
	requireCode(t, anpi.NotFound, err, "unknown survey")

	errRollback := errors.New("roll back")
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		n, err := tx.CancelUserDeliveries(ctx, "s", []anpi.UserID{"u1", "u2"}, at(90*time.Second))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, anpi.CancelledState, getDelivery(t, tx, "u1-queued").State, "a transaction reads its own writes")
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	for id, state := range before {
		require.Equal(t, state, getDelivery(t, st, id).State, "delivery %s after rollback", id)
	}

	// More users than one statement of a SQL store binds, the named ones
	// last; unknown users and duplicates change nothing.
	var users []anpi.UserID
	for i := range 1100 {
		users = append(users, anpi.UserID(fmt.Sprintf("ghost%04d", i)))
	}
	users = append(users, "u1", "u2", "u2")
	n, err = st.CancelUserDeliveries(ctx, "s", users, at(90*time.Second))
	require.NoError(t, err)
	require.Equal(t, 2, n, "u1's queued and u2's temporarily failed delivery")
	want := map[anpi.DeliveryID]anpi.DeliveryState{
		"u1-sent": anpi.Sent, "u1-queued": anpi.CancelledState, "u2-sending": anpi.Sending, "u2-tmp": anpi.CancelledState,
		"u3-queued": anpi.Queued, "u4-tmp": anpi.FailedTemporary, "elsewhere": anpi.Queued,
	}
	for id, state := range want {
		require.Equal(t, state, getDelivery(t, st, id).State, "delivery %s", id)
	}
	require.True(t, getDelivery(t, st, "u2-tmp").UpdatedAt.Equal(at(90*time.Second)), "UpdatedAt is the cancel time")

	got = claim(t, st, "w2", 10, at(2*time.Hour))
	require.Equal(t, []anpi.DeliveryID{"u4-tmp", "elsewhere", "u3-queued"}, deliveryIDs(got), "cancelled deliveries, even claimed once before, are not claimable")
	require.NoError(t, st.CompleteDelivery(ctx, "u2-sending", "w", anpi.SendResult{ProviderID: "p2", At: at(100 * time.Second)}), "deliveries being sent are left to finish")
	n, err = st.CancelUserDeliveries(ctx, "s", []anpi.UserID{"u1", "u2"}, at(2*time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to cancel")
}
