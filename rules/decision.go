package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/anpikit/anpi/jma"
)

// Action is what a decision asks the caller to do.
type Action string

// Actions of a decision.
const (
	// ActionSend starts a real send to the decision's recipients.
	ActionSend Action = "send"
	// ActionDrill starts a drill send (訓練 document, rule opted in): it must
	// be labelled as a drill and tallied apart.
	ActionDrill Action = "drill"
	// ActionCancel stops what is unsent for the (rule, event) and tells the
	// recipients already reached that the report was withdrawn (取消).
	ActionCancel Action = "cancel"
	// ActionHold says the recipients are in scope but held until HoldUntil;
	// State.Due (or a later Evaluate) releases them as a send or drill
	// decision unless a 取消 or 訂正 arrives first.
	ActionHold Action = "hold"
	// ActionSkip explains why a rule did not fire; it has no recipients.
	ActionSkip Action = "skip"
)

// SkipReason classifies an ActionSkip decision.
type SkipReason string

// Reasons for skipping.
const (
	SkipDisabled        SkipReason = "disabled"          // the rule is disabled
	SkipInvalid         SkipReason = "invalid"           // the rule has no trigger for its kind (see Validate)
	SkipTest            SkipReason = "test"              // 試験 document: never anything
	SkipDrill           SkipReason = "drill"             // 訓練 document and the rule does not opt in
	SkipDuplicate       SkipReason = "duplicate"         // a repeat delivery or the twin of a VPWW53/54 pair
	SkipBelowThreshold  SkipReason = "below-threshold"   // no area at or above the threshold, no matching kind newly issued
	SkipNotified        SkipReason = "already-notified"  // escalate-only: everyone in scope was already reached
	SkipNoRecipients    SkipReason = "no-recipients"     // areas matched but nobody is registered there
	SkipSuppressed      SkipReason = "suppressed"        // same series within the suppression window, level not higher
	SkipNothingToCancel SkipReason = "nothing-to-cancel" // 取消 of an event the rule never sent for
)

// Match is one reason a rule fired: a region and the intensity or kind that
// matched, with the recipients newly in scope because of it. A recipient
// appears under one match only (the strongest, then the lowest code).
type Match struct {
	Region       string          `json:"region"`                 // "quake:350", "tsunami:300", "warning:1310100"
	Pref         string          `json:"pref,omitempty"`         // prefecture code the report states
	Intensity    jma.Intensity   `json:"intensity,omitzero"`     // earthquake: value that met the threshold
	TsunamiKind  jma.TsunamiKind `json:"tsunamiKind,omitempty"`  // tsunami: the kind in force
	WarningKinds []string        `json:"warningKinds,omitempty"` // weather: kinds newly issued that match
	Recipients   IDs             `json:"recipients,omitzero"`    // newly in scope, in index order

	level int // comparable strength: intensity floor, tsunami level, warning severity
}

// value is the matched intensity or kind as shown.
func (m *Match) value() string {
	switch {
	case m.Intensity != jma.IntensityNone:
		return m.Intensity.String()
	case m.TsunamiKind != "":
		return string(m.TsunamiKind)
	}
	return strings.Join(m.WarningKinds, ",")
}

// Why describes the match, e.g. "quake:350 at 6-", "tsunami:300 kind 53",
// "warning:1310100 issued 33".
func (m *Match) Why() string {
	switch {
	case m.Intensity != jma.IntensityNone:
		return m.Region + " at " + m.Intensity.String()
	case m.TsunamiKind != "":
		return m.Region + " kind " + string(m.TsunamiKind)
	case len(m.WarningKinds) > 0:
		return m.Region + " issued " + strings.Join(m.WarningKinds, ",")
	}
	return m.Region
}

// Decision is what one rule decided about one update (or a released hold).
type Decision struct {
	Rule   string     `json:"rule"`            // the rule's ID
	Event  string     `json:"event"`           // event key (quake and EEW share one)
	Action Action     `json:"action"`          // what to do
	Skip   SkipReason `json:"skip,omitempty"`  // set for ActionSkip
	Reason string     `json:"reason"`          // human-readable explanation
	Drill  bool       `json:"drill,omitempty"` // a drill (訓練): label it, tally it apart

	// AdminsOnly marks a notice to the rule's administrators only (an
	// administrators-only rule, or a suppressed aftershock); InScope then
	// counts the recipients who were not asked.
	AdminsOnly bool `json:"adminsOnly,omitempty"` // a notice to the rule's Admins only
	InScope    int  `json:"inScope,omitempty"`    // AdminsOnly: recipients in scope, not asked

	// Matches are the regions that matched, each with the recipients newly
	// in scope because of it.
	Matches []Match `json:"matches,omitempty"`
	// Direct are recipients not tied to one region: administrators of a
	// notice, and for a cancel everyone already reached.
	Direct []string `json:"direct,omitempty"`
	// Groups are fixed groups the caller resolves (TargetFixed).
	Groups []string `json:"groups,omitempty"`

	HoldUntil time.Time `json:"holdUntil,omitzero"` // ActionHold, and the hold a release came from
	Dropped   int       `json:"dropped,omitempty"`  // ActionCancel: held recipients dropped
	At        time.Time `json:"at"`                 // evaluation (or release) time

	// Report is the report that caused the decision (for a release, the
	// last report that added to the hold; nil after a State was restored).
	Report *jma.Report `json:"-"`
}

// Recipients returns every recipient of the decision: those of the matches
// (unless AdminsOnly), then Direct. Order is index order, not sorted.
func (d Decision) Recipients() []string {
	out := make([]string, 0, d.Count())
	if !d.AdminsOnly {
		for i := range d.Matches {
			out = d.Matches[i].Recipients.appendTo(out)
		}
	}
	return append(out, d.Direct...)
}

// UniqueRecipients returns the recipients of Recipients, each once: those
// the matches hold as index ordinals in the index's order (the order in
// which they were first added to it), then the others in Recipients'
// order. A recipient registered in several matched regions appears in
// several matches; a caller that acts on each person once wants this.
func (d Decision) UniqueRecipients() []string {
	var lists []IDs
	if !d.AdminsOnly {
		for i := range d.Matches {
			lists = append(lists, d.Matches[i].Recipients)
		}
	}
	return unionIDs(append(lists, NewIDs(d.Direct...)))
}

// Count returns len(d.Recipients()) without building the list.
func (d Decision) Count() int {
	n := len(d.Direct)
	if !d.AdminsOnly {
		for i := range d.Matches {
			n += d.Matches[i].Recipients.Len()
		}
	}
	return n
}

// Sends reports whether the decision delivers messages now (send or drill).
func (d Decision) Sends() bool { return d.Action == ActionSend || d.Action == ActionDrill }

// summarize lists the first matches and, when n ≥ 0, the number newly in
// scope.
func summarize(ms []Match, n int) string {
	if len(ms) == 0 {
		return ""
	}
	parts := make([]string, 0, 3)
	for i := range ms {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ms)-3))
			break
		}
		parts = append(parts, ms[i].Why())
	}
	if n < 0 {
		return strings.Join(parts, ", ")
	}
	return fmt.Sprintf("%s; %d newly in scope", strings.Join(parts, ", "), n)
}
