package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/anpikit/anpi/internal/shareddata"
	"github.com/anpikit/anpi/jma"
	"github.com/stretchr/testify/require"
)

// TestSamplesTable evaluates every real JMA document in ../shared/jma-samples
// as the first report of its event and compares the recipients with those
// computed from the document alone (areas at or above the threshold, tsunami
// kinds, warnings whose Kind/Status is 発表).
func TestSamplesTable(t *testing.T) {
	dir := shareddata.Dir(t, "jma-samples")
	files, err := filepath.Glob(filepath.Join(dir, "V*.xml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	reps := map[string]*jma.Report{}
	users := map[string][]string{}
	add := func(id, region string) { users[id] = []string{region} }
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		r, err := jma.Parse(b)
		require.NoError(t, err, f)
		reps[filepath.Base(f)] = r
		for _, a := range r.Summary().Areas {
			add("q"+a.Code, "quake:"+a.Code)
		}
		if r.EEW != nil {
			for _, a := range r.EEW.Areas {
				add("q"+a.Code, "quake:"+a.Code)
			}
		}
		if r.Tsunami != nil {
			for _, it := range r.Tsunami.Forecast {
				add("t"+it.AreaCode, "tsunami:"+it.AreaCode)
			}
		}
		if g := r.Warnings.Level(jma.LevelCity); g != nil {
			for _, it := range g.Items {
				add("w"+it.AreaCode, "warning:"+it.AreaCode)
			}
		}
	}
	ix := index(t, users)
	quake3 := quakeRule("quake3", "3")
	quake5 := quakeRule("quake5", "5-")
	eew := quakeRule("eew", "4")
	eew.Earthquake.EEW = true
	major := Rule{ID: "major", Kind: KindTsunami, Tsunami: &TsunamiTrigger{Kinds: []TsunamiLevel{LevelMajor}}}
	any := Rule{ID: "any-tsunami", Kind: KindTsunami, Tsunami: &TsunamiTrigger{Kinds: []TsunamiLevel{LevelMajor, LevelWarning, LevelAdvisory}}}
	special := Rule{ID: "special", Kind: KindWeather, Weather: &WeatherTrigger{}}
	warnings := Rule{ID: "warnings", Kind: KindWeather, Weather: &WeatherTrigger{Kinds: []string{WeatherWarnings, WeatherSpecial}}}
	rs := []Rule{quake3, quake5, eew, major, any, special, warnings}

	expect := func(r *jma.Report, rule Rule) []string {
		out := []string{}
		if !r.Control.Status.Real() || r.Cancel() {
			return out
		}
		switch rule.Kind {
		case KindEarthquake:
			if r.Family == jma.FamilyEarthquake {
				for _, a := range r.Summary().Areas {
					if a.Effective.AtLeast(rule.Earthquake.Threshold) {
						out = append(out, "q"+a.Code)
					}
				}
			}
			if r.Family == jma.FamilyEEW && rule.Earthquake.EEW {
				for _, a := range r.EEW.Areas {
					if a.ForecastInt.From.AtLeast(rule.Earthquake.Threshold) {
						out = append(out, "q"+a.Code)
					}
				}
			}
		case KindTsunami:
			if r.Tsunami != nil {
				for _, it := range r.Tsunami.Forecast {
					if l := levelOf(it.Kind); l != "" && slices.Contains(rule.Tsunami.Kinds, l) {
						out = append(out, "t"+it.AreaCode)
					}
				}
			}
		case KindWeather:
			if g := r.Warnings.Level(jma.LevelCity); g != nil {
				for _, it := range g.Items {
					for _, k := range it.Kinds {
						if k.Status == jma.WarningIssued && weatherKindMatches(rule.Weather.Kinds, k.Code) {
							out = append(out, "w"+it.AreaCode)
							break
						}
					}
				}
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}

	// Facts about the samples, stated from their MANIFEST, so that the
	// comparison above cannot pass by both sides being empty.
	nonEmpty := map[string][]string{
		"VXSE51_32-35_04_02_100831_VXSE51.xml":      {"quake3"},
		"VXSE53_32-35_04_06_240613_VXSE53.xml":      {"quake3"},
		"VXSE43_37_01_01_240613_VXSE43.xml":         {"eew"},
		"VTSE41_32-39_11_02_250206_VTSE41.xml":      {"major", "any-tsunami"},
		"VTSE41_20231009064018_06274659_VTSE41.xml": {"any-tsunami"},
		"VPWW53_15_14_01_170216_VPWW53.xml":         {"special", "warnings"},
		"VPWW55_15_16_03_241226_VPWW55.xml":         {"warnings"},
	}
	never := []string{
		"VXSE52_32-35_01_02_240613_VXSE52.xml",      // 訓練
		"VXSE51_32-35_10_01_220510_VXSE51.xml",      // 取消
		"VXSE53_20230410231623_04156158_VXSE53.xml", // 遠地地震 (volcano), no intensity
		"VTSE41_20231009120003_08446949_VTSE41.xml", // advisory lifted
		"VTSE52_61_11_02_250206_VTSE52.xml",         // offshore observation, no forecast
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range reps {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Run(strings.TrimSuffix(name, ".xml"), func(t *testing.T) {
			r := reps[name]
			u := jma.NewTracker(nil).Apply(r)
			ds := Evaluate(u, rs, ix, r.Control.DateTime)
			got := map[string][]string{}
			for _, d := range ds {
				require.NotEqual(t, ActionDrill, d.Action, "no rule opts in to drills")
				if !d.Sends() {
					require.Zero(t, d.Count(), "%+v", d)
					continue
				}
				require.True(t, r.Control.Status.Real())
				got[d.Rule] = append(got[d.Rule], d.Recipients()...)
			}
			for _, rule := range rs {
				ids := got[rule.ID]
				if ids == nil {
					ids = []string{}
				}
				slices.Sort(ids)
				require.Equal(t, expect(r, rule), ids, "rule %s", rule.ID)
			}
			for _, id := range nonEmpty[name] {
				require.NotEmpty(t, got[id], "rule %s", id)
			}
			if slices.Contains(never, name) {
				require.Empty(t, got)
			}
		})
	}
}
