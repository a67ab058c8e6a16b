package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestMigrateFromVersion3 writes data, turns the schema back into what
// version 3 was (migration 4 only adds the tables of threads and boards,
// migration 5 replaces indexes) and reopens it: the upgrade keeps every
// row, and the users that were there start threads and boards.
func TestMigrateFromVersion3(t *testing.T) {
	t.Parallel()
	url, schema := testSchema(t)
	ctx := context.Background()
	st, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	seedSurvey(t, st, 6)
	before, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.NoError(t, st.Close())

	_, err = rawPool(t).Exec(ctx, undoMigration7(schema)+undoMigration6(schema)+undoMigration5(schema)+fmt.Sprintf("DROP TABLE %[1]s.posts, %[1]s.boards, %[1]s.messages, %[1]s.thread_members, %[1]s.threads; DELETE FROM %[1]s.schema_version WHERE version > 3", pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3}, schemaVersions(t, schema))

	st, err = Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	require.Equal(t, allVersions(), schemaVersions(t, schema))
	after, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, before, after, "the upgrade keeps the rows")

	th := &anpi.Thread{ID: "t", Title: "対応", Members: []anpi.UserID{"u00000", "u00001"}, CreatedBy: "u00000", CreatedAt: t0}
	require.NoError(t, st.CreateThread(ctx, th))
	seq, err := st.AppendMessage(ctx, &anpi.Message{ID: "m", ThreadID: "t", Author: "u00001", Text: "了解", At: t0.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, int64(1), seq)
	require.NoError(t, st.CreateBoard(ctx, &anpi.Board{ID: "b", Title: "掲示板", Department: "sales", CreatedBy: "u00000", CreatedAt: t0}))
	seq, err = st.AddPost(ctx, &anpi.Post{ID: "p", BoardID: "b", Author: "u00002", Text: "休業", At: t0})
	require.NoError(t, err)
	require.Equal(t, int64(1), seq)
	ts, err := st.ListThreads(ctx, "u00001")
	require.NoError(t, err)
	require.Len(t, ts, 1)
	require.Equal(t, int64(1), ts[0].LastSeq)
}

// TestMessageQueryPlans checks, on analysed tables of some thousands of
// rows, that a user's threads, a thread's members and a page of messages
// are read through their keys.
func TestMessageQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t, nil)
	seedSurvey(t, st, 50)
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		for i := range 200 {
			th := &anpi.Thread{ID: anpi.ThreadID(fmt.Sprintf("t%03d", i)), Title: "対応", CreatedBy: "u00000", CreatedAt: t0,
				Members: anpi.NormalizeMembers("u00000", []anpi.UserID{anpi.UserID(fmt.Sprintf("u%05d", 1+i%49)), anpi.UserID(fmt.Sprintf("u%05d", 1+(i+7)%49))})}
			if err := tx.CreateThread(ctx, th); err != nil {
				return err
			}
			for j := range 20 {
				if _, err := tx.AppendMessage(ctx, &anpi.Message{ID: anpi.MessageID(fmt.Sprintf("m%03d-%02d", i, j)), ThreadID: th.ID, Author: "u00000", Text: "x", At: t0}); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	pool := rawPool(t)
	for _, table := range []string{"threads", "thread_members", "messages"} {
		_, err := pool.Exec(ctx, "ANALYZE "+pgx.Identifier{st.Schema(), table}.Sanitize())
		require.NoError(t, err)
	}
	plan := func(query string, args ...any) string {
		t.Helper()
		rows, err := pool.Query(ctx, "EXPLAIN "+st.sql(query), args...)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return strings.Join(lines, "\n")
	}
	p := plan("SELECT t.id FROM {thread_members} m JOIN {threads} t ON t.id = m.thread_id WHERE m.user_id = ?", "u00003")
	require.Contains(t, p, "thread_members_pkey", p)
	p = plan("SELECT thread_id, user_id FROM {thread_members} WHERE thread_id = ANY(?::text[])", []string{"t003"})
	require.Contains(t, p, "thread_members_thread", p)
	p = plan("SELECT seq, id, author, at, text FROM {messages} WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?", "t003", int64(5), 100)
	require.Contains(t, p, "messages_pkey", p)
	require.NotContains(t, p, "Sort", p)
}
