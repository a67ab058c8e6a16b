package rules

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

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

// samplesDir finds shared/jma-samples: $ANPI_SHARED_DIR/jma-samples, else a
// "shared" directory beside the repository root found by walking up from the
// package directory. It skips the test when the samples are absent.
func samplesDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("ANPI_SHARED_DIR"); d != "" {
		p := filepath.Join(d, "jma-samples")
		if _, err := os.Stat(p); err != nil {
			t.Skipf("ANPI_SHARED_DIR=%s has no jma-samples directory (%v)", d, err)
		}
		return p
	}
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "..", "shared", "jma-samples")
			if _, err := os.Stat(p); err == nil {
				return filepath.Clean(p)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("JMA samples not found: expected shared/jma-samples beside the repository root; set ANPI_SHARED_DIR to the directory that holds jma-samples/")
		}
		dir = parent
	}
}

func sample(t testing.TB, name string) *jma.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir(t), name))
	require.NoError(t, err)
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
