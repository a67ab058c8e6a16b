package jma

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return b
}

func parseFixture(t testing.TB, name string) *Report {
	t.Helper()
	r, err := Parse(fixture(t, name))
	require.NoError(t, err, name)
	return r
}

func TestParseIntensity(t *testing.T) {
	tests := []struct {
		in      string
		want    Intensity
		wantErr bool
	}{
		{"1", Intensity1, false},
		{"4", Intensity4, false},
		{"5-", Intensity5Lower, false},
		{"5+", Intensity5Upper, false},
		{"6-", Intensity6Lower, false},
		{"6+", Intensity6Upper, false},
		{"7", Intensity7, false},
		{"0", Intensity0, false},
		{" \r\n 5- \t", Intensity5Lower, false},
		{"", IntensityNone, false},
		{"震度３", Intensity3, false},
		{"震度５弱", Intensity5Lower, false},
		{"震度５強", Intensity5Upper, false},
		{"震度６弱", Intensity6Lower, false},
		{"震度６強", Intensity6Upper, false},
		{"震度７", Intensity7, false},
		{"６強", Intensity6Upper, false},
		{"震度５弱以上未入電", IntensityUnreceived5Lower, false},
		{"8", IntensityNone, true},
		{"5", IntensityNone, true},
		{"震度８", IntensityNone, true},
		{"震度６弱以上未入電", IntensityNone, true},
		{"over", IntensityNone, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseIntensity(tc.in)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			if got != IntensityNone {
				back, err := ParseIntensity(got.String())
				require.NoError(t, err)
				require.Equal(t, got, back, "String round trip")
				back, err = ParseIntensity(got.Japanese())
				require.NoError(t, err)
				require.Equal(t, got, back, "Japanese round trip")
			}
		})
	}
}

