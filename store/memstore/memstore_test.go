package memstore_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
	"github.com/anpikit/anpi/store/storetest"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) anpi.Store { return memstore.New(nil) })
}

func TestClockFillsZeroTimestamps(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2024, 1, 1, 16, 10, 0, 0, time.FixedZone("JST", 9*3600))
	st := memstore.New(&memstore.Options{Now: func() time.Time { return now }})
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "a", Status: anpi.Active, Locale: anpi.Japanese}))
	u, err := st.GetUser(ctx, "u1")
	require.NoError(t, err)
	require.True(t, u.CreatedAt.Equal(now))
	require.Equal(t, time.UTC, u.CreatedAt.Location(), "the clock's time is stored in UTC")
	require.Equal(t, u.CreatedAt, u.UpdatedAt)

	kept := now.Add(-time.Hour).UTC()
	u.CreatedAt, u.UpdatedAt = time.Time{}, kept
	require.NoError(t, st.UpdateUser(ctx, u))
	u, err = st.GetUser(ctx, "u1")
	require.NoError(t, err)
	require.True(t, u.CreatedAt.Equal(now), "UpdateUser keeps CreatedAt when left zero")
	require.Equal(t, kept, u.UpdatedAt, "a timestamp the caller sets is kept")
}

func TestClosed(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(nil)
	require.NoError(t, st.Close())
	_, err := st.CountUsers(ctx)
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
	err = st.InTx(ctx, func(anpi.Tx) error { return nil })
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
}

