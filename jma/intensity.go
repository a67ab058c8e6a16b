package jma

import (
	"fmt"
	"strings"
)

// Intensity is a JMA seismic intensity (震度) class with a total order:
// IntensityNone < Intensity0 < Intensity1 < … < Intensity5Lower < Intensity5Upper <
// Intensity6Lower < Intensity6Upper < Intensity7.
//
// IntensityUnreceived5Lower stands for 震度５弱以上未入電: the value is believed to be
// 5弱 or higher but has not been received. It sits outside the order: use
// [Intensity.AtLeast] and [Intensity.Floor] to compare it. The zero value is
// IntensityNone (absent).
type Intensity uint8

// Intensity values. Codes are compared with [Intensity.Compare] or with < on
// values other than IntensityUnreceived5Lower.
const (
	IntensityNone   Intensity = iota // absent (no MaxInt)
	Intensity0                       // 震度0 (EEW forecasts only)
	Intensity1                       // 震度1
	Intensity2                       // 震度2
	Intensity3                       // 震度3
	Intensity4                       // 震度4
	Intensity5Lower                  // 震度5弱 ("5-")
	Intensity5Upper                  // 震度5強 ("5+")
	Intensity6Lower                  // 震度6弱 ("6-")
	Intensity6Upper                  // 震度6強 ("6+")
	Intensity7                       // 震度7
	// IntensityUnreceived5Lower is 震度５弱以上未入電: at least 5-, value not received.
	IntensityUnreceived5Lower Intensity = 100
)

// ParseIntensity parses the forms JMA uses for an intensity: the XML codes
// "0"…"7", "5-", "5+", "6-", "6+", the headline names "震度３", "震度５弱",
// "震度６強" (full- or half-width digits, with or without the 震度 prefix), and
// "震度５弱以上未入電". Surrounding white space is ignored. An empty string gives
// IntensityNone and no error.
func ParseIntensity(s string) (Intensity, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return IntensityNone, nil
	}
	if v, ok := parseIntensityCode(t); ok {
		return v, nil
	}
	// Headline and Condition forms.
	n := strings.TrimPrefix(t, "震度")
	if strings.HasSuffix(n, "以上未入電") {
		if base, _ := ParseIntensity(strings.TrimSuffix(n, "以上未入電")); base == Intensity5Lower {
			return IntensityUnreceived5Lower, nil
		}
		return IntensityNone, fmt.Errorf("jma: unknown intensity %q", s)
	}
	n = strings.NewReplacer("０", "0", "１", "1", "２", "2", "３", "3", "４", "4",
		"５", "5", "６", "6", "７", "7", "弱", "-", "強", "+").Replace(n)
	if v, ok := parseIntensityCode(n); ok {
		return v, nil
	}
	return IntensityNone, fmt.Errorf("jma: unknown intensity %q", s)
}

func parseIntensityCode(s string) (Intensity, bool) {
	switch s {
	case "0":
		return Intensity0, true
	case "1":
		return Intensity1, true
	case "2":
		return Intensity2, true
	case "3":
		return Intensity3, true
	case "4":
		return Intensity4, true
	case "5-":
		return Intensity5Lower, true
	case "5+":
		return Intensity5Upper, true
	case "6-":
		return Intensity6Lower, true
	case "6+":
		return Intensity6Upper, true
	case "7":
		return Intensity7, true
	case "震度５弱以上未入電":
		return IntensityUnreceived5Lower, true
	}
	return IntensityNone, false
}

// parseIntensityBytes is the allocation-free form used by the summary scanner.
func parseIntensityBytes(b []byte) (Intensity, bool) {
	if v, ok := parseIntensityCode(string(b)); ok {
		return v, true
	}
	if len(b) == 0 {
		return IntensityNone, true
	}
	v, err := ParseIntensity(string(b))
	return v, err == nil
}

