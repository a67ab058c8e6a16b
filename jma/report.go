package jma

import (
	"math"
	"time"
)

// Report is one parsed JMA document. Exactly one of Earthquake, EEW, Tsunami,
// Warnings and Notice is set for a supported family; none is set for
// FamilyUnsupported, and a 取消 report carries only BodyText.
type Report struct {
	Type          string  // data type code from Control/Title, e.g. "VXSE53"; "" when unknown
	Family        Family  // routing family (Body namespace and Control/Title)
	Control       Control // 管理部
	Head          Head    // ヘッダ部
	BodyNamespace string  // namespace URI of Body; "" when there is no Body

	Earthquake *Earthquake // VXSE51/52/53
	EEW        *EEW        // VXSE42/43/44/45
	Tsunami    *Tsunami    // VTSE41/51/52
	Warnings   *Warnings   // VPWW53/54/55–61
	Notice     *Notice     // VPNO50 (Headline only)

	BodyText string   // Body/Text (the text of a 取消, or a free body text)
	Comments Comments // Body/Comments codes and texts
}

// Supported reports whether the report's family is typed by this package.
func (r *Report) Supported() bool { return r.Family != FamilyUnsupported }

// Cancel reports whether Head/InfoType is 取消.
func (r *Report) Cancel() bool { return r.Head.InfoType == InfoCancel }

// Control is the 管理部. DateTime is in UTC.
type Control struct {
	Title            string    // information name, the routing key (e.g. 震源・震度に関する情報)
	DateTime         time.Time // UTC
	Status           Status    // 通常, 訓練 or 試験
	EditorialOffice  string    // e.g. 気象庁本庁, 大阪管区気象台
	PublishingOffice []string  // xs:list: space-separated offices
}

// Head is the ヘッダ部. Times are in JST (UTC+9).
type Head struct {
	Title             string     // e.g. 震源・震度情報, 遠地地震に関する情報, <県>気象警報・注意報
	ReportDateTime    time.Time  // JST
	ReportDateTimeRaw string     // as written, e.g. "2021-02-17T23:09:00+09:00"
	TargetDateTime    *time.Time // nil when absent or xsi:nil
	ValidDateTime     *time.Time // nil when absent
	EventIDs          []string   // space-separated list; empty for weather warnings
	InfoType          InfoType   // 発表, 訂正, 遅延 or 取消
	Serial            string     // often empty
	InfoKind          string     // e.g. 地震情報
	InfoKindVersion   string     // e.g. 1.0_1
	Headline          Headline   // summary for display
}

// EventID returns the EventIDs joined by a space ("" when there are none).
func (h *Head) EventID() string {
	switch len(h.EventIDs) {
	case 0:
		return ""
	case 1:
		return h.EventIDs[0]
	}
	s := h.EventIDs[0]
	for _, id := range h.EventIDs[1:] {
		s += " " + id
	}
	return s
}

// Headline is Head/Headline: a summary for display. Rules should use the Body.
type Headline struct {
	Text        string                // free text
	Information []HeadlineInformation // Information blocks
}

// HeadlineInformation is one Headline/Information block.
type HeadlineInformation struct {
	Type  string         // @type, e.g. "震源・震度に関する情報（細分区域）"
	Items []HeadlineItem // Information/Item
}

// HeadlineItem is one Information/Item.
type HeadlineItem struct {
	Kinds         []HeadlineKind // Item/Kind
	AreasCodeType string         // Areas/@codeType
	Areas         []CodeName     // Areas/Area (may be grouped-region codes)
}

// HeadlineKind is an Item/Kind. Intensity is set when Name is an intensity
// name such as "震度５弱" or "震度５弱以上未入電".
type HeadlineKind struct {
	Name      string    // e.g. 震度５弱, 津波注意報
	Code      string    // kind code (may be empty)
	Condition string    // Kind/Condition
	LastKind  *CodeName // Kind/LastKind, nil when absent
	Intensity Intensity // parsed from Name when it is an intensity
}

// CodeName is a name with its code; codes are kept verbatim.
type CodeName struct {
	Name string // name as written
	Code string // code, verbatim
}

// Comments holds the fixed (固定付加文) comment codes and free text of a Body.
type Comments struct {
	WarningCodes  []string // WarningComment codes
	ForecastCodes []string // ForecastComment codes (e.g. 0215 津波の心配はありません)
	VarCodes      []string // VarComment codes
	FreeForm      string   // FreeFormComment text
}

