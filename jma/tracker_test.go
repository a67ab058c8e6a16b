package jma

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestTracker(opt *TrackerOptions) (*Tracker, *fakeClock) {
	c := &fakeClock{t: time.Date(2024, 1, 1, 7, 0, 0, 0, time.UTC)}
	o := TrackerOptions{}
	if opt != nil {
		o = *opt
	}
	o.Now = c.Now
	return NewTracker(&o), c
}

func quakeFact(t *testing.T, u Update, area string) AreaFact {
	t.Helper()
	for _, f := range u.Quake {
		if f.Area == area {
			return f
		}
	}
	t.Fatalf("no fact for area %s in %+v", area, u.Quake)
	return AreaFact{}
}

func TestTrackerEarthquakeSequence(t *testing.T) {
	tr, _ := newTestTracker(nil)
	a1 := parseFixture(t, "vxse51_event_a_1.xml")
	u := tr.Apply(a1)
	require.Equal(t, ChangeNew, u.Change)
	require.Equal(t, "quake:通常:20240101161010", u.Key)
	f := quakeFact(t, u, "390")
	require.Equal(t, "17", f.Pref)
	require.Equal(t, Intensity6Upper, f.Intensity)
	require.Equal(t, []Intensity{Intensity1, Intensity2, Intensity3, Intensity4, Intensity5Lower, Intensity5Upper, Intensity6Lower, Intensity6Upper}, f.NewlyAtLeast)
	require.Equal(t, "15", quakeFact(t, u, "370").Pref)

	// Interleaved event B gets its own key and state.
	b1 := parseFixture(t, "vxse53_event_b_s1.xml")
	ub := tr.Apply(b1)
	require.Equal(t, ChangeNew, ub.Change)
	require.Equal(t, "quake:通常:20240101161500", ub.Key)
	require.Len(t, ub.Quake, 1)
	require.Equal(t, "301", ub.Quake[0].Area)

	// Second 震度速報 (no Serial, ordered by ReportDateTime): 370 raised, 380 new.
	u = tr.Apply(parseFixture(t, "vxse51_event_a_2.xml"))
	require.Equal(t, ChangeEscalation, u.Change)
	require.Equal(t, []Intensity{Intensity5Upper}, quakeFact(t, u, "370").NewlyAtLeast)
	require.True(t, quakeFact(t, u, "370").Raised)
	require.Len(t, quakeFact(t, u, "380").NewlyAtLeast, 5)
	require.Empty(t, quakeFact(t, u, "390").NewlyAtLeast, "no fact twice")

	// VXSE53 serial 1: 390 reaches 7; 380 becomes unreceived (≥5-, already reached): nothing new there.
	s1 := parseFixture(t, "vxse53_event_a_s1.xml")
	u = tr.Apply(s1)
	require.Equal(t, ChangeEscalation, u.Change)
	require.Equal(t, []Intensity{Intensity7}, quakeFact(t, u, "390").NewlyAtLeast)
	require.Equal(t, IntensityUnreceived5Lower, quakeFact(t, u, "380").Intensity)
	require.Empty(t, quakeFact(t, u, "380").NewlyAtLeast)
	require.Empty(t, quakeFact(t, u, "391").NewlyAtLeast)

	// The same document again (feed repeat or a second source) is a duplicate.
	u = tr.Apply(parseFixture(t, "vxse53_event_a_s1.xml"))
	require.Equal(t, ChangeDuplicate, u.Change)
	require.Empty(t, u.Quake)

	// 訂正 replaces serial 1: 391 now 6-.
	corr := parseFixture(t, "vxse53_event_a_s1_correction.xml")
	u = tr.Apply(corr)
	require.Equal(t, ChangeCorrection, u.Change)
	require.Same(t, s1, u.Replaced)
	require.Equal(t, []Intensity{Intensity6Lower}, quakeFact(t, u, "391").NewlyAtLeast)

	// 取消 withdraws the latest VXSE53 (the correction); state falls back to the VXSE51s.
	u = tr.Apply(parseFixture(t, "vxse53_event_a_cancel.xml"))
	require.Equal(t, ChangeCancel, u.Change)
	require.Same(t, corr, u.Cancelled)
	f = quakeFact(t, u, "390")
	require.Equal(t, Intensity6Upper, f.Intensity)
	require.Equal(t, Intensity7, f.Previous)
	require.Empty(t, f.NewlyAtLeast)

	// A training copy of serial 1 never joins the real event.
	u = tr.Apply(parseFixture(t, "vxse53_training.xml"))
	require.Equal(t, ChangeNew, u.Change)
	require.Equal(t, "quake:訓練:20240101161010", u.Key)
	require.Equal(t, StatusTraining, u.Report.Control.Status)
	require.Equal(t, 3, tr.Len())
}

