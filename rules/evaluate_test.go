package rules

import (
	"slices"
	"testing"
	"time"

	"github.com/anpikit/anpi/jma"
	"github.com/stretchr/testify/require"
)

// noto is a directory around the event A fixtures (Noto-like).
func noto(t testing.TB) *Index {
	return index(t, map[string][]string{
		"wajima":   {"quake:390", "tsunami:390", "warning:1720400"},
		"kanazawa": {"quake:391", "warning:1720100"},
		"joetsu":   {"quake:370", "tsunami:380"},
		"toyama":   {"quake:380", "tsunami:370"},
		"twice":    {"quake:390", "quake:391"},
		"tokyo":    {"quake:350", "tsunami:300", "warning:1310100"},
		"ibaraki":  {"quake:301"},
	})
}

func TestTrainingNeverSends(t *testing.T) {
	ix := noto(t)
	drill := quakeRule("drill", "3")
	drill.Options.Drill = true
	rs := []Rule{quakeRule("real", "3"), drill}
	r := newRunner(t, rs, ix)
	ds := r.apply(fixture(t, "vxse53_training.xml"))
	real := only(t, ds, "real")
	require.Equal(t, ActionSkip, real.Action)
	require.Equal(t, SkipDrill, real.Skip)
	require.Zero(t, real.Count())
	d := only(t, ds, "drill")
	require.Equal(t, ActionDrill, d.Action)
	require.True(t, d.Drill)
	require.Equal(t, []string{"kanazawa", "toyama", "twice", "wajima"}, sorted(d))

	// A real sample drill (VXSE52 訓練 has no intensities): never a send either.
	ds = r.apply(sample(t, "VXSE52_32-35_01_02_240613_VXSE52.xml"))
	for _, d := range ds {
		require.NotEqual(t, ActionSend, d.Action, "%+v", d)
	}
}

func TestTestStatusNeverYieldsAnything(t *testing.T) {
	ix := noto(t)
	all := quakeRule("all", "1")
	all.Options.Drill = true
	all.Earthquake.EEW = true
	rs := []Rule{all}
	r := newRunner(t, rs, ix)
	for _, rep := range []*jma.Report{fixture(t, "vxse42_test.xml"), asTest(fixture(t, "vxse53_event_a_s1.xml")), asTest(fixture(t, "vxse53_training.xml"))} {
		ds := r.apply(rep)
		for _, d := range ds {
			require.Equal(t, ActionSkip, d.Action)
			require.Equal(t, SkipTest, d.Skip)
			require.Zero(t, d.Count())
		}
	}
	require.Zero(t, r.st.Len(), "試験 leaves no memory")
}

func asTest(r *jma.Report) *jma.Report {
	c := *r
	c.Control.Status = jma.StatusTest
	return &c
}

func TestEscalateOnlyVXSE51ThenVXSE53(t *testing.T) {
	ix := noto(t)
	rs := []Rule{quakeRule("q5p", "5+"), quakeRule("q7", "7")}
	r := newRunner(t, rs, ix)

	ds := r.apply(fixture(t, "vxse51_event_a_1.xml")) // 390 6+, 391 5+, 370 5-
	d := only(t, ds, "q5p")
	require.Equal(t, ActionSend, d.Action)
	require.Equal(t, []string{"kanazawa", "twice", "wajima"}, sorted(d))
	require.Equal(t, "quake:390", d.Matches[0].Region, "strongest first")
	require.Equal(t, jma.Intensity6Upper, d.Matches[0].Intensity)
	require.Equal(t, SkipBelowThreshold, only(t, ds, "q7").Skip)

	ds = r.apply(fixture(t, "vxse51_event_a_2.xml")) // 370 raised to 5+, 380 5-
	d = only(t, ds, "q5p")
	require.Equal(t, ActionSend, d.Action)
	require.Equal(t, []string{"joetsu"}, sorted(d), "only the newly affected")

	ds = r.apply(fixture(t, "vxse53_event_a_s1.xml")) // 390 raised to 7
	require.Equal(t, SkipNotified, only(t, ds, "q5p").Skip)
	d = only(t, ds, "q7")
	require.Equal(t, ActionSend, d.Action)
	require.Equal(t, []string{"twice", "wajima"}, sorted(d))

	// The same document again: a duplicate, nothing.
	ds = r.apply(fixture(t, "vxse53_event_a_s1.xml"))
	require.Equal(t, SkipDuplicate, only(t, ds, "q5p").Skip)
}

