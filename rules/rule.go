package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/anpikit/anpi/jma"
)

// Kind is the kind of JMA trigger a rule reacts to.
type Kind string

// Rule kinds.
const (
	// KindEarthquake reacts to 震度速報 and 震源・震度情報 (VXSE51/53), and to
	// 緊急地震速報 when EarthquakeTrigger.EEW is set.
	KindEarthquake Kind = "earthquake"
	// KindTsunami reacts to 津波警報・注意報・予報 (VTSE41, repeated in VTSE51).
	KindTsunami Kind = "tsunami"
	// KindWeather reacts to weather warnings (VPWW53/54, VPWW55–61).
	KindWeather Kind = "weather"
)

// Target says who a rule reaches when it fires.
type Target string

// Targeting modes.
const (
	// TargetRegion reaches every recipient whose registered region is
	// affected (the recommended mode, and the default).
	TargetRegion Target = "region"
	// TargetFixed reaches the rule's fixed Recipients and Groups when any of
	// the rule's areas is affected.
	TargetFixed Target = "fixed"
	// TargetNationwide reaches every recipient in the index when any area
	// (within the rule's filter, if any) is affected.
	TargetNationwide Target = "nationwide"
)

// UnreceivedPolicy says how an earthquake rule treats 震度５弱以上未入電.
type UnreceivedPolicy string

// Policies for 震度５弱以上未入電.
const (
	// UnreceivedCount counts 未入電 as 震度5弱 (the default): it satisfies
	// thresholds up to 5弱 and, being undecidable above, no higher one.
	UnreceivedCount UnreceivedPolicy = "count"
	// UnreceivedIgnore ignores 未入電 and uses only the intensities received.
	UnreceivedIgnore UnreceivedPolicy = "ignore"
)

// TsunamiLevel names a class of tsunami warning a rule reacts to.
type TsunamiLevel string

// Tsunami levels. LevelMajor matches Kind 52 and 53 alike.
const (
	LevelMajor    TsunamiLevel = "major"    // 大津波警報 (52, 53)
	LevelWarning  TsunamiLevel = "warning"  // 津波警報 (51)
	LevelAdvisory TsunamiLevel = "advisory" // 津波注意報 (62)
)

// Weather kind groups accepted in WeatherTrigger.Kinds besides 2-digit codes.
const (
	WeatherSpecial  = "special"  // every 特別警報 code (32–39)
	WeatherWarnings = "warnings" // every 警報 code (02–09) and レベル４危険警報 (43, 48, 49)
)

// MaxHold is the longest hold window a rule may ask for.
const MaxHold = 10 * time.Minute

// MaxSuppress is the longest suppression window a rule may ask for.
const MaxSuppress = 7 * 24 * time.Hour

// Rule is one auto-send rule. Its JSON form is documented in the package
// documentation; [DecodeRules] reads it and [EncodeRules] writes it.
type Rule struct {
	ID       string // unique, non-empty
	Name     string // free text for people
	Kind     Kind   // which reports the rule looks at
	Target   Target // TargetRegion when empty
	Disabled bool   // a disabled rule never fires

	Earthquake *EarthquakeTrigger // set when Kind is KindEarthquake
	Tsunami    *TsunamiTrigger    // set when Kind is KindTsunami
	Weather    *WeatherTrigger    // set when Kind is KindWeather

	// Recipients and Groups are the fixed recipients of a TargetFixed rule:
	// recipient IDs, and group names the caller resolves.
	Recipients []string // fixed recipient IDs
	Groups     []string // fixed groups the caller resolves
	// Admins are the rule's administrators (recipient IDs): they get the
	// administrators-only notice and suppressed aftershocks.
	Admins []string

	Options Options // safeguards: drills, hold, suppression, notices, 未入電
}

// EarthquakeTrigger is the condition of an earthquake rule: an area at or
// above Threshold. Areas and Prefectures, when set, restrict the areas that
// count; the report itself says which prefecture an area belongs to.
type EarthquakeTrigger struct {
	Threshold   jma.Intensity // 1 … 7
	Areas       []string      // 3-digit 細分区域 codes, e.g. "350"
	Prefectures []string      // 2-digit prefecture codes, e.g. "13"
	// EEW makes 緊急地震速報 forecasts count too (they share the event with
	// the observed reports, so nobody is asked twice).
	EEW bool
}

// TsunamiTrigger is the condition of a tsunami rule: a forecast region whose
// current kind is one of Kinds. Regions, when set, restricts the regions
// that count.
type TsunamiTrigger struct {
	Kinds   []TsunamiLevel // default: major and warning
	Regions []string       // 3-digit 津波予報区 codes, e.g. "300"
}

