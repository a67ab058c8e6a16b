package postgres

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
)

// The kinds of tally rows (column kind of tally_groups and tally_choices).
const (
	kindSurvey  = ""  // the whole survey; grp is empty
	kindDept    = "d" // direct members of department grp
	kindSubtree = "s" // the subtree of department grp
	kindRegion  = "r" // region grp ("quake:350")
)

type groupKey struct{ kind, grp string }

// tallyGroups lists the groups of a tally (absolute or a delta), the whole
// survey included, sorted by key so that concurrent transactions lock the
// counter rows in one order.
func tallyGroups(tl *anpi.Tally) ([]groupKey, map[groupKey]*anpi.GroupTally) {
	m := map[groupKey]*anpi.GroupTally{{kindSurvey, ""}: {Targets: tl.Targets, Answered: tl.Answered, Choices: tl.Choices}}
	for d, g := range tl.Departments {
		m[groupKey{kindDept, string(d)}] = g
	}
	for d, g := range tl.Subtrees {
		m[groupKey{kindSubtree, string(d)}] = g
	}
	for r, g := range tl.Regions {
		m[groupKey{kindRegion, r}] = g
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b groupKey) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.grp, b.grp))
	})
	return keys, m
}

// flush writes the pending tally changes: one statement per survey adds
// the deltas to the counter rows with upserts (INSERT … ON CONFLICT DO
// UPDATE SET n = n + delta).
func (t *tx) flush(ctx context.Context) error {
	if t.usersWritten {
		if _, err := t.exec(ctx, "move the users version", "UPDATE {users_version} SET n = n + 1"); err != nil {
			return err
		}
		t.usersWritten = false
	}
	if len(t.pending) == 0 {
		return nil
	}
	const op = "write tally"
	for _, s := range slices.Sorted(maps.Keys(t.pending)) {
		delta := t.pending[s]
		keys, groups := tallyGroups(delta)
		var gk, gg []string
		var gt, ga []int64
		var ck, cg, cq, cc []string
		var cn []int64
		for _, k := range keys {
			g := groups[k]
			if g.Targets != 0 || g.Answered != 0 {
				gk, gg = append(gk, k.kind), append(gg, k.grp)
				gt, ga = append(gt, int64(g.Targets)), append(ga, int64(g.Answered))
			}
			for _, q := range slices.Sorted(maps.Keys(g.Choices)) {
				for _, code := range slices.Sorted(maps.Keys(g.Choices[q])) {
					if n := g.Choices[q][code]; n != 0 {
						ck, cg, cq, cc, cn = append(ck, k.kind), append(cg, k.grp), append(cq, q), append(cc, code), append(cn, int64(n))
					}
				}
			}
		}
		var hs, hn []int64
		for _, sec := range slices.Sorted(maps.Keys(delta.AnswerSeconds)) {
			if n := delta.AnswerSeconds[sec]; n != 0 {
				hs, hn = append(hs, sec), append(hn, int64(n))
			}
		}
		if len(gk) == 0 && len(ck) == 0 && len(hs) == 0 {
			continue
		}
		if _, err := t.exec(ctx, op, `WITH g AS (
				INSERT INTO {tally_groups} AS t (survey_id, kind, grp, targets, answered)
				SELECT ?, k, g, dt, da FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[]) AS x(k, g, dt, da)
				ON CONFLICT (survey_id, kind, grp) DO UPDATE SET targets = t.targets + excluded.targets, answered = t.answered + excluded.answered
			), c AS (
				INSERT INTO {tally_choices} AS t (survey_id, kind, grp, question, code, n)
				SELECT ?, k, g, q, c, n FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[]) AS x(k, g, q, c, n)
				ON CONFLICT (survey_id, kind, grp, question, code) DO UPDATE SET n = t.n + excluded.n
			)
			INSERT INTO {tally_seconds} AS t (survey_id, sec, n)
			SELECT ?, s, n FROM unnest(?::bigint[], ?::bigint[]) AS x(s, n)
			ON CONFLICT (survey_id, sec) DO UPDATE SET n = t.n + excluded.n`,
			string(s), gk, gg, gt, ga,
			string(s), ck, cg, cq, cc, cn,
			string(s), hs, hn); err != nil {
			return err
		}
	}
	t.pending = nil
	return nil
}

// tallyDelta returns the pending tally changes of survey s.
func (t *tx) tallyDelta(s anpi.SurveyID) *anpi.Tally {
	if t.pending == nil {
		t.pending = map[anpi.SurveyID]*anpi.Tally{}
	}
	d := t.pending[s]
	if d == nil {
		d = anpi.NewTally(s)
		t.pending[s] = d
	}
	return d
}