func TestRealSampleSequenceReachesOnlyNewlyAffected(t *testing.T) {
	docs := []string{"VXSE51_32-35_04_02_100831_VXSE51.xml", "VXSE52_32-35_04_03_240613_VXSE52.xml",
		"VXSE53_32-35_04_04_240613_VXSE53.xml", "VXSE53_32-35_04_06_240613_VXSE53.xml"}
	reps := make([]*jma.Report, len(docs))
	users := map[string][]string{}
	for i, n := range docs {
		reps[i] = sample(t, n)
		for _, a := range reps[i].Summary().Areas {
			users["u"+a.Code] = []string{"quake:" + a.Code}
		}
	}
	ix := index(t, users)
	for _, th := range []string{"1", "2", "3", "4"} {
		t.Run(th, func(t *testing.T) {
			rule := quakeRule("q", th)
			r := newRunner(t, []Rule{rule}, ix)
			reached := map[string]bool{}
			for i, rep := range reps {
				// Expected from the documents alone: areas at or above the
				// threshold in this or an earlier document, not reached before.
				want := map[string]bool{}
				for _, rp := range reps[:i+1] {
					for _, a := range rp.Summary().Areas {
						if a.Effective.AtLeast(rule.Earthquake.Threshold) && !reached["u"+a.Code] {
							want["u"+a.Code] = true
						}
					}
				}
				got := map[string]bool{}
				for _, d := range r.apply(rep) {
					require.NotEqual(t, ActionCancel, d.Action)
					for _, id := range d.Recipients() {
						require.False(t, reached[id], "%s asked twice", id)
						got[id] = true
						reached[id] = true
					}
				}
				require.Equal(t, want, got, "document %s", docs[i])
			}
		})
	}
}

func TestTsunamiMajor52And53BothFire(t *testing.T) {
	ix := noto(t)
	major := Rule{ID: "major", Kind: KindTsunami, Tsunami: &TsunamiTrigger{Kinds: []TsunamiLevel{LevelMajor}}}
	adv := Rule{ID: "adv", Kind: KindTsunami, Tsunami: &TsunamiTrigger{Kinds: []TsunamiLevel{LevelAdvisory}}}
	rs := []Rule{major, adv}

	// Kind 53 (大津波警報：発表).
	r := newRunner(t, rs, ix)
	ds := r.apply(fixture(t, "vtse41_event_t_1.xml")) // 390 warning, 380 advisory
	require.Equal(t, SkipBelowThreshold, only(t, ds, "major").Skip)
	require.Equal(t, []string{"joetsu"}, sorted(only(t, ds, "adv")))
	ds = r.apply(fixture(t, "vtse41_event_t_2.xml")) // 390 → 53, 370 advisory
	d := only(t, ds, "major")
	require.Equal(t, ActionSend, d.Action)
	require.Equal(t, jma.TsunamiMajorIssued, d.Matches[0].TsunamiKind)
	require.Equal(t, []string{"wajima"}, sorted(d))
	require.Equal(t, []string{"toyama"}, sorted(only(t, ds, "adv")))
	// VTSE51 repeats the forecast with 52: nobody twice.
	ds = r.apply(fixture(t, "vtse51_event_t_1.xml"))
	require.Equal(t, SkipNotified, only(t, ds, "major").Skip)
	// Lifting never fires.
	ds = r.apply(fixture(t, "vtse41_event_t_lift.xml"))
	require.Equal(t, SkipBelowThreshold, only(t, ds, "major").Skip)

	// Kind 52 seen first (e.g. after a restart): fires too.
	r = newRunner(t, rs, ix)
	ds = r.apply(fixture(t, "vtse51_event_t_1.xml"))
	d = only(t, ds, "major")
	require.Equal(t, ActionSend, d.Action)
	require.Equal(t, jma.TsunamiMajor, d.Matches[0].TsunamiKind)
	require.Equal(t, []string{"wajima"}, sorted(d))

	// Real Tohoku sample: 大津波警報：発表 in three regions.
	users := map[string][]string{}
	rep := sample(t, "VTSE41_32-39_11_02_250206_VTSE41.xml")
	want := []string{}
	for _, it := range rep.Tsunami.Forecast {
		users["t"+it.AreaCode] = []string{"tsunami:" + it.AreaCode}
		if it.Kind.Major() {
			want = append(want, "t"+it.AreaCode)
		}
	}
	require.Len(t, want, 3)
	r = newRunner(t, rs, index(t, users))
	require.ElementsMatch(t, want, sorted(only(t, r.apply(rep), "major")))
}