// WeatherTrigger is the condition of a weather rule: a municipality where a
// kind in Kinds is newly issued. Only newly covered areas fire: 継続, 解除 and
// downgrades never do.
type WeatherTrigger struct {
	// Kinds are 2-digit kind codes ("33" 大雨特別警報) or the groups
	// "special" and "warnings"; default: "special".
	Kinds []string
	// Areas are 7-digit 市町村等 codes, e.g. "1310100".
	Areas []string
	// Prefectures are 2-digit prefecture codes ("13", matched against the
	// first two digits of the 市町村等 code) or 6-digit 府県予報区 codes
	// ("130000", matched against the document's area).
	Prefectures []string
}

// Options are the safeguards of a rule.
type Options struct {
	// Drill opts in to 訓練 documents, which then produce drill decisions,
	// never real ones. 試験 documents never produce anything.
	Drill bool
	// Hold delays sending by up to MaxHold, in case JMA corrects or cancels
	// the report (Toyokumo waits 10 minutes). Zero sends at once.
	Hold time.Duration
	// Suppress is the same-series window: a later event whose areas and
	// level were already reached by this rule within the window notifies only
	// the rule's Admins, unless the level is higher. Zero disables it.
	Suppress time.Duration
	// AdminsOnly makes the rule notify only its Admins (with the count of
	// recipients in scope) instead of the recipients.
	AdminsOnly bool
	// Unreceived is the 震度５弱以上未入電 policy; UnreceivedCount when empty.
	Unreceived UnreceivedPolicy
}

// FieldError is one problem with one field of a rule set.
type FieldError struct {
	Rule  string // rule ID ("" when unknown)
	Path  string // field path, e.g. "rules[0].earthquake.threshold"
	Field string // path inside the rule, e.g. "earthquake.threshold"
	Msg   string // what is wrong, e.g. `unknown intensity "8"`
}

// Error formats the problem as `rules: rule "quake-tokyo": earthquake.threshold: unknown intensity "8"`.
func (e *FieldError) Error() string {
	s := "rules: "
	if e.Rule != "" {
		s += fmt.Sprintf("rule %q: ", e.Rule)
	}
	if e.Field != "" {
		s += e.Field + ": "
	} else if e.Path != "" {
		s += e.Path + ": "
	}
	return s + e.Msg
}

// ValidationError lists every problem found in a rule set. It is returned by
// [DecodeRules] and [Validate]; find it with errors.As.
type ValidationError struct {
	Problems []*FieldError // in document order, one per field
}

// Error joins the problems, one per line.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap returns the problems, so errors.As finds a *FieldError.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// Paths returns the field paths of the problems, e.g. "rules[0].earthquake.threshold".
func (e *ValidationError) Paths() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Path
	}
	return out
}

// ErrSyntax is wrapped by DecodeRules errors for input that is not the JSON
// rule schema (malformed JSON, unknown or mistyped fields).
var ErrSyntax = errors.New("rules: malformed rule set")

// ---- JSON wire form ----

// wireSet is the top-level JSON document.
type wireSet struct {
	Version int        `json:"version"`
	Rules   []wireRule `json:"rules"`
}

type wireRule struct {
	ID         string          `json:"id"`
	Name       string          `json:"name,omitempty"`
	Kind       string          `json:"kind"`
	Target     string          `json:"target,omitempty"`
	Disabled   bool            `json:"disabled,omitempty"`
	Earthquake *wireEarthquake `json:"earthquake,omitempty"`
	Tsunami    *wireTsunami    `json:"tsunami,omitempty"`
	Weather    *wireWeather    `json:"weather,omitempty"`
	Recipients []string        `json:"recipients,omitempty"`
	Groups     []string        `json:"groups,omitempty"`
	Admins     []string        `json:"admins,omitempty"`
	Options    *wireOptions    `json:"options,omitempty"`
}

type wireEarthquake struct {
	Threshold   string   `json:"threshold"`
	Areas       []string `json:"areas,omitempty"`
	Prefectures []string `json:"prefectures,omitempty"`
	EEW         bool     `json:"eew,omitempty"`
}

type wireTsunami struct {
	Kinds   []string `json:"kinds,omitempty"`
	Regions []string `json:"regions,omitempty"`
}

type wireWeather struct {
	Kinds       []string `json:"kinds,omitempty"`
	Areas       []string `json:"areas,omitempty"`
	Prefectures []string `json:"prefectures,omitempty"`
}