func TestTrackerOutOfOrder(t *testing.T) {
	tr, _ := newTestTracker(nil)
	u := tr.Apply(parseFixture(t, "vxse53_event_b_s2.xml"))
	require.Equal(t, ChangeNew, u.Change)
	require.Equal(t, Intensity4, u.Quake[0].Intensity)
	u = tr.Apply(parseFixture(t, "vxse53_event_b_s1.xml"))
	require.Equal(t, ChangeStale, u.Change, "serial 1 after serial 2")
	require.Empty(t, u.Quake[0].NewlyAtLeast)
	require.Equal(t, Intensity4, u.Quake[0].Intensity, "escalate-only state keeps the higher value")
}

func tsunamiFact(t *testing.T, u Update, region string) TsunamiFact {
	t.Helper()
	for _, f := range u.Tsunami {
		if f.Region == region {
			return f
		}
	}
	t.Fatalf("no fact for region %s", region)
	return TsunamiFact{}
}

func TestTrackerTsunami(t *testing.T) {
	tr, _ := newTestTracker(nil)
	u := tr.Apply(parseFixture(t, "vtse41_event_t_1.xml"))
	require.Equal(t, ChangeNew, u.Change)
	require.True(t, tsunamiFact(t, u, "390").Escalated)
	require.False(t, tsunamiFact(t, u, "400").Escalated, "若干の海面変動 is not an alert")

	u = tr.Apply(parseFixture(t, "vtse41_event_t_2.xml"))
	require.Equal(t, ChangeEscalation, u.Change)
	f := tsunamiFact(t, u, "390")
	require.Equal(t, TsunamiMajorIssued, f.Kind)
	require.Equal(t, TsunamiWarning, f.Previous)
	require.True(t, f.Escalated)
	require.True(t, tsunamiFact(t, u, "370").Escalated)

	// VTSE51 repeats the forecast with 52 (continuing): no new fact, no double trigger.
	u = tr.Apply(parseFixture(t, "vtse51_event_t_1.xml"))
	require.Equal(t, ChangeUpdate, u.Change)
	f = tsunamiFact(t, u, "390")
	require.Equal(t, TsunamiMajor, f.Kind)
	require.False(t, f.Escalated)

	// A document carrying only the second EventID joins the same event.
	r := parseFixture(t, "vtse52_empty_area.xml")
	r.Head.EventIDs = []string{"20240101161800"}
	u = tr.Apply(r)
	require.Equal(t, "tsunami:通常:20240101161010 20240101161800", u.Key)
	require.NotEqual(t, ChangeNew, u.Change)

	// Lifting: warnings become 若干の海面変動 (73/72).
	u = tr.Apply(parseFixture(t, "vtse41_event_t_lift.xml"))
	require.Equal(t, ChangeUpdate, u.Change)
	for _, code := range []string{"390", "380", "370"} {
		f := tsunamiFact(t, u, code)
		require.True(t, f.Lifted, code)
		require.False(t, f.Escalated, code)
	}
	require.Equal(t, 1, tr.Len())
}

func warnFact(t *testing.T, u Update, area string) WarningFact {
	t.Helper()
	for _, f := range u.Warnings {
		if f.Area == area {
			return f
		}
	}
	t.Fatalf("no warning fact for %s", area)
	return WarningFact{}
}

func TestTrackerWarnings(t *testing.T) {
	tr, _ := newTestTracker(nil)
	u := tr.Apply(parseFixture(t, "vpww53_pair_1.xml"))
	require.Equal(t, ChangeNew, u.Change)
	require.Equal(t, "warning:通常:金沢地方気象台:170000:VPWW53/54", u.Key)
	w := warnFact(t, u, "1720400")
	require.Equal(t, "170000", w.Pref)
	require.Equal(t, []string{"07", "15", "33"}, w.Active)
	require.Equal(t, []string{"07", "33"}, w.Issued, "継続 kinds are not new on the first state")
	require.Empty(t, warnFact(t, u, "1720200").Active)

	// The VPWW54 twin of the same state is one state: a duplicate.
	u = tr.Apply(parseFixture(t, "vpww54_pair_1.xml"))
	require.Equal(t, ChangeDuplicate, u.Change)
	require.Empty(t, u.Warnings)

	u = tr.Apply(parseFixture(t, "vpww53_next.xml"))
	require.Equal(t, ChangeEscalation, u.Change)
	w = warnFact(t, u, "1720400")
	require.Equal(t, []string{"03", "15"}, w.Active)
	require.Empty(t, w.Issued, "a downgrade is not a new warning")
	require.Equal(t, []string{"07", "33"}, w.Lifted)
	require.True(t, w.Downgraded)
	w = warnFact(t, u, "1720500")
	require.Equal(t, []string{"05"}, w.Issued)
	require.False(t, w.Upgraded, "暴風警報 beside 大雨警報 keeps the top severity")
	w = warnFact(t, u, "1720200")
	require.Equal(t, []string{"10"}, w.Issued)
	require.True(t, w.Upgraded)

	// An older document for the same prefecture changes nothing.
	u = tr.Apply(parseFixture(t, "vpww54_pair_1.xml"))
	require.Equal(t, ChangeDuplicate, u.Change)
	old := parseFixture(t, "vpww53_pair_1.xml")
	old.Control.DateTime = old.Control.DateTime.Add(time.Second) // not an exact duplicate
	u = tr.Apply(old)
	require.Equal(t, ChangeStale, u.Change)
	require.Empty(t, u.Warnings)

	// The 2026 VPWW56 has its own state beside VPWW53/54.
	u = tr.Apply(parseFixture(t, "vpww56_levels.xml"))
	require.Equal(t, ChangeNew, u.Change)
	require.Equal(t, "warning:通常:金沢地方気象台:170000:VPWW56", u.Key)
	require.Equal(t, []string{"39"}, warnFact(t, u, "1720400").Issued)
	require.Equal(t, 2, tr.Len())
}

