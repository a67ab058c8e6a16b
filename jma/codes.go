package jma

import "strings"

// Family is the group of documents a report belongs to, which decides which
// typed Body field of a [Report] is set.
type Family string

// Families of JMA documents.
const (
	FamilyEarthquake  Family = "earthquake"  // VXSE51, VXSE52, VXSE53 (incl. 遠地地震)
	FamilyEEW         Family = "eew"         // VXSE42 (test), VXSE43, VXSE44, VXSE45
	FamilyTsunami     Family = "tsunami"     // VTSE41, VTSE51, VTSE52
	FamilyWarning     Family = "warning"     // VPWW53, VPWW54, VPWW55–61
	FamilyNotice      Family = "notice"      // VPNO50 気象特別警報報知
	FamilyUnsupported Family = "unsupported" // any other JMA document
)

// Status is Control/Status. Only StatusNormal is a real event.
type Status string

// Control/Status values.
const (
	StatusNormal   Status = "通常"
	StatusTraining Status = "訓練"
	StatusTest     Status = "試験"
)

// Real reports whether s is 通常, the only status that describes a real event.
func (s Status) Real() bool { return s == StatusNormal }

// InfoType is Head/InfoType.
type InfoType string

// Head/InfoType values.
const (
	InfoIssued     InfoType = "発表"
	InfoCorrection InfoType = "訂正"
	InfoDelayed    InfoType = "遅延"
	InfoCancel     InfoType = "取消"
)

// Body namespaces used to route a document.
const (
	NamespaceSeismology  = "http://xml.kishou.go.jp/jmaxml1/body/seismology1/"
	NamespaceMeteorology = "http://xml.kishou.go.jp/jmaxml1/body/meteorology1/"
	NamespaceVolcanology = "http://xml.kishou.go.jp/jmaxml1/body/volcanology1/"
)

// TypeFromTitle returns the data type code (データ種類コード) for a
// Control/Title, or "" when the title is not one this package knows.
func TypeFromTitle(title string) string {
	switch strings.TrimSpace(title) {
	case "震度速報":
		return "VXSE51"
	case "震源に関する情報":
		return "VXSE52"
	case "震源・震度に関する情報":
		return "VXSE53"
	case "緊急地震速報配信テスト":
		return "VXSE42"
	case "緊急地震速報（警報）":
		return "VXSE43"
	case "緊急地震速報（予報）":
		return "VXSE44"
	case "緊急地震速報（地震動予報）":
		return "VXSE45"
	case "地震の活動状況等に関する情報":
		return "VXSE56"
	case "地震回数に関する情報":
		return "VXSE60"
	case "顕著な地震の震源要素更新のお知らせ":
		return "VXSE61"
	case "長周期地震動に関する観測情報":
		return "VXSE62"
	case "地震・津波に関するお知らせ":
		return "VZSE40"
	case "津波警報・注意報・予報a":
		return "VTSE41"
	case "津波情報a":
		return "VTSE51"
	case "沖合の津波観測に関する情報":
		return "VTSE52"
	case "気象特別警報・警報・注意報":
		return "VPWW53"
	case "気象警報・注意報（Ｈ２７）":
		return "VPWW54"
	case "気象警報・注意報（Ｒ０６）（大雨）":
		return "VPWW55"
	case "気象警報・注意報（Ｒ０６）（土砂）":
		return "VPWW56"
	case "気象警報・注意報（Ｒ０６）（高潮）":
		return "VPWW57"
	case "気象警報・注意報（Ｒ０６）（暴風）":
		return "VPWW58"
	case "気象警報・注意報（Ｒ０６）（波浪）":
		return "VPWW59"
	case "気象警報・注意報（Ｒ０６）（大雪）":
		return "VPWW60"
	case "気象警報・注意報（Ｒ０６）（その他注意報）":
		return "VPWW61"
	case "気象特別警報報知":
		return "VPNO50"
	}
	return ""
}

// FamilyOf returns the family of a data type code; FamilyUnsupported for codes
// this package does not type.
func FamilyOf(typ string) Family {
	switch typ {
	case "VXSE51", "VXSE52", "VXSE53":
		return FamilyEarthquake
	case "VXSE42", "VXSE43", "VXSE44", "VXSE45":
		return FamilyEEW
	case "VTSE41", "VTSE51", "VTSE52":
		return FamilyTsunami
	case "VPWW53", "VPWW54", "VPWW55", "VPWW56", "VPWW57", "VPWW58", "VPWW59", "VPWW60", "VPWW61":
		return FamilyWarning
	case "VPNO50":
		return FamilyNotice
	}
	return FamilyUnsupported
}

// routeFamily decides the family from the Body namespace and the data type:
// a seismology title needs a seismology Body and a weather title a
// meteorology Body (or none, for VPNO50 and cancels).
func routeFamily(typ, bodyNS string) Family {
	f := FamilyOf(typ)
	switch f {
	case FamilyEarthquake, FamilyEEW, FamilyTsunami:
		if bodyNS != "" && bodyNS != NamespaceSeismology {
			return FamilyUnsupported
		}
	case FamilyWarning, FamilyNotice:
		if bodyNS != "" && bodyNS != NamespaceMeteorology {
			return FamilyUnsupported
		}
	}
	return f
}

// TsunamiKind is a 津波警報・注意報・予報 Kind code (sheet 14), e.g. "53".
type TsunamiKind string