func TestInterleavedEventsAreIndependent(t *testing.T) {
	ix := noto(t)
	rs := []Rule{quakeRule("q3", "3")}
	r := newRunner(t, rs, ix)
	require.Equal(t, []string{"joetsu", "kanazawa", "twice", "wajima"}, sorted(only(t, r.apply(fixture(t, "vxse51_event_a_1.xml")), "q3")))
	d := only(t, r.apply(fixture(t, "vxse53_event_b_s1.xml")), "q3") // another event, 301 at 3
	require.Equal(t, []string{"ibaraki"}, sorted(d))
	require.Equal(t, "quake:通常:20240101161500", d.Event)
	require.Equal(t, []string{"toyama"}, sorted(only(t, r.apply(fixture(t, "vxse51_event_a_2.xml")), "q3")))
	require.Equal(t, SkipNotified, only(t, r.apply(fixture(t, "vxse53_event_b_s2.xml")), "q3").Skip)
	// The 取消 of event A's 震源・震度情報 (never received here) changes
	// nothing: A still stands on its 震度速報, B is untouched.
	d = only(t, r.apply(fixture(t, "vxse53_event_a_cancel.xml")), "q3")
	require.Equal(t, SkipNothingToCancel, d.Skip)
	require.Contains(t, d.Reason, "still stands")

	// Interleaved with a cancel that applies: event A at 7, cancelled.
	rs = []Rule{quakeRule("q7", "7"), quakeRule("q3", "3")}
	r = newRunner(t, rs, ix)
	r.apply(fixture(t, "vxse51_event_a_1.xml"))
	require.Equal(t, []string{"ibaraki"}, sorted(only(t, r.apply(fixture(t, "vxse53_event_b_s1.xml")), "q3")))
	require.Equal(t, []string{"twice", "wajima"}, sorted(only(t, r.apply(fixture(t, "vxse53_event_a_s1.xml")), "q7")))
	ds := r.apply(fixture(t, "vxse53_event_a_cancel.xml"))
	d = only(t, ds, "q7")
	require.Equal(t, ActionCancel, d.Action)
	require.Equal(t, []string{"twice", "wajima"}, sorted(d))
	d = only(t, ds, "q3")
	require.Equal(t, []string{"toyama"}, sorted(d), "380 came only from the withdrawn report; A's 震度速報 still stands")
	require.NotContains(t, d.Recipients(), "ibaraki")
	d = only(t, r.apply(fixture(t, "vxse53_event_b_s2.xml")), "q3")
	require.Equal(t, SkipNotified, d.Skip, "B's memory is untouched")
}

func TestPartialCancel(t *testing.T) {
	ix := noto(t)
	held := quakeRule("held", "5-")
	held.Options.Hold = 10 * time.Minute
	rs := []Rule{quakeRule("q5", "5-"), held}
	r := newRunner(t, rs, ix)
	// Pin the virtual clock so that all three reports fall within the hold.
	a1, s1, cancel := fixture(t, "vxse51_event_a_1.xml"), fixture(t, "vxse53_event_a_s1.xml"), fixture(t, "vxse53_event_a_cancel.xml")
	a1.Control.DateTime = s1.Control.DateTime.Add(-time.Minute)
	cancel.Control.DateTime = s1.Control.DateTime.Add(time.Minute)
	ds := r.apply(a1) // 390 6+, 391 5+, 370 5-
	require.Equal(t, []string{"joetsu", "kanazawa", "twice", "wajima"}, sorted(only(t, ds, "q5")))
	ds = r.apply(s1) // adds 380 (toyama)
	require.Equal(t, []string{"toyama"}, sorted(only(t, ds, "q5")))
	require.Equal(t, []string{"toyama"}, sorted(only(t, ds, "held")))
	// The 震源・震度情報 is withdrawn: 380 was only in it. The 震度速報 stands.
	ds = r.apply(cancel)
	d := only(t, ds, "q5")
	require.Equal(t, ActionCancel, d.Action)
	require.Equal(t, []string{"toyama"}, sorted(d), "only those reached through the withdrawn area")
	require.Contains(t, d.Reason, "quake:380 withdrawn")
	require.Contains(t, d.Reason, "still stands in quake:370, quake:390, quake:391")
	d = only(t, ds, "held")
	require.Equal(t, ActionCancel, d.Action)
	require.Zero(t, d.Count())
	require.Equal(t, 1, d.Dropped)
	rel := r.st.Due(r.clock.Add(10 * time.Minute))
	var released []string
	for _, d := range rel {
		released = append(released, d.Recipients()...)
	}
	slices.Sort(released)
	require.Equal(t, []string{"joetsu", "kanazawa", "twice", "wajima"}, released, "the standing part is still sent")
	// The area is news again if a later report brings it back.
	ds = r.apply(fixture(t, "vxse51_event_a_2.xml"))
	require.Equal(t, []string{"toyama"}, sorted(only(t, ds, "q5")))
}

func TestCancel(t *testing.T) {
	ix := noto(t)
	held := quakeRule("held", "5-")
	held.Options.Hold = 10 * time.Minute
	rs := []Rule{quakeRule("now", "5-"), held}
	r := newRunner(t, rs, ix)
	ds := r.apply(fixture(t, "vxse51_event_a_1.xml"))
	require.Equal(t, ActionSend, only(t, ds, "now").Action)
	h := only(t, ds, "held")
	require.Equal(t, ActionHold, h.Action)
	require.Equal(t, r.clock.Add(10*time.Minute), h.HoldUntil)
	require.Equal(t, []string{"joetsu", "kanazawa", "twice", "wajima"}, sorted(h))

	// The VXSE51 is withdrawn (取消 of the same title) one minute later,
	// within the hold.
	c2 := *fixture(t, "vxse51_event_a_1.xml")
	c2.Head.InfoType = jma.InfoCancel
	c2.Head.ReportDateTime = c2.Head.ReportDateTime.Add(time.Minute)
	c2.Control.DateTime = c2.Control.DateTime.Add(time.Minute)
	c2.Earthquake = nil
	ds = r.apply(&c2)
	d := only(t, ds, "now")
	require.Equal(t, ActionCancel, d.Action)
	require.Equal(t, []string{"joetsu", "kanazawa", "twice", "wajima"}, sorted(d), "tell those already reached")
	d = only(t, ds, "held")
	require.Equal(t, ActionCancel, d.Action)
	require.Zero(t, d.Count(), "nobody was reached yet")
	require.Equal(t, 4, d.Dropped)
	require.Empty(t, r.st.Due(r.clock.Add(time.Hour)), "the held send is dropped")
}

