package jma

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ChangeKind says what an update did to the tracked state.
type ChangeKind string

// Change kinds reported by Tracker.Apply.
const (
	// ChangeNew is the first report of an event (or of a prefecture's warning state).
	ChangeNew ChangeKind = "new"
	// ChangeEscalation is a later report that adds facts: an area newly at or
	// above an intensity, a higher tsunami kind, a newly issued warning.
	ChangeEscalation ChangeKind = "escalation"
	// ChangeUpdate is a later report with no new facts (same, lower, or lifted).
	ChangeUpdate ChangeKind = "update"
	// ChangeCorrection is a 訂正 that replaced an earlier report.
	ChangeCorrection ChangeKind = "correction"
	// ChangeCancel is a 取消 that withdrew an earlier report.
	ChangeCancel ChangeKind = "cancel"
	// ChangeDuplicate is a document already seen (feed repeat, second source)
	// or the second half of a VPWW53/VPWW54 pair; it carries no facts.
	ChangeDuplicate ChangeKind = "duplicate"
	// ChangeStale is a report older than one already applied with the same title.
	ChangeStale ChangeKind = "stale"
)

// Update is what one report changed. Rules act on the facts; every fact that
// is "newly" true appears exactly once per event, so an escalate-only rule
// engine that fires on NewlyAtLeast, Escalated and Issued never fires twice
// for the same fact.
type Update struct {
	Key       string     // event key (family, status, EventID or office/area)
	Report    *Report    // the report applied
	Change    ChangeKind // what kind of change
	Cancelled *Report    // for ChangeCancel: the withdrawn report, nil if it was never seen
	Replaced  *Report    // for ChangeCorrection: the replaced report, nil if never seen

	Quake    []AreaFact    // per earthquake 細分区域 (VXSE51/53) or EEW forecast area
	Tsunami  []TsunamiFact // per 津波予報区
	Warnings []WarningFact // per 市町村等 (weather warnings)
}

// Facts reports whether the update carries any newly true fact.
func (u *Update) Facts() bool {
	for _, f := range u.Quake {
		if len(f.NewlyAtLeast) > 0 {
			return true
		}
	}
	for _, f := range u.Tsunami {
		if f.Escalated {
			return true
		}
	}
	for _, f := range u.Warnings {
		if len(f.Issued) > 0 {
			return true
		}
	}
	return false
}

// AreaFact is the state of one earthquake area after the update. Intensity
// is the highest value the event has reached there (escalate-only);
// NewlyAtLeast lists the thresholds of Thresholds() reached for the first
// time by this update (an unreceived 5弱以上 reaches up to 5-).
type AreaFact struct {
	Area         string      // 3-digit 細分区域
	Pref         string      // prefecture code as the report states it
	Intensity    Intensity   // highest value reached in the event (escalate-only)
	Previous     Intensity   // value before this update
	NewlyAtLeast []Intensity // thresholds reached for the first time by this update
	Raised       bool        // Intensity above Previous
	Forecast     bool        // from an EEW forecast, not an observation
}

// TsunamiFact is the state of one tsunami forecast region after the update.
type TsunamiFact struct {
	Region    string      // 3-digit 津波予報区
	Kind      TsunamiKind // kind in force after the update
	LastKind  TsunamiKind // the report's LastKind for the region
	Previous  TsunamiKind // kind before this update ("" when first seen)
	NewKind   bool        // Kind differs from Previous
	Escalated bool        // Kind's level is above every level seen before in the event
	Lifted    bool        // a warning/advisory became lifted or a forecast
}

// WarningFact is the state of one municipality (市町村等) after a warning
// document.
type WarningFact struct {
	Area       string   // 7-digit 市町村等 code
	Pref       string   // 府県予報区 code of the document
	Active     []string // kind codes in force after the update, sorted
	Issued     []string // kind codes newly in force
	Lifted     []string // kind codes no longer in force
	Upgraded   bool     // highest severity went up
	Downgraded bool     // highest severity went down
}

// TrackerOptions configures a Tracker. A nil *TrackerOptions means defaults.
type TrackerOptions struct {
	// Now is the clock used for expiry; default time.Now.
	Now func() time.Time
	// EventTTL is how long an earthquake, EEW or tsunami event is kept after
	// its last report; default 72h.
	EventTTL time.Duration
	// WarningTTL is how long a prefecture's warning state is kept after its
	// last document; default 7 days.
	WarningTTL time.Duration
	// MaxEvents bounds the number of tracked events; the least recently
	// updated are dropped first. Default 2000.
	MaxEvents int
	// MaxReportsPerEvent bounds the reports kept per event; default 64.
	MaxReportsPerEvent int
}

