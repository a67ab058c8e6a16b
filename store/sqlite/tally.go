package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
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

// counterRow is one tally row: targets, answered, choice counts and the
// histogram entries of its bucket.
type counterRow struct {
	T int
	A int
	C map[string]map[string]int
	H map[int64]int
}

// rowFormat is the first byte of an encoded counterRow.
const rowFormat = 1

// encodeRow encodes r compactly (Tally reads hundreds of rows, so the
// format is binary, not JSON): the format byte, then varints T and A, the
// number of questions and for each its ID, the number of codes and for
// each the code and its count, then the number of histogram entries and
// for each the second and its count. Strings are a uvarint length and the
// bytes; maps are written in sorted order, so equal rows encode equally.
func encodeRow(r *counterRow) []byte {
	b := []byte{rowFormat}
	b = binary.AppendVarint(b, int64(r.T))
	b = binary.AppendVarint(b, int64(r.A))
	b = binary.AppendUvarint(b, uint64(len(r.C)))
	for _, q := range slices.Sorted(maps.Keys(r.C)) {
		b = appendString(b, q)
		m := r.C[q]
		b = binary.AppendUvarint(b, uint64(len(m)))
		for _, code := range slices.Sorted(maps.Keys(m)) {
			b = appendString(b, code)
			b = binary.AppendVarint(b, int64(m[code]))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(r.H)))
	for _, sec := range slices.Sorted(maps.Keys(r.H)) {
		b = binary.AppendVarint(b, sec)
		b = binary.AppendVarint(b, int64(r.H[sec]))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// rowDecoder decodes rows, sharing the strings (question IDs and codes
// repeat in every row) and adding histogram entries to hist.
type rowDecoder struct {
	strs map[string]string
	hist map[int64]int
}

var errDamagedRow = errors.New("damaged tally row")

// decode decodes b into r; histogram entries go to d.hist when it is set.
func (d *rowDecoder) decode(b []byte, r *counterRow) error {
	if len(b) == 0 || b[0] != rowFormat {
		return errDamagedRow
	}
	b = b[1:]
	bad := false
	varint := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	uvarint := func() int {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > uint64(len(b)) {
			bad = true
			return 0
		}
		b = b[n:]
		return int(v)
	}
	str := func() string {
		n := uvarint()
		if bad || n > len(b) {
			bad = true
			return ""
		}
		raw := b[:n]
		b = b[n:]
		if s, ok := d.strs[string(raw)]; ok {
			return s
		}
		s := string(raw)
		if d.strs == nil {
			d.strs = map[string]string{}
		}
		d.strs[s] = s
		return s
	}
	r.T, r.A = int(varint()), int(varint())
	nq := uvarint()
	for range nq {
		if bad {
			return errDamagedRow
		}
		q := str()
		nc := uvarint()
		m := make(map[string]int, nc)
		for range nc {
			if bad {
				return errDamagedRow
			}
			code := str()
			m[code] = int(varint())
		}
		if r.C == nil {
			r.C = make(map[string]map[string]int, nq)
		}
		r.C[q] = m
	}
	nh := uvarint()
	h := d.hist
	if h == nil && nh > 0 {
		r.H = make(map[int64]int, nh)
		h = r.H
	}
	for range nh {
		if bad {
			return errDamagedRow
		}
		sec := varint()
		h[sec] += int(varint())
	}
	if bad || len(b) != 0 {
		return errDamagedRow
	}
	return nil
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
	if t.usersWritten {
		if _, err := t.exec(ctx, "move the users version", "UPDATE users_version SET n = n + 1"); err != nil {
			return err
		}
		t.usersWritten = false
	}
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
				var d rowDecoder
				if err := d.decode(data, &cur); err != nil {
					return anpi.Errorf(anpi.Internal, "sqlite: %s: survey %s, row %s/%s: %w", op, s, k.kind, k.grp, err)
				}
			}
			cur.add(deltas[k])
			if cur.empty() {
				if _, err := t.q.ExecContext(ctx, "DELETE FROM tally WHERE survey_id = ? AND kind = ? AND grp = ?", string(s), k.kind, k.grp); err != nil {
					return classify(op, err)
				}
				continue
			}
			out := encodeRow(&cur)
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
	dec := rowDecoder{hist: tl.AnswerSeconds}
	var kind, grp string
	var data sql.RawBytes
	for rs.Next() {
		if err := rs.Scan(&kind, &grp, &data); err != nil {
			return nil, classify("tally", err)
		}
		var r counterRow
		if err := dec.decode(data, &r); err != nil {
			return nil, anpi.Errorf(anpi.Internal, "sqlite: tally of survey %s, row %s/%s: %w", s, kind, grp, err)
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
		}
	}
	if err := rs.Err(); err != nil {
		return nil, classify("tally", err)
	}
	return tl, nil
}