func TestCancelFixture(t *testing.T) {
	ix := noto(t)
	r := newRunner(t, []Rule{quakeRule("q", "7")}, ix)
	r.apply(fixture(t, "vxse51_event_a_1.xml"))
	d := only(t, r.apply(fixture(t, "vxse53_event_a_s1.xml")), "q")
	require.Equal(t, []string{"twice", "wajima"}, sorted(d))
	d = only(t, r.apply(fixture(t, "vxse53_event_a_cancel.xml")), "q")
	require.Equal(t, ActionCancel, d.Action)
	require.Equal(t, []string{"twice", "wajima"}, sorted(d))
	// A cancel for a rule that never sent is a skip.
	r = newRunner(t, []Rule{quakeRule("q", "7")}, ix)
	d = only(t, r.apply(fixture(t, "vxse53_event_a_cancel.xml")), "q")
	require.Equal(t, SkipNothingToCancel, d.Skip)
	// Real sample: a 取消 of a 震度速報 nobody saw.
	r = newRunner(t, []Rule{quakeRule("q", "1")}, ix)
	require.Equal(t, SkipNothingToCancel, only(t, r.apply(sample(t, "VXSE51_32-35_10_01_220510_VXSE51.xml")), "q").Skip)
}

func TestWeatherPairsContinuationsAndLiftsNeverFire(t *testing.T) {
	ix := index(t, map[string][]string{
		"wajima": {"warning:1720400"}, "nanao": {"warning:1720200"}, "komatsu": {"warning:1720500"},
	})
	special := Rule{ID: "special", Kind: KindWeather, Weather: &WeatherTrigger{}}
	warn := Rule{ID: "warn", Kind: KindWeather, Weather: &WeatherTrigger{Kinds: []string{WeatherWarnings, WeatherSpecial}}}
	rs := []Rule{special, warn}
	r := newRunner(t, rs, ix)
	ds := r.apply(fixture(t, "vpww53_pair_1.xml"))
	d := only(t, ds, "special")
	require.Equal(t, ActionSend, d.Action)
	require.Equal(t, []string{"wajima"}, sorted(d))
	require.Equal(t, []string{"33"}, d.Matches[0].WarningKinds)
	require.Equal(t, []string{"komatsu", "wajima"}, sorted(only(t, ds, "warn")))
	// The VPWW54 twin: nothing.
	ds = r.apply(fixture(t, "vpww54_pair_1.xml"))
	require.Equal(t, SkipDuplicate, only(t, ds, "special").Skip)
	require.Equal(t, SkipDuplicate, only(t, ds, "warn").Skip)
	// Next: 33 lifted to 03 (特別警報から警報) in 1720400, 05 newly in 1720500.
	ds = r.apply(fixture(t, "vpww53_next.xml"))
	require.Equal(t, ActionSkip, only(t, ds, "special").Action)
	require.Equal(t, ActionSkip, only(t, ds, "warn").Action, "komatsu was reached for this series already")

	// Real samples: 継続 only kinds never fire; the Tokyo 大雨特別警報 fires.
	users := map[string][]string{}
	for _, n := range []string{"VPWW53_201504022028_keihou.xml", "VPWW53_15_14_01_170216_VPWW53.xml"} {
		for _, g := range sample(t, n).Warnings.Groups {
			for _, it := range g.Items {
				if g.Level == jma.LevelCity {
					users["w"+it.AreaCode] = []string{"warning:" + it.AreaCode}
				}
			}
		}
	}
	ix = index(t, users)
	r = newRunner(t, []Rule{special}, ix)
	d = only(t, r.apply(sample(t, "VPWW53_15_14_01_170216_VPWW53.xml")), "special")
	require.Equal(t, ActionSend, d.Action)
	for _, m := range d.Matches {
		require.Equal(t, []string{"33"}, m.WarningKinds)
	}
	require.Equal(t, SkipDuplicate, only(t, r.apply(sample(t, "VPWW54_15_14_01_170216_VPWW54.xml")), "special").Skip)
	r = newRunner(t, []Rule{warn}, ix)
	rep := sample(t, "VPWW53_201504022028_keihou.xml")
	d = only(t, r.apply(rep), "warn")
	// Only kinds whose Status is 発表 in the document fire, never 継続.
	for _, m := range d.Matches {
		for _, k := range m.WarningKinds {
			require.Equal(t, jma.WarningIssued, kindStatus(rep, m.Region[len("warning:"):], k), "%s %s", m.Region, k)
		}
	}
}

