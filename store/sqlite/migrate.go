package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationFiles returns the embedded migrations, in order. Their numbers
// start at 1 and have no gaps (a test checks it).
func migrationFiles() []migration {
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil { // cannot happen: the directory is embedded
		return nil
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := migrationsFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			continue
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out
}

// SchemaVersion is the schema version this package writes: the number of
// its last migration.
func SchemaVersion() int {
	ms := migrationFiles()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// afterMigration runs Go code that a migration needs beyond its SQL (such
// as filling a new table from existing rows), inside the migration's
// transaction.
type afterMigration func(ctx context.Context, q *sql.Tx, version int) error

// migrate brings the database up to version upTo, one transaction per
// migration. A database whose version is above every migration this
// package knows is refused with FailedPrecondition.
func migrate(ctx context.Context, db *sql.DB, upTo int, now func() time.Time, after afterMigration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return classify("migrate: create version table", err)
	}
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	known := SchemaVersion()
	if current > known {
		return anpi.Errorf(anpi.FailedPrecondition, "sqlite: the database has schema version %d, newer than version %d that this program knows: upgrade the program (or restore a backup)", current, known)
	}
	for _, m := range migrationFiles() {
		if m.version <= current || m.version > upTo {
			continue
		}
		if err := applyMigration(ctx, db, m, now, after); err != nil {
			return err
		}
	}
	return nil
}

func schemaVersion(ctx context.Context, db interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (int, error) {
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, classify("migrate: read version", err)
	}
	return int(v.Int64), nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration, now func() time.Time, after afterMigration) error {
	q, err := db.BeginTx(ctx, nil)
	if err != nil {
		return classify("migrate: begin", err)
	}
	defer func() { _ = q.Rollback() }()
	// Another process may have migrated between our read and our write
	// lock (it cannot hold the lock file, but be safe): re-read.
	v, err := schemaVersion(ctx, q)
	if err != nil {
		return err
	}
	if v >= m.version {
		return nil
	}
	if _, err := q.ExecContext(ctx, m.sql); err != nil {
		return classify(fmt.Sprintf("migrate to version %d (%s)", m.version, m.name), err)
	}
	if after != nil {
		if err := after(ctx, q, m.version); err != nil {
			return anpi.Errorf(anpi.Code(err), "sqlite: migrate to version %d (%s): %w", m.version, m.name, err)
		}
	}
	if _, err := q.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, now().UnixNano()); err != nil {
		return classify("migrate: record version", err)
	}
	if err := q.Commit(); err != nil {
		return classify("migrate: commit", err)
	}
	return nil
}

// backfill fills what a migration adds from the rows already stored: at
// version 2, the tally counters of every survey, from a recount.
func (s *Store) backfill(ctx context.Context, q *sql.Tx, version int) error {
	if version != 2 {
		return nil
	}
	t := newTx(s, q, true)
	rows, err := q.QueryContext(ctx, "SELECT id FROM surveys ORDER BY id")
	if err != nil {
		return classify("backfill tally", err)
	}
	var ids []anpi.SurveyID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return classify("backfill tally", err)
		}
		ids = append(ids, anpi.SurveyID(id))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return classify("backfill tally", err)
	}
	for _, id := range ids {
		if err := t.recount(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