func TestIntensityOrder(t *testing.T) {
	order := Thresholds()
	for i := range order {
		for j := range order {
			require.Equal(t, i >= j, order[i].AtLeast(order[j]), "%s >= %s", order[i], order[j])
			require.Equal(t, cmpInt(i, j), order[i].Compare(order[j]))
		}
	}
	u := IntensityUnreceived5Lower
	require.True(t, u.AtLeast(Intensity4))
	require.True(t, u.AtLeast(Intensity5Lower))
	require.False(t, u.AtLeast(Intensity5Upper), "unreceived is undecidable above 5-")
	require.True(t, u.MayBeAtLeast(Intensity7))
	require.Equal(t, 1, u.Compare(Intensity5Lower))
	require.Equal(t, -1, u.Compare(Intensity5Upper))
	require.Equal(t, Intensity5Lower, u.Floor())
	require.False(t, IntensityNone.AtLeast(Intensity1))
	require.Equal(t, Intensity6Upper, Intensity6Upper.Max(u))
	require.Equal(t, u, Intensity4.Max(u))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestFixtureUnreceivedThreeForms(t *testing.T) {
	r := parseFixture(t, "vxse53_event_a_s1.xml")
	obs := r.Earthquake.Intensity
	require.Equal(t, Intensity7, obs.MaxInt)
	byArea := map[string]*IntensityArea{}
	for pi := range obs.Prefs {
		for ai := range obs.Prefs[pi].Areas {
			a := &obs.Prefs[pi].Areas[ai]
			byArea[a.Code] = a
		}
	}
	// 1. station Int.
	wajima := byArea["390"].Cities[1]
	require.Equal(t, "1720400", wajima.Code)
	require.Equal(t, IntensityUnreceived5Lower, wajima.Stations[1].Int)
	// 2. City/Condition without MaxInt, in an Area without MaxInt.
	kaga := byArea["391"]
	require.Equal(t, IntensityNone, kaga.MaxInt)
	require.Equal(t, IntensityNone, kaga.Cities[0].MaxInt)
	require.Equal(t, IntensityUnreceived5Lower, kaga.Cities[0].Effective())
	require.Equal(t, IntensityUnreceived5Lower, kaga.Effective())
	// City/Condition with MaxInt below 5弱.
	toyama := byArea["380"].Cities[0]
	require.Equal(t, Intensity4, toyama.MaxInt)
	require.Equal(t, IntensityUnreceived5Lower, toyama.Effective())
	// Pref without MaxInt.
	require.Equal(t, "16", obs.Prefs[1].Code)
	require.Equal(t, IntensityNone, obs.Prefs[1].MaxInt)
	// Unknown city and station codes are carried through.
	require.Equal(t, "9999999", byArea["390"].Cities[2].Code)
	require.Equal(t, "1799999", byArea["390"].Cities[2].Stations[0].Code)
	// 3. headline item.
	var hl []HeadlineKind
	for _, inf := range r.Head.Headline.Information {
		for _, it := range inf.Items {
			hl = append(hl, it.Kinds...)
		}
	}
	require.Contains(t, hl, HeadlineKind{Name: "震度５弱以上未入電", Intensity: IntensityUnreceived5Lower})
	require.Contains(t, hl, HeadlineKind{Name: "震度７", Intensity: Intensity7})
	// Summary agrees on effective values.
	s, err := Summarize(fixture(t, "vxse53_event_a_s1.xml"))
	require.NoError(t, err)
	require.Equal(t, []AreaSummary{
		{PrefCode: "17", Code: "390", MaxInt: Intensity7, Effective: Intensity7},
		{PrefCode: "17", Code: "391", MaxInt: IntensityNone, Effective: IntensityUnreceived5Lower},
		{PrefCode: "16", Code: "380", MaxInt: Intensity5Lower, Effective: IntensityUnreceived5Lower},
	}, s.Areas)
}

func TestFixtureFormattingTraps(t *testing.T) {
	b := fixture(t, "vxse51_crlf_nodecl.xml")
	require.False(t, strings.HasPrefix(string(b), "<?xml"), "fixture must lack the declaration")
	require.Contains(t, string(b), "\r\n")
	r, err := Parse(b)
	require.NoError(t, err)
	require.Equal(t, "VXSE51", r.Type)
	require.Equal(t, []string{"20240201100000"}, r.Head.EventIDs)
	require.Equal(t, "", r.Head.Serial)
	require.Equal(t, "2024-02-01T10:02:00+09:00", r.Head.ReportDateTimeRaw)
	obs := r.Earthquake.Intensity
	require.Equal(t, Intensity4, obs.MaxInt)
	require.Equal(t, "99", obs.Prefs[0].Code, "unknown prefecture code carried through")
	require.Equal(t, IntensityNone, obs.Prefs[0].MaxInt)
	require.Equal(t, "999", obs.Prefs[0].Areas[0].Code)
	require.Equal(t, Intensity4, obs.Prefs[0].Areas[0].MaxInt)
	require.Equal(t, IntensityNone, obs.Prefs[0].Areas[1].MaxInt)
}

func TestFixtureFarVolcano(t *testing.T) {
	r := parseFixture(t, "vxse53_far_volcano.xml")
	require.Equal(t, "VXSE53", r.Type)
	require.True(t, r.Earthquake.Far)
	require.Nil(t, r.Earthquake.Intensity)
	h := r.Earthquake.Hypocenter
	require.False(t, h.Magnitude.Known())
	require.True(t, math.IsNaN(h.Magnitude.Value))
	require.Equal(t, "不明", h.Magnitude.Condition)
	require.True(t, h.Coordinate.HasPosition)
	require.False(t, h.Coordinate.HasDepth, "深さ不明 has no depth component")
	require.InDelta(t, -20.5, h.Coordinate.Lat, 1e-9)
	require.InDelta(t, -175.4, h.Coordinate.Lon, 1e-9)
	require.Equal(t, "トンガ諸島", h.DetailedName)
	require.Equal(t, []string{"0229"}, r.Comments.ForecastCodes)
}

func TestFixtureCancelAndCorrection(t *testing.T) {
	c := parseFixture(t, "vxse53_event_a_cancel.xml")
	require.True(t, c.Cancel())
	require.Equal(t, "1", c.Head.Serial, "a cancel repeats the serial it cancels")
	require.Nil(t, c.Earthquake)
	require.Equal(t, "先ほどの、震源・震度情報を取り消します。", c.BodyText)
	x := parseFixture(t, "vxse53_event_a_s1_correction.xml")
	require.Equal(t, InfoCorrection, x.Head.InfoType)
	require.NotNil(t, x.Earthquake.Intensity)
	e := parseFixture(t, "vxse43_cancel.xml")
	require.True(t, e.Cancel())
	require.Equal(t, FamilyEEW, e.Family)
	require.Equal(t, "3", e.Head.Serial)
}

func TestFixtureEEW(t *testing.T) {
	r := parseFixture(t, "vxse43_plum.xml")
	require.Equal(t, "VXSE43", r.Type)
	e := r.EEW
	require.True(t, e.Warning)
	require.Equal(t, "仮定震源要素", e.Hypocenter.Condition)
	require.Equal(t, IntensityRange{From: Intensity6Lower, ToOver: true}, e.ForecastInt)
	require.Len(t, e.Areas, 2)
	require.Equal(t, "19", e.Areas[0].Kind.Code, "PLUM kind")
	require.Nil(t, e.Areas[0].ArrivalTime, "PLUM has no arrival time")
	require.Equal(t, "既に主要動到達と推測", e.Areas[0].Condition)
	require.NotNil(t, e.Areas[1].ArrivalTime)
	require.Equal(t, "9120", e.Areas[1].PrefCode)
	require.NotEmpty(t, e.NextAdvisory, "final report")
	require.InDelta(t, 10, e.Hypocenter.Coordinate.DepthKm, 1e-9)

	tst := parseFixture(t, "vxse42_test.xml")
	require.Equal(t, "VXSE42", tst.Type)
	require.Equal(t, FamilyEEW, tst.Family)
	require.Equal(t, StatusTest, tst.Control.Status)
	require.False(t, tst.Control.Status.Real())
}

func TestFixtureTsunami(t *testing.T) {
	r := parseFixture(t, "vtse41_event_t_1.xml")
	require.Equal(t, []string{"20240101161010", "20240101161800"}, r.Head.EventIDs, "several space-separated EventIDs")
	require.Equal(t, "20240101161010 20240101161800", r.Head.EventID())
	// Headline uses a grouped region code (195) that is not a forecast region.
	require.Equal(t, "195", r.Head.Headline.Information[0].Items[1].Areas[0].Code)
	require.Equal(t, TsunamiNone, r.Tsunami.Forecast[0].LastKind)

	r2 := parseFixture(t, "vtse41_event_t_2.xml")
	it := r2.Tsunami.Forecast[0]
	require.Equal(t, TsunamiMajorIssued, it.Kind)
	require.True(t, it.Kind.Major())
	require.Equal(t, TsunamiWarning, it.LastKind)
	require.False(t, it.MaxHeight.Known())
	require.Equal(t, "巨大", it.MaxHeight.Description)
	require.Equal(t, "重要", it.MaxHeight.Note)
	require.Equal(t, "ただちに津波来襲と予測", it.FirstCondition)
	require.NotNil(t, r2.Tsunami.Forecast[2].FirstArrival)
	require.Equal(t, "2024-01-01T16:30:00+09:00", r2.Tsunami.Forecast[2].FirstArrival.Format("2006-01-02T15:04:05-07:00"))

	r3 := parseFixture(t, "vtse51_event_t_1.xml")
	require.Equal(t, TsunamiMajor, r3.Tsunami.Forecast[0].Kind)
	require.True(t, r3.Tsunami.Forecast[0].Kind.Major(), "52 and 53 are both major")
	require.Len(t, r3.Tsunami.Observations, 1)
	require.InDelta(t, 1.2, r3.Tsunami.Observations[0].Stations[0].MaxHeight.Value, 1e-9)
	require.Equal(t, "引き", r3.Tsunami.Observations[0].Stations[0].Initial)

	r4 := parseFixture(t, "vtse52_empty_area.xml")
	require.Equal(t, "", r4.Tsunami.Observations[0].AreaCode)
	require.Equal(t, "38090", r4.Tsunami.Observations[0].Stations[0].Code)
	require.Equal(t, "高い", r4.Tsunami.Estimations[0].MaxHeight.Description)

	r5 := parseFixture(t, "vtse41_event_t_lift.xml")
	require.NotNil(t, r5.Head.ValidDateTime)
	require.Equal(t, "2024-01-02T17:00:00+09:00", r5.Head.ValidDateTime.Format("2006-01-02T15:04:05-07:00"))
	for _, it := range r5.Tsunami.Forecast {
		require.True(t, it.Kind.Lifted())
		require.True(t, it.Kind.SlightChange())
		require.Positive(t, it.LastKind.Level())
	}
}

func TestFixtureWarnings(t *testing.T) {
	r := parseFixture(t, "vpww53_pair_1.xml")
	require.Equal(t, "VPWW53", r.Type)
	require.Empty(t, r.Head.EventIDs)
	require.Equal(t, "", r.Head.Serial)
	city := r.Warnings.Level(LevelCity)
	require.NotNil(t, city)
	require.Len(t, city.Items, 3)
	wajima := city.Items[0]
	require.Equal(t, "1720400", wajima.AreaCode)
	require.Equal(t, []string{"07", "15", "33"}, activeCodes(wajima.Kinds))
	require.Equal(t, SeveritySpecial, KindSeverity("33"))
	require.Equal(t, "15", wajima.Kinds[2].Code, "NextKind codes are not taken as the Kind code")
	nanao := city.Items[2]
	require.Equal(t, WarningNone, nanao.Kinds[0].Status)
	require.Equal(t, "", nanao.Kinds[0].Code)
	require.False(t, nanao.Kinds[0].Active())
	require.Equal(t, "170000", warningPref(r))

	r56 := parseFixture(t, "vpww56_levels.xml")
	require.Equal(t, "VPWW56", r56.Type)
	c56 := r56.Warnings.Level(LevelCity)
	require.Equal(t, "39", c56.Items[0].Kinds[0].Code)
	require.Equal(t, &CodeName{Name: "レベル４土砂災害危険警報", Code: "49"}, c56.Items[0].Kinds[0].LastKind)
	require.Equal(t, SeveritySpecial, KindSeverity("39"))
	require.Equal(t, SeverityDanger, KindSeverity("49"))
	require.Equal(t, SeverityDanger, KindSeverity("43"))
	require.Equal(t, SeverityDanger, KindSeverity("48"))
	require.Equal(t, SeverityWarning, KindSeverity("09"))
	require.Equal(t, SeverityAdvisory, KindSeverity("29"))
	require.Equal(t, SeverityNone, KindSeverity("00"))

	n := parseFixture(t, "vpno50.xml")
	require.Equal(t, "VPNO50", n.Type)
	require.Equal(t, FamilyNotice, n.Family)
	require.Equal(t, NamespaceMeteorology, n.BodyNamespace)
	require.Equal(t, []NoticeArea{{Name: "石川県", Code: "170000", Kinds: []CodeName{{Name: "大雨特別警報", Code: "33"}}}}, n.Notice.Areas)
}

func TestFixtureUnsupportedAndErrors(t *testing.T) {
	r := parseFixture(t, "unsupported_vfvo53.xml")
	require.Equal(t, FamilyUnsupported, r.Family)
	require.False(t, r.Supported())
	require.Equal(t, "", r.Type)
	require.Equal(t, "降灰予報（定時）", r.Control.Title)
	require.Equal(t, NamespaceVolcanology, r.BodyNamespace)

	_, err := Parse(fixture(t, "bad_maxint.xml"))
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrInvalidValue))
	require.Equal(t, `jma: parse VXSE53: Body/Intensity/Observation/MaxInt: unknown MaxInt "8"`, err.Error())
	_, err = Summarize(fixture(t, "bad_maxint.xml"))
	require.ErrorIs(t, err, ErrInvalidValue)
	require.Contains(t, err.Error(), `unknown MaxInt "8"`)
}