func TestTxUnusableAfterInTx(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(nil)
	var leaked anpi.Tx
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error { leaked = tx; return nil }))
	err := leaked.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "a", Status: anpi.Active, Locale: anpi.Japanese})
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
	_, err = leaked.CountUsers(ctx)
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
	n, err := st.CountUsers(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

// BenchmarkClaim measures claiming and completing every delivery of a
// 100,000-delivery outbox in batches of 100, per delivery, and the same
// over 100 outboxes of 1,000 deliveries as the baseline. With the heap
// index a claim costs O(log n) per delivery; what ratio remains comes from
// caches and the garbage collector scanning a larger heap. A claim that
// scanned the outbox would make the ratio about 100.
func BenchmarkClaim(b *testing.B) {
	per := func(n int) time.Duration {
		st := memstore.New(nil)
		ctx := context.Background()
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := st.CreateSurvey(ctx, &anpi.Survey{ID: "s", Kind: anpi.ManualSurvey, Title: "t", Form: anpi.DefaultForm(), Status: anpi.Open}); err != nil {
			b.Fatal(err)
		}
		ds := make([]*anpi.Delivery, n)
		for i := range ds {
			ds[i] = &anpi.Delivery{ID: anpi.DeliveryID(fmt.Sprintf("d%06d", i)), SurveyID: "s", UserID: anpi.UserID(fmt.Sprintf("u%06d", i)),
				Channel: anpi.EmailChannel, State: anpi.Queued, NextAttemptAt: t0.Add(time.Duration(i%600) * time.Second)}
		}
		if _, err := st.EnqueueDeliveries(ctx, ds); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		done := 0
		for {
			got, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute, Now: t0.Add(time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			if len(got) == 0 {
				break
			}
			for _, d := range got {
				if err := st.CompleteDelivery(ctx, d.ID, "w", anpi.SendResult{At: t0.Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
			}
			done += len(got)
		}
		if done != n {
			b.Fatalf("claimed %d of %d", done, n)
		}
		return time.Since(start)
	}
	var big, small time.Duration
	for b.Loop() {
		big += per(100_000)
		for range 100 {
			small += per(1_000)
		}
	}
	n := float64(100_000 * b.N)
	b.ReportMetric(float64(big.Nanoseconds())/n, "ns/delivery@100k")
	b.ReportMetric(float64(small.Nanoseconds())/n, "ns/delivery@1k")
	b.ReportMetric(float64(big)/float64(small), "ratio")
}

func TestDeleteDepartmentDropsScopedGrants(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(nil)
	require.NoError(t, st.CreateDepartment(ctx, &anpi.Department{ID: "d", Name: "d"}))
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "a", Status: anpi.Active, Locale: anpi.Japanese}))
	require.NoError(t, st.GrantRole(ctx, anpi.RoleGrant{UserID: "u1", Role: anpi.SystemAdmin, Department: "d"}))
	require.NoError(t, st.GrantRole(ctx, anpi.RoleGrant{UserID: "u1", Role: anpi.Manager}))
	require.NoError(t, st.DeleteDepartment(ctx, "d"))
	require.NoError(t, st.CreateDepartment(ctx, &anpi.Department{ID: "d", Name: "new d"}))
	gs, err := st.RoleGrants(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, []anpi.RoleGrant{{UserID: "u1", Role: anpi.Manager}}, gs, "a new department of the same ID inherits no grant")
}

// The sorted-ID cache behind ListUsers follows creates, deletes and
// rollbacks.
func TestListUsersCacheFollowsRollback(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(nil)
	user := func(id string) *anpi.User {
		return &anpi.User{ID: anpi.UserID(id), EmployeeCode: id, Name: id, Status: anpi.Active, Locale: anpi.Japanese}
	}
	list := func(tx anpi.Tx) []anpi.UserID {
		us, err := tx.ListUsers(ctx, nil)
		require.NoError(t, err)
		var ids []anpi.UserID
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		return ids
	}
	require.NoError(t, st.CreateUser(ctx, user("b")))
	require.Equal(t, []anpi.UserID{"b"}, list(st))
	err := st.InTx(ctx, func(tx anpi.Tx) error {
		require.NoError(t, tx.CreateUser(ctx, user("a")))
		require.Equal(t, []anpi.UserID{"a", "b"}, list(tx))
		require.NoError(t, tx.DeleteUser(ctx, "b"))
		require.Equal(t, []anpi.UserID{"a"}, list(tx))
		return anpi.Errorf(anpi.Internal, "roll back")
	})
	require.Error(t, err)
	require.Equal(t, []anpi.UserID{"b"}, list(st))
	require.NoError(t, st.CreateUser(ctx, user("c")))
	require.Equal(t, []anpi.UserID{"b", "c"}, list(st))
}

// TestClaimMatchesScan checks the heap-indexed claims against a plain scan
// of the outbox through a random sequence of enqueues, claims, completions,
// failures and expired leases.
func TestClaimMatchesScan(t *testing.T) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(7, 11))
	st := memstore.New(nil)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, st.CreateSurvey(ctx, &anpi.Survey{ID: "s", Kind: anpi.ManualSurvey, Title: "t", Form: anpi.DefaultForm(), Status: anpi.Open}))
	chans := []anpi.Channel{anpi.EmailChannel, anpi.SMSChannel, anpi.LINEChannel}
	now := t0
	next := 0
	for step := range 600 {
		now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
		switch rng.IntN(4) {
		case 0: // enqueue a few
			var ds []*anpi.Delivery
			for range 1 + rng.IntN(8) {
				next++
				ds = append(ds, &anpi.Delivery{ID: anpi.DeliveryID(fmt.Sprintf("d%04d", rng.IntN(10000))), SurveyID: "s",
					UserID: anpi.UserID(fmt.Sprintf("u%d", next)), Channel: chans[rng.IntN(len(chans))], State: anpi.Queued,
					NextAttemptAt: now.Add(time.Duration(rng.IntN(120)-60) * time.Second)})
			}
			_, err := st.EnqueueDeliveries(ctx, ds)
			if err != nil { // a random ID may clash: then nothing was added
				require.Equal(t, anpi.AlreadyExists, anpi.Code(err))
			}
		default: // claim, then finish some
			req := anpi.ClaimRequest{Owner: fmt.Sprintf("w%d", rng.IntN(3)), Limit: 1 + rng.IntN(6), Lease: time.Duration(10+rng.IntN(60)) * time.Second, Now: now}
			if rng.IntN(2) == 0 {
				req.Channels = []anpi.Channel{chans[rng.IntN(len(chans))]}
			}
			all, err := st.Deliveries(ctx, "s")
			require.NoError(t, err)
			var want []anpi.DeliveryID
			var eligible []*anpi.Delivery
			for _, d := range all {
				if len(req.Channels) > 0 && d.Channel != req.Channels[0] {
					continue
				}
				due := (d.State == anpi.Queued || d.State == anpi.FailedTemporary) && !d.NextAttemptAt.After(now)
				expired := d.State == anpi.Sending && !d.LeaseUntil.After(now)
				if due || expired {
					eligible = append(eligible, d)
				}
			}
			slices.SortFunc(eligible, func(a, b *anpi.Delivery) int {
				if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
					return c
				}
				return cmp.Compare(a.ID, b.ID)
			})
			for _, d := range eligible[:min(len(eligible), req.Limit)] {
				want = append(want, d.ID)
			}
			got, err := st.ClaimDeliveries(ctx, req)
			require.NoError(t, err)
			var gotIDs []anpi.DeliveryID
			for _, d := range got {
				gotIDs = append(gotIDs, d.ID)
			}
			require.Equal(t, want, gotIDs, "step %d", step)
			for _, d := range got {
				switch rng.IntN(4) {
				case 0:
					require.NoError(t, st.CompleteDelivery(ctx, d.ID, req.Owner, anpi.SendResult{At: now}))
				case 1:
					require.NoError(t, st.FailDelivery(ctx, d.ID, req.Owner, anpi.SendFailure{Error: "x", At: now, RetryAt: now.Add(time.Duration(rng.IntN(60)) * time.Second)}))
				case 2:
					require.NoError(t, st.FailDelivery(ctx, d.ID, req.Owner, anpi.SendFailure{Error: "x", At: now, Permanent: rng.IntN(4) == 0}))
				} // case 3: the worker "crashes" and the lease expires
			}
		}
	}
}