func kindStatus(rep *jma.Report, area, code string) jma.WarningStatus {
	for _, it := range rep.Warnings.Level(jma.LevelCity).Items {
		if it.AreaCode == area {
			for _, k := range it.Kinds {
				if k.Code == code {
					return k.Status
				}
			}
		}
	}
	return ""
}

func TestWeatherNewIssuanceReachesOnlyNewlyCovered(t *testing.T) {
	ix := index(t, map[string][]string{"a": {"warning:1310100"}, "b": {"warning:1310200"}, "c": {"warning:1310300"}})
	st := NewState(nil)
	rs := []Rule{{ID: "w", Kind: KindWeather, Weather: &WeatherTrigger{Kinds: []string{"33"}, Prefectures: []string{"13"}}}}
	upd := func(change jma.ChangeKind, facts ...jma.WarningFact) jma.Update {
		return jma.Update{Key: "warning:通常:気象庁:130000:VPWW53/54", Change: change, Warnings: facts,
			Report: &jma.Report{Family: jma.FamilyWarning, Type: "VPWW53", Control: jma.Control{Status: jma.StatusNormal}}}
	}
	ds := st.Evaluate(upd(jma.ChangeNew, jma.WarningFact{Area: "1310100", Active: []string{"33"}, Issued: []string{"33"}}), rs, ix, t0)
	require.Equal(t, []string{"a"}, sorted(only(t, ds, "w")))
	ds = st.Evaluate(upd(jma.ChangeEscalation, jma.WarningFact{Area: "1310100", Active: []string{"33"}},
		jma.WarningFact{Area: "1310200", Active: []string{"33"}, Issued: []string{"33"}}), rs, ix, t0.Add(time.Hour))
	require.Equal(t, []string{"b"}, sorted(only(t, ds, "w")), "only the newly covered area")
	// Lifted everywhere: the series ends.
	ds = st.Evaluate(upd(jma.ChangeUpdate, jma.WarningFact{Area: "1310100", Lifted: []string{"33"}},
		jma.WarningFact{Area: "1310200", Lifted: []string{"33"}}), rs, ix, t0.Add(2*time.Hour))
	require.Equal(t, ActionSkip, only(t, ds, "w").Action)
	// A new issuance days later is news again.
	ds = st.Evaluate(upd(jma.ChangeEscalation, jma.WarningFact{Area: "1310100", Active: []string{"33"}, Issued: []string{"33"}}), rs, ix, t0.Add(48*time.Hour))
	require.Equal(t, []string{"a"}, sorted(only(t, ds, "w")))
	// Outside the prefecture filter: nothing.
	ds = st.Evaluate(upd(jma.ChangeEscalation, jma.WarningFact{Area: "2710000", Active: []string{"33"}, Issued: []string{"33"}}), rs, ix, t0.Add(49*time.Hour))
	require.Equal(t, SkipBelowThreshold, only(t, ds, "w").Skip)
}

func TestUnreceivedPolicy(t *testing.T) {
	ix := noto(t)
	count := quakeRule("count", "5-")
	ignore := quakeRule("ignore", "5-")
	ignore.Options.Unreceived = UnreceivedIgnore
	high := quakeRule("high", "6-") // undecidable above 5-: not matched
	rs := []Rule{count, ignore, high}
	r := newRunner(t, rs, ix)
	// First report of the event: 391 has only 震度５弱以上未入電 (no MaxInt),
	// 380 has MaxInt 5- and a city 未入電.
	ds := r.apply(fixture(t, "vxse53_event_a_s1.xml"))
	d := only(t, ds, "count")
	require.Equal(t, []string{"kanazawa", "toyama", "twice", "wajima"}, sorted(d))
	var m391 Match
	for _, m := range d.Matches {
		if m.Region == "quake:391" {
			m391 = m
		}
	}
	require.Equal(t, jma.IntensityUnreceived5Lower, m391.Intensity)
	require.Equal(t, []string{"toyama", "twice", "wajima"}, sorted(only(t, ds, "ignore")), "391 has no received value")
	require.Equal(t, []string{"twice", "wajima"}, sorted(only(t, ds, "high")))
}