// Tracker groups reports into events and reports what each one changed. It
// is safe for concurrent use.
type Tracker struct {
	mu     sync.Mutex
	opt    TrackerOptions
	events map[string]*event // by key
	alias  map[string]*event // by family/status/EventID
	seen   map[string]time.Time
}

type event struct {
	key      string
	aliases  []string
	reports  []*Report
	last     time.Time // clock time of the last report
	warning  bool
	hadState bool
}

// NewTracker returns an empty tracker.
func NewTracker(opt *TrackerOptions) *Tracker {
	t := &Tracker{events: map[string]*event{}, alias: map[string]*event{}, seen: map[string]time.Time{}}
	if opt != nil {
		t.opt = *opt
	}
	if t.opt.Now == nil {
		t.opt.Now = time.Now
	}
	if t.opt.EventTTL <= 0 {
		t.opt.EventTTL = 72 * time.Hour
	}
	if t.opt.WarningTTL <= 0 {
		t.opt.WarningTTL = 7 * 24 * time.Hour
	}
	if t.opt.MaxEvents <= 0 {
		t.opt.MaxEvents = 2000
	}
	if t.opt.MaxReportsPerEvent <= 0 {
		t.opt.MaxReportsPerEvent = 64
	}
	return t
}

// Len returns the number of events currently tracked.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.events)
}

// docKey identifies a document regardless of formatting, so the same report
// from two sources (or a feed repeat) is recognised.
func docKey(r *Report) string {
	return strings.Join([]string{r.Type, r.Control.Title, r.Control.DateTime.UTC().Format(time.RFC3339),
		string(r.Control.Status), r.Control.EditorialOffice, r.Head.Title, r.Head.ReportDateTime.UTC().Format(time.RFC3339),
		r.Head.EventID(), string(r.Head.InfoType), r.Head.Serial}, "\x1f")
}

func familyGroup(r *Report) string {
	switch r.Family {
	case FamilyEarthquake:
		return "quake"
	case FamilyEEW:
		return "eew"
	case FamilyTsunami:
		return "tsunami"
	case FamilyWarning:
		return "warning"
	case FamilyNotice:
		return "notice"
	}
	return "other:" + r.Type
}

// warningKey groups warning documents by publishing office, prefecture and
// telegram group: VPWW53 and VPWW54 share a state; each VPWW55–61 covers one
// phenomenon and has its own.
func warningKey(r *Report) string {
	group := r.Type
	if group == "VPWW53" || group == "VPWW54" {
		group = "VPWW53/54"
	}
	return "warning:" + string(r.Control.Status) + ":" + strings.Join(r.Control.PublishingOffice, " ") + ":" + warningPref(r) + ":" + group
}

// warningPref is the 府県予報区 code of a warning document (the first area of
// the prefecture-level block), or the Head/Title when absent.
func warningPref(r *Report) string {
	if g := r.Warnings.Level(LevelPrefecture); g != nil && len(g.Items) > 0 && g.Items[0].AreaCode != "" {
		return g.Items[0].AreaCode
	}
	return r.Head.Title
}