// recount replaces the counters of survey s with a recount from its
// recipients and current responses.
func (t *tx) recount(ctx context.Context, s anpi.SurveyID) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	sv, err := t.survey(ctx, "recount tally", s)
	if err != nil {
		return err
	}
	rs, err := t.recipientList(ctx, s)
	if err != nil {
		return err
	}
	resps, err := t.currentResponses(ctx, s)
	if err != nil {
		return err
	}
	for _, table := range []string{"tally_groups", "tally_choices", "tally_seconds"} {
		if _, err := t.exec(ctx, "recount tally", "DELETE FROM {"+table+"} WHERE survey_id = ?", string(s)); err != nil {
			return err
		}
	}
	if t.pending == nil {
		t.pending = map[anpi.SurveyID]*anpi.Tally{}
	}
	t.pending[s] = anpi.ComputeTally(s, sv.StartedAt, rs, resps)
	return t.flush(ctx)
}

// Tally reads the counter rows of the survey, in one pipeline: its cost
// depends on the number of groups, choices and distinct answer seconds,
// not on the number of recipients or answers.
func (t *tx) Tally(ctx context.Context, s anpi.SurveyID) (*anpi.Tally, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.s.readTally(ctx, t.q, s)
}

// batcher is what readTally needs of a pool or a transaction.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// readTally reads the counters of survey s in one pipeline.
func (st *Store) readTally(ctx context.Context, qr batcher, s anpi.SurveyID) (*anpi.Tally, error) {
	const op = "tally"
	b := &pgx.Batch{}
	b.Queue(st.sql("SELECT 1 FROM {surveys} WHERE id = ?"), string(s))
	b.Queue(st.sql("SELECT kind, grp, targets, answered FROM {tally_groups} WHERE survey_id = ? AND (targets <> 0 OR answered <> 0)"), string(s))
	b.Queue(st.sql("SELECT kind, grp, question, code, n FROM {tally_choices} WHERE survey_id = ? AND n <> 0"), string(s))
	// One row of two arrays: thousands of seconds cost less as arrays
	// than as rows.
	b.Queue(st.sql("SELECT COALESCE(array_agg(sec), '{}'), COALESCE(array_agg(n), '{}') FROM {tally_seconds} WHERE survey_id = ? AND n <> 0"), string(s))
	br := qr.SendBatch(ctx, b)
	defer br.Close()
	var one int32
	if err := br.QueryRow().Scan(&one); err != nil {
		if err == pgx.ErrNoRows {
			return nil, anpi.Errorf(anpi.NotFound, "postgres: tally: survey %s does not exist", s)
		}
		return nil, classify(op, err)
	}
	tl := anpi.NewTally(s)
	group := func(kind, grp string) *anpi.GroupTally {
		var m map[anpi.DepartmentID]*anpi.GroupTally
		switch kind {
		case kindDept:
			m = tl.Departments
		case kindSubtree:
			m = tl.Subtrees
		case kindRegion:
			g := tl.Regions[grp]
			if g == nil {
				g = &anpi.GroupTally{Choices: anpi.ChoiceCounts{}}
				tl.Regions[grp] = g
			}
			return g
		default:
			return nil
		}
		g := m[anpi.DepartmentID(grp)]
		if g == nil {
			g = &anpi.GroupTally{Choices: anpi.ChoiceCounts{}}
			m[anpi.DepartmentID(grp)] = g
		}
		return g
	}
	rows, err := br.Query()
	if err != nil {
		return nil, classify(op, err)
	}
	var kind, grp, q, code string
	var a, b2 int64
	_, err = pgx.ForEachRow(rows, []any{&kind, &grp, &a, &b2}, func() error {
		if kind == kindSurvey {
			tl.Targets, tl.Answered = int(a), int(b2)
		} else if g := group(kind, grp); g != nil {
			g.Targets, g.Answered = int(a), int(b2)
		}
		return nil
	})
	if err != nil {
		return nil, classify(op, err)
	}
	rows, err = br.Query()
	if err != nil {
		return nil, classify(op, err)
	}
	_, err = pgx.ForEachRow(rows, []any{&kind, &grp, &q, &code, &a}, func() error {
		if kind == kindSurvey {
			tl.Choices.Add(q, code, int(a))
		} else if g := group(kind, grp); g != nil {
			g.Choices.Add(q, code, int(a))
		}
		return nil
	})
	if err != nil {
		return nil, classify(op, err)
	}
	var secs, ns []int64
	if err := br.QueryRow().Scan(&secs, &ns); err != nil {
		return nil, classify(op, err)
	}
	if len(secs) != len(ns) {
		return nil, anpi.Errorf(anpi.Internal, "postgres: tally: %d seconds but %d counts", len(secs), len(ns))
	}
	tl.AnswerSeconds = make(map[int64]int, len(secs))
	for i, sec := range secs {
		tl.AnswerSeconds[sec] = int(ns[i])
	}
	return tl, nil
}
