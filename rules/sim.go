package rules

import (
	"slices"
	"time"

	"github.com/anpikit/anpi/jma"
)

// Scenario is a hypothetical JMA situation for Simulate: "if 震度6弱 hit area
// 350, who would get what?". Each non-empty part becomes one update.
type Scenario struct {
	// Status is the Control/Status to pretend; 通常 when empty.
	Status jma.Status
	// At is the evaluation time; the zero time when unset.
	At       time.Time
	Quake    []QuakeArea   // earthquake areas and intensities
	Tsunami  []TsunamiArea // tsunami regions and kinds
	Warnings []WarningArea // municipalities and newly issued kinds
}

// QuakeArea is an earthquake 細分区域 at an intensity in a Scenario.
type QuakeArea struct {
	Area      string        // 3-digit 細分区域, e.g. "350"
	Pref      string        // 2-digit prefecture, e.g. "13" (for prefecture filters)
	Intensity jma.Intensity // e.g. jma.Intensity6Lower
}

// TsunamiArea is a 津波予報区 under a kind in a Scenario.
type TsunamiArea struct {
	Region string          // 3-digit 津波予報区, e.g. "300"
	Kind   jma.TsunamiKind // e.g. jma.TsunamiMajorIssued
}

// WarningArea is a 市町村等 with newly issued warning kinds in a Scenario.
type WarningArea struct {
	Area  string   // 7-digit 市町村等, e.g. "1310100"
	Pref  string   // 6-digit 府県予報区, e.g. "130000" (optional)
	Kinds []string // kind codes, e.g. "33" 大雨特別警報
}

// Simulate answers who would receive what under rs if the scenario
// happened, without any side effect: each part of the scenario is evaluated
// as the first report of a new event on a fresh State. Held sends appear as
// ActionHold decisions with their recipients.
func Simulate(sc Scenario, rs []Rule, ix *Index) []Decision {
	status := sc.Status
	if status == "" {
		status = jma.StatusNormal
	}
	rep := func(fam jma.Family, typ string) *jma.Report {
		return &jma.Report{Type: typ, Family: fam, Control: jma.Control{Title: "simulation", DateTime: sc.At, Status: status},
			Head: jma.Head{Title: "simulation", ReportDateTime: sc.At, InfoType: jma.InfoIssued}}
	}
	var out []Decision
	if len(sc.Quake) > 0 {
		u := jma.Update{Key: "quake:" + string(status) + ":simulation", Report: rep(jma.FamilyEarthquake, "VXSE53"), Change: jma.ChangeNew}
		for _, a := range sc.Quake {
			f := jma.AreaFact{Area: a.Area, Pref: a.Pref, Intensity: a.Intensity, Raised: true}
			for _, th := range jma.Thresholds() {
				if a.Intensity.AtLeast(th) {
					f.NewlyAtLeast = append(f.NewlyAtLeast, th)
				}
			}
			u.Quake = append(u.Quake, f)
		}
		out = append(out, NewState(nil).Evaluate(u, rs, ix, sc.At)...)
	}
	if len(sc.Tsunami) > 0 {
		u := jma.Update{Key: "tsunami:" + string(status) + ":simulation", Report: rep(jma.FamilyTsunami, "VTSE41"), Change: jma.ChangeNew}
		for _, a := range sc.Tsunami {
			u.Tsunami = append(u.Tsunami, jma.TsunamiFact{Region: a.Region, Kind: a.Kind, NewKind: true, Escalated: a.Kind.Level() > 0})
		}
		out = append(out, NewState(nil).Evaluate(u, rs, ix, sc.At)...)
	}
	if len(sc.Warnings) > 0 {
		u := jma.Update{Key: "warning:" + string(status) + ":simulation", Report: rep(jma.FamilyWarning, "VPWW53"), Change: jma.ChangeNew}
		for _, a := range sc.Warnings {
			ks := slices.Clone(a.Kinds)
			slices.Sort(ks)
			u.Warnings = append(u.Warnings, jma.WarningFact{Area: a.Area, Pref: a.Pref, Active: ks, Issued: ks})
		}
		out = append(out, NewState(nil).Evaluate(u, rs, ix, sc.At)...)
	}
	return out
}