type wireOptions struct {
	Drill      bool   `json:"drill,omitempty"`
	Hold       string `json:"hold,omitempty"`
	Suppress   string `json:"suppress,omitempty"`
	AdminsOnly bool   `json:"adminsOnly,omitempty"`
	Unreceived string `json:"unreceived,omitempty"`
}

// SchemaVersion is the version DecodeRules accepts and EncodeRules writes.
const SchemaVersion = 1

// MaxRulesSize is the largest rule document DecodeRules accepts (4 MiB).
const MaxRulesSize = 4 << 20

// DecodeRules reads a rule set in the JSON schema of the package
// documentation. Unknown fields are refused. Every problem is reported at
// once in a *ValidationError naming the field paths; malformed JSON wraps
// ErrSyntax.
func DecodeRules(data []byte) ([]Rule, error) {
	if len(data) > MaxRulesSize {
		return nil, fmt.Errorf("%w: document of %d bytes exceeds %d", ErrSyntax, len(data), MaxRulesSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ws wireSet
	if err := dec.Decode(&ws); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the rule set", ErrSyntax)
	}
	v := &validator{}
	if ws.Version != SchemaVersion {
		v.add("", "version", "", fmt.Sprintf("unsupported version %d (want %d)", ws.Version, SchemaVersion))
	}
	rs := make([]Rule, len(ws.Rules))
	for i := range ws.Rules {
		rs[i] = v.fromWire(i, &ws.Rules[i])
	}
	v.checkAll(rs)
	if err := v.err(); err != nil {
		return nil, err
	}
	return rs, nil
}

// EncodeRules writes rules in the JSON schema DecodeRules reads, indented.
// It validates first and writes nothing for an invalid set.
func EncodeRules(rs []Rule) ([]byte, error) {
	if err := Validate(rs); err != nil {
		return nil, err
	}
	ws := wireSet{Version: SchemaVersion, Rules: make([]wireRule, len(rs))}
	for i := range rs {
		ws.Rules[i] = toWire(&rs[i])
	}
	return json.MarshalIndent(ws, "", "  ")
}

// Validate checks rules built in Go the way DecodeRules checks JSON: unique
// IDs, a trigger matching the kind, well-formed codes, thresholds, windows
// and targeting. It returns a *ValidationError or nil.
func Validate(rs []Rule) error {
	v := &validator{}
	v.checkAll(rs)
	return v.err()
}

func toWire(r *Rule) wireRule {
	w := wireRule{ID: r.ID, Name: r.Name, Kind: string(r.Kind), Target: string(r.Target), Disabled: r.Disabled,
		Recipients: r.Recipients, Groups: r.Groups, Admins: r.Admins}
	if e := r.Earthquake; e != nil {
		w.Earthquake = &wireEarthquake{Threshold: e.Threshold.String(), Areas: e.Areas, Prefectures: e.Prefectures, EEW: e.EEW}
	}
	if t := r.Tsunami; t != nil {
		w.Tsunami = &wireTsunami{Regions: t.Regions}
		for _, k := range t.Kinds {
			w.Tsunami.Kinds = append(w.Tsunami.Kinds, string(k))
		}
	}
	if x := r.Weather; x != nil {
		w.Weather = &wireWeather{Kinds: x.Kinds, Areas: x.Areas, Prefectures: x.Prefectures}
	}
	o := r.Options
	if o != (Options{}) {
		w.Options = &wireOptions{Drill: o.Drill, AdminsOnly: o.AdminsOnly, Unreceived: string(o.Unreceived)}
		if o.Hold != 0 {
			w.Options.Hold = o.Hold.String()
		}
		if o.Suppress != 0 {
			w.Options.Suppress = o.Suppress.String()
		}
	}
	return w
}

// MarshalJSON writes the rule in the documented schema.
func (r Rule) MarshalJSON() ([]byte, error) { return json.Marshal(toWire(&r)) }

// UnmarshalJSON reads one rule in the documented schema and validates it.
func (r *Rule) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireRule
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	v := &validator{}
	rule := v.fromWire(-1, &w)
	v.checkRule(-1, &rule)
	if err := v.err(); err != nil {
		return err
	}
	*r = rule
	return nil
}

// ---- validation ----

type validator struct {
	problems []*FieldError
}

func (v *validator) add(rule, field string, prefix string, msg string) {
	path := field
	if prefix != "" {
		path = prefix + "." + field
		if field == "" {
			path = prefix
		}
	}
	v.problems = append(v.problems, &FieldError{Rule: rule, Path: path, Field: field, Msg: msg})
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	// A field is reported once (a parse problem, not again by the checks).
	seen := map[string]bool{}
	var ps []*FieldError
	for _, p := range v.problems {
		if !seen[p.Path] {
			seen[p.Path] = true
			ps = append(ps, p)
		}
	}
	return &ValidationError{Problems: ps}
}