func TestMalformedAndHostileInputs(t *testing.T) {
	big := make([]byte, MaxDocumentSize+1)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrSyntax},
		{"not xml", []byte("hello"), ErrSyntax},
		{"wrong root", []byte(`<feed xmlns="http://www.w3.org/2005/Atom"></feed>`), ErrNotReport},
		{"unclosed", []byte(`<Report><Control><Title>震度速報</Title></Control>`), ErrSyntax},
		{"mismatched", []byte(`<Report><Control></Head></Report>`), ErrSyntax},
		{"too large", big, ErrTooLarge},
		{"undeclared entity", []byte(`<Report><Control><Title>&xxe;</Title></Control></Report>`), ErrSyntax},
		{"external entity", []byte(`<?xml version="1.0"?><!DOCTYPE Report [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Report><Control><Title>&xxe;</Title></Control></Report>`), ErrSyntax},
		{"shift_jis", []byte(`<?xml version="1.0" encoding="Shift_JIS"?><Report></Report>`), ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			require.ErrorIs(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "jma: parse"), err.Error())
			_, err = Summarize(tc.in)
			require.ErrorIs(t, err, tc.want)
		})
	}
	// A DOCTYPE without entity use is accepted and nothing is resolved.
	doc := []byte(`<!DOCTYPE Report SYSTEM "http://127.0.0.1:1/never-fetched.dtd"><Report><Control><Title>震度速報</Title><Status>通常</Status></Control></Report>`)
	r, err := Parse(doc)
	require.NoError(t, err)
	require.Equal(t, "VXSE51", r.Type)
	s, err := Summarize(doc)
	require.NoError(t, err)
	require.Equal(t, "VXSE51", s.Type)
}

