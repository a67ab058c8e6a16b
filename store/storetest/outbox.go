package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// outboxFixture creates an open survey "s" and users u1..un.
func outboxFixture(t *testing.T, st anpi.Store, n int) {
	t.Helper()
	mustSurvey(t, st, newSurvey("s", anpi.Open, t0()))
	for i := 1; i <= n; i++ {
		mustUser(t, st, newUser(fmt.Sprintf("u%d", i), fmt.Sprintf("E%d", i)))
	}
}

func claim(t *testing.T, st anpi.Tx, owner string, limit int, now time.Time, chans ...anpi.Channel) []*anpi.Delivery {
	t.Helper()
	ds, err := st.ClaimDeliveries(t.Context(), anpi.ClaimRequest{Owner: owner, Limit: limit, Lease: time.Minute, Now: now, Channels: chans})
	require.NoError(t, err)
	return ds
}

func getDelivery(t *testing.T, st anpi.Tx, id anpi.DeliveryID) *anpi.Delivery {
	t.Helper()
	d, err := st.GetDelivery(t.Context(), id)
	require.NoError(t, err)
	return d
}

func testEnqueue(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	outboxFixture(t, st, 3)
	d1 := newDelivery("d1", "s", "u1", anpi.EmailChannel, t0())
	d1.ContactID = "c1"
	d2 := newDelivery("d2", "s", "u2", anpi.SMSChannel, t0())
	d3 := newDelivery("d3", "s", "u3", anpi.LINEChannel, t0())
	d3.State = anpi.SkippedNoContact
	n, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{d1, d2, d3})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, d1, getDelivery(t, st, "d1"))

	// Same keys under new IDs are skipped; so are duplicates in one batch.
	again := newDelivery("d1-again", "s", "u1", anpi.EmailChannel, t0())
	again.ContactID = "c1"
	d4 := newDelivery("d4", "s", "u1", anpi.EmailChannel, t0())
	d4.Round = 1 // a reminder: another key
	d4dup := newDelivery("d4-dup", "s", "u1", anpi.EmailChannel, t0())
	d4dup.Round = 1
	n, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{again, d4, d4dup})
	require.NoError(t, err)
	require.Equal(t, 1, n, "only d4 is new")
	_, err = st.GetDelivery(ctx, "d1-again")
	requireCode(t, anpi.NotFound, err)
	_, err = st.GetDelivery(ctx, "d4-dup")
	requireCode(t, anpi.NotFound, err)

	clash := newDelivery("d1", "s", "u3", anpi.EmailChannel, t0())
	_, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{clash})
	requireCode(t, anpi.AlreadyExists, err, "an ID taken by another key")
	d7 := newDelivery("d7", "s", "u2", anpi.LINEChannel, t0())
	_, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{d7, clash})
	requireCode(t, anpi.AlreadyExists, err, "a batch with a taken ID")
	_, err = st.GetDelivery(ctx, "d7")
	requireCode(t, anpi.NotFound, err, "a batch with a taken ID stores none of its deliveries")
	sending := newDelivery("d5", "s", "u3", anpi.EmailChannel, t0())
	sending.State = anpi.Sending
	_, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{sending})
	requireCode(t, anpi.InvalidArgument, err, "enqueued as sending without a lease")
	leasedQueued := newDelivery("d5", "s", "u3", anpi.EmailChannel, t0())
	leasedQueued.LeaseOwner, leasedQueued.LeaseUntil = "w", at(time.Minute)
	_, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{leasedQueued})
	requireCode(t, anpi.InvalidArgument, err, "enqueued as queued with a lease")
	sent := newDelivery("d5", "s", "u3", anpi.EmailChannel, t0())
	sent.State = anpi.Sent
	_, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{sent})
	requireCode(t, anpi.InvalidArgument, err, "enqueued as sent")
	_, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{newDelivery("d6", "s", "u3", "pigeon", t0())})
	requireCode(t, anpi.InvalidArgument, err, "unknown channel")

	list, err := st.Deliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, []anpi.DeliveryID{"d1", "d2", "d3", "d4"}, deliveryIDs(list), "by ID")
	counts, err := st.CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Queued: 3, anpi.SkippedNoContact: 1}, nonZero(counts))

	got := claim(t, st, "w", 10, at(time.Minute))
	require.ElementsMatch(t, []anpi.DeliveryID{"d1", "d2", "d4"}, deliveryIDs(got), "skipped deliveries are never claimed")
	_, err = st.GetDelivery(ctx, "nope")
	requireCode(t, anpi.NotFound, err)
}

