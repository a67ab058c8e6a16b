package jma

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// sampleFact is what a person reads off a sample file (and its MANIFEST note).
type sampleFact struct {
	file     string
	typ      string
	family   Family
	status   Status
	info     InfoType
	eventIDs []string
	serial   string
	rdt      string // Head/ReportDateTime as written
	office   string // Control/EditorialOffice

	epicenter string  // Body/Earthquake hypocenter name
	mag       float64 // NaN when unknown
	far       bool
	maxInt    Intensity
	stations  int

	eewFrom, eewTo Intensity

	tsunamiKinds map[TsunamiKind]int // Forecast/Item Kind counts
	validTime    bool

	warnStatus map[WarningStatus]int // Body Kind/Status counts over all levels
	special    bool                  // a 特別警報 kind is in force
}

var nan = math.NaN()

func sampleFacts() []sampleFact {
	return []sampleFact{
		{file: "VXSE51_201504030407_sokuhou.xml", typ: "VXSE51", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20150403040453"}, rdt: "2015-04-03T04:07:00+09:00", office: "気象庁本庁", maxInt: Intensity3, mag: nan},
		{file: "VXSE51_20210217140808_0_VXSE51_010000.xml", typ: "VXSE51", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20210217230627"}, rdt: "2021-02-17T23:08:00+09:00", office: "気象庁本庁", maxInt: Intensity3, mag: nan},
		{file: "VXSE51_32-35_04_02_100831_VXSE51.xml", typ: "VXSE51", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20100125161517"}, rdt: "2010-01-25T16:18:00+09:00", office: "気象庁本庁", maxInt: Intensity4, mag: nan},
		{file: "VXSE51_32-35_10_01_220510_VXSE51.xml", typ: "VXSE51", family: FamilyEarthquake, status: StatusNormal, info: InfoCancel, eventIDs: []string{"20220509152315"}, rdt: "2022-05-10T18:10:00+09:00", office: "気象庁本庁", mag: nan},
		{file: "VXSE52_201504030408_singen.xml", typ: "VXSE52", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20150403040453"}, rdt: "2015-04-03T04:08:00+09:00", office: "気象庁本庁", epicenter: "宮城県沖", mag: 4.7},
		{file: "VXSE52_20210217140847_0_VXSE52_010000.xml", typ: "VXSE52", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20210217230627"}, rdt: "2021-02-17T23:08:00+09:00", office: "気象庁本庁", epicenter: "福島県沖", mag: 4.5},
		{file: "VXSE52_32-35_01_02_240613_VXSE52.xml", typ: "VXSE52", family: FamilyEarthquake, status: StatusTraining, info: InfoIssued, eventIDs: []string{"20091001134500"}, rdt: "2009-10-01T13:48:00+09:00", office: "気象庁本庁", epicenter: "駿河湾", mag: 6.6},
		{file: "VXSE52_32-35_04_03_240613_VXSE52.xml", typ: "VXSE52", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20100125161517"}, rdt: "2010-01-25T16:18:00+09:00", office: "大阪管区気象台", epicenter: "大隅半島東方沖", mag: 5.3},
		{file: "VXSE53_201503060810_jishin.xml", typ: "VXSE53", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20150306080609"}, serial: "1", rdt: "2015-03-06T08:10:00+09:00", office: "気象庁本庁", epicenter: "日高地方中部", mag: 4.9, maxInt: Intensity3, stations: 179},
		{file: "VXSE53_20210216071046_0_VXSE53_270000.xml", typ: "VXSE53", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20210216160714"}, serial: "1", rdt: "2021-02-16T16:10:00+09:00", office: "大阪管区気象台", epicenter: "大阪府南部", mag: 1.5, maxInt: Intensity1, stations: 1},
		{file: "VXSE53_20210217140958_0_VXSE53_010000.xml", typ: "VXSE53", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20210217230627"}, serial: "1", rdt: "2021-02-17T23:09:00+09:00", office: "気象庁本庁", epicenter: "福島県沖", mag: 4.5, maxInt: Intensity3, stations: 183},
		{file: "VXSE53_20230410231623_04156158_VXSE53.xml", typ: "VXSE53", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20230410221000"}, serial: "1", rdt: "2023-04-10T23:16:00+09:00", office: "気象庁本庁", epicenter: "カムチャツカ半島付近", mag: nan, far: true},
		{file: "VXSE53_20230411000017_05859620_VXSE53.xml", typ: "VXSE53", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20230410221000"}, serial: "2", rdt: "2023-04-11T00:00:00+09:00", office: "気象庁本庁", epicenter: "カムチャツカ半島付近", mag: nan, far: true},
		{file: "VXSE53_32-35_04_04_240613_VXSE53.xml", typ: "VXSE53", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20100125161517"}, serial: "1", rdt: "2010-01-25T16:19:00+09:00", office: "大阪管区気象台", epicenter: "大隅半島東方沖", mag: 5.3, maxInt: Intensity4, stations: 136},
		{file: "VXSE53_32-35_04_06_240613_VXSE53.xml", typ: "VXSE53", family: FamilyEarthquake, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20100125161517"}, serial: "2", rdt: "2010-01-25T16:25:00+09:00", office: "大阪管区気象台", epicenter: "大隅半島東方沖", mag: 5.3, maxInt: Intensity4, stations: 160},
		{file: "VXSE43_37_01_01_240613_VXSE43.xml", typ: "VXSE43", family: FamilyEEW, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20240417231454"}, serial: "1", rdt: "2024-04-17T23:14:59+09:00", office: "気象庁本庁", epicenter: "豊後水道", mag: 5.8, eewFrom: Intensity5Lower, eewTo: Intensity5Lower},
		{file: "VXSE44_36_01_01_240613_VXSE44.xml", typ: "VXSE44", family: FamilyEEW, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20240417231454"}, serial: "1", rdt: "2024-04-17T23:14:57+09:00", office: "気象庁本庁", epicenter: "豊後水道", mag: 4.2, eewFrom: Intensity3, eewTo: Intensity3},
		{file: "VXSE45_77_01_01_240613_VXSE45.xml", typ: "VXSE45", family: FamilyEEW, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20240417231454"}, serial: "1", rdt: "2024-04-17T23:14:57+09:00", office: "気象庁本庁", epicenter: "豊後水道", mag: 4.2, eewFrom: Intensity3, eewTo: Intensity3},
		{file: "VXSE45_77_01_04_240613_VXSE45.xml", typ: "VXSE45", family: FamilyEEW, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20240417231454"}, serial: "4", rdt: "2024-04-17T23:14:59+09:00", office: "気象庁本庁", epicenter: "豊後水道", mag: 5.8, eewFrom: Intensity5Lower, eewTo: Intensity5Lower},
		{file: "VTSE41_20231009064018_06274659_VTSE41.xml", typ: "VTSE41", family: FamilyTsunami, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20231009052500"}, rdt: "2023-10-09T06:40:00+09:00", office: "気象庁本庁", epicenter: "鳥島近海", mag: nan, tsunamiKinds: map[TsunamiKind]int{"62": 2}},
		{file: "VTSE41_20231009120003_08446949_VTSE41.xml", typ: "VTSE41", family: FamilyTsunami, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20231009052500"}, rdt: "2023-10-09T12:00:00+09:00", office: "気象庁本庁", epicenter: "鳥島近海", mag: nan, tsunamiKinds: map[TsunamiKind]int{"71": 0, "72": 0, "73": 0}, validTime: true},
		{file: "VTSE41_32-39_11_02_250206_VTSE41.xml", typ: "VTSE41", family: FamilyTsunami, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20110311144640"}, rdt: "2011-03-11T14:49:00+09:00", office: "大阪管区気象台", epicenter: "三陸沖", mag: nan, tsunamiKinds: map[TsunamiKind]int{"53": 3, "51": 5, "62": 15, "71": 20}},
		{file: "VTSE41_38-39_02_01_250206_VTSE41.xml", typ: "VTSE41", family: FamilyTsunami, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20151114055157"}, rdt: "2015-11-14T05:56:00+09:00", office: "大阪管区気象台", epicenter: "薩摩半島西方沖", mag: 7.0, tsunamiKinds: map[TsunamiKind]int{"62": 3, "71": 7}},
		{file: "VTSE51_38-39_02_02_250206_VTSE51.xml", typ: "VTSE51", family: FamilyTsunami, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20151114055157"}, serial: "1", rdt: "2015-11-14T05:58:00+09:00", office: "大阪管区気象台", epicenter: "薩摩半島西方沖", mag: 7.0, tsunamiKinds: map[TsunamiKind]int{"62": 3, "71": 7}},
		{file: "VTSE52_61_11_02_250206_VTSE52.xml", typ: "VTSE52", family: FamilyTsunami, status: StatusNormal, info: InfoIssued, eventIDs: []string{"20110311144640"}, serial: "2", rdt: "2011-03-11T14:55:00+09:00", office: "大阪管区気象台", epicenter: "三陸沖", mag: nan, tsunamiKinds: map[TsunamiKind]int{}},
		{file: "VPWW53_15_12_03_161130_VPWW53.xml", typ: "VPWW53", family: FamilyWarning, status: StatusNormal, info: InfoIssued, rdt: "2016-07-15T16:03:00+09:00", office: "横浜地方気象台", mag: nan, warnStatus: map[WarningStatus]int{WarningIssued: 65}},
		{file: "VPWW53_15_14_01_170216_VPWW53.xml", typ: "VPWW53", family: FamilyWarning, status: StatusNormal, info: InfoIssued, rdt: "2017-01-26T17:20:00+09:00", office: "気象庁本庁", mag: nan, warnStatus: map[WarningStatus]int{WarningIssued: 16, WarningNone: 68}, special: true},
		{file: "VPWW53_201504022028_keihou.xml", typ: "VPWW53", family: FamilyWarning, status: StatusNormal, info: InfoIssued, rdt: "2015-04-02T20:28:00+09:00", office: "熊本地方気象台", mag: nan, warnStatus: map[WarningStatus]int{WarningContinued: 22, WarningIssued: 9, WarningNone: 33}},
		{file: "VPWW53_202403200953_weatherAlart1-2.xml", typ: "VPWW53", family: FamilyWarning, status: StatusNormal, info: InfoIssued, rdt: "2024-03-20T09:53:00+09:00", office: "盛岡地方気象台", mag: nan, warnStatus: map[WarningStatus]int{WarningIssued: 19, WarningContinued: 47}},
		{file: "VPWW54_15_12_03_161130_VPWW54.xml", typ: "VPWW54", family: FamilyWarning, status: StatusNormal, info: InfoIssued, rdt: "2016-07-15T16:03:00+09:00", office: "横浜地方気象台", mag: nan, warnStatus: map[WarningStatus]int{WarningIssued: 65}},
		{file: "VPWW54_15_14_01_170216_VPWW54.xml", typ: "VPWW54", family: FamilyWarning, status: StatusNormal, info: InfoIssued, rdt: "2017-01-26T17:20:00+09:00", office: "気象庁本庁", mag: nan, warnStatus: map[WarningStatus]int{WarningIssued: 16, WarningNone: 68}, special: true},
		{file: "VPWW55_15_16_03_241226_VPWW55.xml", typ: "VPWW55", family: FamilyWarning, status: StatusNormal, info: InfoIssued, rdt: "2020-06-22T23:00:00+09:00", office: "稚内地方気象台", mag: nan, warnStatus: map[WarningStatus]int{WarningIssued: 4, WarningContinued: 11}},
	}
}

func TestSamplesFacts(t *testing.T) {
	dir := samplesDir(t)
	facts := sampleFacts()
	// Every XML report in the directory has a row.
	files, err := filepath.Glob(filepath.Join(dir, "V*.xml"))
	require.NoError(t, err)
	require.Len(t, facts, len(files), "every sample needs a fact row")
	for _, f := range facts {
		t.Run(f.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, f.file))
			require.NoError(t, err)
			r, err := Parse(b)
			require.NoError(t, err)
			require.Equal(t, f.typ, r.Type)
			require.Equal(t, f.family, r.Family)
			require.Equal(t, f.status, r.Control.Status)
			require.Equal(t, f.info, r.Head.InfoType)
			if f.eventIDs == nil {
				require.Empty(t, r.Head.EventIDs)
			} else {
				require.Equal(t, f.eventIDs, r.Head.EventIDs)
			}
			require.Equal(t, f.serial, r.Head.Serial)
			require.Equal(t, f.rdt, r.Head.ReportDateTimeRaw)
			require.Equal(t, f.rdt, r.Head.ReportDateTime.Format("2006-01-02T15:04:05-07:00"))
			require.Equal(t, "JST", r.Head.ReportDateTime.Location().String())
			require.Equal(t, "UTC", r.Control.DateTime.Location().String())
			require.Equal(t, f.office, r.Control.EditorialOffice)

			var hyp *Hypocenter
			switch {
			case r.Earthquake != nil:
				hyp = r.Earthquake.Hypocenter
				require.Equal(t, f.far, r.Earthquake.Far)
			case r.EEW != nil:
				hyp = r.EEW.Hypocenter
			case r.Tsunami != nil:
				hyp = r.Tsunami.Hypocenter
			}
			if f.epicenter != "" {
				require.NotNil(t, hyp)
				require.Equal(t, f.epicenter, hyp.Name)
				if math.IsNaN(f.mag) {
					require.False(t, hyp.Magnitude.Known(), "magnitude should be unknown")
				} else {
					require.InDelta(t, f.mag, hyp.Magnitude.Value, 1e-9)
				}
			}
			var maxInt Intensity
			stations := 0
			if r.Earthquake != nil && r.Earthquake.Intensity != nil {
				maxInt = r.Earthquake.Intensity.MaxInt
				for _, p := range r.Earthquake.Intensity.Prefs {
					for _, a := range p.Areas {
						for _, c := range a.Cities {
							stations += len(c.Stations)
						}
					}
				}
			}
			require.Equal(t, f.maxInt, maxInt)
			require.Equal(t, f.stations, stations)
			if f.family == FamilyEEW {
				require.Equal(t, f.eewFrom, r.EEW.ForecastInt.From)
				require.Equal(t, f.eewTo, r.EEW.ForecastInt.To)
				// Serial-1 forecasts (震度3) list no areas; the 5弱 ones list the warned areas.
				if f.eewFrom.AtLeast(Intensity5Lower) {
					require.NotEmpty(t, r.EEW.Areas)
				} else {
					require.Empty(t, r.EEW.Areas)
				}
			}
			if f.tsunamiKinds != nil {
				got := map[TsunamiKind]int{}
				for _, it := range r.Tsunami.Forecast {
					got[it.Kind]++
				}
				if f.validTime {
					// Only 若干の海面変動 remains: every item is a lifted forecast (71/72/73).
					require.NotNil(t, r.Head.ValidDateTime)
					require.Len(t, r.Tsunami.Forecast, 15)
					for _, it := range r.Tsunami.Forecast {
						require.True(t, it.Kind.SlightChange(), "kind %s", it.Kind)
					}
				} else {
					require.Equal(t, f.tsunamiKinds, got)
				}
			}
			if f.warnStatus != nil {
				got := map[WarningStatus]int{}
				special := false
				for _, g := range r.Warnings.Groups {
					for _, it := range g.Items {
						for _, k := range it.Kinds {
							got[k.Status]++
							if k.Active() && KindSeverity(k.Code) == SeveritySpecial {
								special = true
							}
						}
					}
				}
				require.Equal(t, f.warnStatus, got)
				require.Equal(t, f.special, special)
				require.Empty(t, r.Head.EventIDs)
				require.NotNil(t, r.Warnings.Level(LevelCity))
			}
		})
	}
}