// Earthquake is the Body of VXSE51, VXSE52 and VXSE53.
type Earthquake struct {
	Far        bool                  // Head/Title 遠地地震に関する情報 (may be a volcanic eruption)
	Hypocenter *Hypocenter           // nil on VXSE51 and when absent
	Intensity  *IntensityObservation // nil on VXSE52, 遠地 and when absent
}

// Hypocenter is Body/Earthquake (origin, epicentre, magnitude).
type Hypocenter struct {
	OriginTime   *time.Time // JST; nil when absent
	ArrivalTime  *time.Time // JST; nil when absent
	Condition    string     // e.g. 仮定震源要素 (EEW)
	Name         string     // 震央地名
	Code         string     // 震央地名 code
	DetailedName string     // 遠地: detailed name
	ReduceName   string     // EEW short name
	ReduceCode   string     // EEW short code
	LandOrSea    string     // EEW: 内陸 or 海域
	Coordinate   Coordinate // epicentre and depth
	Magnitude    Magnitude  // magnitude (NaN when unknown)
}

// Coordinate is an ISO 6709 jmx_eb:Coordinate such as "+37.5+137.2-10000/".
// Depth is in kilometres, positive downward; HasDepth is false for 深さ不明.
type Coordinate struct {
	Raw         string  // as written
	Description string  // @description, e.g. 北緯３７．５度　東経１３７．２度　深さ　１０ｋｍ
	Datum       string  // @datum, e.g. 日本測地系
	Lat, Lon    float64 // degrees
	DepthKm     float64 // kilometres, positive downward (0 for ごく浅い)
	HasPosition bool    // Lat and Lon are set
	HasDepth    bool    // DepthKm is set (false for 深さ不明)
}

// Magnitude is jmx_eb:Magnitude. Value is NaN when unknown (condition 不明).
type Magnitude struct {
	Value       float64 // NaN when unknown
	Type        string  // @type, e.g. Mj
	Condition   string  // @condition, e.g. 不明
	Description string  // @description, e.g. Ｍ７．６, Ｍ不明
}

// Known reports whether the magnitude has a numeric value.
func (m Magnitude) Known() bool { return !math.IsNaN(m.Value) && m.Condition != "不明" }

// IntensityObservation is Body/Intensity/Observation.
type IntensityObservation struct {
	MaxInt Intensity       // Observation/MaxInt
	Prefs  []IntensityPref // Observation/Pref
}

// IntensityPref is one Observation/Pref. MaxInt may be IntensityNone.
type IntensityPref struct {
	Name   string          // prefecture name
	Code   string          // 2-digit 地震情報／都道府県等 code
	MaxInt Intensity       // IntensityNone when missing
	Revise string          // 追加, 上方修正 or 下方修正
	Areas  []IntensityArea // Pref/Area
}

// IntensityArea is one Pref/Area (3-digit 細分区域). MaxInt is the Area's own
// value, IntensityNone when the element is missing.
type IntensityArea struct {
	Name   string          // area name
	Code   string          // 3-digit 細分区域 code
	MaxInt Intensity       // the Area's own MaxInt; IntensityNone when missing
	Revise string          // 追加, 上方修正 or 下方修正
	Cities []IntensityCity // Area/City (VXSE53)
}

// Effective returns the Area's MaxInt, or when it is missing the highest
// effective value of its cities (which may be IntensityUnreceived5Lower).
func (a *IntensityArea) Effective() Intensity {
	v := a.MaxInt
	for i := range a.Cities {
		v = v.Max(a.Cities[i].Effective())
	}
	return v
}

// IntensityCity is one Area/City (7-digit code, VXSE53 only).
type IntensityCity struct {
	Name      string             // city name
	Code      string             // 7-digit 市町村等 code
	MaxInt    Intensity          // IntensityNone when missing
	Condition string             // e.g. 震度５弱以上未入電
	Revise    string             // 追加, 上方修正 or 下方修正
	Stations  []IntensityStation // City/IntensityStation
}

// Effective returns the City's MaxInt, raised to IntensityUnreceived5Lower
// when Condition says 震度５弱以上未入電 and the MaxInt is below 5弱 or missing.
func (c *IntensityCity) Effective() Intensity {
	if c.Condition == "震度５弱以上未入電" && !c.MaxInt.AtLeast(Intensity5Lower) {
		return IntensityUnreceived5Lower
	}
	return c.MaxInt
}

