package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/anpikit/anpi/jma"
)

// match returns the regions of the update that satisfy the rule, strongest
// first; active says whether any matching weather kind is still in force;
// info explains an empty result.
func match(r *Rule, u *jma.Update) (ms []Match, active bool, info string) {
	switch r.Kind {
	case KindEarthquake:
		ms, info = matchQuake(r, u)
	case KindTsunami:
		ms, info = matchTsunami(r, u)
	case KindWeather:
		ms, active, info = matchWeather(r, u)
	}
	slices.SortFunc(ms, func(a, b Match) int { return cmp.Or(cmp.Compare(b.level, a.level), cmp.Compare(a.Region, b.Region)) })
	return ms, active, info
}

func matchQuake(r *Rule, u *jma.Update) ([]Match, string) {
	e := r.Earthquake
	var ms []Match
	best := jma.IntensityNone
	for _, f := range u.Quake {
		if f.Forecast && !e.EEW {
			continue
		}
		if !inFilter(f.Area, f.Pref, e.Areas, e.Prefectures) {
			continue
		}
		v := f.Intensity
		if v.Unreceived() && r.Options.Unreceived == UnreceivedIgnore {
			v = definiteIntensity(u.Report, f.Area)
		}
		best = best.Max(v)
		if !v.AtLeast(e.Threshold) {
			continue
		}
		ms = append(ms, Match{Region: RegionKey(RegionQuake, f.Area), Pref: f.Pref, Intensity: v, level: int(v.Floor())})
	}
	if len(ms) == 0 {
		if best == jma.IntensityNone {
			return nil, fmt.Sprintf("below threshold %s: no area in the rule's scope reported", e.Threshold)
		}
		return nil, fmt.Sprintf("below threshold %s: highest in scope %s", e.Threshold, best)
	}
	return ms, ""
}

// definiteIntensity is the highest received intensity of an area in the
// report, ignoring 震度５弱以上未入電 (the UnreceivedIgnore policy).
func definiteIntensity(rep *jma.Report, area string) jma.Intensity {
	v := jma.IntensityNone
	if rep == nil || rep.Earthquake == nil || rep.Earthquake.Intensity == nil {
		return v
	}
	for _, p := range rep.Earthquake.Intensity.Prefs {
		for i := range p.Areas {
			a := &p.Areas[i]
			if a.Code != area {
				continue
			}
			if !a.MaxInt.Unreceived() {
				v = v.Max(a.MaxInt)
			}
			for _, c := range a.Cities {
				if !c.MaxInt.Unreceived() {
					v = v.Max(c.MaxInt)
				}
				for _, st := range c.Stations {
					if !st.Int.Unreceived() {
						v = v.Max(st.Int)
					}
				}
			}
		}
	}
	return v
}

// inFilter reports whether an area is within the rule's areas or
// prefectures (everything when both are empty).
func inFilter(area, pref string, areas, prefs []string) bool {
	if len(areas) == 0 && len(prefs) == 0 {
		return true
	}
	return slices.Contains(areas, area) || (pref != "" && slices.Contains(prefs, pref))
}

func tsunamiLevels(r *Rule) []TsunamiLevel {
	if len(r.Tsunami.Kinds) == 0 {
		return []TsunamiLevel{LevelMajor, LevelWarning}
	}
	return r.Tsunami.Kinds
}

func levelOf(k jma.TsunamiKind) TsunamiLevel {
	switch k.Level() {
	case 3:
		return LevelMajor
	case 2:
		return LevelWarning
	case 1:
		return LevelAdvisory
	}
	return ""
}

func matchTsunami(r *Rule, u *jma.Update) ([]Match, string) {
	t := r.Tsunami
	levels := tsunamiLevels(r)
	var ms []Match
	for _, f := range u.Tsunami {
		l := levelOf(f.Kind)
		if l == "" || !slices.Contains(levels, l) {
			continue
		}
		if len(t.Regions) > 0 && !slices.Contains(t.Regions, f.Region) {
			continue
		}
		ms = append(ms, Match{Region: RegionKey(RegionTsunami, f.Region), TsunamiKind: f.Kind, level: f.Kind.Level()})
	}
	if len(ms) == 0 {
		return nil, fmt.Sprintf("no region in scope under %s", joinLevels(levels))
	}
	return ms, ""
}

func joinLevels(ls []TsunamiLevel) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = string(l)
	}
	return strings.Join(s, "/")
}

// weatherKindMatches reports whether a kind code is one the rule reacts to.
func weatherKindMatches(kinds []string, code string) bool {
	sev := jma.KindSeverity(code)
	if len(kinds) == 0 {
		return sev == jma.SeveritySpecial
	}
	for _, k := range kinds {
		switch {
		case k == code:
			return true
		case k == WeatherSpecial && sev == jma.SeveritySpecial:
			return true
		case k == WeatherWarnings && (sev == jma.SeverityWarning || sev == jma.SeverityDanger):
			return true
		}
	}
	return false
}

func inWeatherFilter(area, pref string, w *WeatherTrigger) bool {
	if len(w.Areas) == 0 && len(w.Prefectures) == 0 {
		return true
	}
	if slices.Contains(w.Areas, area) {
		return true
	}
	for _, p := range w.Prefectures {
		if (len(p) == 2 && strings.HasPrefix(area, p)) || (len(p) == 6 && p == pref) {
			return true
		}
	}
	return false
}

func matchWeather(r *Rule, u *jma.Update) ([]Match, bool, string) {
	w := r.Weather
	var ms []Match
	active := false
	for _, f := range u.Warnings {
		if !inWeatherFilter(f.Area, f.Pref, w) {
			continue
		}
		for _, c := range f.Active {
			if weatherKindMatches(w.Kinds, c) {
				active = true
			}
		}
		var kinds []string
		lvl := 0
		for _, c := range f.Issued {
			if weatherKindMatches(w.Kinds, c) {
				kinds = append(kinds, c)
				lvl = max(lvl, int(jma.KindSeverity(c)))
			}
		}
		if len(kinds) == 0 {
			continue
		}
		ms = append(ms, Match{Region: RegionKey(RegionWarning, f.Area), Pref: f.Pref, WarningKinds: kinds, level: lvl})
	}
	if len(ms) == 0 {
		if active {
			return nil, true, "no matching warning newly issued (継続 and 解除 never fire)"
		}
		return nil, false, "no matching warning in force"
	}
	return ms, true, ""
}
