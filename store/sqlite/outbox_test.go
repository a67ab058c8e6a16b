package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// undoMigration7 drops the users version of migration 7.
const undoMigration7 = "DROP TABLE users_version;\n"

// undoMigration6 turns deliveries back into the WITHOUT ROWID table, with
// its foreign key, of version 5 (the caller deletes the version rows).
const undoMigration6 = `CREATE TABLE deliveries_5 (
	id TEXT PRIMARY KEY, survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE, user_id TEXT NOT NULL,
	channel TEXT NOT NULL, contact_id TEXT NOT NULL, round INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
	next_at INTEGER NOT NULL, lease_owner TEXT NOT NULL DEFAULT '', lease_until INTEGER, last_error TEXT NOT NULL,
	provider_id TEXT NOT NULL, created_at INTEGER, updated_at INTEGER, sent_at INTEGER,
	UNIQUE (survey_id, user_id, channel, contact_id, round)
) WITHOUT ROWID;
INSERT INTO deliveries_5 SELECT id, survey_id, user_id, channel, contact_id, round, state, attempts, next_at, lease_owner, lease_until, last_error, provider_id, created_at, updated_at, sent_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_5 RENAME TO deliveries;
CREATE INDEX deliveries_channel_ready ON deliveries (channel, next_at, id) WHERE state IN ('queued', 'failed_temporary');
CREATE INDEX deliveries_channel_leased ON deliveries (channel, lease_until) WHERE state = 'sending';
`

// undoMigration5 turns the indexes of deliveries back into what version 4
// had (the caller deletes the version rows).
const undoMigration5 = `DROP INDEX deliveries_channel_ready; DROP INDEX deliveries_channel_leased;
CREATE INDEX deliveries_ready ON deliveries (next_at, id) WHERE state IN ('queued', 'failed_temporary');
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'sending';
`

// deliveryIndexes returns the names of the indexes of deliveries, sorted.
func deliveryIndexes(t testing.TB, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' ORDER BY name")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

// queryPlan returns the lines of EXPLAIN QUERY PLAN of query.
func queryPlan(t testing.TB, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		b.WriteString(detail + "\n")
	}
	require.NoError(t, rows.Err())
	return b.String()
}

func deliveryIDs(ds []*anpi.Delivery) []anpi.DeliveryID {
	out := make([]anpi.DeliveryID, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// TestMigrateFromVersion4 writes deliveries (queued, leased, due later;
// three channels), turns the database back into what version 4 was
// (migration 5 only replaces indexes, 6 rebuilds the table) and reopens
// it: the upgrade moves the rows, leases included, into the new table and
// builds the indexes over them, and claims and counts find them.
func TestMigrateFromVersion4(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v4.db")
	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
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

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	require.NoError(t, err)
	_, err = db.Exec(undoMigration7 + undoMigration6 + undoMigration5 + "DELETE FROM schema_migrations WHERE version > 4")
	require.NoError(t, err)
	v, err := schemaVersion(ctx, db)
	require.NoError(t, err)
	require.Equal(t, 4, v)
	require.Equal(t, []string{"deliveries_leased", "deliveries_ready", "sqlite_autoindex_deliveries_2"}, deliveryIndexes(t, db))
	require.NoError(t, db.Close())

	st, err = Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	v, err = schemaVersion(ctx, st.rdb)
	require.NoError(t, err)
	require.Equal(t, SchemaVersion(), v)
	require.Equal(t, []string{"deliveries_channel_leased", "deliveries_channel_ready", "sqlite_autoindex_deliveries_1", "sqlite_autoindex_deliveries_2"},
		deliveryIndexes(t, st.rdb), "the claim indexes of version 4 are gone; version 6 has a rowid table with an index of IDs")
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

// TestOutboxQueryPlans checks, with a backlog of due emails of one survey
// and a few SMS of another, that a claim reads one range of a claim index
// per channel (the channel is the first column searched, so the emails
// are not read for a claim of SMS) with no sort, and that
// CountDeliveries reads only the survey's range of the UNIQUE
// (survey_id, …) index. It checks the plans without statistics (as a database is run)
// and after ANALYZE.
func TestOutboxQueryPlans(t *testing.T) {
	st := openTest(t, &Options{AllowPlaintextContacts: true})
	ctx := t.Context()
	for _, s := range []anpi.SurveyID{"s", "t"} {
		require.NoError(t, st.CreateSurvey(ctx, &anpi.Survey{ID: s, Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(),
			Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedAt: t0, StartedAt: t0}))
	}
	emails := enqueueFixture("s", 2000)
	var sms []*anpi.Delivery
	for i := range 20 {
		sms = append(sms, &anpi.Delivery{ID: anpi.DeliveryID(fmt.Sprintf("t-%02d", i)), SurveyID: "t", UserID: anpi.UserID(fmt.Sprintf("u%02d", i)),
			Channel: anpi.SMSChannel, State: anpi.Queued, NextAttemptAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0})
	}
	_, err := st.EnqueueDeliveries(ctx, append(emails, sms...))
	require.NoError(t, err)
	_, err = st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute, Now: t0, Channels: []anpi.Channel{anpi.EmailChannel}})
	require.NoError(t, err)

	now := t0.Add(time.Minute).UnixNano()
	for _, analysed := range []bool{false, true} {
		if analysed {
			require.NoError(t, execW(t, st, "ANALYZE"))
		}
		p := queryPlan(t, st.rdb, claimReadySQL, "sms", now, 100)
		require.Equal(t, "SEARCH deliveries USING INDEX deliveries_channel_ready (channel=? AND next_at<?)\n", p, "analysed: %v", analysed)
		p = queryPlan(t, st.rdb, claimExpiredSQL, "sms", now, 100)
		require.Contains(t, p, "SEARCH deliveries USING INDEX deliveries_channel_leased (channel=? AND lease_until<?)", "analysed: %v", analysed)
		require.NotContains(t, p, "SCAN", p)
		p = queryPlan(t, st.rdb, countDeliveriesSQL, "t")
		require.Contains(t, p, "SEARCH deliveries USING INDEX sqlite_autoindex_deliveries_2 (survey_id=?)", "analysed: %v", analysed)
		require.NotContains(t, p, "SCAN", p)
	}
	// And the claims find what the plans promise.
	got, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute, Now: t0.Add(time.Minute), Channels: []anpi.Channel{anpi.SMSChannel}})
	require.NoError(t, err)
	require.Empty(t, got, "no SMS is due")
	got, err = st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute, Now: t0.Add(2 * time.Hour)})
	require.NoError(t, err)
	require.Len(t, got, 100)
	require.Equal(t, emails[0].ID, got[0].ID, "the expired leases first (same next_at, lower IDs)")
	counts, err := st.CountDeliveries(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Queued: 20}, counts)
}
