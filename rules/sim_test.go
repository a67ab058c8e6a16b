package rules

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anpikit/anpi/jma"
	"github.com/stretchr/testify/require"
)

func TestSimulate(t *testing.T) {
	ix := index(t, map[string][]string{
		"tokyo1": {"quake:350", "warning:1310100"}, "tokyo2": {"quake:350"}, "chiba": {"quake:340", "tsunami:300"},
		"sendai": {"quake:222", "tsunami:360"},
	})
	rs := []Rule{quakeRule("q6", "6-"),
		{ID: "major", Kind: KindTsunami, Tsunami: &TsunamiTrigger{Kinds: []TsunamiLevel{LevelMajor}}},
		{ID: "rain", Kind: KindWeather, Weather: &WeatherTrigger{Kinds: []string{"33"}}}}
	ds := Simulate(Scenario{
		Quake:    []QuakeArea{{Area: "350", Pref: "13", Intensity: jma.Intensity6Lower}, {Area: "340", Intensity: jma.Intensity5Upper}},
		Tsunami:  []TsunamiArea{{Region: "360", Kind: jma.TsunamiMajorIssued}},
		Warnings: []WarningArea{{Area: "1310100", Kinds: []string{"33"}}},
	}, rs, ix)
	require.Len(t, ds, 3)
	require.Equal(t, []string{"tokyo1", "tokyo2"}, sorted(only(t, ds, "q6")))
	require.Equal(t, []string{"sendai"}, sorted(only(t, ds, "major")))
	require.Equal(t, []string{"tokyo1"}, sorted(only(t, ds, "rain")))
	b, err := json.Marshal(only(t, ds, "q6"))
	require.NoError(t, err)
	require.JSONEq(t, `{"rule":"q6","event":"quake:通常:simulation","action":"send","reason":"quake:350 at 6-; 2 newly in scope",
		"matches":[{"region":"quake:350","pref":"13","intensity":"6-","recipients":["tokyo1","tokyo2"]}],"at":"0001-01-01T00:00:00Z"}`, string(b))
	// Drills: a rule that does not opt in skips.
	ds = Simulate(Scenario{Status: jma.StatusTraining, Quake: []QuakeArea{{Area: "350", Intensity: jma.Intensity7}}}, rs[:1], ix)
	require.Equal(t, SkipDrill, only(t, ds, "q6").Skip)
}

// eventA is the Noto-like fixture sequence with an interleaved event B.
var eventA = []string{"vxse51_event_a_1.xml", "vxse53_event_b_s1.xml", "vxse51_event_a_2.xml", "vxse53_event_a_s1.xml",
	"vxse53_event_b_s2.xml", "vtse41_event_t_1.xml", "vtse41_event_t_2.xml", "vtse51_event_t_1.xml",
	"vpww53_pair_1.xml", "vpww54_pair_1.xml", "vpww53_next.xml", "vtse41_event_t_lift.xml"}

func fixtures(t testing.TB, names []string) []*jma.Report {
	out := make([]*jma.Report, len(names))
	for i, n := range names {
		out[i] = fixture(t, n)
	}
	return out
}

func TestReplayTimeline(t *testing.T) {
	ix := noto(t)
	held := quakeRule("held", "5-")
	held.Options.Hold = 10 * time.Minute
	rs := []Rule{held, {ID: "major", Kind: KindTsunami, Tsunami: &TsunamiTrigger{Kinds: []TsunamiLevel{LevelMajor}}}}
	docs := fixtures(t, eventA)
	steps := Replay(docs, rs, ix, nil)
	// The first hold (a_1 at 07:13Z, or its Control time) is released before s1.
	var holdAt, releaseAt time.Time
	var released []string
	releases := 0
	for _, s := range steps {
		for _, d := range s.Decisions {
			if d.Rule == "held" && d.Action == ActionHold && holdAt.IsZero() {
				holdAt = d.At
				require.Equal(t, d.At.Add(10*time.Minute), d.HoldUntil)
			}
			if d.Rule == "held" && d.Action == ActionSend {
				require.True(t, s.Released)
				releaseAt = s.At
				releases++
				released = append(released, d.Recipients()...)
			}
		}
	}
	require.Equal(t, holdAt.Add(10*time.Minute), releaseAt)
	slices.Sort(released)
	require.Equal(t, []string{"joetsu", "kanazawa", "toyama", "twice", "wajima"}, released, "a_1 and a_2 released together, then s1 adds nobody")
	require.Equal(t, 2, releases, "one release decision per report that added to the hold")
	// The clock never runs backwards.
	for i := 1; i < len(steps); i++ {
		require.False(t, steps[i].At.Before(steps[i-1].At))
	}
	reached := Reached(steps, docs)
	require.True(t, reached[0]["wajima"], "the release counts for the document that caused the hold")
	require.True(t, reached[6]["wajima"], "major tsunami in 390")
}

