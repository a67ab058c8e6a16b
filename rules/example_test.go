package rules_test

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/rules"
)

// Decode a rule set, register recipients and ask who a 震度6弱 in Tokyo's
// 23 wards would reach.
func ExampleSimulate() {
	rs, err := rules.DecodeRules([]byte(`{"version": 1, "rules": [
	  {"id": "quake-tokyo", "kind": "earthquake", "earthquake": {"threshold": "5-", "prefectures": ["13"]}},
	  {"id": "tsunami", "kind": "tsunami", "tsunami": {"kinds": ["major"]}}
	]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ix := rules.NewIndex()
	_ = ix.Add("sato", "quake:350", "tsunami:300")
	_ = ix.Add("suzuki", "quake:350")
	_ = ix.Add("tanaka", "quake:222", "tsunami:360")
	ds := rules.Simulate(rules.Scenario{
		Quake:   []rules.QuakeArea{{Area: "350", Pref: "13", Intensity: jma.Intensity6Lower}},
		Tsunami: []rules.TsunamiArea{{Region: "360", Kind: jma.TsunamiMajorIssued}},
	}, rs, ix)
	for _, d := range ds {
		ids := d.Recipients()
		slices.Sort(ids)
		fmt.Println(d.Rule, d.Action, ids, d.Reason)
	}
	// Output:
	// quake-tokyo send [sato suzuki] quake:350 at 6-; 2 newly in scope
	// tsunami send [tanaka] tsunami:360 kind 53; 1 newly in scope
}

// A validation error names every field that is wrong.
func ExampleDecodeRules() {
	_, err := rules.DecodeRules([]byte(`{"version": 1, "rules": [
	  {"id": "quake-tokyo", "kind": "earthquake", "earthquake": {"threshold": "8", "areas": ["35"]}, "options": {"hold": "20m"}}
	]}`))
	fmt.Println(err)
	// Output:
	// rules: rule "quake-tokyo": earthquake.threshold: unknown intensity "8" (want 1, 2, 3, 4, 5-, 5+, 6-, 6+ or 7)
	// rules: rule "quake-tokyo": earthquake.areas[0]: invalid 細分区域 code "35" (want 3 digits)
	// rules: rule "quake-tokyo": options.hold: hold 20m0s outside 0–10m
}

// A State makes evaluation escalate-only across the updates of an event: the
// second report reaches only the newly affected.
func ExampleState_Evaluate() {
	rs := []rules.Rule{{ID: "q", Kind: rules.KindEarthquake, Earthquake: &rules.EarthquakeTrigger{Threshold: jma.Intensity5Upper}}}
	ix := rules.NewIndex()
	_ = ix.Add("noto", "quake:390")
	_ = ix.Add("joetsu", "quake:370")
	tr := jma.NewTracker(nil)
	st := rules.NewState(nil)
	for _, name := range []string{"vxse51_event_a_1.xml", "vxse51_event_a_2.xml"} {
		b, err := os.ReadFile("../jma/testdata/" + name)
		if err != nil {
			fmt.Println(err)
			return
		}
		rep, err := jma.Parse(b)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, d := range st.Evaluate(tr.Apply(rep), rs, ix, rep.Control.DateTime) {
			fmt.Println(name, d.Action, d.Recipients())
		}
	}
	// Output:
	// vxse51_event_a_1.xml send [noto]
	// vxse51_event_a_2.xml send [joetsu]
}

// A hold window delays the send; Due releases it when the time has come.
func ExampleState_Due() {
	rule := rules.Rule{ID: "q", Kind: rules.KindEarthquake, Earthquake: &rules.EarthquakeTrigger{Threshold: jma.Intensity5Lower},
		Options: rules.Options{Hold: 10 * time.Minute}}
	ix := rules.NewIndex()
	_ = ix.Add("u1", "quake:350")
	st := rules.NewState(nil)
	now := time.Date(2024, 1, 1, 7, 10, 0, 0, time.UTC)
	u := jma.Update{Key: "quake:通常:20240101160900", Change: jma.ChangeNew,
		Report: &jma.Report{Family: jma.FamilyEarthquake, Control: jma.Control{Status: jma.StatusNormal}},
		Quake:  []jma.AreaFact{{Area: "350", Intensity: jma.Intensity5Upper}}}
	d := st.Evaluate(u, []rules.Rule{rule}, ix, now)[0]
	fmt.Println(d.Action, d.HoldUntil.Format(time.TimeOnly))
	fmt.Println(len(st.Due(now.Add(5 * time.Minute))))
	for _, d := range st.Due(now.Add(10 * time.Minute)) {
		fmt.Println(d.Action, d.Recipients())
	}
	// Output:
	// hold 07:20:00
	// 0
	// send [u1]
}

func parseFiles(names ...string) ([]*jma.Report, error) {
	var out []*jma.Report
	for _, n := range names {
		b, err := os.ReadFile("../jma/testdata/" + n)
		if err != nil {
			return nil, err
		}
		r, err := jma.Parse(b)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Replay documents on the virtual clock they carry: the held send is
// released ten minutes after the first report, before the VXSE53 arrives.
func ExampleReplay() {
	docs, err := parseFiles("vxse51_event_a_1.xml", "vxse51_event_a_2.xml", "vxse53_event_a_s1.xml")
	if err != nil {
		fmt.Println(err)
		return
	}
	rs := []rules.Rule{{ID: "q", Kind: rules.KindEarthquake, Earthquake: &rules.EarthquakeTrigger{Threshold: jma.Intensity5Upper},
		Options: rules.Options{Hold: 10 * time.Minute}}}
	ix := rules.NewIndex()
	_ = ix.Add("noto", "quake:390")
	_ = ix.Add("joetsu", "quake:370")
	for _, s := range rules.Replay(docs, rs, ix, nil) {
		for _, d := range s.Decisions {
			fmt.Println(s.At.Format(time.TimeOnly), s.Doc, d.Action, d.Recipients())
		}
	}
	// Output:
	// 07:13:10 0 hold [noto]
	// 07:14:05 1 hold [joetsu]
	// 07:23:10 -1 send [noto]
	// 07:23:10 -1 send [joetsu]
	// 07:24:30 2 skip []
}

// Diff shows the blast radius of lowering a threshold from 5強 to 5弱.
func ExampleDiff() {
	docs, err := parseFiles("vxse51_event_a_1.xml", "vxse51_event_a_2.xml")
	if err != nil {
		fmt.Println(err)
		return
	}
	rule := func(th jma.Intensity) []rules.Rule {
		return []rules.Rule{{ID: "q", Kind: rules.KindEarthquake, Earthquake: &rules.EarthquakeTrigger{Threshold: th}}}
	}
	ix := rules.NewIndex()
	_ = ix.Add("noto", "quake:390")
	_ = ix.Add("joetsu", "quake:370")
	_ = ix.Add("toyama", "quake:380")
	for _, e := range rules.Diff(rule(jma.Intensity5Upper), rule(jma.Intensity5Lower), ix, docs, nil) {
		fmt.Println(e.Doc, "gained", e.Gained, "lost", e.Lost)
	}
	// Output:
	// 0 gained [joetsu] lost []
	// 1 gained [toyama] lost [joetsu]
}