func TestPrefixedBodyAndNilTargetDateTime(t *testing.T) {
	doc := strings.NewReplacer(
		`<TargetDateTime>2024-01-01T16:19:00+09:00</TargetDateTime>`, `<TargetDateTime xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>`,
		`<Body xmlns="http://xml.kishou.go.jp/jmaxml1/body/seismology1/"`, `<seis:Body xmlns:seis="http://xml.kishou.go.jp/jmaxml1/body/seismology1/" xmlns="http://xml.kishou.go.jp/jmaxml1/body/seismology1/"`,
		`</Body>`, `</seis:Body>`,
	).Replace(string(fixture(t, "vxse53_event_b_s1.xml")))
	require.Contains(t, doc, "seis:Body")
	require.Contains(t, doc, "xsi:nil")
	r, err := Parse([]byte(doc))
	require.NoError(t, err)
	require.Nil(t, r.Head.TargetDateTime)
	require.Equal(t, NamespaceSeismology, r.BodyNamespace)
	require.Equal(t, FamilyEarthquake, r.Family)
	s, err := Summarize([]byte(doc))
	require.NoError(t, err)
	require.Equal(t, r.Summary(), s)
	require.Len(t, s.Areas, 1)

	// A Body in the wrong namespace is not routed as an earthquake.
	wrong := strings.Replace(doc, "body/seismology1/", "body/meteorology1/", -1)
	r, err = Parse([]byte(wrong))
	require.NoError(t, err)
	require.Equal(t, FamilyUnsupported, r.Family)
	s, err = Summarize([]byte(wrong))
	require.NoError(t, err)
	require.Equal(t, FamilyUnsupported, s.Family)
}