func TestUnknownCodesDoNotBreakEvaluation(t *testing.T) {
	ix := index(t, map[string][]string{"x": {"quake:999"}, "y": {"tsunami:998"}, "z": {"warning:9999999"}})
	rs := []Rule{quakeRule("q", "1"),
		{ID: "t", Kind: KindTsunami, Tsunami: &TsunamiTrigger{Kinds: []TsunamiLevel{LevelMajor, LevelWarning, LevelAdvisory}}},
		{ID: "w", Kind: KindWeather, Weather: &WeatherTrigger{Kinds: []string{"99", WeatherSpecial}}}}
	st := NewState(nil)
	rep := func(f jma.Family) *jma.Report {
		return &jma.Report{Family: f, Control: jma.Control{Status: jma.StatusNormal}}
	}
	ds := st.Evaluate(jma.Update{Key: "quake:通常:1", Change: jma.ChangeNew, Report: rep(jma.FamilyEarthquake),
		Quake: []jma.AreaFact{{Area: "999", Pref: "99", Intensity: jma.Intensity3}, {Area: "", Intensity: jma.Intensity7}}}, rs, ix, t0)
	require.Equal(t, []string{"x"}, sorted(only(t, ds, "q")))
	ds = st.Evaluate(jma.Update{Key: "tsunami:通常:1", Change: jma.ChangeNew, Report: rep(jma.FamilyTsunami),
		Tsunami: []jma.TsunamiFact{{Region: "998", Kind: "62"}, {Region: "997", Kind: "99"}}}, rs, ix, t0)
	require.Equal(t, []string{"y"}, sorted(only(t, ds, "t")))
	ds = st.Evaluate(jma.Update{Key: "warning:x", Change: jma.ChangeNew, Report: rep(jma.FamilyWarning),
		Warnings: []jma.WarningFact{{Area: "9999999", Active: []string{"99"}, Issued: []string{"99"}}}}, rs, ix, t0)
	require.Equal(t, []string{"z"}, sorted(only(t, ds, "w")))
	// The unknown-code fixture of package jma (city 9999999) evaluates.
	r := newRunner(t, rs, ix)
	require.NotPanics(t, func() { r.apply(fixture(t, "vxse53_event_a_s1.xml")) })
	// An unsupported document yields nothing.
	require.Empty(t, r.apply(fixture(t, "unsupported_vfvo53.xml")))
	// A nil report and a nil index are fine.
	require.Empty(t, st.Evaluate(jma.Update{}, rs, nil, t0))
}

func TestHoldReleaseAndCorrection(t *testing.T) {
	ix := noto(t)
	held := quakeRule("held", "6-")
	held.Options.Hold = 5 * time.Minute
	r := newRunner(t, []Rule{held}, ix)
	ds := r.apply(fixture(t, "vxse51_event_a_1.xml")) // 390 6+ (07:13Z)
	h := only(t, ds, "held")
	require.Equal(t, ActionHold, h.Action)
	due := h.HoldUntil
	require.Empty(t, r.st.Due(due.Add(-time.Second)))
	next, ok := r.st.NextDue()
	require.True(t, ok)
	require.Equal(t, due, next)
	rel := r.st.Due(due)
	require.Len(t, rel, 1)
	require.Equal(t, ActionSend, rel[0].Action)
	require.Equal(t, []string{"twice", "wajima"}, sorted(rel[0]))
	require.Empty(t, r.st.Due(due.Add(time.Hour)), "released once")

	// 訂正 while held: serial 1 says 391 is 未入電, the correction 6-.
	r = newRunner(t, []Rule{held}, ix)
	s1 := fixture(t, "vxse53_event_a_s1.xml")
	ds = r.apply(s1)
	require.Equal(t, []string{"twice", "wajima"}, sorted(only(t, ds, "held")))
	corr := fixture(t, "vxse53_event_a_s1_correction.xml")
	corr.Control.DateTime = s1.Control.DateTime.Add(time.Minute) // within the hold
	ds = r.apply(corr)
	d := only(t, ds, "held")
	require.Equal(t, ActionHold, d.Action)
	require.Equal(t, []string{"kanazawa"}, sorted(d), "391 now 6-")
	rel = r.st.Due(r.clock.Add(time.Hour))
	require.Len(t, rel, 2, "one release per report that added to the hold")
	require.Equal(t, []string{"kanazawa", "twice", "wajima"}, slices.Sorted(slices.Values(append(rel[0].Recipients(), rel[1].Recipients()...))))
}

