package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anpikit/anpi/jma"
)

// FuzzDecodeRules checks that the decoder never panics, that every failure
// is either ErrSyntax or a *ValidationError, and that accepted rule sets
// survive an encode/decode round trip.
func FuzzDecodeRules(f *testing.F) {
	if b, err := os.ReadFile("testdata/rules.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"rules":[{"id":"q","kind":"earthquake","earthquake":{"threshold":"8"}}]}`))
	f.Add([]byte(`{"version":1,"rules":[{"id":"t","kind":"tsunami","tsunami":{"kinds":["major"]},"options":{"hold":"-1s"}}]}`))
	f.Add([]byte(`{"version":1,"rules":[{"id":"w","kind":"weather","target":"fixed","weather":{},"groups":["g"]}]}`))
	f.Add([]byte(`{"version":1,"rules":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := DecodeRules(data)
		if err != nil {
			var ve *ValidationError
			if !errors.Is(err, ErrSyntax) && !errors.As(err, &ve) {
				t.Fatalf("unclassified error %T: %v", err, err)
			}
			return
		}
		out, err := EncodeRules(rs)
		if err != nil {
			t.Fatalf("accepted rules do not encode: %v", err)
		}
		if _, err := DecodeRules(out); err != nil {
			t.Fatalf("encoded rules do not decode: %v\n%s", err, out)
		}
	})
}

// FuzzEvaluateDocument feeds arbitrary documents through jma.Parse, a
// tracker and Evaluate: nothing panics, a 試験 document yields only skips, a
// 訓練 document never a real send, and every decision names its rule.
func FuzzEvaluateDocument(f *testing.F) {
	for _, n := range []string{"vxse51_event_a_1.xml", "vxse53_event_a_s1.xml", "vxse53_training.xml", "vtse41_event_t_2.xml",
		"vpww53_pair_1.xml", "vxse43_plum.xml", "vxse42_test.xml", "vxse53_event_a_cancel.xml"} {
		if b, err := os.ReadFile(filepath.Join("..", "jma", "testdata", n)); err == nil {
			f.Add(b)
		}
	}
	ix := NewIndex()
	for i, r := range []string{"quake:390", "quake:380", "tsunami:390", "warning:1720400", "quake:340"} {
		if err := ix.Add(fmt.Sprint("u", i), r); err != nil {
			f.Fatal(err)
		}
	}
	drill := Rule{ID: "drill", Kind: KindEarthquake, Earthquake: &EarthquakeTrigger{Threshold: jma.Intensity1, EEW: true}, Options: Options{Drill: true, Hold: time.Minute}}
	rs := []Rule{drill,
		{ID: "t", Kind: KindTsunami, Tsunami: &TsunamiTrigger{Kinds: []TsunamiLevel{LevelMajor, LevelWarning, LevelAdvisory}}},
		{ID: "w", Kind: KindWeather, Target: TargetNationwide, Weather: &WeatherTrigger{Kinds: []string{WeatherWarnings, WeatherSpecial}}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := jma.Parse(data)
		if err != nil {
			return
		}
		st := NewState(nil)
		tr := jma.NewTracker(nil)
		for range 2 { // the second delivery is a duplicate
			for _, d := range st.Evaluate(tr.Apply(r), rs, ix, r.Control.DateTime) {
				if d.Rule == "" {
					t.Fatalf("decision without a rule: %+v", d)
				}
				switch r.Control.Status {
				case jma.StatusNormal:
				case jma.StatusTraining:
					if d.Action == ActionSend && !d.AdminsOnly {
						t.Fatalf("訓練 document produced a real send: %+v", d)
					}
				default:
					if d.Action != ActionSkip {
						t.Fatalf("%q document produced %s", r.Control.Status, d.Action)
					}
				}
			}
		}
		for _, d := range st.Due(r.Control.DateTime.Add(time.Hour)) {
			if !r.Control.Status.Real() && d.Action == ActionSend {
				t.Fatalf("release of a non-real document: %+v", d)
			}
		}
	})
}