// IntensityStation is one City/IntensityStation. Int may be
// IntensityUnreceived5Lower.
type IntensityStation struct {
	Name   string    // station name (＊ marks non-JMA stations)
	Code   string    // 7-digit 震度観測点 code
	Int    Intensity // may be IntensityUnreceived5Lower
	Revise string    // 追加, 上方修正 or 下方修正
}

// EEW is the Body of 緊急地震速報 (VXSE43/44/45, and the VXSE42 test).
type EEW struct {
	Warning       bool            // VXSE43 緊急地震速報（警報）
	Hypocenter    *Hypocenter     // nil when absent (e.g. the VXSE42 test)
	ForecastInt   IntensityRange  // overall forecast intensity range
	ForecastLgInt *IntensityRange // long-period ground motion class range (0–4), nil when absent
	Areas         []EEWArea       // forecast areas (3-digit 細分区域)
	NextAdvisory  string          // set on the final report
}

// IntensityRange is a ForecastInt/ForecastLgInt From–To pair. ToOver is true
// when To is "over" (no upper bound).
type IntensityRange struct {
	From   Intensity // lower bound
	To     Intensity // upper bound; IntensityNone with ToOver
	ToOver bool      // To is over (no upper bound)
}

// EEWArea is one forecast Pref/Area of an EEW.
type EEWArea struct {
	PrefName    string         // EEW 府県予報区 name
	PrefCode    string         // EEW 府県予報区 code (9xxx)
	Name        string         // area name
	Code        string         // 3-digit 細分区域 code
	Kind        CodeName       // Category/Kind: 00/01/09 予報, 10/11/19 警報
	ForecastInt IntensityRange // forecast intensity range
	ArrivalTime *time.Time     // nil for PLUM and when the main shock has arrived
	Condition   string         // e.g. 既に主要動到達と推測
}

// Tsunami is the Body of VTSE41, VTSE51 and VTSE52.
type Tsunami struct {
	Forecast     []TsunamiForecastItem // Tsunami/Forecast/Item (VTSE41, repeated in VTSE51)
	Observations []TsunamiObservation  // Tsunami/Observation/Item (VTSE51/52)
	Estimations  []TsunamiForecastItem // VTSE52 Estimation items
	Hypocenter   *Hypocenter           // Body/Earthquake, nil when absent
}

// TsunamiForecastItem is one Tsunami/Forecast/Item (a 3-digit 津波予報区).
type TsunamiForecastItem struct {
	AreaName       string           // 津波予報区 name
	AreaCode       string           // 3-digit 津波予報区 code
	Kind           TsunamiKind      // Category/Kind/Code
	KindName       string           // Category/Kind/Name
	LastKind       TsunamiKind      // Category/LastKind/Code
	LastKindName   string           // Category/LastKind/Name
	FirstArrival   *time.Time       // FirstHeight/ArrivalTime, nil when given as a Condition
	FirstCondition string           // e.g. ただちに津波来襲と予測
	MaxHeight      TsunamiHeight    // MaxHeight
	Stations       []TsunamiStation // tide stations (VTSE51)
}

// TsunamiHeight is a jmx_eb:TsunamiHeight. Value is NaN when not numeric;
// then Description carries a qualitative value such as 巨大 or 高い.
type TsunamiHeight struct {
	Value       float64 // metres; NaN when not numeric
	Present     bool    // an element was present
	Type        string  // @type
	Unit        string  // @unit, e.g. m
	Condition   string  // @condition, e.g. 不明, 上昇中
	Description string  // e.g. "１ｍ", "巨大"
	Note        string  // MaxHeight/Condition, e.g. 重要, 観測中
}

// Known reports whether Value is numeric.
func (h TsunamiHeight) Known() bool { return h.Present && !math.IsNaN(h.Value) }

// TsunamiObservation is one Tsunami/Observation/Item (VTSE51/52). In VTSE52
// the area name and code are empty.
type TsunamiObservation struct {
	AreaName string           // empty in VTSE52
	AreaCode string           // empty in VTSE52
	Stations []TsunamiStation // observing stations
}