// String returns the XML code ("1"…"7", "5-", "5+", "6-", "6+", "0"),
// "震度５弱以上未入電" for IntensityUnreceived5Lower, and "" for IntensityNone.
func (i Intensity) String() string {
	switch i {
	case Intensity0:
		return "0"
	case Intensity1:
		return "1"
	case Intensity2:
		return "2"
	case Intensity3:
		return "3"
	case Intensity4:
		return "4"
	case Intensity5Lower:
		return "5-"
	case Intensity5Upper:
		return "5+"
	case Intensity6Lower:
		return "6-"
	case Intensity6Upper:
		return "6+"
	case Intensity7:
		return "7"
	case IntensityUnreceived5Lower:
		return "震度５弱以上未入電"
	}
	return ""
}

// Japanese returns the headline name, e.g. "震度５弱".
func (i Intensity) Japanese() string {
	switch i {
	case IntensityNone:
		return ""
	case IntensityUnreceived5Lower:
		return "震度５弱以上未入電"
	case Intensity5Lower:
		return "震度５弱"
	case Intensity5Upper:
		return "震度５強"
	case Intensity6Lower:
		return "震度６弱"
	case Intensity6Upper:
		return "震度６強"
	case Intensity7:
		return "震度７"
	}
	if i >= Intensity0 && i <= Intensity4 {
		return "震度" + string(rune('０'+rune(i-Intensity0)))
	}
	return ""
}

// Valid reports whether i is one of the defined values other than IntensityNone.
func (i Intensity) Valid() bool {
	return (i >= Intensity0 && i <= Intensity7) || i == IntensityUnreceived5Lower
}

// Unreceived reports whether i is 震度５弱以上未入電.
func (i Intensity) Unreceived() bool { return i == IntensityUnreceived5Lower }

// Floor returns the lowest intensity i is known to be: Intensity5Lower for
// IntensityUnreceived5Lower, i itself otherwise.
func (i Intensity) Floor() Intensity {
	if i == IntensityUnreceived5Lower {
		return Intensity5Lower
	}
	return i
}

// AtLeast reports whether i is known to be at or above threshold. An
// unreceived value satisfies thresholds up to 5弱 only: for higher thresholds it
// is undecidable and AtLeast returns false (see [Intensity.MayBeAtLeast]).
// IntensityNone is never at least anything.
func (i Intensity) AtLeast(threshold Intensity) bool {
	if i == IntensityNone || threshold == IntensityNone {
		return false
	}
	return i.Floor() >= threshold.Floor()
}

// MayBeAtLeast reports whether i could be at or above threshold: true for
// IntensityUnreceived5Lower whatever the threshold, else the same as AtLeast.
func (i Intensity) MayBeAtLeast(threshold Intensity) bool {
	if i == IntensityUnreceived5Lower {
		return true
	}
	return i.AtLeast(threshold)
}

// Compare orders intensities by [Intensity.Floor], with an unreceived value just
// above Intensity5Lower and below Intensity5Upper. It returns -1, 0 or +1.
func (i Intensity) Compare(j Intensity) int {
	a, b := i.rank(), j.rank()
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (i Intensity) rank() int {
	if i == IntensityUnreceived5Lower {
		return int(Intensity5Lower)*2 + 1
	}
	return int(i) * 2
}

// Max returns the greater of i and j by [Intensity.Compare].
func (i Intensity) Max(j Intensity) Intensity {
	if j.Compare(i) > 0 {
		return j
	}
	return i
}

// MarshalText implements encoding.TextMarshaler with [Intensity.String].
func (i Intensity) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseIntensity].
func (i *Intensity) UnmarshalText(b []byte) error {
	v, err := ParseIntensity(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// Thresholds lists the definite intensity classes from 1 to 7, in order. A
// tracker reports, per area, which of these an update newly reached.
func Thresholds() []Intensity {
	return []Intensity{Intensity1, Intensity2, Intensity3, Intensity4, Intensity5Lower,
		Intensity5Upper, Intensity6Lower, Intensity6Upper, Intensity7}
}