// ReplayOptions configures Replay and Diff. A nil *ReplayOptions means
// defaults.
type ReplayOptions struct {
	// State bounds the evaluation memory (see StateOptions).
	State *StateOptions
	// Tracker configures the jma.Tracker; its Now is replaced by the
	// virtual clock.
	Tracker *jma.TrackerOptions
}

// Step is one moment of a replay: a document applied, or held sends
// released.
type Step struct {
	Doc       int            `json:"doc"`              // index in the documents; -1 for a release
	At        time.Time      `json:"at"`               // virtual time
	Released  bool           `json:"released"`         // a hold window expired
	Change    jma.ChangeKind `json:"change,omitempty"` // what the document changed (tracker)
	Event     string         `json:"event,omitempty"`  // event key of the document
	Decisions []Decision     `json:"decisions"`        // what the rules decided
}

// Replay feeds the documents, in the order given, through a jma.Tracker and
// a fresh State on a virtual clock taken from the documents (Control/DateTime,
// never running backwards), and returns the timeline: one step per document
// and one per release of held sends (when the clock passes a hold's end, and
// after the last document). It has no side effect.
func Replay(docs []*jma.Report, rs []Rule, ix *Index, opt *ReplayOptions) []Step {
	var clock time.Time
	topt := jma.TrackerOptions{}
	var sopt *StateOptions
	if opt != nil {
		if opt.Tracker != nil {
			topt = *opt.Tracker
		}
		sopt = opt.State
	}
	topt.Now = func() time.Time { return clock }
	tr := jma.NewTracker(&topt)
	st := NewState(sopt)
	var steps []Step
	release := func(until time.Time, all bool) {
		for {
			t, ok := st.NextDue()
			if !ok || (!all && t.After(until)) {
				return
			}
			steps = append(steps, Step{Doc: -1, At: t, Released: true, Decisions: st.Due(t)})
		}
	}
	for i, r := range docs {
		if r == nil {
			continue
		}
		t := r.Control.DateTime
		if t.IsZero() {
			t = r.Head.ReportDateTime
		}
		if t.Before(clock) {
			t = clock
		}
		release(t, false)
		clock = t
		u := tr.Apply(r)
		steps = append(steps, Step{Doc: i, At: t, Change: u.Change, Event: eventKey(&u), Decisions: st.Evaluate(u, rs, ix, t)})
	}
	release(time.Time{}, true)
	return steps
}

// DiffEntry is the blast radius of a rule change on one document: the
// recipients who would be reached (send or drill, including held sends the
// document caused) under the new rules and not the old (Gained), and the
// reverse (Lost). IDs are sorted.
type DiffEntry struct {
	Doc    int      `json:"doc"`    // index in the documents
	Gained []string `json:"gained"` // reached under b, not under a
	Lost   []string `json:"lost"`   // reached under a, not under b
}

// Diff replays the documents under rules a and under rules b and returns,
// for each document, the recipients gained and lost by moving from a to b.
func Diff(a, b []Rule, ix *Index, docs []*jma.Report, opt *ReplayOptions) []DiffEntry {
	ra, rb := Reached(Replay(docs, a, ix, opt), docs), Reached(Replay(docs, b, ix, opt), docs)
	out := make([]DiffEntry, len(docs))
	for i := range docs {
		out[i] = DiffEntry{Doc: i, Gained: minus(rb[i], ra[i]), Lost: minus(ra[i], rb[i])}
	}
	return out
}

// Reached returns, per document index, the recipients the timeline reaches
// because of that document (send and drill decisions; a released hold counts
// for the document that caused it).
func Reached(steps []Step, docs []*jma.Report) []map[string]bool {
	idx := map[*jma.Report]int{}
	for i, r := range docs {
		if _, ok := idx[r]; !ok {
			idx[r] = i
		}
	}
	out := make([]map[string]bool, len(docs))
	for i := range out {
		out[i] = map[string]bool{}
	}
	for _, s := range steps {
		for i := range s.Decisions {
			d := &s.Decisions[i]
			if !d.Sends() {
				continue
			}
			doc := s.Doc
			if s.Released || doc < 0 {
				j, ok := idx[d.Report]
				if !ok {
					continue
				}
				doc = j
			}
			for _, id := range d.Recipients() {
				out[doc][id] = true
			}
		}
	}
	return out
}

func minus(a, b map[string]bool) []string {
	out := []string{}
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