func testClaimOrder(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	outboxFixture(t, st, 4)
	_, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{
		newDelivery("dA", "s", "u1", anpi.EmailChannel, at(2*time.Minute)),
		newDelivery("dD", "s", "u4", anpi.FCMChannel, at(10*time.Minute)),
		newDelivery("dC", "s", "u3", anpi.SMSChannel, at(time.Minute)),
		newDelivery("dB", "s", "u2", anpi.EmailChannel, at(time.Minute)),
	})
	require.NoError(t, err)

	_, err = st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w1", Limit: 0, Lease: time.Minute, Now: at(5 * time.Minute)})
	requireCode(t, anpi.InvalidArgument, err, "limit 0")
	_, err = st.ClaimDeliveries(ctx, anpi.ClaimRequest{Limit: 1, Lease: time.Minute, Now: at(5 * time.Minute)})
	requireCode(t, anpi.InvalidArgument, err, "no owner")

	require.Empty(t, claim(t, st, "w1", 10, at(30*time.Second)), "nothing due yet")

	now := at(5 * time.Minute)
	got := claim(t, st, "w1", 2, now)
	require.Equal(t, []anpi.DeliveryID{"dB", "dC"}, deliveryIDs(got), "oldest NextAttemptAt first, then ID")
	for _, d := range got {
		require.Equal(t, anpi.Sending, d.State)
		require.Equal(t, "w1", d.LeaseOwner)
		require.True(t, d.LeaseUntil.Equal(now.Add(time.Minute)), "lease until now+lease, got %v", d.LeaseUntil)
		require.Equal(t, 1, d.Attempts)
		stored := getDelivery(t, st, d.ID)
		require.Equal(t, anpi.Sending, stored.State)
		require.Equal(t, "w1", stored.LeaseOwner)
		require.Equal(t, 1, stored.Attempts)
	}
	got = claim(t, st, "w1", 10, now)
	require.Equal(t, []anpi.DeliveryID{"dA"}, deliveryIDs(got), "dD is not due; leased ones are not claimable")
	require.Empty(t, claim(t, st, "w2", 10, now.Add(30*time.Second)), "leases still held")

	// Later every lease has expired and dD is due: all four, in order.
	later := at(10 * time.Minute)
	got = claim(t, st, "w2", 10, later)
	require.Equal(t, []anpi.DeliveryID{"dB", "dC", "dA", "dD"}, deliveryIDs(got))
	for _, d := range got {
		require.Equal(t, "w2", d.LeaseOwner)
		want := 2
		if d.ID == "dD" {
			want = 1
		}
		require.Equal(t, want, d.Attempts, "delivery %s", d.ID)
	}
	counts, err := st.CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Sending: 4}, nonZero(counts))
}

func testClaimChannels(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	outboxFixture(t, st, 2)
	_, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{
		newDelivery("e1", "s", "u1", anpi.EmailChannel, t0()),
		newDelivery("s1", "s", "u1", anpi.SMSChannel, t0()),
		newDelivery("v1", "s", "u1", anpi.VoiceChannel, t0()),
		newDelivery("e2", "s", "u2", anpi.EmailChannel, t0()),
	})
	require.NoError(t, err)
	got := claim(t, st, "sms-worker", 10, at(time.Minute), anpi.SMSChannel, anpi.VoiceChannel)
	require.Equal(t, []anpi.DeliveryID{"s1", "v1"}, deliveryIDs(got))
	got = claim(t, st, "mail-worker", 1, at(time.Minute), anpi.EmailChannel)
	require.Equal(t, []anpi.DeliveryID{"e1"}, deliveryIDs(got))
	got = claim(t, st, "any", 10, at(time.Minute))
	require.Equal(t, []anpi.DeliveryID{"e2"}, deliveryIDs(got))
}