func TestDiff(t *testing.T) {
	ix := noto(t)
	docs := fixtures(t, eventA[:5])
	a := []Rule{quakeRule("q", "5+")}
	b := []Rule{quakeRule("q", "5-")}
	diff := Diff(a, b, ix, docs, nil)
	require.Len(t, diff, 5)
	require.Equal(t, []string{"joetsu"}, diff[0].Gained, "370 at 5- reaches joetsu earlier")
	require.Empty(t, diff[0].Lost)
	require.Equal(t, []string{"toyama"}, diff[2].Gained)
	require.Equal(t, []string{"joetsu"}, diff[2].Lost, "under a, joetsu is reached only at a_2")
	require.Empty(t, diff[1].Gained)
	// No change, no diff.
	for _, e := range Diff(a, a, ix, docs, nil) {
		require.Empty(t, e.Gained)
		require.Empty(t, e.Lost)
	}
}

// TestDuplicateDeliveriesProperty: replaying any permutation of duplicate
// deliveries (each document delivered 1–3 times, the copies anywhere after
// the first delivery) reaches the same recipients, per rule, as delivering
// each document once, and nobody twice per (rule, event).
func TestDuplicateDeliveriesProperty(t *testing.T) {
	ix := noto(t)
	drill := quakeRule("drill", "3")
	drill.Options.Drill = true
	sup := quakeRule("sup", "5-")
	sup.Options.Suppress = 6 * time.Hour
	sup.Admins = []string{"admin"}
	held := quakeRule("held", "5+")
	held.Options.Hold = 3 * time.Minute
	rs := []Rule{quakeRule("q", "5-"), drill, sup, held,
		{ID: "t", Kind: KindTsunami, Tsunami: &TsunamiTrigger{Kinds: []TsunamiLevel{LevelMajor, LevelWarning, LevelAdvisory}}},
		{ID: "w", Kind: KindWeather, Weather: &WeatherTrigger{Kinds: []string{WeatherSpecial, WeatherWarnings}}},
		{ID: "n", Kind: KindEarthquake, Target: TargetNationwide, Earthquake: &EarthquakeTrigger{Threshold: jma.Intensity7}}}
	// Documents of one period each: a duplicate arrives within minutes, not
	// after the tracker's and the state's memory (days) has expired.
	groups := [][]string{
		{"vxse51_event_a_1.xml", "vxse53_event_b_s1.xml", "vxse51_event_a_2.xml", "vxse53_event_a_s1.xml",
			"vxse53_event_a_s1_correction.xml", "vxse53_training.xml", "vxse53_event_b_s2.xml", "vtse41_event_t_1.xml",
			"vtse41_event_t_2.xml", "vtse51_event_t_1.xml", "vtse41_event_t_lift.xml"},
		{"vpww53_pair_1.xml", "vpww54_pair_1.xml", "vpww53_next.xml"},
	}
	// Parse each document once; a copy delivered again is the same report.
	parsed := map[string]*jma.Report{}
	docs := func(names []string) []*jma.Report {
		out := make([]*jma.Report, len(names))
		for i, n := range names {
			if parsed[n] == nil {
				parsed[n] = fixture(t, n)
			}
			out[i] = parsed[n]
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, names := range groups {
		once := reachedPairs(t, Replay(docs(names), rs, ix, nil))
		require.NotEmpty(t, once)
		for trial := range 100 {
			seq := slices.Clone(names)
			for _, n := range names {
				first := slices.Index(seq, n)
				for range rng.IntN(3) {
					at := first + 1 + rng.IntN(len(seq)-first)
					seq = slices.Insert(seq, at, n)
				}
			}
			got := reachedPairs(t, Replay(docs(seq), rs, ix, nil))
			require.Equal(t, once, got, "trial %d: %v", trial, seq)
		}
	}
}

// reachedPairs returns "rule/recipient" for every send or drill, failing
// when a (rule, event) reaches someone twice.
func reachedPairs(t *testing.T, steps []Step) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	perEvent := map[string]bool{}
	for _, s := range steps {
		for _, d := range s.Decisions {
			if !d.Sends() {
				continue
			}
			for _, id := range d.Recipients() {
				k := d.Rule + "/" + d.Event + "/" + id
				require.False(t, perEvent[k], "%s reached twice", k)
				perEvent[k] = true
				out[d.Rule+"/"+id] = true
			}
		}
	}
	return out
}

func TestStatePersistence(t *testing.T) {
	rule := quakeRule("q", "5+")
	rule.Options.Suppress = time.Hour
	held := quakeRule("held", "6+")
	held.Options.Hold = 10 * time.Minute
	rs := []Rule{rule, held}
	ix := noto(t)
	tr := jma.NewTracker(nil)
	st := NewState(nil)
	a1 := fixture(t, "vxse51_event_a_1.xml")
	now := a1.Control.DateTime
	ds := st.Evaluate(tr.Apply(a1), rs, ix, now)
	require.Equal(t, []string{"kanazawa", "twice", "wajima"}, sorted(only(t, ds, "q")))
	require.Equal(t, ActionHold, only(t, ds, "held").Action)

	b, err := json.Marshal(st)
	require.NoError(t, err)
	// Restore into a new state, against an index rebuilt in another order.
	back := NewState(nil)
	require.NoError(t, json.Unmarshal(b, back))
	b2, err := json.Marshal(back)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(b2))
	ix2 := NewIndex()
	for _, id := range []string{"tokyo", "twice", "toyama", "joetsu", "wajima", "kanazawa", "ibaraki"} {
		require.NoError(t, ix2.Add(id, ix.Regions(id)...))
	}
	ds = back.Evaluate(tr.Apply(fixture(t, "vxse51_event_a_2.xml")), rs, ix2, now.Add(time.Minute))
	require.Equal(t, []string{"joetsu"}, sorted(only(t, ds, "q")), "escalate-only across a restore")
	rel := back.Due(now.Add(10 * time.Minute))
	require.Len(t, rel, 1)
	require.Equal(t, []string{"twice", "wajima"}, sorted(rel[0]))

	var bad State
	require.Error(t, json.Unmarshal([]byte(`{"version":9}`), &bad))
	require.Error(t, json.Unmarshal([]byte(`{"version":1,"records":[{}]}`), &bad))
	// A zero State restored from JSON works.
	var zero State
	require.NoError(t, json.Unmarshal(b, &zero))
	require.Equal(t, 2, zero.Len())
}

