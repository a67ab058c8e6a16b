package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

func testAudit(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	entries := []*anpi.AuditEntry{
		{At: at(0), Actor: "admin", Action: "user.create", TargetKind: "user", TargetID: "u1"},
		{At: at(time.Minute), Action: "survey.start", TargetKind: "survey", TargetID: "s1", Detail: "震度6弱"},
		{At: at(2 * time.Minute), Actor: "admin", Action: "user.update", TargetKind: "user", TargetID: "u1"},
		{At: at(3 * time.Minute), Actor: "boss", Action: "export.tally", TargetKind: "survey", TargetID: "s1"},
		{At: at(4 * time.Minute), Actor: "admin", Action: "settings.update"},
	}
	var seqs []int64
	for i, e := range entries {
		seq, err := st.AppendAudit(ctx, e)
		require.NoError(t, err)
		if i > 0 {
			require.Greater(t, seq, seqs[i-1], "sequence numbers increase")
		}
		seqs = append(seqs, seq)
	}
	_, err := st.AppendAudit(ctx, &anpi.AuditEntry{At: at(0)})
	requireCode(t, anpi.InvalidArgument, err, "no action")
	_, err = st.AppendAudit(ctx, &anpi.AuditEntry{Action: "x"})
	requireCode(t, anpi.InvalidArgument, err, "no time")

	want := func(is ...int) []*anpi.AuditEntry {
		var out []*anpi.AuditEntry
		for _, i := range is {
			e := *entries[i]
			e.Seq = seqs[i]
			out = append(out, &e)
		}
		return out
	}
	list := func(q *anpi.AuditQuery) []*anpi.AuditEntry {
		t.Helper()
		got, err := st.ListAudit(ctx, q)
		require.NoError(t, err)
		if len(got) == 0 {
			return nil
		}
		return got
	}
	require.Equal(t, want(0, 1, 2, 3, 4), list(nil), "oldest first, with Seq")
	require.Equal(t, want(0, 2, 4), list(&anpi.AuditQuery{Actor: "admin"}))
	require.Equal(t, want(1, 3), list(&anpi.AuditQuery{TargetID: "s1"}))
	require.Equal(t, want(1, 2), list(&anpi.AuditQuery{Since: at(time.Minute), Until: at(3 * time.Minute)}), "since inclusive, until exclusive")
	require.Equal(t, want(2), list(&anpi.AuditQuery{Actor: "admin", TargetID: "u1", Since: at(time.Second)}))
	require.Equal(t, want(0, 1), list(&anpi.AuditQuery{Limit: 2}))
	require.Equal(t, want(2, 3), list(&anpi.AuditQuery{AfterSeq: seqs[1], Limit: 2}), "paging")
	require.Equal(t, want(4), list(&anpi.AuditQuery{AfterSeq: seqs[3]}))
	require.Equal(t, want(2, 4), list(&anpi.AuditQuery{Actor: "admin", AfterSeq: seqs[0]}))
	require.Nil(t, list(&anpi.AuditQuery{Actor: "nobody"}))

	// Entries of a failed transaction vanish; later ones still increase.
	boom := errors.New("boom")
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		_, err := tx.AppendAudit(ctx, &anpi.AuditEntry{At: at(5 * time.Minute), Action: "rolled.back"})
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	seq, err := st.AppendAudit(ctx, &anpi.AuditEntry{At: at(6 * time.Minute), Action: "after"})
	require.NoError(t, err)
	require.Greater(t, seq, seqs[4])
	got := list(&anpi.AuditQuery{AfterSeq: seqs[4]})
	require.Len(t, got, 1)
	require.Equal(t, "after", got[0].Action)

	// A zero limit means 1000.
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		for range 1000 {
			if _, err := tx.AppendAudit(ctx, &anpi.AuditEntry{At: at(time.Hour), Action: "bulk"}); err != nil {
				return err
			}
		}
		return nil
	}))
	require.Len(t, list(nil), 1000)
	require.Len(t, list(&anpi.AuditQuery{Limit: 2000}), 1006)
}