func TestTrackerEEWCancel(t *testing.T) {
	tr, _ := newTestTracker(nil)
	plum := parseFixture(t, "vxse43_plum.xml")
	u := tr.Apply(plum)
	require.Equal(t, ChangeNew, u.Change)
	require.True(t, quakeFact(t, u, "340").Forecast)
	require.Equal(t, Intensity6Lower, quakeFact(t, u, "340").Intensity)
	u = tr.Apply(parseFixture(t, "vxse43_cancel.xml"))
	require.Equal(t, ChangeCancel, u.Change)
	require.Same(t, plum, u.Cancelled)
	require.Equal(t, IntensityNone, quakeFact(t, u, "340").Intensity)
}

func TestTrackerExpiryAndBounds(t *testing.T) {
	tr, clock := newTestTracker(&TrackerOptions{EventTTL: time.Hour, MaxEvents: 2})
	tr.Apply(parseFixture(t, "vxse53_event_a_s1.xml"))
	clock.Advance(time.Minute)
	tr.Apply(parseFixture(t, "vxse53_event_b_s1.xml"))
	clock.Advance(time.Minute)
	tr.Apply(parseFixture(t, "vtse41_event_t_1.xml"))
	require.Equal(t, 2, tr.Len(), "MaxEvents bounds memory; the oldest is dropped")
	clock.Advance(2 * time.Hour)
	u := tr.Apply(parseFixture(t, "vxse42_test.xml"))
	require.Equal(t, ChangeNew, u.Change)
	require.Equal(t, 1, tr.Len(), "expired events are dropped")
	// The duplicate memory outlives the event (max of the TTLs): a late repeat
	// is still a duplicate, while a new report of the expired event starts afresh.
	u = tr.Apply(parseFixture(t, "vxse53_event_b_s1.xml"))
	require.Equal(t, ChangeDuplicate, u.Change)
	u = tr.Apply(parseFixture(t, "vxse53_event_b_s2.xml"))
	require.Equal(t, ChangeNew, u.Change)
}

func TestTrackerUnsupported(t *testing.T) {
	tr, _ := newTestTracker(nil)
	r := parseFixture(t, "unsupported_vfvo53.xml")
	u := tr.Apply(r)
	require.Equal(t, ChangeNew, u.Change)
	require.Empty(t, u.Quake)
	require.Empty(t, u.Tsunami)
	require.Empty(t, u.Warnings)
	require.Equal(t, ChangeDuplicate, tr.Apply(r).Change)
}

func TestDiffWarnings(t *testing.T) {
	prev := parseFixture(t, "vpww53_pair_1.xml")
	cur := parseFixture(t, "vpww53_next.xml")
	facts := DiffWarnings(prev, cur)
	require.Len(t, facts, 3)
	byArea := map[string]WarningFact{}
	for _, f := range facts {
		byArea[f.Area] = f
	}
	require.Equal(t, []string{"07", "33"}, byArea["1720400"].Lifted)
	require.True(t, byArea["1720400"].Downgraded)
	require.Equal(t, []string{"05"}, byArea["1720500"].Issued)
	require.Equal(t, []string{"10"}, byArea["1720200"].Issued)

	first := DiffWarnings(nil, prev)
	require.Len(t, first, 3)
	require.Equal(t, "1720500", first[2].Area)
	require.Equal(t, []string{"03"}, first[2].Issued, "14 雷注意報 is 継続, not new")
	require.Equal(t, []string{"03", "14"}, first[2].Active)
}