// MarshalHolds keeps only the held sends, which a restored state releases
// as the original would; without a hold it writes no record.
func TestStateHolds(t *testing.T) {
	rule := quakeRule("q", "5+")
	held := quakeRule("held", "6+")
	held.Options.Hold = 10 * time.Minute
	rs := []Rule{rule, held}
	ix := noto(t)
	tr := jma.NewTracker(nil)
	st := NewState(nil)
	none, err := st.MarshalHolds()
	require.NoError(t, err)
	a1 := fixture(t, "vxse51_event_a_1.xml")
	now := a1.Control.DateTime
	st.Evaluate(tr.Apply(a1), rs, ix, now)

	b, err := st.MarshalHolds()
	require.NoError(t, err)
	var in stateJSON
	require.NoError(t, json.Unmarshal(b, &in))
	require.Len(t, in.Records, 1, "only the held one")
	require.Equal(t, "held", in.Records[0].Rule)
	require.NotNil(t, in.Records[0].Pending)
	require.Empty(t, in.Series)
	again, err := st.MarshalHolds()
	require.NoError(t, err)
	require.Equal(t, b, again, "equal holds, equal bytes")

	back := NewState(nil)
	require.NoError(t, json.Unmarshal(b, back))
	due, ok := back.NextDue()
	require.True(t, ok)
	require.Equal(t, now.Add(10*time.Minute), due)
	require.Empty(t, back.Due(now.Add(9*time.Minute)))
	rel := back.Due(now.Add(10 * time.Minute))
	require.Len(t, rel, 1)
	require.Equal(t, []string{"twice", "wajima"}, sorted(rel[0]))
	released, err := back.MarshalHolds()
	require.NoError(t, err)
	require.Equal(t, none, released, "nothing held once released")
}