func rulePrefix(i int) string {
	if i < 0 {
		return ""
	}
	return fmt.Sprintf("rules[%d]", i)
}

// fromWire converts the JSON form, recording parse problems (intensity,
// durations); structural checks are left to checkRule.
func (v *validator) fromWire(i int, w *wireRule) Rule {
	p := rulePrefix(i)
	r := Rule{ID: w.ID, Name: w.Name, Kind: Kind(w.Kind), Target: Target(w.Target), Disabled: w.Disabled,
		Recipients: w.Recipients, Groups: w.Groups, Admins: w.Admins}
	if e := w.Earthquake; e != nil {
		r.Earthquake = &EarthquakeTrigger{Areas: e.Areas, Prefectures: e.Prefectures, EEW: e.EEW}
		if strings.TrimSpace(e.Threshold) == "" {
			v.add(w.ID, "earthquake.threshold", p, "missing intensity (1, 2, 3, 4, 5-, 5+, 6-, 6+ or 7)")
		} else if th, err := jma.ParseIntensity(e.Threshold); err != nil || !definite(th) {
			v.add(w.ID, "earthquake.threshold", p, fmt.Sprintf("unknown intensity %q (want 1, 2, 3, 4, 5-, 5+, 6-, 6+ or 7)", e.Threshold))
			r.Earthquake.Threshold = jma.Intensity7 // keep checking the rest
		} else {
			r.Earthquake.Threshold = th
		}
	}
	if t := w.Tsunami; t != nil {
		r.Tsunami = &TsunamiTrigger{Regions: t.Regions}
		for _, k := range t.Kinds {
			r.Tsunami.Kinds = append(r.Tsunami.Kinds, TsunamiLevel(k))
		}
	}
	if x := w.Weather; x != nil {
		r.Weather = &WeatherTrigger{Kinds: x.Kinds, Areas: x.Areas, Prefectures: x.Prefectures}
	}
	if o := w.Options; o != nil {
		r.Options = Options{Drill: o.Drill, AdminsOnly: o.AdminsOnly, Unreceived: UnreceivedPolicy(o.Unreceived)}
		r.Options.Hold = v.duration(w.ID, "options.hold", p, o.Hold)
		r.Options.Suppress = v.duration(w.ID, "options.suppress", p, o.Suppress)
	}
	return r
}

func (v *validator) duration(rule, field, prefix, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		v.add(rule, field, prefix, fmt.Sprintf("invalid duration %q (e.g. \"10m\", \"6h\")", s))
		return 0
	}
	return d
}

func definite(i jma.Intensity) bool { return i >= jma.Intensity1 && i <= jma.Intensity7 }

func (v *validator) checkAll(rs []Rule) {
	seen := map[string]int{}
	for i := range rs {
		v.checkRule(i, &rs[i])
		if id := rs[i].ID; id != "" {
			if j, dup := seen[id]; dup {
				v.add(id, "id", rulePrefix(i), fmt.Sprintf("duplicate id %q (also rules[%d])", id, j))
			} else {
				seen[id] = i
			}
		}
	}
}

func isDigits(s string, n ...int) bool {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return false
	}
	for _, k := range n {
		if len(s) == k {
			return true
		}
	}
	return len(n) == 0
}

func (v *validator) codes(rule, field, prefix string, codes []string, what string, lens ...int) {
	for j, c := range codes {
		if !isDigits(c, lens...) {
			want := make([]string, len(lens))
			for k, n := range lens {
				want[k] = fmt.Sprint(n)
			}
			v.add(rule, fmt.Sprintf("%s[%d]", field, j), prefix, fmt.Sprintf("invalid %s %q (want %s digits)", what, c, strings.Join(want, " or ")))
		}
	}
}

func (v *validator) ids(rule, field, prefix string, ids []string) {
	for j, id := range ids {
		if strings.TrimSpace(id) == "" {
			v.add(rule, fmt.Sprintf("%s[%d]", field, j), prefix, "empty id")
		}
	}
}