func testExpiredLease(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	outboxFixture(t, st, 1)
	_, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{newDelivery("d", "s", "u1", anpi.EmailChannel, t0())})
	require.NoError(t, err)

	require.Len(t, claim(t, st, "w1", 1, t0()), 1)
	require.Empty(t, claim(t, st, "w2", 1, at(30*time.Second)), "the lease holds")
	got := claim(t, st, "w2", 1, at(2*time.Minute))
	require.Equal(t, []anpi.DeliveryID{"d"}, deliveryIDs(got), "an expired lease is claimable again")
	require.Equal(t, 2, got[0].Attempts)
	require.Equal(t, "w2", got[0].LeaseOwner)

	requireCode(t, anpi.FailedPrecondition, st.CompleteDelivery(ctx, "d", "w1", anpi.SendResult{ProviderID: "old", At: at(2 * time.Minute)}), "the old owner lost the lease")
	requireCode(t, anpi.FailedPrecondition, st.FailDelivery(ctx, "d", "w1", anpi.SendFailure{Error: "x", At: at(2 * time.Minute), Permanent: true}), "the old owner lost the lease")
	require.Equal(t, anpi.Sending, getDelivery(t, st, "d").State)

	require.NoError(t, st.CompleteDelivery(ctx, "d", "w2", anpi.SendResult{ProviderID: "msg-1", At: at(3 * time.Minute)}))
	d := getDelivery(t, st, "d")
	require.Equal(t, anpi.Sent, d.State)
	require.Equal(t, "msg-1", d.ProviderID)
	require.True(t, d.SentAt.Equal(at(3*time.Minute)), "SentAt %v", d.SentAt)
	requireCode(t, anpi.FailedPrecondition, st.CompleteDelivery(ctx, "d", "w2", anpi.SendResult{ProviderID: "msg-2", At: at(4 * time.Minute)}), "not sending any more")
	require.Empty(t, claim(t, st, "w3", 1, at(time.Hour)), "a sent delivery is final")
	require.Equal(t, "msg-1", getDelivery(t, st, "d").ProviderID)
	requireCode(t, anpi.NotFound, st.CompleteDelivery(ctx, "ghost", "w2", anpi.SendResult{At: t0()}))
}

// testEnqueueLeased: a delivery enqueued as Sending under a lease (the
// fan-out handing it to its dispatcher) is held like a claimed one: the
// owner completes it, nobody claims it before the lease ends, anybody after.
func testEnqueueLeased(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	outboxFixture(t, st, 3)
	leased := func(id string, u anpi.UserID) *anpi.Delivery {
		d := newDelivery(id, "s", u, anpi.EmailChannel, t0())
		d.State, d.Attempts, d.LeaseOwner, d.LeaseUntil = anpi.Sending, 1, "fanout", at(time.Minute)
		return d
	}
	d1, d2 := leased("d1", "u1"), leased("d2", "u2")
	d3 := newDelivery("d3", "s", "u3", anpi.EmailChannel, t0())
	n, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{d1, d2, d3})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, d1, getDelivery(t, st, "d1"), "stored as given, lease and all")
	counts, err := st.CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Sending: 2, anpi.Queued: 1}, nonZero(counts))

	require.Equal(t, []anpi.DeliveryID{"d3"}, deliveryIDs(claim(t, st, "w", 10, at(30*time.Second))), "the leased ones are held")
	require.NoError(t, st.CompleteDelivery(ctx, "d3", "w", anpi.SendResult{ProviderID: "p3", At: at(35 * time.Second)}))
	require.NoError(t, st.CompleteDelivery(ctx, "d1", "fanout", anpi.SendResult{ProviderID: "p1", At: at(40 * time.Second)}))
	require.Equal(t, anpi.Sent, getDelivery(t, st, "d1").State)

	got := claim(t, st, "w", 10, at(2*time.Minute))
	require.Equal(t, []anpi.DeliveryID{"d2"}, deliveryIDs(got), "a lease that ran out is claimable, as after a crash")
	require.Equal(t, 2, got[0].Attempts)
	requireCode(t, anpi.FailedPrecondition, st.CompleteDelivery(ctx, "d2", "fanout", anpi.SendResult{At: at(2 * time.Minute)}), "the fan-out's lease is lost")

	// Enqueued again (a retried fan-out), the key is skipped: the lease
	// of the delivery stored is not touched.
	again := leased("d2", "u2")
	again.LeaseOwner = "other"
	n, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{again})
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, "w", getDelivery(t, st, "d2").LeaseOwner)
}