func TestSuppressionOfAftershocks(t *testing.T) {
	ix := noto(t)
	rule := quakeRule("q", "5-")
	rule.Options.Suppress = 6 * time.Hour
	rule.Admins = []string{"admin"}
	rs := []Rule{rule}
	st := NewState(nil)
	quake := func(event string, facts ...jma.AreaFact) jma.Update {
		return jma.Update{Key: "quake:通常:" + event, Change: jma.ChangeNew, Quake: facts,
			Report: &jma.Report{Family: jma.FamilyEarthquake, Type: "VXSE51", Control: jma.Control{Status: jma.StatusNormal}}}
	}
	ds := st.Evaluate(quake("main", jma.AreaFact{Area: "390", Intensity: jma.Intensity6Upper}), rs, ix, t0)
	require.Equal(t, []string{"twice", "wajima"}, sorted(only(t, ds, "q")))
	// Aftershock 2h later: 390 at 5+ (not higher) is suppressed, 370 is new.
	ds = st.Evaluate(quake("after1", jma.AreaFact{Area: "390", Intensity: jma.Intensity5Upper}, jma.AreaFact{Area: "370", Intensity: jma.Intensity5Lower}), rs, ix, t0.Add(2*time.Hour))
	require.Len(t, ds, 2)
	require.True(t, ds[0].AdminsOnly)
	require.Equal(t, ActionSend, ds[0].Action)
	require.Equal(t, []string{"admin"}, ds[0].Recipients())
	require.Equal(t, 2, ds[0].InScope)
	require.Contains(t, ds[0].Reason, "suppressed")
	require.Equal(t, []string{"joetsu"}, sorted(ds[1]))
	// Another aftershock: still suppressed, admins already told of it? No:
	// another event, so admins hear once for it.
	ds = st.Evaluate(quake("after2", jma.AreaFact{Area: "390", Intensity: jma.Intensity6Upper}), rs, ix, t0.Add(3*time.Hour))
	require.Equal(t, []string{"admin"}, only(t, ds, "q").Recipients())
	// Higher than the series: sent.
	ds = st.Evaluate(quake("after3", jma.AreaFact{Area: "390", Intensity: jma.Intensity7}), rs, ix, t0.Add(4*time.Hour))
	require.Equal(t, []string{"twice", "wajima"}, sorted(only(t, ds, "q")))
	// Outside the window: sent again.
	ds = st.Evaluate(quake("later", jma.AreaFact{Area: "390", Intensity: jma.Intensity5Lower}), rs, ix, t0.Add(11*time.Hour))
	require.Equal(t, []string{"twice", "wajima"}, sorted(only(t, ds, "q")))
	// Without admins a suppressed aftershock is a skip.
	rule.Admins = nil
	ds = st.Evaluate(quake("later2", jma.AreaFact{Area: "390", Intensity: jma.Intensity5Lower}), []Rule{rule}, ix, t0.Add(12*time.Hour))
	require.Equal(t, SkipSuppressed, only(t, ds, "q").Skip)
}

func TestTargetingModes(t *testing.T) {
	ix := noto(t)
	fixed := quakeRule("fixed", "5-")
	fixed.Target, fixed.Recipients, fixed.Groups = TargetFixed, []string{"bcp1", "bcp2"}, []string{"hq"}
	fixed.Earthquake.Prefectures = []string{"17"}
	nation := quakeRule("nation", "6+")
	nation.Target = TargetNationwide
	admins := quakeRule("admins", "3")
	admins.Options.AdminsOnly, admins.Admins = true, []string{"boss"}
	area := quakeRule("area", "1")
	area.Earthquake.Areas = []string{"370"}
	rs := []Rule{fixed, nation, admins, area}
	r := newRunner(t, rs, ix)
	ds := r.apply(fixture(t, "vxse51_event_a_1.xml"))
	d := only(t, ds, "fixed")
	require.Equal(t, []string{"bcp1", "bcp2"}, sorted(d))
	require.Equal(t, []string{"hq"}, d.Groups)
	require.Equal(t, "17", d.Matches[0].Pref)
	require.Equal(t, ix.Len(), only(t, ds, "nation").Count())
	d = only(t, ds, "admins")
	require.True(t, d.AdminsOnly)
	require.Equal(t, []string{"boss"}, d.Recipients())
	require.Equal(t, 4, d.InScope)
	require.Equal(t, []string{"joetsu"}, sorted(only(t, ds, "area")))
	// Next update: fixed already reached, admins already told.
	ds = r.apply(fixture(t, "vxse51_event_a_2.xml"))
	require.Equal(t, SkipNotified, only(t, ds, "fixed").Skip)
	require.Equal(t, SkipNotified, only(t, ds, "admins").Skip)
}

func TestEEWOptIn(t *testing.T) {
	rep := sample(t, "VXSE43_37_01_01_240613_VXSE43.xml")
	users := map[string][]string{}
	for _, a := range rep.EEW.Areas {
		users["e"+a.Code] = []string{"quake:" + a.Code}
	}
	ix := index(t, users)
	plain := quakeRule("plain", "4")
	eew := quakeRule("eew", "4")
	eew.Earthquake.EEW = true
	r := newRunner(t, []Rule{plain, eew}, ix)
	ds := r.apply(rep)
	require.Len(t, ds, 1, "an earthquake rule without eew ignores 緊急地震速報")
	d := only(t, ds, "eew")
	require.Equal(t, ActionSend, d.Action)
	require.NotZero(t, d.Count())
	require.Equal(t, "quake:通常:"+rep.Head.EventID(), d.Event, "EEW shares the quake event")
}

