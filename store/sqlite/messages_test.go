package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// TestMigrateFromVersion3 writes data, turns the database back into what
// version 3 was (migration 4 only adds the tables of threads and boards,
// migration 5 replaces indexes) and reopens it: the upgrade keeps every
// row, and the users that were there start threads and boards.
func TestMigrateFromVersion3(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v3.db")
	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	seedSurvey(t, st, 6)
	before, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.NoError(t, st.Close())

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	require.NoError(t, err)
	_, err = db.Exec(undoMigration7 + undoMigration6 + undoMigration5 + "DROP TABLE posts; DROP TABLE boards; DROP TABLE messages; DROP TABLE thread_members; DROP TABLE threads; DELETE FROM schema_migrations WHERE version > 3")
	require.NoError(t, err)
	v, err := schemaVersion(ctx, db)
	require.NoError(t, err)
	require.Equal(t, 3, v)
	require.NoError(t, db.Close())

	st, err = Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	v, err = schemaVersion(ctx, st.rdb)
	require.NoError(t, err)
	require.Equal(t, SchemaVersion(), v)
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

// TestMessageQueryPlans checks that the reads of threads and boards are
// searches of a key, never a scan of messages or members: a user's
// threads, a thread's members, a page of messages or posts, and the bump
// of a thread's numbers.
func TestMessageQueryPlans(t *testing.T) {
	st := openTest(t, &Options{AllowPlaintextContacts: true})
	ctx := t.Context()
	seedSurvey(t, st, 20)
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		for i := range 30 {
			th := &anpi.Thread{ID: anpi.ThreadID(fmt.Sprintf("t%02d", i)), Title: "対応", CreatedBy: "u00000", CreatedAt: t0,
				Members: anpi.NormalizeMembers("u00000", []anpi.UserID{anpi.UserID(fmt.Sprintf("u%05d", 1+i%19))})}
			if err := tx.CreateThread(ctx, th); err != nil {
				return err
			}
			for j := range 5 {
				if _, err := tx.AppendMessage(ctx, &anpi.Message{ID: anpi.MessageID(fmt.Sprintf("m%02d-%d", i, j)), ThreadID: th.ID, Author: "u00000", Text: "x", At: t0}); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	plan := func(query string, args ...any) string {
		t.Helper()
		rows, err := st.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
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
	p := plan(`SELECT t.id, t.title, t.created_by, t.created_at, t.active_at, t.last_seq
		FROM thread_members m JOIN threads t ON t.id = m.thread_id
		WHERE m.user_id = ? ORDER BY t.active_at DESC, t.id`, "u00003")
	require.Contains(t, p, "SEARCH m USING PRIMARY KEY (user_id=?)", p)
	require.Contains(t, p, "SEARCH t USING INDEX sqlite_autoindex_threads_1 (id=?)", p)
	p = plan("SELECT user_id FROM thread_members WHERE thread_id = ? ORDER BY user_id", "t03")
	require.Contains(t, p, "thread_members_thread (thread_id=?)", p)
	require.NotContains(t, p, "TEMP B-TREE", p)
	p = plan("SELECT seq, id, author, at, text FROM messages WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?", "t03", 2, 100)
	require.Contains(t, p, "(thread_id=? AND seq>?)", p)
	require.NotContains(t, p, "TEMP B-TREE", p)
	p = plan("SELECT seq, id, author, at, text FROM posts WHERE board_id = ? AND seq > ? ORDER BY seq LIMIT ?", "b", 2, 100)
	require.Contains(t, p, "(board_id=? AND seq>?)", p)
	p = plan("SELECT 1 FROM messages WHERE id = ?", "m03-1")
	require.Contains(t, p, "SEARCH messages USING COVERING INDEX", p)
	p = plan("UPDATE threads SET last_seq = last_seq + 1, active_at = max(active_at, ?) WHERE id = ? RETURNING last_seq", 1, "t03")
	require.Contains(t, p, "(id=?)", p)
}