func TestStateMemoryIsBounded(t *testing.T) {
	ix := noto(t)
	st := NewState(&StateOptions{MaxRecords: 10, EventTTL: time.Hour})
	rs := []Rule{quakeRule("q", "1")}
	for i := range 50 {
		u := jma.Update{Key: "quake:通常:" + time.Duration(i).String(), Change: jma.ChangeNew,
			Report: &jma.Report{Family: jma.FamilyEarthquake, Control: jma.Control{Status: jma.StatusNormal}},
			Quake:  []jma.AreaFact{{Area: "390", Intensity: jma.Intensity3}}}
		st.Evaluate(u, rs, ix, t0.Add(time.Duration(i)*time.Minute))
	}
	require.LessOrEqual(t, st.Len(), 11)
	st.Evaluate(jma.Update{}, rs, ix, t0.Add(10*time.Hour))
	require.Zero(t, st.Len(), "expired after the TTL")
}

// TestAnyOrderProperty: for earthquake observations, which only ever rise,
// any order of any number of deliveries reaches the same recipients per rule
// as the documents delivered once in order.
func TestAnyOrderProperty(t *testing.T) {
	ix := noto(t)
	held := quakeRule("held", "5+")
	held.Options.Hold = 3 * time.Minute
	rs := []Rule{quakeRule("q3", "3"), quakeRule("q5", "5-"), quakeRule("q7", "7"), held,
		{ID: "fixed", Kind: KindEarthquake, Target: TargetFixed, Recipients: []string{"boss"}, Earthquake: &EarthquakeTrigger{Threshold: jma.Intensity6Upper}}}
	names := []string{"vxse51_event_a_1.xml", "vxse53_event_b_s1.xml", "vxse51_event_a_2.xml", "vxse53_event_a_s1.xml", "vxse53_event_b_s2.xml"}
	parsed := map[string]*jma.Report{}
	for _, n := range names {
		parsed[n] = fixture(t, n)
	}
	docs := func(seq []string) []*jma.Report {
		out := make([]*jma.Report, len(seq))
		for i, n := range seq {
			out[i] = parsed[n]
		}
		return out
	}
	once := reachedPairs(t, Replay(docs(names), rs, ix, nil))
	require.Len(t, once, 6+5+2+4+1)
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		var seq []string
		for _, n := range names {
			for range 1 + rng.IntN(3) {
				seq = append(seq, n)
			}
		}
		rng.Shuffle(len(seq), func(i, j int) { seq[i], seq[j] = seq[j], seq[i] })
		require.Equal(t, once, reachedPairs(t, Replay(docs(seq), rs, ix, nil)), "trial %d: %v", trial, seq)
	}
}

// TestStateConcurrentUse evaluates, releases and persists one State from
// several goroutines while the index changes (run with -race).
func TestStateConcurrentUse(t *testing.T) {
	ix := noto(t)
	held := quakeRule("held", "3")
	held.Options.Hold = time.Minute
	rs := []Rule{quakeRule("q", "3"), held}
	st := NewState(nil)
	tr := jma.NewTracker(nil)
	reps := fixtures(t, []string{"vxse51_event_a_1.xml", "vxse53_event_b_s1.xml", "vxse51_event_a_2.xml", "vxse53_event_a_s1.xml"})
	var wg sync.WaitGroup
	for i, rep := range reps {
		wg.Add(3)
		go func() {
			defer wg.Done()
			st.Evaluate(tr.Apply(rep), rs, ix, t0.Add(time.Duration(i)*time.Minute))
		}()
		go func() {
			defer wg.Done()
			st.Due(t0.Add(time.Hour))
			_, _ = json.Marshal(st)
		}()
		go func() {
			defer wg.Done()
			_ = ix.Add(fmt.Sprint("late", i), "quake:390")
		}()
	}
	wg.Wait()
	b, err := json.Marshal(st)
	require.NoError(t, err)
	require.Contains(t, string(b), "wajima")
}