func (v *validator) checkRule(i int, r *Rule) {
	p := rulePrefix(i)
	id := r.ID
	switch {
	case strings.TrimSpace(id) == "":
		v.add(id, "id", p, "missing id")
	case len(id) > 128:
		v.add(id, "id", p, "id longer than 128 bytes")
	}
	triggers := 0
	for _, set := range []bool{r.Earthquake != nil, r.Tsunami != nil, r.Weather != nil} {
		if set {
			triggers++
		}
	}
	switch r.Kind {
	case KindEarthquake:
		if r.Earthquake == nil {
			v.add(id, "earthquake", p, "missing trigger for kind earthquake")
		}
	case KindTsunami:
		if r.Tsunami == nil {
			v.add(id, "tsunami", p, "missing trigger for kind tsunami")
		}
	case KindWeather:
		if r.Weather == nil {
			v.add(id, "weather", p, "missing trigger for kind weather")
		}
	case "":
		v.add(id, "kind", p, "missing kind (earthquake, tsunami or weather)")
	default:
		v.add(id, "kind", p, fmt.Sprintf("unknown kind %q (want earthquake, tsunami or weather)", r.Kind))
	}
	if triggers > 1 {
		v.add(id, "kind", p, "more than one trigger (earthquake, tsunami, weather) set")
	} else if triggers == 1 {
		if r.Earthquake != nil && r.Kind != KindEarthquake && r.Kind != "" {
			v.add(id, "earthquake", p, fmt.Sprintf("earthquake trigger on a %s rule", r.Kind))
		}
		if r.Tsunami != nil && r.Kind != KindTsunami && r.Kind != "" {
			v.add(id, "tsunami", p, fmt.Sprintf("tsunami trigger on a %s rule", r.Kind))
		}
		if r.Weather != nil && r.Kind != KindWeather && r.Kind != "" {
			v.add(id, "weather", p, fmt.Sprintf("weather trigger on a %s rule", r.Kind))
		}
	}
	if e := r.Earthquake; e != nil {
		if !definite(e.Threshold) {
			v.add(id, "earthquake.threshold", p, fmt.Sprintf("unknown intensity %q (want 1, 2, 3, 4, 5-, 5+, 6-, 6+ or 7)", e.Threshold.String()))
		}
		v.codes(id, "earthquake.areas", p, e.Areas, "細分区域 code", 3)
		v.codes(id, "earthquake.prefectures", p, e.Prefectures, "prefecture code", 2)
	}
	if t := r.Tsunami; t != nil {
		for j, k := range t.Kinds {
			switch k {
			case LevelMajor, LevelWarning, LevelAdvisory:
			default:
				v.add(id, fmt.Sprintf("tsunami.kinds[%d]", j), p, fmt.Sprintf("unknown tsunami kind %q (want major, warning or advisory)", k))
			}
		}
		v.codes(id, "tsunami.regions", p, t.Regions, "津波予報区 code", 3)
	}
	if w := r.Weather; w != nil {
		for j, k := range w.Kinds {
			if k != WeatherSpecial && k != WeatherWarnings && !isDigits(k, 2) {
				v.add(id, fmt.Sprintf("weather.kinds[%d]", j), p, fmt.Sprintf("unknown weather kind %q (want a 2-digit code, special or warnings)", k))
			}
		}
		v.codes(id, "weather.areas", p, w.Areas, "市町村等 code", 7)
		v.codes(id, "weather.prefectures", p, w.Prefectures, "prefecture code", 2, 6)
	}
	switch r.Target {
	case "", TargetRegion, TargetNationwide:
	case TargetFixed:
		if len(r.Recipients) == 0 && len(r.Groups) == 0 {
			v.add(id, "recipients", p, "a fixed rule needs recipients or groups")
		}
	default:
		v.add(id, "target", p, fmt.Sprintf("unknown target %q (want region, fixed or nationwide)", r.Target))
	}
	if r.Target != TargetFixed && (len(r.Recipients) > 0 || len(r.Groups) > 0) {
		v.add(id, "recipients", p, "recipients and groups are only for target fixed")
	}
	v.ids(id, "recipients", p, r.Recipients)
	v.ids(id, "groups", p, r.Groups)
	v.ids(id, "admins", p, r.Admins)
	o := r.Options
	if o.Hold < 0 || o.Hold > MaxHold {
		v.add(id, "options.hold", p, fmt.Sprintf("hold %s outside 0–10m", o.Hold))
	}
	if o.Suppress < 0 || o.Suppress > MaxSuppress {
		v.add(id, "options.suppress", p, fmt.Sprintf("suppress %s outside 0–168h", o.Suppress))
	}
	if o.AdminsOnly && len(r.Admins) == 0 {
		v.add(id, "options.adminsOnly", p, "an administrators-only rule needs admins")
	}
	switch o.Unreceived {
	case "", UnreceivedCount, UnreceivedIgnore:
	default:
		v.add(id, "options.unreceived", p, fmt.Sprintf("unknown policy %q (want count or ignore)", o.Unreceived))
	}
}
