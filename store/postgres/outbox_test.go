package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// undoMigration7 gives the outbox's text columns of schema the
// database's collation back.
func undoMigration7(schema string) string {
	return fmt.Sprintf(`ALTER TABLE %s.deliveries ALTER COLUMN id TYPE text COLLATE "default",
	ALTER COLUMN survey_id TYPE text COLLATE "default", ALTER COLUMN user_id TYPE text COLLATE "default",
	ALTER COLUMN channel TYPE text COLLATE "default", ALTER COLUMN contact_id TYPE text COLLATE "default";
`, pgx.Identifier{schema}.Sanitize())
}

// undoMigration6 drops the users version of migration 6 from schema.
func undoMigration6(schema string) string {
	return fmt.Sprintf("DROP TABLE %s.users_version;\n", pgx.Identifier{schema}.Sanitize())
}

// undoMigration5 turns the indexes of schema's deliveries back into what
// version 4 had (the caller deletes the version rows).
func undoMigration5(schema string) string {
	return fmt.Sprintf(`DROP INDEX %[1]s.deliveries_channel_ready, %[1]s.deliveries_channel_leased;
		CREATE INDEX deliveries_claim ON %[1]s.deliveries (next_at, id) WHERE state IN ('queued', 'failed_temporary', 'sending');
		`, pgx.Identifier{schema}.Sanitize())
}

// deliveryIndexes returns the names of the indexes of schema's deliveries,
// sorted.
func deliveryIndexes(t testing.TB, schema string) []string {
	t.Helper()
	rows, err := rawPool(t).Query(context.Background(), "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'deliveries' ORDER BY indexname COLLATE \"C\"", schema)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func deliveryIDs(ds []*anpi.Delivery) []anpi.DeliveryID {
	out := make([]anpi.DeliveryID, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// TestMigrateFromVersion4 writes deliveries (queued, leased, due later;
// three channels), turns the schema back into what version 4 was
// (migration 5 only replaces indexes) and reopens it: the upgrade builds
// the indexes over the rows that were there, and claims and counts find
// them.
func TestMigrateFromVersion4(t *testing.T) {
	t.Parallel()
	url, schema := testSchema(t)
	ctx := context.Background()
	st, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	seedSurvey(t, st, 6)
	var ds []*anpi.Delivery
	add := func(id string, u int, ch anpi.Channel, next time.Time) {
		ds = append(ds, &anpi.Delivery{ID: anpi.DeliveryID(id), SurveyID: "s", UserID: anpi.UserID(fmt.Sprintf("u%05d", u)), Channel: ch,
			State: anpi.Queued, NextAttemptAt: next, CreatedAt: t0, UpdatedAt: t0})
	}
	for u := range 6 {
		add(fmt.Sprintf("e%d", u), u, anpi.EmailChannel, t0)
	}
	add("s0", 0, anpi.SMSChannel, t0.Add(time.Minute))
	add("s1", 1, anpi.SMSChannel, t0.Add(time.Minute))
	add("f2", 2, anpi.FCMChannel, t0.Add(2*time.Hour))
	n, err := st.EnqueueDeliveries(ctx, ds)
	require.NoError(t, err)
	require.Equal(t, len(ds), n)
	got, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "old", Limit: 1, Lease: time.Minute, Now: t0.Add(time.Minute), Channels: []anpi.Channel{anpi.EmailChannel}})
	require.NoError(t, err)
	require.Equal(t, []anpi.DeliveryID{"e0"}, deliveryIDs(got))
	require.NoError(t, st.Close())

	_, err = rawPool(t).Exec(ctx, undoMigration7(schema)+undoMigration6(schema)+undoMigration5(schema)+fmt.Sprintf("DELETE FROM %s.schema_version WHERE version > 4", pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3, 4}, schemaVersions(t, schema))
	require.Equal(t, []string{"deliveries_claim", "deliveries_pkey", "deliveries_survey_id_user_id_channel_contact_id_round_key"}, deliveryIndexes(t, schema))

	st, err = Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	require.Equal(t, allVersions(), schemaVersions(t, schema))
	require.Equal(t, []string{"deliveries_channel_leased", "deliveries_channel_ready", "deliveries_pkey", "deliveries_survey_id_user_id_channel_contact_id_round_key"},
		deliveryIndexes(t, schema), "the claim index of version 4 is gone")
	counts, err := st.CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Queued: 8, anpi.Sending: 1}, counts)

	later := t0.Add(3 * time.Minute) // e0's lease has expired
	got, err = st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "new", Limit: 10, Lease: time.Minute, Now: later, Channels: []anpi.Channel{anpi.SMSChannel}})
	require.NoError(t, err)
	require.Equal(t, []anpi.DeliveryID{"s0", "s1"}, deliveryIDs(got), "only the channel asked for")
	got, err = st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "new", Limit: 10, Lease: time.Minute, Now: later})
	require.NoError(t, err)
	require.Equal(t, []anpi.DeliveryID{"e0", "e1", "e2", "e3", "e4", "e5"}, deliveryIDs(got), "every channel; f2 is not due")
	require.Equal(t, 2, got[0].Attempts, "e0 claimed again after its lease expired")
	counts, err = st.CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Queued: 1, anpi.Sending: 8}, counts)
}