func TestDisabledAndStatelessEvaluate(t *testing.T) {
	ix := noto(t)
	off := quakeRule("off", "1")
	off.Disabled = true
	u := jma.NewTracker(nil).Apply(fixture(t, "vxse51_event_a_1.xml"))
	ds := Evaluate(u, []Rule{off, quakeRule("on", "6+")}, ix, t0)
	require.Equal(t, SkipDisabled, only(t, ds, "off").Skip)
	require.Equal(t, []string{"twice", "wajima"}, sorted(only(t, ds, "on")))
}

func TestInvalidRulesDoNotPanic(t *testing.T) {
	ix := noto(t)
	rs := []Rule{{ID: "no-trigger", Kind: KindEarthquake}, {ID: "t", Kind: KindTsunami}, {ID: "w", Kind: KindWeather},
		{ID: "none-threshold", Kind: KindEarthquake, Earthquake: &EarthquakeTrigger{}}, {ID: "odd-kind", Kind: "volcano"},
		{ID: "fixed-empty", Kind: KindEarthquake, Target: TargetFixed, Earthquake: &EarthquakeTrigger{Threshold: jma.Intensity1}},
		{ID: "admins-empty", Kind: KindEarthquake, Earthquake: &EarthquakeTrigger{Threshold: jma.Intensity1}, Options: Options{AdminsOnly: true, Hold: -time.Hour, Suppress: -time.Hour}}}
	require.Error(t, Validate(rs))
	st := NewState(nil)
	tr := jma.NewTracker(nil)
	for _, n := range []string{"vxse51_event_a_1.xml", "vtse41_event_t_1.xml", "vpww53_pair_1.xml", "vxse53_event_a_cancel.xml"} {
		require.NotPanics(t, func() { st.Evaluate(tr.Apply(fixture(t, n)), rs, ix, t0) })
	}
	ds := Evaluate(jma.NewTracker(nil).Apply(fixture(t, "vxse51_event_a_1.xml")), rs, ix, t0)
	require.Equal(t, SkipInvalid, only(t, ds, "no-trigger").Skip)
	require.Equal(t, SkipBelowThreshold, only(t, ds, "none-threshold").Skip)
}

func TestEEWCancel(t *testing.T) {
	ix := index(t, map[string][]string{"chiba": {"quake:340"}, "noto": {"quake:390"}})
	rule := quakeRule("eew", "5-")
	rule.Earthquake.EEW = true
	// An EEW, then its 取消: those reached are told.
	r := newRunner(t, []Rule{rule}, ix)
	require.Equal(t, []string{"chiba"}, sorted(only(t, r.apply(fixture(t, "vxse43_plum.xml")), "eew")))
	d := only(t, r.apply(fixture(t, "vxse43_cancel.xml")), "eew")
	require.Equal(t, ActionCancel, d.Action)
	require.Equal(t, []string{"chiba"}, sorted(d))

	// An EEW, then an observed 震度速報 of the same EventID, then the EEW's
	// 取消: the observations stand.
	r = newRunner(t, []Rule{rule}, ix)
	plum := fixture(t, "vxse43_plum.xml")
	r.apply(plum)
	obs := fixture(t, "vxse51_event_a_1.xml")
	obs.Head.EventIDs = plum.Head.EventIDs
	obs.Control.DateTime = plum.Control.DateTime.Add(10 * time.Second)
	obs.Head.ReportDateTime = plum.Head.ReportDateTime.Add(time.Minute)
	d = only(t, r.apply(obs), "eew")
	require.Equal(t, []string{"noto"}, sorted(d))
	require.Equal(t, "quake:通常:20240501120000", d.Event)
	d = only(t, r.apply(fixture(t, "vxse43_cancel.xml")), "eew")
	require.Equal(t, SkipNothingToCancel, d.Skip)
	require.Contains(t, d.Reason, "observations stand")
}

func TestSuppressionRemembersTheHighestLevelOfTheSeries(t *testing.T) {
	ix := noto(t)
	rule := quakeRule("q", "5-")
	rule.Options.Suppress = 6 * time.Hour
	rs := []Rule{rule}
	st := NewState(nil)
	quake := func(event string, v jma.Intensity) jma.Update {
		return jma.Update{Key: "quake:通常:" + event, Change: jma.ChangeEscalation, Quake: []jma.AreaFact{{Area: "390", Intensity: v}},
			Report: &jma.Report{Family: jma.FamilyEarthquake, Control: jma.Control{Status: jma.StatusNormal}}}
	}
	require.Equal(t, ActionSend, only(t, st.Evaluate(quake("main", jma.Intensity6Upper), rs, ix, t0), "q").Action)
	// The main shock's VXSE53 raises 390 to 7: nobody new, but the series
	// now stands at 7.
	require.Equal(t, SkipNotified, only(t, st.Evaluate(quake("main", jma.Intensity7), rs, ix, t0.Add(10*time.Minute)), "q").Skip)
	require.Equal(t, SkipSuppressed, only(t, st.Evaluate(quake("after", jma.Intensity7), rs, ix, t0.Add(time.Hour)), "q").Skip)
}
