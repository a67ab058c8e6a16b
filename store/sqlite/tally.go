package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"maps"
	"slices"
	"strconv"

	"github.com/anpikit/anpi/anpi"
)

// The kinds of tally rows (column tally.kind).
const (
	kindSurvey    = ""  // the whole survey; grp is empty
	kindDept      = "d" // direct members of department grp
	kindSubtree   = "s" // the subtree of department grp
	kindRegion    = "r" // region grp ("quake:350")
	kindHistogram = "h" // answer seconds [60*grp, 60*grp+60)
)

// histogramBucket is the width, in seconds, of one histogram row.
const histogramBucket = 60

// counterRow is the JSON of one tally row.
type counterRow struct {
	T int                       `json:"t,omitempty"`
	A int                       `json:"a,omitempty"`
	C map[string]map[string]int `json:"c,omitempty"`
	H map[int64]int             `json:"h,omitempty"`
}

func (r *counterRow) empty() bool { return r.T == 0 && r.A == 0 && len(r.C) == 0 && len(r.H) == 0 }

// add folds delta into r, dropping the counts that reach zero.
func (r *counterRow) add(delta *counterRow) {
	r.T += delta.T
	r.A += delta.A
	for q, m := range delta.C {
		for code, n := range m {
			if n == 0 {
				continue
			}
			if r.C == nil {
				r.C = map[string]map[string]int{}
			}
			if r.C[q] == nil {
				r.C[q] = map[string]int{}
			}
			r.C[q][code] += n
			if r.C[q][code] == 0 {
				delete(r.C[q], code)
				if len(r.C[q]) == 0 {
					delete(r.C, q)
				}
			}
		}
	}
	for sec, n := range delta.H {
		if n == 0 {
			continue
		}
		if r.H == nil {
			r.H = map[int64]int{}
		}
		r.H[sec] += n
		if r.H[sec] == 0 {
			delete(r.H, sec)
		}
	}
}

type rowKey struct{ kind, grp string }

// rows splits a tally (absolute or a delta) into its rows.
func rows(tl *anpi.Tally) map[rowKey]*counterRow {
	out := map[rowKey]*counterRow{}
	out[rowKey{kindSurvey, ""}] = &counterRow{T: tl.Targets, A: tl.Answered, C: tl.Choices}
	for d, g := range tl.Departments {
		out[rowKey{kindDept, string(d)}] = &counterRow{T: g.Targets, A: g.Answered, C: g.Choices}
	}
	for d, g := range tl.Subtrees {
		out[rowKey{kindSubtree, string(d)}] = &counterRow{T: g.Targets, A: g.Answered, C: g.Choices}
	}
	for r, g := range tl.Regions {
		out[rowKey{kindRegion, r}] = &counterRow{T: g.Targets, A: g.Answered, C: g.Choices}
	}
	for sec, n := range tl.AnswerSeconds {
		b := sec / histogramBucket
		if sec < 0 && sec%histogramBucket != 0 {
			b--
		}
		k := rowKey{kindHistogram, strconv.FormatInt(b, 10)}
		if out[k] == nil {
			out[k] = &counterRow{H: map[int64]int{}}
		}
		out[k].H[sec] += n
	}
	for k, r := range out {
		var z counterRow
		z.add(r) // normalise: drop zero counts
		if z.empty() {
			delete(out, k)
		}
	}
	return out
}

// flush writes the pending tally changes: each touched row is read,
// changed and written back (or deleted when it counts nothing).
func (t *tx) flush(ctx context.Context) error {
	if len(t.pending) == 0 {
		return nil
	}
	const op = "write tally"
	for _, s := range slices.Sorted(maps.Keys(t.pending)) {
		deltas := rows(t.pending[s])
		keys := slices.SortedFunc(maps.Keys(deltas), func(a, b rowKey) int {
			return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.grp, b.grp))
		})
		for _, k := range keys {
			var cur counterRow
			var data []byte
			err := t.q.QueryRowContext(ctx, "SELECT data FROM tally WHERE survey_id = ? AND kind = ? AND grp = ?", string(s), k.kind, k.grp).Scan(&data)
			switch {
			case err == sql.ErrNoRows:
			case err != nil:
				return classify(op, err)
			default:
				if err := decode(op, data, &cur); err != nil {
					return err
				}
			}
			cur.add(deltas[k])
			if cur.empty() {
				if _, err := t.q.ExecContext(ctx, "DELETE FROM tally WHERE survey_id = ? AND kind = ? AND grp = ?", string(s), k.kind, k.grp); err != nil {
					return classify(op, err)
				}
				continue
			}
			out, err := encode(op, &cur)
			if err != nil {
				return err
			}
			if _, err := t.q.ExecContext(ctx, "INSERT OR REPLACE INTO tally (survey_id, kind, grp, data) VALUES (?, ?, ?, ?)", string(s), k.kind, k.grp, out); err != nil {
				return classify(op, err)
			}
		}
	}
	t.pending = nil
	return nil
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
	if _, err := t.exec(ctx, "recount tally", "DELETE FROM tally WHERE survey_id = ?", string(s)); err != nil {
		return err
	}
	if t.pending == nil {
		t.pending = map[anpi.SurveyID]*anpi.Tally{}
	}
	t.pending[s] = anpi.ComputeTally(s, sv.StartedAt, rs, resps)
	return t.flush(ctx)
}

func (t *tx) Tally(ctx context.Context, s anpi.SurveyID) (*anpi.Tally, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "tally", s); err != nil {
		return nil, err
	}
	rs, err := t.q.QueryContext(ctx, "SELECT kind, grp, data FROM tally WHERE survey_id = ?", string(s))
	if err != nil {
		return nil, classify("tally", err)
	}
	defer rs.Close()
	tl := anpi.NewTally(s)
	var kind, grp string
	var data []byte
	for rs.Next() {
		if err := rs.Scan(&kind, &grp, &data); err != nil {
			return nil, classify("tally", err)
		}
		var r counterRow
		if err := decode("tally", data, &r); err != nil {
			return nil, err
		}
		if r.C == nil {
			r.C = anpi.ChoiceCounts{}
		}
		g := &anpi.GroupTally{Targets: r.T, Answered: r.A, Choices: r.C}
		switch kind {
		case kindSurvey:
			tl.Targets, tl.Answered, tl.Choices = r.T, r.A, r.C
		case kindDept:
			tl.Departments[anpi.DepartmentID(grp)] = g
		case kindSubtree:
			tl.Subtrees[anpi.DepartmentID(grp)] = g
		case kindRegion:
			tl.Regions[grp] = g
		case kindHistogram:
			maps.Copy(tl.AnswerSeconds, r.H)
		}
	}
	if err := rs.Err(); err != nil {
		return nil, classify("tally", err)
	}
	return tl, nil
}