// TestAllChannels checks that a claim naming no channel reads every
// channel anpi knows.
func TestAllChannels(t *testing.T) {
	for _, c := range allChannels {
		require.True(t, c.Valid(), c)
	}
	require.Len(t, slices.Compact(slices.Sorted(slices.Values(allChannels))), len(allChannels))
	for _, c := range anpi.DefaultChannels() {
		require.Contains(t, allChannels, c)
	}
	got, err := claimChannels(nil)
	require.NoError(t, err)
	require.Equal(t, allChannels, got)
	got, err = claimChannels([]anpi.Channel{anpi.SMSChannel, anpi.EmailChannel, anpi.SMSChannel})
	require.NoError(t, err)
	require.Equal(t, []anpi.Channel{anpi.EmailChannel, anpi.SMSChannel}, got)
	_, err = claimChannels([]anpi.Channel{anpi.EmailChannel, "pigeon"})
	requireCode(t, anpi.InvalidArgument, err)
}

// TestOutboxQueryPlans checks, on an analysed table of a backlog of due
// emails of one survey and a few SMS of another, that a claim reads the
// claim indexes per channel with the channel and the time as index
// conditions, so a claim of SMS reads none of the emails (run, it filters
// out no row), and updates what it took by primary key, in the custom
// plans of the first executions and in the generic plan a cached
// statement may switch to; and that CountDeliveries reads the survey's
// range of the UNIQUE (survey_id, …) index.
func TestOutboxQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t, nil)
	for _, s := range []anpi.SurveyID{"s", "t"} {
		require.NoError(t, st.CreateSurvey(ctx, newBenchSurvey(s)))
	}
	var ds []*anpi.Delivery
	for i := range 5000 {
		ds = append(ds, &anpi.Delivery{ID: anpi.DeliveryID(fmt.Sprintf("s-%05d", i)), SurveyID: "s", UserID: anpi.UserID(fmt.Sprintf("u%05d", i)),
			Channel: anpi.EmailChannel, State: anpi.Queued, NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0})
	}
	for i := range 20 {
		ds = append(ds, &anpi.Delivery{ID: anpi.DeliveryID(fmt.Sprintf("t-%02d", i)), SurveyID: "t", UserID: anpi.UserID(fmt.Sprintf("u%02d", i)),
			Channel: anpi.SMSChannel, State: anpi.Queued, NextAttemptAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0})
	}
	_, err := st.EnqueueDeliveries(ctx, ds)
	require.NoError(t, err)
	_, err = st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute, Now: t0, Channels: []anpi.Channel{anpi.EmailChannel}})
	require.NoError(t, err)
	pool := rawPool(t)
	_, err = pool.Exec(ctx, "VACUUM ANALYZE "+pgx.Identifier{st.Schema(), "deliveries"}.Sanitize())
	require.NoError(t, err)

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	plan := func(explain, query string, args ...any) string {
		t.Helper()
		rows, err := conn.Query(ctx, explain+" "+st.sql(query), args...)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return strings.Join(lines, "\n")
	}
	claim := claimSQL + prefixed("d.", deliveryCols)
	now := t0.Add(time.Minute).UnixNano()
	claimArgs := func(chans ...string) []any {
		return []any{chans, now, 100, chans, now, 100, 100, "w2", now + int64(time.Minute), now}
	}
	// The generic plan is the one a prepared statement may switch to after
	// five executions: it does not see the parameters.
	_, err = conn.Exec(ctx, "PREPARE claim_plan AS "+st.sql(claim))
	require.NoError(t, err)
	for _, mode := range []string{"custom", "generic"} {
		_, err := conn.Exec(ctx, "SET plan_cache_mode = force_"+mode+"_plan")
		require.NoError(t, err)
		for _, chans := range [][]string{{"sms"}, {"email", "sms"}, {"apns", "email", "fcm", "line", "sms", "voice"}} {
			var p string
			if mode == "custom" {
				p = plan("EXPLAIN", claim, claimArgs(chans...)...)
			} else {
				list := "'{" + strings.Join(chans, ",") + "}'"
				p = plan("EXPLAIN", fmt.Sprintf("EXECUTE claim_plan(%[1]s, %[2]d, 100, %[1]s, %[2]d, 100, 100, 'w2', %[2]d, %[2]d)", list, now))
			}
			require.Contains(t, p, "Index Scan using deliveries_channel_ready on deliveries", "%s %v\n%s", mode, chans, p)
			require.Contains(t, p, "Index Cond: ((channel = ch.name) AND (next_at <= ", "%s %v\n%s", mode, chans, p)
			require.Contains(t, p, "Index Scan using deliveries_channel_leased on deliveries", "%s %v\n%s", mode, chans, p)
			require.Contains(t, p, "Index Cond: ((channel = ch_1.name) AND (lease_until <= ", "%s %v\n%s", mode, chans, p)
			require.Contains(t, p, "Index Scan using deliveries_pkey on deliveries d", "%s %v\n%s", mode, chans, p)
			require.NotContains(t, p, "Seq Scan on deliveries", "%s %v\n%s", mode, chans, p)
		}
	}
	p := plan("EXPLAIN", countDeliveriesSQL, "t")
	require.Contains(t, p, "Index Cond: (survey_id = ", p)
	require.Contains(t, p, "deliveries_survey_id_user_id_channel_contact_id_round_key", p)
	require.NotContains(t, p, "Seq Scan", p)
	// Run, the claim of SMS (none due) reads no row of the emails: the
	// plan filters out none. EXPLAIN ANALYZE runs the UPDATE: roll it back.
	_, err = conn.Exec(ctx, "SET plan_cache_mode = auto; DEALLOCATE ALL")
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+st.sql(claim), claimArgs("sms")...)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	p = strings.Join(lines, "\n")
	require.Contains(t, p, "deliveries_channel_ready", p)
	require.NotContains(t, p, "Rows Removed by Filter", p)
	require.NoError(t, tx.Rollback(ctx))

	// And the claims find what the plans promise.
	got, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute, Now: t0.Add(time.Minute), Channels: []anpi.Channel{anpi.SMSChannel}})
	require.NoError(t, err)
	require.Empty(t, got, "no SMS is due")
	got, err = st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute, Now: t0.Add(2 * time.Hour)})
	require.NoError(t, err)
	require.Len(t, got, 100)
	require.Equal(t, []anpi.DeliveryID{"s-00000", "s-00099"}, []anpi.DeliveryID{got[0].ID, got[99].ID}, "the expired leases first (same next_at, lower IDs)")
	counts, err := st.CountDeliveries(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Queued: 20}, counts)
}