// Apply adds a report and returns what it changed. It never fails on
// content: unknown codes are carried through and unsupported documents
// produce an update without facts.
func (t *Tracker) Apply(r *Report) Update {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.opt.Now()
	t.expire(now)

	dk := docKey(r)
	ev, key := t.lookup(r)
	u := Update{Key: key, Report: r}
	if _, dup := t.seen[dk]; dup {
		u.Change = ChangeDuplicate
		return u
	}
	t.seen[dk] = now
	if ev == nil {
		ev = &event{key: key, warning: r.Family == FamilyWarning}
		t.events[key] = ev
	}
	t.addAliases(ev, r)
	ev.last = now

	before := fold(ev.reports)
	switch {
	case r.Head.InfoType == InfoCancel:
		u.Change = ChangeCancel
		if i := latestSameTitle(ev.reports, r); i >= 0 {
			u.Cancelled = ev.reports[i]
			ev.reports = append(ev.reports[:i:i], ev.reports[i+1:]...)
		}
	case r.Head.InfoType == InfoCorrection:
		u.Change = ChangeCorrection
		if i := latestSameTitle(ev.reports, r); i >= 0 {
			u.Replaced = ev.reports[i]
			ev.reports[i] = r
		} else {
			ev.reports = append(ev.reports, r)
		}
	default:
		if len(ev.reports) == 0 && !ev.hadState {
			u.Change = ChangeNew
		} else if i := latestSameTitle(ev.reports, r); i >= 0 && orderLess(r, ev.reports[i]) {
			u.Change = ChangeStale
		}
		if ev.warning && u.Change == ChangeStale {
			return u // a warning document is a full state: an older one changes nothing
		}
		if ev.warning && len(ev.reports) > 0 {
			// Warnings keep only the latest full state (and its twin).
			last := ev.reports[len(ev.reports)-1]
			if last.Type != r.Type && last.Head.ReportDateTime.Equal(r.Head.ReportDateTime) &&
				sameWarningState(last, r) {
				u.Change = ChangeDuplicate
				return u
			}
			ev.reports = []*Report{last, r}
		} else {
			ev.reports = append(ev.reports, r)
		}
	}
	if n := len(ev.reports); n > t.opt.MaxReportsPerEvent {
		ev.reports = append([]*Report(nil), ev.reports[n-t.opt.MaxReportsPerEvent:]...)
	}
	if len(ev.reports) > 0 {
		ev.hadState = true
	}
	after := fold(ev.reports)
	diff(&u, r, before, after, ev.warning && !before.hasWarnings)
	if u.Change == "" {
		if u.Facts() {
			u.Change = ChangeEscalation
		} else {
			u.Change = ChangeUpdate
		}
	}
	t.evictOverflow()
	return u
}

func (t *Tracker) lookup(r *Report) (*event, string) {
	fam := familyGroup(r)
	if r.Family == FamilyWarning {
		k := warningKey(r)
		return t.events[k], k
	}
	for _, id := range r.Head.EventIDs {
		if ev := t.alias[fam+":"+string(r.Control.Status)+":"+id]; ev != nil {
			return ev, ev.key
		}
	}
	id := r.Head.EventID()
	if id == "" {
		id = r.Head.Title + "@" + r.Head.ReportDateTimeRaw
	}
	return nil, fam + ":" + string(r.Control.Status) + ":" + id
}

func (t *Tracker) addAliases(ev *event, r *Report) {
	if r.Family == FamilyWarning {
		return
	}
	fam := familyGroup(r)
	for _, id := range r.Head.EventIDs {
		a := fam + ":" + string(r.Control.Status) + ":" + id
		if _, ok := t.alias[a]; !ok {
			t.alias[a] = ev
			ev.aliases = append(ev.aliases, a)
		}
	}
}

func (t *Tracker) drop(ev *event) {
	delete(t.events, ev.key)
	for _, a := range ev.aliases {
		if t.alias[a] == ev {
			delete(t.alias, a)
		}
	}
}

func (t *Tracker) expire(now time.Time) {
	for _, ev := range t.events {
		ttl := t.opt.EventTTL
		if ev.warning {
			ttl = t.opt.WarningTTL
		}
		if now.Sub(ev.last) > ttl {
			t.drop(ev)
		}
	}
	ttl := max(t.opt.EventTTL, t.opt.WarningTTL)
	for k, at := range t.seen {
		if now.Sub(at) > ttl {
			delete(t.seen, k)
		}
	}
}