func testFailDelivery(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	outboxFixture(t, st, 2)
	_, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{
		newDelivery("tmp", "s", "u1", anpi.EmailChannel, t0()),
		newDelivery("perm", "s", "u2", anpi.EmailChannel, t0()),
	})
	require.NoError(t, err)
	require.Len(t, claim(t, st, "w", 2, t0()), 2)

	requireCode(t, anpi.FailedPrecondition, st.FailDelivery(ctx, "tmp", "intruder", anpi.SendFailure{Error: "x", At: t0()}), "not the owner")
	requireCode(t, anpi.NotFound, st.FailDelivery(ctx, "ghost", "w", anpi.SendFailure{Error: "x", At: t0()}))

	require.NoError(t, st.FailDelivery(ctx, "tmp", "w", anpi.SendFailure{Error: "421 try later", At: at(10 * time.Second), RetryAt: at(5 * time.Minute)}))
	require.NoError(t, st.FailDelivery(ctx, "perm", "w", anpi.SendFailure{Error: "550 no such user", At: at(10 * time.Second), Permanent: true}))
	d := getDelivery(t, st, "tmp")
	require.Equal(t, anpi.FailedTemporary, d.State)
	require.Equal(t, "421 try later", d.LastError)
	require.True(t, d.NextAttemptAt.Equal(at(5*time.Minute)), "NextAttemptAt is RetryAt, got %v", d.NextAttemptAt)
	d = getDelivery(t, st, "perm")
	require.Equal(t, anpi.FailedPermanent, d.State)
	require.Equal(t, "550 no such user", d.LastError)
	requireCode(t, anpi.FailedPrecondition, st.FailDelivery(ctx, "perm", "w", anpi.SendFailure{Error: "x", At: t0()}), "already failed")

	require.Empty(t, claim(t, st, "w2", 10, at(4*time.Minute)), "not before RetryAt")
	got := claim(t, st, "w2", 10, at(5*time.Minute))
	require.Equal(t, []anpi.DeliveryID{"tmp"}, deliveryIDs(got), "claimable at RetryAt; a permanent failure is final")
	require.Equal(t, 2, got[0].Attempts)
	require.Empty(t, claim(t, st, "w3", 10, at(5*time.Minute+30*time.Second)), "leased again; a permanent failure stays final")
	counts, err := st.CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Sending: 1, anpi.FailedPermanent: 1}, nonZero(counts))
}

func testCancelDeliveries(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	outboxFixture(t, st, 5)
	mustSurvey(t, st, newSurvey("other", anpi.Open, t0()))
	skipped := newDelivery("skipped", "s", "u5", anpi.EmailChannel, t0())
	skipped.State = anpi.SkippedNoContact
	_, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{
		newDelivery("sent", "s", "u1", anpi.EmailChannel, t0()),
		newDelivery("sending", "s", "u2", anpi.EmailChannel, at(time.Second)),
		newDelivery("tmp", "s", "u3", anpi.EmailChannel, at(2*time.Second)),
		newDelivery("queued", "s", "u4", anpi.EmailChannel, at(time.Hour)),
		skipped,
		newDelivery("elsewhere", "other", "u1", anpi.EmailChannel, at(time.Hour)),
	})
	require.NoError(t, err)
	got, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 10, Lease: 24 * time.Hour, Now: at(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, []anpi.DeliveryID{"sent", "sending", "tmp"}, deliveryIDs(got))
	require.NoError(t, st.CompleteDelivery(ctx, "sent", "w", anpi.SendResult{ProviderID: "p", At: at(time.Minute)}))
	require.NoError(t, st.FailDelivery(ctx, "tmp", "w", anpi.SendFailure{Error: "busy", At: at(time.Minute), RetryAt: at(2 * time.Minute)}))

	n, err := st.CancelDeliveries(ctx, "s", at(90*time.Second))
	require.NoError(t, err)
	require.Equal(t, 2, n, "queued and temporarily failed")
	want := map[anpi.DeliveryID]anpi.DeliveryState{
		"sent": anpi.Sent, "sending": anpi.Sending, "tmp": anpi.CancelledState, "queued": anpi.CancelledState,
		"skipped": anpi.SkippedNoContact, "elsewhere": anpi.Queued,
	}
	for id, state := range want {
		require.Equal(t, state, getDelivery(t, st, id).State, "delivery %s", id)
	}
	got = claim(t, st, "w2", 10, at(2*time.Hour))
	require.Equal(t, []anpi.DeliveryID{"elsewhere"}, deliveryIDs(got), "cancelled deliveries are not claimable")
	require.NoError(t, st.CompleteDelivery(ctx, "sending", "w", anpi.SendResult{ProviderID: "p2", At: at(100 * time.Second)}), "deliveries being sent are left to finish")
	n, err = st.CancelDeliveries(ctx, "s", at(2*time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to cancel")
}

func testMarkDelivered(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	outboxFixture(t, st, 3)
	_, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{
		newDelivery("a", "s", "u1", anpi.EmailChannel, t0()),
		newDelivery("b", "s", "u2", anpi.EmailChannel, t0()),
		newDelivery("q", "s", "u3", anpi.EmailChannel, at(time.Hour)),
	})
	require.NoError(t, err)
	require.Len(t, claim(t, st, "w", 2, t0()), 2)
	require.NoError(t, st.CompleteDelivery(ctx, "a", "w", anpi.SendResult{ProviderID: "pa", At: at(time.Second)}))
	require.NoError(t, st.CompleteDelivery(ctx, "b", "w", anpi.SendResult{ProviderID: "pb", At: at(time.Second), Delivered: true}))
	require.Equal(t, anpi.Delivered, getDelivery(t, st, "b").State, "confirmed at send time")

	require.NoError(t, st.MarkDelivered(ctx, "a", at(time.Minute)))
	require.Equal(t, anpi.Delivered, getDelivery(t, st, "a").State)
	require.NoError(t, st.MarkDelivered(ctx, "a", at(2*time.Minute)), "idempotent")
	require.NoError(t, st.MarkDelivered(ctx, "b", at(time.Minute)), "idempotent")
	d := getDelivery(t, st, "a")
	require.Equal(t, anpi.Delivered, d.State)
	require.Equal(t, "pa", d.ProviderID)
	requireCode(t, anpi.FailedPrecondition, st.MarkDelivered(ctx, "q", at(time.Minute)), "a queued delivery was not sent")
	require.Equal(t, anpi.Queued, getDelivery(t, st, "q").State)
	requireCode(t, anpi.NotFound, st.MarkDelivered(ctx, "ghost", at(time.Minute)))
	counts, err := st.CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Delivered: 2, anpi.Queued: 1}, nonZero(counts))
}