// TsunamiStation is a tide station (5-digit 潮位観測点) in a forecast or
// observation item.
type TsunamiStation struct {
	Name           string        // station name
	Code           string        // 5-digit 潮位観測点 code
	Sensor         string        // e.g. ＧＰＳ波浪計
	HighTide       *time.Time    // HighTideDateTime, nil when absent
	FirstArrival   *time.Time    // first wave arrival, nil when absent
	FirstCondition string        // FirstHeight/Condition, e.g. 第１波の到達を確認
	Initial        string        // 押し / 引き
	MaxHeight      TsunamiHeight // highest wave so far
	MaxDateTime    *time.Time    // time of the highest wave, nil when absent
}

// Warnings is the Body of a weather warning document: the complete current
// state of one 府県予報区 (not a delta).
type Warnings struct {
	Groups []WarningGroup // Body/Warning blocks, one per level
}

// WarningGroup is one Body/Warning block.
type WarningGroup struct {
	Type  string        // @type
	Level WarningLevel  // level parsed from Type
	Items []WarningItem // Warning/Item
}

// WarningItem is one Warning/Item: the kinds in force for one area.
type WarningItem struct {
	AreaName     string        // area name
	AreaCode     string        // 6-digit area code, or 7-digit 市町村等 code at LevelCity
	Kinds        []WarningKind // kinds, including those lifted
	ChangeStatus string        // e.g. 警報・注意報種別に変化有
	FullStatus   string        // 全域 or 一部 (aggregated levels)
	EditingMark  string        // 0 or 1 (aggregated levels)
}

// WarningKind is one Item/Kind. A Kind with Status 発表警報・注意報はなし has
// no Name or Code.
type WarningKind struct {
	Name      string        // e.g. 大雨警報
	Code      string        // 2-digit kind code; empty for 発表警報・注意報はなし
	Status    WarningStatus // 発表, 継続, 解除, downgrades, 発表警報・注意報はなし
	Condition string        // e.g. 土砂災害, 浸水害
	LastKind  *CodeName     // previous kind (2026 telegrams), nil when absent
}

// Active reports whether the kind is in force (coded and not lifted).
func (k WarningKind) Active() bool { return k.Code != "" && k.Status.Active() }

// Level returns the group at the given level, or nil.
func (w *Warnings) Level(l WarningLevel) *WarningGroup {
	if w == nil {
		return nil
	}
	for i := range w.Groups {
		if w.Groups[i].Level == l {
			return &w.Groups[i]
		}
	}
	return nil
}

// Notice is VPNO50 気象特別警報報知: its Body is empty and the content is in the
// Headline, as one entry per area with the special-warning kinds (00 解除 when
// lifted).
type Notice struct {
	Areas []NoticeArea // areas with their kinds
}

// NoticeArea is one area of a VPNO50 Headline with its kinds.
type NoticeArea struct {
	Name  string     // area name
	Code  string     // area code, e.g. 170000
	Kinds []CodeName // special-warning kinds (00 解除 when lifted)
}

// Summary derives the routing summary from a fully parsed report. It equals
// what [Summarize] extracts from the same bytes.
func (r *Report) Summary() *Summary {
	s := &Summary{Type: r.Type, Family: r.Family, Control: r.Control, Head: r.Head, BodyNamespace: r.BodyNamespace}
	s.Head.Headline = Headline{}
	if eq := r.Earthquake; eq != nil && eq.Intensity != nil {
		s.MaxInt = eq.Intensity.MaxInt
		for _, p := range eq.Intensity.Prefs {
			for i := range p.Areas {
				a := &p.Areas[i]
				s.Areas = append(s.Areas, AreaSummary{PrefCode: p.Code, Code: a.Code, MaxInt: a.MaxInt, Effective: a.Effective()})
			}
		}
	}
	if t := r.Tsunami; t != nil {
		for _, it := range t.Forecast {
			s.Tsunami = append(s.Tsunami, TsunamiSummary{AreaCode: it.AreaCode, Kind: it.Kind, LastKind: it.LastKind})
		}
	}
	if w := r.Warnings; w != nil {
		for _, g := range w.Groups {
			for _, it := range g.Items {
				ws := WarningSummary{Level: g.Level, AreaCode: it.AreaCode}
				for _, k := range it.Kinds {
					ws.Kinds = append(ws.Kinds, KindStatus{Code: k.Code, Status: k.Status})
				}
				s.Warnings = append(s.Warnings, ws)
			}
		}
	}
	return s
}
