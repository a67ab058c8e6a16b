package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
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

// migrationLockKey is the advisory lock that serialises migrations of one
// schema across every process sharing the database.
const migrationLockKey = "github.com/anpikit/anpi/store/postgres: migrate "

// migrate brings the schema up to version upTo in one transaction that
// holds an advisory lock, so that several replicas starting at once
// migrate once: the first applies the migrations, the others wait for it
// and then find nothing to do. A schema whose version is above every
// migration this package knows is refused with FailedPrecondition.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	err := s.updateRaw(ctx, func(q pgx.Tx) error {
		if _, err := q.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", migrationLockKey+s.schema); err != nil {
			return classify("migrate: lock", err)
		}
		// CREATE SCHEMA needs the CREATE privilege on the database even
		// with IF NOT EXISTS: ask first, so a role without it can use a
		// schema its administrator made.
		var exists bool
		if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", s.schema).Scan(&exists); err != nil {
			return classify("migrate: look for schema "+s.schema, err)
		}
		if !exists {
			if _, err := q.Exec(ctx, "CREATE SCHEMA "+s.ident); err != nil {
				return classify("migrate: create schema "+s.schema, err)
			}
		}
		if _, err := q.Exec(ctx, s.sql(`CREATE TABLE IF NOT EXISTS {schema_version} (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL
		)`)); err != nil {
			return classify("migrate: create version table", err)
		}
		var current int
		if err := q.QueryRow(ctx, s.sql("SELECT COALESCE(MAX(version), 0) FROM {schema_version}")).Scan(&current); err != nil {
			return classify("migrate: read version", err)
		}
		known := SchemaVersion()
		if current > known {
			return anpi.Errorf(anpi.FailedPrecondition, "postgres: schema %q has version %d, newer than version %d that this program knows: upgrade the program (or restore a backup)", s.schema, current, known)
		}
		for _, m := range migrationFiles() {
			if m.version <= current || m.version > upTo {
				continue
			}
			if _, err := q.Exec(ctx, "SET LOCAL search_path TO "+s.ident); err != nil {
				return classify("migrate: set search_path", err)
			}
			if _, err := q.Exec(ctx, m.sql); err != nil {
				return classify(fmt.Sprintf("migrate to version %d (%s)", m.version, m.name), err)
			}
			if _, err := q.Exec(ctx, "RESET search_path"); err != nil {
				return classify("migrate: reset search_path", err)
			}
			if err := s.backfill(ctx, q, m.version); err != nil {
				return anpi.Errorf(anpi.Code(err), "postgres: migrate to version %d (%s): %w", m.version, m.name, err)
			}
			if _, err := q.Exec(ctx, s.sql("INSERT INTO {schema_version} (version, name, applied_at) VALUES ($1, $2, $3)"), m.version, m.name, s.now().UTC()); err != nil {
				return classify("migrate: record version", err)
			}
		}
		return nil
	})
	return err
}

// updateRaw runs fn in a transaction of its own, retrying on serialization
// failures and deadlocks.
func (s *Store) updateRaw(ctx context.Context, fn func(q pgx.Tx) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || !retryable(err) || attempt >= s.retries || ctx.Err() != nil {
			if err != nil {
				return classify("migrate", err)
			}
			return nil
		}
	}
}

// backfill fills what a migration adds from the rows already stored: at
// version 2, the tally counters of every survey, from a recount.
func (s *Store) backfill(ctx context.Context, q pgx.Tx, version int) error {
	if version != 2 {
		return nil
	}
	t := newTx(s, q, true)
	rows, err := q.Query(ctx, s.sql("SELECT id FROM {surveys} ORDER BY id"))
	if err != nil {
		return classify("backfill tally", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return classify("backfill tally", err)
	}
	for _, id := range ids {
		if err := t.recount(ctx, anpi.SurveyID(id)); err != nil {
			return err
		}
	}
	return nil
}