// testConcurrentClaims has 8 claimers take 2,000 deliveries at once, and
// completes what they claim as they go: each delivery goes to exactly one.
func testConcurrentClaims(t *testing.T, st anpi.Store) {
	const total, workers, limit = 2000, 8, 7
	ctx := t.Context()
	mustSurvey(t, st, newSurvey("s", anpi.Open, t0()))
	chans := []anpi.Channel{anpi.EmailChannel, anpi.FCMChannel, anpi.SMSChannel}
	var batch []*anpi.Delivery
	for i := range total {
		d := newDelivery(fmt.Sprintf("d%05d", i), "s", anpi.UserID(fmt.Sprintf("u%05d", i)), chans[i%len(chans)], at(time.Duration(i%17)*time.Second))
		batch = append(batch, d)
		if len(batch) == 500 {
			_, err := st.EnqueueDeliveries(ctx, batch)
			require.NoError(t, err)
			batch = nil
		}
	}

	var (
		mu        sync.Mutex
		claims    = map[anpi.DeliveryID][]string{}
		errs      []error
		wg        sync.WaitGroup
		claimed   int
		completed int
	)
	for w := range workers {
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			// Bounded, so that a store that hands out the same deliveries
			// again and again fails instead of hanging.
			for range 2 * total / limit {
				ds, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: owner, Limit: limit, Lease: time.Hour, Now: at(time.Minute)})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					claims[d.ID] = append(claims[d.ID], owner)
				}
				claimed += len(ds)
				done := claimed >= total*2
				mu.Unlock()
				if len(ds) > limit {
					mu.Lock()
					errs = append(errs, fmt.Errorf("claim returned %d deliveries, limit %d", len(ds), limit))
					mu.Unlock()
				}
				for i, d := range ds {
					if i%2 == 0 {
						err := st.CompleteDelivery(ctx, d.ID, owner, anpi.SendResult{ProviderID: "p", At: at(time.Minute)})
						mu.Lock()
						if err != nil {
							errs = append(errs, fmt.Errorf("complete %s by %s: %w", d.ID, owner, err))
						} else {
							completed++
						}
						mu.Unlock()
					}
				}
				if done {
					return
				}
			}
		})
	}
	// A reader runs alongside the claimers.
	wg.Go(func() {
		for range 200 {
			if _, err := st.CountDeliveries(ctx, "s"); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("count deliveries while claiming: %w", err))
				mu.Unlock()
				return
			}
			if _, err := st.GetDelivery(ctx, "d00000"); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("get delivery while claiming: %w", err))
				mu.Unlock()
				return
			}
		}
	})
	wg.Wait()
	for id, owners := range claims {
		require.Len(t, owners, 1, "delivery %s was claimed by %v", id, owners)
	}
	if len(errs) > 5 {
		errs = errs[:5]
	}
	require.Empty(t, errs)
	require.Len(t, claims, total, "every delivery claimed")
	counts, err := st.CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Sent: completed, anpi.Sending: total - completed}, nonZero(counts))
}
