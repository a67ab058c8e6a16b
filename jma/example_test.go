package jma_test

import (
	"fmt"
	"os"
	"time"

	"github.com/anpikit/anpi/jma"
)

func ExampleParse() {
	data, err := os.ReadFile("testdata/vxse53_event_a_s1.xml")
	if err != nil {
		panic(err)
	}
	r, err := jma.Parse(data)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Type, r.Control.Status, r.Head.InfoType, r.Head.EventIDs, r.Head.Serial)
	fmt.Println("max", r.Earthquake.Intensity.MaxInt)
	for _, p := range r.Earthquake.Intensity.Prefs {
		for _, a := range p.Areas {
			fmt.Printf("%s %s own=%q effective=%s\n", p.Code, a.Code, a.MaxInt, a.Effective())
		}
	}
	// Output:
	// VXSE53 通常 発表 [20240101161010] 1
	// max 7
	// 17 390 own="7" effective=7
	// 17 391 own="" effective=震度５弱以上未入電
	// 16 380 own="5-" effective=震度５弱以上未入電
}

func ExampleSummarize() {
	data, err := os.ReadFile("testdata/vtse41_event_t_2.xml")
	if err != nil {
		panic(err)
	}
	s, err := jma.Summarize(data)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Type, s.Family, s.Head.EventIDs)
	for _, t := range s.Tsunami {
		fmt.Println(t.AreaCode, t.Kind, t.Kind.Major())
	}
	// Output:
	// VTSE41 tsunami [20240101161010 20240101161800]
	// 390 53 true
	// 380 51 false
	// 370 62 false
	// 400 71 false
}

func ExampleParseIntensity() {
	for _, s := range []string{"5-", "震度６強", "震度５弱以上未入電"} {
		i, err := jma.ParseIntensity(s)
		if err != nil {
			panic(err)
		}
		fmt.Println(i, i.AtLeast(jma.Intensity5Lower), i.AtLeast(jma.Intensity6Lower))
	}
	// Output:
	// 5- true false
	// 6+ true true
	// 震度５弱以上未入電 true false
}

func ExampleTracker() {
	tr := jma.NewTracker(nil)
	for _, name := range []string{"vxse51_event_a_1.xml", "vxse53_event_a_s1.xml", "vxse53_event_a_s1.xml"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			panic(err)
		}
		r, err := jma.Parse(data)
		if err != nil {
			panic(err)
		}
		u := tr.Apply(r)
		fmt.Print(u.Change)
		for _, f := range u.Quake {
			if len(f.NewlyAtLeast) > 0 {
				fmt.Printf(" %s≥%s", f.Area, f.NewlyAtLeast[len(f.NewlyAtLeast)-1])
			}
		}
		fmt.Println()
	}
	// Output:
	// new 370≥5- 390≥6+ 391≥5+
	// escalation 380≥5- 390≥7
	// duplicate
}

func ExampleTypeFromURL() {
	typ, office, ok := jma.TypeFromURL("https://www.data.jma.go.jp/developer/xml/data/20240101072400_0_VXSE53_010000.xml")
	fmt.Println(typ, office, ok)
	// Output: VXSE53 010000 true
}

func ExampleNextPoll() {
	now := time.Date(2024, 1, 1, 7, 0, 45, 0, time.UTC)
	fmt.Println(jma.NextPoll(now, time.Minute, 20*time.Second).Format(time.TimeOnly))
	// Output: 07:01:20
}