func (t *Tracker) evictOverflow() {
	if len(t.events) > t.opt.MaxEvents {
		evs := make([]*event, 0, len(t.events))
		for _, ev := range t.events {
			evs = append(evs, ev)
		}
		sort.Slice(evs, func(i, j int) bool { return evs[i].last.Before(evs[j].last) })
		for _, ev := range evs[:len(evs)-t.opt.MaxEvents] {
			t.drop(ev)
		}
	}
	// The duplicate set is bounded too: keep at most 64 documents per event.
	if limit := t.opt.MaxEvents * 64; len(t.seen) > limit {
		type kv struct {
			k  string
			at time.Time
		}
		all := make([]kv, 0, len(t.seen))
		for k, at := range t.seen {
			all = append(all, kv{k, at})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
		for _, x := range all[:len(all)-limit] {
			delete(t.seen, x.k)
		}
	}
}

// latestSameTitle returns the index of the latest report with the same
// Control/Title as r, or -1.
func latestSameTitle(rs []*Report, r *Report) int {
	best := -1
	for i, x := range rs {
		if x.Control.Title != r.Control.Title {
			continue
		}
		if best < 0 || !orderLess(x, rs[best]) {
			best = i
		}
	}
	return best
}

// orderLess orders two reports of one event: by Serial when both have a
// numeric one, else by ReportDateTime, then Control/DateTime.
func orderLess(a, b *Report) bool {
	sa, ea := strconv.Atoi(a.Head.Serial)
	sb, eb := strconv.Atoi(b.Head.Serial)
	if ea == nil && eb == nil && a.Control.Title == b.Control.Title && sa != sb {
		return sa < sb
	}
	if !a.Head.ReportDateTime.Equal(b.Head.ReportDateTime) {
		return a.Head.ReportDateTime.Before(b.Head.ReportDateTime)
	}
	return a.Control.DateTime.Before(b.Control.DateTime)
}

// state is the folded state of an event's live reports.
type state struct {
	quake        map[string]Intensity // area -> highest intensity
	quakePref    map[string]string
	quakeFcst    bool
	tsunamiKind  map[string]TsunamiKind // region -> current kind
	tsunamiLast  map[string]TsunamiKind
	tsunamiLevel map[string]int // region -> highest level seen
	warn         map[string][]WarningKind
	warnPref     string
	hasWarnings  bool
}

func fold(rs []*Report) state {
	s := state{quake: map[string]Intensity{}, quakePref: map[string]string{}, tsunamiKind: map[string]TsunamiKind{},
		tsunamiLast: map[string]TsunamiKind{}, tsunamiLevel: map[string]int{}, warn: map[string][]WarningKind{}}
	sorted := append([]*Report(nil), rs...)
	sort.SliceStable(sorted, func(i, j int) bool { return orderLess(sorted[i], sorted[j]) })
	for _, r := range sorted {
		if eq := r.Earthquake; eq != nil && eq.Intensity != nil {
			for _, p := range eq.Intensity.Prefs {
				for i := range p.Areas {
					a := &p.Areas[i]
					s.quake[a.Code] = s.quake[a.Code].Max(a.Effective())
					s.quakePref[a.Code] = p.Code
				}
			}
		}
		if e := r.EEW; e != nil {
			s.quakeFcst = true
			for _, a := range e.Areas {
				s.quake[a.Code] = s.quake[a.Code].Max(a.ForecastInt.From)
				s.quakePref[a.Code] = a.PrefCode
			}
		}
		if ts := r.Tsunami; ts != nil {
			for _, it := range ts.Forecast {
				s.tsunamiKind[it.AreaCode] = it.Kind
				s.tsunamiLast[it.AreaCode] = it.LastKind
				s.tsunamiLevel[it.AreaCode] = max(s.tsunamiLevel[it.AreaCode], it.Kind.Level())
			}
		}
		if w := r.Warnings; w != nil {
			s.hasWarnings = true
			s.warn = map[string][]WarningKind{}
			s.warnPref = warningPref(r)
			if g := w.Level(LevelCity); g != nil {
				for _, it := range g.Items {
					s.warn[it.AreaCode] = append(s.warn[it.AreaCode], it.Kinds...)
				}
			}
		}
	}
	return s
}

func activeCodes(ks []WarningKind) []string {
	var out []string
	for _, k := range ks {
		if k.Active() {
			out = append(out, k.Code)
		}
	}
	sort.Strings(out)
	return out
}

func maxSeverity(codes []string) WarningSeverity {
	m := SeverityNone
	for _, c := range codes {
		m = max(m, KindSeverity(c))
	}
	return m
}

func sameWarningState(a, b *Report) bool {
	sa, sb := fold([]*Report{a}), fold([]*Report{b})
	if len(sa.warn) != len(sb.warn) {
		return false
	}
	for k, v := range sa.warn {
		if strings.Join(activeCodes(v), ",") != strings.Join(activeCodes(sb.warn[k]), ",") {
			return false
		}
	}
	return true
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}

// diff fills the facts of u from the states before and after. firstWarning
// is true when no earlier warning state exists: then only kinds whose Status
// is 発表 count as newly issued (継続 ones were issued before we started).
func diff(u *Update, r *Report, before, after state, firstWarning bool) {
	// Earthquake areas: every area in either state that the report names or
	// whose value changed.
	areas := map[string]bool{}
	for k, v := range after.quake {
		if before.quake[k] != v {
			areas[k] = true
		}
	}
	for k, v := range before.quake {
		if after.quake[k] != v {
			areas[k] = true
		}
	}
	for _, s := range r.Summary().Areas {
		areas[s.Code] = true
	}
	if r.EEW != nil {
		for _, a := range r.EEW.Areas {
			areas[a.Code] = true
		}
	}
	for _, code := range sortedKeys(areas) {
		cur, prev := after.quake[code], before.quake[code]
		f := AreaFact{Area: code, Pref: after.quakePref[code], Intensity: cur, Previous: prev,
			Raised: cur.Compare(prev) > 0, Forecast: after.quakeFcst}
		if f.Pref == "" {
			f.Pref = before.quakePref[code]
		}
		for _, th := range Thresholds() {
			if cur.AtLeast(th) && !prev.AtLeast(th) {
				f.NewlyAtLeast = append(f.NewlyAtLeast, th)
			}
		}
		u.Quake = append(u.Quake, f)
	}
	// Tsunami regions.
	regions := map[string]bool{}
	for k := range after.tsunamiKind {
		regions[k] = true
	}
	for k := range before.tsunamiKind {
		regions[k] = true
	}
	for _, code := range sortedKeys(regions) {
		cur, prev := after.tsunamiKind[code], before.tsunamiKind[code]
		f := TsunamiFact{Region: code, Kind: cur, LastKind: after.tsunamiLast[code], Previous: prev,
			NewKind:   cur != prev,
			Escalated: after.tsunamiLevel[code] > before.tsunamiLevel[code],
			Lifted:    cur.Lifted() && prev.Level() > 0}
		if f.Previous == "" && cur.Lifted() && f.LastKind.Level() > 0 {
			f.Lifted = true // first seen already lifted: LastKind says what was lifted
		}
		u.Tsunami = append(u.Tsunami, f)
	}
	// Weather warnings, per municipality.
	if after.hasWarnings || before.hasWarnings {
		munis := map[string]bool{}
		for k := range after.warn {
			munis[k] = true
		}
		for k := range before.warn {
			munis[k] = true
		}
		for _, code := range sortedKeys(munis) {
			cur, prev := activeCodes(after.warn[code]), activeCodes(before.warn[code])
			f := WarningFact{Area: code, Pref: after.warnPref, Active: cur, Lifted: minus(prev, cur)}
			if firstWarning {
				for _, k := range after.warn[code] {
					if k.Code != "" && k.Status == WarningIssued {
						f.Issued = append(f.Issued, k.Code)
					}
				}
				sort.Strings(f.Issued)
			} else {
				// A kind that is in force because of a downgrade (特別警報から警報,
				// 警報から注意報, …) is not a newly issued warning.
				for _, c := range minus(cur, prev) {
					if !downgradedTo(after.warn[code], c) {
						f.Issued = append(f.Issued, c)
					}
				}
			}
			f.Upgraded = maxSeverity(cur) > maxSeverity(prev) && len(f.Issued) > 0
			f.Downgraded = maxSeverity(cur) < maxSeverity(prev)
			u.Warnings = append(u.Warnings, f)
		}
	}
}

func downgradedTo(ks []WarningKind, code string) bool {
	for _, k := range ks {
		if k.Code == code {
			switch k.Status {
			case WarningToAdvisory, WarningSpecialToWarning, WarningSpecialToAdvisory:
				return true
			}
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DiffWarnings compares two complete warning states of one prefecture and
// returns, per municipality (市町村等), the kinds in force, newly issued and
// lifted, and whether the top severity went up or down. prev may be nil (no
// earlier state): then only kinds whose Status is 発表 count as issued.
func DiffWarnings(prev, cur *Report) []WarningFact {
	var before state
	if prev != nil {
		before = fold([]*Report{prev})
	} else {
		before = fold(nil)
	}
	after := fold([]*Report{cur})
	u := Update{}
	diff(&u, cur, before, after, prev == nil || !before.hasWarnings)
	return u.Warnings
}