// Tsunami Kind codes.
const (
	TsunamiNone                  TsunamiKind = "00" // 津波なし (as LastKind)
	TsunamiWarningLifted         TsunamiKind = "50" // 警報解除
	TsunamiWarning               TsunamiKind = "51" // 津波警報
	TsunamiMajor                 TsunamiKind = "52" // 大津波警報 (continuing)
	TsunamiMajorIssued           TsunamiKind = "53" // 大津波警報：発表 (new or upgraded)
	TsunamiAdvisoryLifted        TsunamiKind = "60" // 津波注意報解除
	TsunamiAdvisory              TsunamiKind = "62" // 津波注意報
	TsunamiForecast              TsunamiKind = "71" // 津波予報（若干の海面変動）
	TsunamiForecastAfterAdvisory TsunamiKind = "72" // 若干の海面変動, after an advisory was lifted
	TsunamiForecastAfterWarning  TsunamiKind = "73" // 若干の海面変動, after a warning was lifted
)

// Level ranks a tsunami kind: 3 major warning (52, 53), 2 warning (51),
// 1 advisory (62), 0 anything else (forecasts, lifted, none, unknown codes).
func (k TsunamiKind) Level() int {
	switch k {
	case TsunamiMajor, TsunamiMajorIssued:
		return 3
	case TsunamiWarning:
		return 2
	case TsunamiAdvisory:
		return 1
	}
	return 0
}

// Major reports whether k is 大津波警報 (52 or 53).
func (k TsunamiKind) Major() bool { return k.Level() == 3 }

// Lifted reports whether k says a warning or advisory no longer applies
// (50, 60, 71, 72, 73 or 00).
func (k TsunamiKind) Lifted() bool {
	switch k {
	case TsunamiWarningLifted, TsunamiAdvisoryLifted, TsunamiForecast,
		TsunamiForecastAfterAdvisory, TsunamiForecastAfterWarning, TsunamiNone:
		return true
	}
	return false
}

// SlightChange reports whether k is 津波予報（若干の海面変動）(71, 72, 73).
func (k TsunamiKind) SlightChange() bool {
	return k == TsunamiForecast || k == TsunamiForecastAfterAdvisory || k == TsunamiForecastAfterWarning
}

// WarningSeverity ranks a weather warning Kind code.
type WarningSeverity int

// Warning severities, ordered.
const (
	SeverityNone     WarningSeverity = iota // 解除 (00), unknown or empty code
	SeverityAdvisory                        // 注意報 10–29
	SeverityWarning                         // 警報 02–09
	SeverityDanger                          // レベル４危険警報 43, 48, 49 (2026 system)
	SeveritySpecial                         // 特別警報 32–39
)

// String names the severity.
func (s WarningSeverity) String() string {
	switch s {
	case SeverityAdvisory:
		return "advisory"
	case SeverityWarning:
		return "warning"
	case SeverityDanger:
		return "danger"
	case SeveritySpecial:
		return "special"
	}
	return "none"
}

// KindSeverity returns the severity of a weather warning Kind code such as
// "03" or "33". Codes are strings; unknown codes are SeverityNone.
func KindSeverity(code string) WarningSeverity {
	if len(code) != 2 || code[0] < '0' || code[0] > '9' || code[1] < '0' || code[1] > '9' {
		return SeverityNone
	}
	n := int(code[0]-'0')*10 + int(code[1]-'0')
	switch {
	case n >= 2 && n <= 9:
		return SeverityWarning
	case n >= 10 && n <= 29:
		return SeverityAdvisory
	case n >= 32 && n <= 39:
		return SeveritySpecial
	case n == 43 || n == 48 || n == 49:
		return SeverityDanger
	}
	return SeverityNone
}

// WarningStatus is Body/Warning/Item/Kind/Status.
type WarningStatus string

// Kind/Status values of weather warnings.
const (
	WarningIssued            WarningStatus = "発表"
	WarningContinued         WarningStatus = "継続"
	WarningLifted            WarningStatus = "解除"
	WarningToAdvisory        WarningStatus = "警報から注意報"
	WarningSpecialToWarning  WarningStatus = "特別警報から警報"
	WarningSpecialToAdvisory WarningStatus = "特別警報から注意報"
	WarningNone              WarningStatus = "発表警報・注意報はなし"
)

// Active reports whether a Kind with this status is in force after the
// document: anything but 解除 and 発表警報・注意報はなし.
func (s WarningStatus) Active() bool {
	return s != WarningLifted && s != WarningNone && s != ""
}

// WarningLevel is the area level of a Body/Warning block.
type WarningLevel string

// Warning levels, from the Warning/@type attribute.
const (
	LevelPrefecture WarningLevel = "prefecture" // 気象警報・注意報（府県予報区等）
	LevelPrimary    WarningLevel = "primary"    // （一次細分区域等）
	LevelGroup      WarningLevel = "group"      // （市町村等をまとめた地域等）
	LevelCity       WarningLevel = "city"       // （市町村等）
	LevelOther      WarningLevel = "other"      // any other type, e.g. （高潮予報区間）
)

// WarningTypeCity is the Warning/@type of the 市町村等 level.
const WarningTypeCity = "気象警報・注意報（市町村等）"

func warningLevel(typ string) WarningLevel {
	switch strings.TrimSpace(typ) {
	case "気象警報・注意報（府県予報区等）":
		return LevelPrefecture
	case "気象警報・注意報（一次細分区域等）":
		return LevelPrimary
	case "気象警報・注意報（市町村等をまとめた地域等）":
		return LevelGroup
	case WarningTypeCity:
		return LevelCity
	}
	return LevelOther
}
