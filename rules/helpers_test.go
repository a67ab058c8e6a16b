package rules

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/anpikit/anpi/internal/shareddata"
	"github.com/anpikit/anpi/jma"
	"github.com/stretchr/testify/require"
)

// fixture parses a hand-written fixture of package jma (../jma/testdata) or
// of this package (testdata/).
func fixture(t testing.TB, name string) *jma.Report {
	t.Helper()
	var b []byte
	var err error
	for _, dir := range []string{"testdata", filepath.Join("..", "jma", "testdata")} {
		if b, err = os.ReadFile(filepath.Join(dir, name)); err == nil {
			break
		}
	}
	require.NoError(t, err, "fixture %s", name)
	r, err := jma.Parse(b)
	require.NoError(t, err, "parse %s", name)
	return r
}

func sample(t testing.TB, name string) *jma.Report {
	t.Helper()
	b := shareddata.ReadSample(t, name)
	r, err := jma.Parse(b)
	require.NoError(t, err, "parse %s", name)
	return r
}

// index builds an index from id -> regions.
func index(t testing.TB, users map[string][]string) *Index {
	t.Helper()
	ix := NewIndex()
	ids := make([]string, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		require.NoError(t, ix.Add(id, users[id]...))
	}
	return ix
}

var t0 = time.Date(2024, 1, 1, 7, 0, 0, 0, time.UTC)

// run feeds reports through a tracker and a state, at the reports' own
// Control/DateTime, and returns the decisions per report.
type runner struct {
	tr    *jma.Tracker
	st    *State
	ix    *Index
	rs    []Rule
	clock time.Time
}

func newRunner(t testing.TB, rs []Rule, ix *Index) *runner {
	t.Helper()
	require.NoError(t, Validate(rs))
	r := &runner{st: NewState(nil), ix: ix, rs: rs, clock: t0}
	r.tr = jma.NewTracker(&jma.TrackerOptions{Now: func() time.Time { return r.clock }})
	return r
}

func (r *runner) apply(rep *jma.Report) []Decision {
	if t := rep.Control.DateTime; t.After(r.clock) {
		r.clock = t
	}
	return r.st.Evaluate(r.tr.Apply(rep), r.rs, r.ix, r.clock)
}

// sorted returns the decision's recipients, sorted.
func sorted(d Decision) []string {
	ids := d.Recipients()
	slices.Sort(ids)
	return ids
}

// only returns the single decision of rule id, failing otherwise.
func only(t testing.TB, ds []Decision, id string) Decision {
	t.Helper()
	var out []Decision
	for _, d := range ds {
		if d.Rule == id {
			out = append(out, d)
		}
	}
	require.Len(t, out, 1, "decisions of %s: %+v", id, ds)
	return out[0]
}

func quakeRule(id, th string) Rule {
	v, err := jma.ParseIntensity(th)
	if err != nil {
		panic(err)
	}
	return Rule{ID: id, Kind: KindEarthquake, Earthquake: &EarthquakeTrigger{Threshold: v}}
}
