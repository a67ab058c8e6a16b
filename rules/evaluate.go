package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anpikit/anpi/jma"
)

// StateOptions bounds the memory of a State. A nil *StateOptions means
// defaults.
type StateOptions struct {
	// EventTTL is how long a (rule, event) record is kept after its last
	// update; default 72h (the jma.Tracker default). A record with a hold
	// pending is kept until the hold is released.
	EventTTL time.Duration
	// MaxRecords bounds the (rule, event) records; the least recently
	// updated without a pending hold are dropped first. Default 4096.
	MaxRecords int
}

// State is the memory that makes evaluation escalate-only and carries the
// hold and suppression windows: per (rule, event) the recipients already
// reached (a bitset over index ordinals) and any held send, and per rule the
// regions and levels recently reached (the series). The caller owns it and
// passes time in; it never reads a clock. It is safe for concurrent use, and
// it persists with encoding/json (MarshalJSON and UnmarshalJSON), recipients
// written as IDs so it can be restored against a rebuilt index.
type State struct {
	mu     sync.Mutex
	opt    StateOptions
	recs   map[string]*record
	series map[string]*mark
}

// record is the memory of one (rule, event).
type record struct {
	rule, event    string
	drill          bool
	first, last    time.Time
	ix             *Index   // index the sent bitset refers to
	sent           bitset   // ordinals reached or held
	sentIDs        []string // restored, not yet resolved against an index
	direct         map[string]bool
	adminsNotified bool
	observed       bool            // an observed earthquake report (not an EEW) added to it
	regions        map[string]bool // regions that matched for the event
	pending        *pending
}

// pending is a held send: one chunk per update that added to it, so each
// release decision names the report that caused it.
type pending struct {
	due        time.Time
	drill      bool
	adminsOnly bool
	chunks     []*chunk
}

// chunk is what one update added to a held send.
type chunk struct {
	matches []Match
	direct  []string
	groups  []string
	inScope int
	reason  string
	report  *jma.Report
}

func (c *chunk) empty() bool { return len(c.matches) == 0 && len(c.direct) == 0 && len(c.groups) == 0 }

// mark is one region reached by a rule, for the suppression window.
type mark struct {
	rule, region string
	drill        bool
	level        int
	value        string // the level as shown, e.g. "6-", "53", "33"
	at, until    time.Time
	event        string
}

// NewState returns an empty state.
func NewState(opt *StateOptions) *State {
	s := &State{recs: map[string]*record{}, series: map[string]*mark{}}
	if opt != nil {
		s.opt = *opt
	}
	if s.opt.EventTTL <= 0 {
		s.opt.EventTTL = 72 * time.Hour
	}
	if s.opt.MaxRecords <= 0 {
		s.opt.MaxRecords = 4096
	}
	return s
}

// Evaluate decides, for one update, what each rule does, with no memory of
// earlier updates: it is State.Evaluate on a fresh State. Use a State to be
// escalate-only across updates and to release holds.
func Evaluate(u jma.Update, rs []Rule, ix *Index, now time.Time) []Decision {
	return NewState(nil).Evaluate(u, rs, ix, now)
}

// Evaluate decides what each rule does about update u at time now (the
// caller's clock, or a virtual one in a replay). It first releases the holds
// that are due at now (as State.Due does), then returns, in rule order, at
// most two decisions per applicable rule: a notice to administrators for a
// suppressed part, and the send, drill, hold, cancel or skip itself. A rule
// whose kind does not fit the report (an earthquake rule and a VTSE41, say)
// yields nothing. Recipients are those newly in scope: nobody is asked twice
// about the same event by the same rule. A nil index is an empty one.
func (s *State) Evaluate(u jma.Update, rs []Rule, ix *Index, now time.Time) []Decision {
	if ix == nil {
		ix = NewIndex()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.due(now)
	s.prune(now)
	if u.Report == nil {
		return out
	}
	ev := eventKey(&u)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for i := range rs {
		out = append(out, s.evalRule(&rs[i], &u, ix, ev, now)...)
	}
	return out
}

// Due releases the holds whose time has come (HoldUntil ≤ now) as send or
// drill decisions, ordered by due time then rule.
func (s *State) Due(now time.Time) []Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.due(now)
}

// NextDue returns the earliest pending hold time, if any: the moment a
// caller should call Due next.
func (s *State) NextDue() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Time
	ok := false
	for _, r := range s.recs {
		if r.pending != nil && (!ok || r.pending.due.Before(t)) {
			t, ok = r.pending.due, true
		}
	}
	return t, ok
}

// Len returns the number of (rule, event) records held.
func (s *State) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

func (s *State) due(now time.Time) []Decision {
	var out []Decision
	for _, r := range s.recs {
		p := r.pending
		if p == nil || p.due.After(now) {
			continue
		}
		r.pending = nil
		for _, c := range p.chunks {
			d := Decision{Rule: r.rule, Event: r.event, Action: ActionSend, Drill: p.drill, AdminsOnly: p.adminsOnly,
				InScope: c.inScope, Matches: c.matches, Direct: c.direct, Groups: c.groups, HoldUntil: p.due, At: p.due, Report: c.report}
			if p.drill {
				d.Action = ActionDrill
			}
			d.Reason = "hold until " + p.due.UTC().Format(time.RFC3339) + " expired: " + c.reason
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b Decision) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Event, b.Event))
	})
	return out
}

func (s *State) prune(now time.Time) {
	for k, r := range s.recs {
		if r.pending == nil && now.Sub(r.last) > s.opt.EventTTL {
			delete(s.recs, k)
		}
	}
	for k, m := range s.series {
		if now.After(m.until) {
			delete(s.series, k)
		}
	}
	if len(s.recs) > s.opt.MaxRecords {
		var rs []*record
		for _, r := range s.recs {
			if r.pending == nil {
				rs = append(rs, r)
			}
		}
		slices.SortFunc(rs, func(a, b *record) int { return a.last.Compare(b.last) })
		for _, r := range rs[:max(0, min(len(rs), len(s.recs)-s.opt.MaxRecords))] {
			delete(s.recs, recKey(r.rule, r.event))
		}
	}
}

func recKey(rule, event string) string { return rule + "\x00" + event }

func seriesKey(rule string, drill bool, region string) string {
	return fmt.Sprintf("%s\x00%t\x00%s", rule, drill, region)
}

// eventKey is the event of an update: the tracker's key, with 緊急地震速報
// and the observed earthquake reports of one EventID sharing one event.
func eventKey(u *jma.Update) string {
	if rest, ok := strings.CutPrefix(u.Key, "eew:"); ok {
		return "quake:" + rest
	}
	return u.Key
}

// applies reports whether a rule looks at reports of this family.
func applies(r *Rule, rep *jma.Report) bool {
	switch r.Kind {
	case KindEarthquake:
		return rep.Family == jma.FamilyEarthquake || (rep.Family == jma.FamilyEEW && r.Earthquake != nil && r.Earthquake.EEW)
	case KindTsunami:
		return rep.Family == jma.FamilyTsunami
	case KindWeather:
		return rep.Family == jma.FamilyWarning
	}
	return false
}

func (s *State) evalRule(r *Rule, u *jma.Update, ix *Index, ev string, now time.Time) []Decision {
	rep := u.Report
	if !applies(r, rep) {
		return nil
	}
	base := Decision{Rule: r.ID, Event: ev, At: now, Report: rep}
	skip := func(why SkipReason, msg string) []Decision {
		d := base
		d.Action, d.Skip, d.Reason = ActionSkip, why, msg
		return []Decision{d}
	}
	if r.Disabled {
		return skip(SkipDisabled, "rule disabled")
	}
	if (r.Kind == KindEarthquake && r.Earthquake == nil) || (r.Kind == KindTsunami && r.Tsunami == nil) ||
		(r.Kind == KindWeather && r.Weather == nil) {
		return skip(SkipInvalid, fmt.Sprintf("invalid rule: no %s trigger", r.Kind))
	}
	switch rep.Control.Status {
	case jma.StatusNormal:
	case jma.StatusTraining:
		if !r.Options.Drill {
			return skip(SkipDrill, "訓練 document: the rule does not opt in to drills")
		}
		base.Drill = true
	default:
		return skip(SkipTest, fmt.Sprintf("%s document (status %q): never sent", rep.Type, rep.Control.Status))
	}
	key := recKey(r.ID, ev)
	rec := s.recs[key]
	switch u.Change {
	case jma.ChangeDuplicate:
		return skip(SkipDuplicate, "duplicate delivery or VPWW53/54 twin: already evaluated")
	case jma.ChangeCancel:
		if rep.Family == jma.FamilyEEW && rec != nil && rec.observed {
			return skip(SkipNothingToCancel, "取消 of a 緊急地震速報 after observed intensities: the observations stand")
		}
		return s.cancel(r, rec, base, ix, u)
	}

	ms, active, info := match(r, u)
	if rec != nil {
		rec.resolve(ix)
		if u.Change == jma.ChangeCorrection && rec.pending != nil {
			rec.revise(u, ms, ix)
		}
	}
	if len(ms) == 0 {
		if r.Kind == KindWeather && !active && rec != nil && rec.pending == nil {
			// The series of warnings is over: a later issuance is news again.
			delete(s.recs, key)
		}
		return skip(SkipBelowThreshold, info)
	}
	if rec == nil {
		rec = &record{rule: r.ID, event: ev, drill: base.Drill, first: now, ix: ix}
		s.recs[key] = rec
	}
	rec.last = now
	if rep.Family == jma.FamilyEarthquake {
		rec.observed = true
	}

	live, supp := s.splitSuppressed(r, base.Drill, ev, ms, now)
	var out []Decision
	if len(supp) > 0 {
		out = append(out, s.suppressed(r, rec, base, supp, ix))
	}
	if len(live) == 0 {
		return out
	}
	d := base
	d.Action = ActionSend
	if base.Drill {
		d.Action = ActionDrill
	}
	n, total := collect(r, rec, ix, live, &d)
	if rec.regions == nil {
		rec.regions = map[string]bool{}
	}
	for _, m := range live {
		rec.regions[m.Region] = true
	}
	// The series remembers the highest level the event reached in each
	// region, also when nobody new was in scope.
	s.markSeries(r, base.Drill, ev, live, now)
	switch {
	case r.Options.AdminsOnly:
		if rec.adminsNotified {
			return append(out, skipOf(d, SkipNotified, "administrators were already notified of this event"))
		}
		rec.adminsNotified = true
		d.AdminsOnly, d.InScope, d.Direct = true, n, slices.Clone(r.Admins)
		for i := range d.Matches {
			d.Matches[i].Recipients = IDs{}
		}
		d.Reason = fmt.Sprintf("administrators only: %s", summarize(live, n))
	case n == 0 && len(d.Groups) == 0:
		if total == 0 {
			return append(out, skipOf(d, SkipNoRecipients, "matched "+summarize(live, -1)+" but nobody is registered there"))
		}
		return append(out, skipOf(d, SkipNotified, "escalate-only: everyone in scope was already reached ("+summarize(live, -1)+")"))
	default:
		d.Reason = summarize(d.Matches, n)
		if len(d.Groups) > 0 {
			d.Reason += "; groups " + strings.Join(d.Groups, ",")
		}
	}
	if h := r.Options.Hold; h > 0 {
		p := rec.pending
		if p == nil {
			p = &pending{due: now.Add(h), drill: base.Drill, adminsOnly: d.AdminsOnly}
			rec.pending = p
		}
		p.chunks = append(p.chunks, &chunk{matches: d.Matches, direct: d.Direct, groups: d.Groups,
			inScope: d.InScope, reason: d.Reason, report: rep})
		d.Action, d.HoldUntil = ActionHold, p.due
		d.Reason = "held until " + p.due.UTC().Format(time.RFC3339) + ": " + d.Reason
	}
	return append(out, d)
}

func skipOf(d Decision, why SkipReason, msg string) Decision {
	d.Action, d.Skip, d.Reason = ActionSkip, why, msg
	d.Matches, d.Direct, d.Groups, d.AdminsOnly, d.InScope = nil, nil, nil, false, 0
	return d
}

// collect fills d with the recipients newly in scope for the live matches and
// marks them reached. It returns the number newly in scope and the number in
// scope in total (reached before or now).
func collect(r *Rule, rec *record, ix *Index, live []Match, d *Decision) (n, total int) {
	count := r.Options.AdminsOnly
	switch target(r) {
	case TargetFixed:
		m := live[0]
		for _, id := range r.Recipients {
			total++
			if rec.direct["r:"+id] {
				continue
			}
			rec.setDirect("r:" + id)
			m.Recipients.strs = append(m.Recipients.strs, id)
			n++
		}
		for _, g := range r.Groups {
			if !rec.direct["g:"+g] {
				rec.setDirect("g:" + g)
				d.Groups = append(d.Groups, g)
			}
		}
		d.Matches = []Match{m}
	case TargetNationwide:
		m := live[0]
		total = ix.live
		if !count {
			m.Recipients = IDs{ix: ix, ords: make([]uint32, 0, ix.live)}
		}
		ix.alive.each(func(ord uint32) {
			if rec.sent.has(ord) {
				return
			}
			rec.sent.set(ord)
			n++
			if !count {
				m.Recipients.ords = append(m.Recipients.ords, ord)
			}
		})
		d.Matches = []Match{m}
	default:
		d.Matches = make([]Match, 0, len(live))
		for _, m := range live {
			post := ix.postingsLocked(m.Region)
			total += len(post)
			if !count {
				m.Recipients = IDs{ix: ix, ords: make([]uint32, 0, len(post))}
			}
			for _, ord := range post {
				if rec.sent.testAndSet(ord) {
					continue
				}
				n++
				if !count {
					m.Recipients.ords = append(m.Recipients.ords, ord)
				}
			}
			if m.Recipients.Len() > 0 || count {
				d.Matches = append(d.Matches, m)
			}
		}
	}
	return n, total
}

func target(r *Rule) Target {
	if r.Target == "" {
		return TargetRegion
	}
	return r.Target
}

func (rec *record) setDirect(k string) {
	if rec.direct == nil {
		rec.direct = map[string]bool{}
	}
	rec.direct[k] = true
}

// resolve makes the sent bitset refer to ix: it maps restored IDs, or the
// ordinals of another index, to ix's ordinals.
func (rec *record) resolve(ix *Index) {
	if rec.ix == ix && rec.sentIDs == nil {
		return
	}
	var ids []string
	if rec.sentIDs != nil {
		ids = rec.sentIDs
	} else if rec.ix != nil {
		old := rec.ix
		old.mu.RLock()
		rec.sent.each(func(ord uint32) {
			if int(ord) < len(old.ids) {
				ids = append(ids, old.ids[ord])
			}
		})
		old.mu.RUnlock()
	}
	rec.sent, rec.sentIDs, rec.ix = bitset{}, nil, ix
	for _, id := range ids {
		if ord, ok := ix.byID[id]; ok {
			rec.sent.set(ord)
		}
	}
}

// revise applies a 訂正 to a held send: held matches whose region the
// corrected report no longer matches are dropped (and their recipients may
// be asked again if another region matches them).
func (rec *record) revise(u *jma.Update, ms []Match, ix *Index) {
	still := map[string]bool{}
	for _, m := range ms {
		still[m.Region] = true
	}
	named := namedRegions(u)
	p := rec.pending
	chunks := p.chunks[:0]
	for _, c := range p.chunks {
		kept := c.matches[:0]
		for _, m := range c.matches {
			if named[m.Region] && !still[m.Region] {
				for _, ord := range m.Recipients.ordinals(ix) {
					rec.sent.clear(ord)
				}
				continue
			}
			kept = append(kept, m)
		}
		c.matches = kept
		if !c.empty() {
			c.reason += " (訂正 applied)"
			chunks = append(chunks, c)
		}
	}
	p.chunks = chunks
	if len(p.chunks) == 0 {
		rec.pending = nil
	}
}

func (s *State) cancel(r *Rule, rec *record, base Decision, ix *Index, u *jma.Update) []Decision {
	d := base
	if rec == nil {
		d.Action, d.Skip, d.Reason = ActionSkip, SkipNothingToCancel, "取消: the rule sent nothing for this event"
		return []Decision{d}
	}
	rec.resolve(ix)
	// A 取消 withdraws one report; the event's other reports may still
	// stand. Regions the update shows no longer matching are withdrawn; the
	// others stand. Only when nothing stands is the whole event cancelled.
	ms, _, _ := match(r, u)
	still := map[string]bool{}
	for _, m := range ms {
		still[m.Region] = true
	}
	named := namedRegions(u)
	var dropped, standing []string
	for _, reg := range sortedKeys(rec.regions) {
		if named[reg] && !still[reg] {
			dropped = append(dropped, reg)
		} else {
			standing = append(standing, reg)
		}
	}
	if len(standing) > 0 {
		return s.partialCancel(r, rec, d, ix, dropped, standing)
	}
	held := map[string]bool{}
	var heldOrds bitset
	heldGroups := map[string]bool{}
	if p := rec.pending; p != nil {
		for _, c := range p.chunks {
			for _, m := range c.matches {
				for _, ord := range m.Recipients.ordinals(ix) {
					heldOrds.set(ord)
				}
				d.Dropped += m.Recipients.Len()
			}
			for _, id := range c.direct {
				held["r:"+id] = true
			}
			d.Dropped += len(c.direct)
			for _, g := range c.groups {
				heldGroups[g] = true
			}
		}
	}
	rec.sent.each(func(ord uint32) {
		if int(ord) < len(ix.ids) && !heldOrds.has(ord) {
			d.Direct = append(d.Direct, ix.ids[ord])
		}
	})
	for _, k := range sortedKeys(rec.direct) {
		kind, v, _ := strings.Cut(k, ":")
		switch {
		case kind == "g" && !heldGroups[v]:
			d.Groups = append(d.Groups, v)
		case kind == "r" && !held[k]:
			d.Direct = append(d.Direct, v)
		}
	}
	if rec.adminsNotified && (rec.pending == nil || !rec.pending.adminsOnly) {
		d.Direct = append(d.Direct, r.Admins...)
	}
	d.Direct = dedupe(d.Direct)
	delete(s.recs, recKey(rec.rule, rec.event))
	for k, m := range s.series {
		if m.rule == rec.rule && m.event == rec.event {
			delete(s.series, k)
		}
	}
	if len(d.Direct) == 0 && len(d.Groups) == 0 && d.Dropped == 0 {
		d.Action, d.Skip, d.Reason = ActionSkip, SkipNothingToCancel, "取消: the rule sent nothing for this event"
		return []Decision{d}
	}
	d.Action = ActionCancel
	d.Reason = fmt.Sprintf("取消 of %s: tell %d already reached; %d held dropped", base.Report.Control.Title, len(d.Direct), d.Dropped)
	return []Decision{d}
}

// namedRegions returns the region keys an update has facts for.
func namedRegions(u *jma.Update) map[string]bool {
	named := map[string]bool{}
	for _, f := range u.Quake {
		named[RegionKey(RegionQuake, f.Area)] = true
	}
	for _, f := range u.Tsunami {
		named[RegionKey(RegionTsunami, f.Region)] = true
	}
	for _, f := range u.Warnings {
		named[RegionKey(RegionWarning, f.Area)] = true
	}
	return named
}

// partialCancel handles a 取消 after which the event still stands in some
// regions: held sends for the withdrawn regions are dropped, and recipients
// reached only through withdrawn regions are told (TargetRegion; a fixed or
// nationwide rule's recipients are still concerned by the event).
func (s *State) partialCancel(r *Rule, rec *record, d Decision, ix *Index, dropped, standing []string) []Decision {
	title := d.Report.Control.Title
	if len(dropped) == 0 {
		d.Action, d.Skip = ActionSkip, SkipNothingToCancel
		d.Reason = fmt.Sprintf("取消 of %s: the event still stands in %s", title, strings.Join(standing, ", "))
		return []Decision{d}
	}
	gone := map[string]bool{}
	for _, reg := range dropped {
		gone[reg] = true
		delete(rec.regions, reg)
		delete(s.series, seriesKey(r.ID, rec.drill, reg))
	}
	var held bitset
	if p := rec.pending; p != nil {
		chunks := p.chunks[:0]
		for _, c := range p.chunks {
			kept := c.matches[:0]
			for _, m := range c.matches {
				if gone[m.Region] {
					for _, ord := range m.Recipients.ordinals(ix) {
						rec.sent.clear(ord)
						held.set(ord)
					}
					d.Dropped += m.Recipients.Len()
					continue
				}
				kept = append(kept, m)
			}
			c.matches = kept
			if !c.empty() {
				chunks = append(chunks, c)
			}
		}
		p.chunks = chunks
		if len(p.chunks) == 0 {
			rec.pending = nil
		}
	}
	if target(r) == TargetRegion {
		stand := map[string]bool{}
		for _, reg := range standing {
			stand[reg] = true
		}
		for _, reg := range dropped {
			for _, ord := range ix.postingsLocked(reg) {
				if !rec.sent.has(ord) || held.has(ord) || ix.standsIn(ord, stand) {
					continue
				}
				rec.sent.clear(ord)
				d.Direct = append(d.Direct, ix.ids[ord])
			}
		}
	}
	d.Direct = dedupe(d.Direct)
	if len(d.Direct) == 0 && d.Dropped == 0 {
		d.Action, d.Skip = ActionSkip, SkipNothingToCancel
		d.Reason = fmt.Sprintf("取消 of %s: %s withdrawn, nobody was reached through it; the event still stands in %s",
			title, strings.Join(dropped, ", "), strings.Join(standing, ", "))
		return []Decision{d}
	}
	d.Action = ActionCancel
	d.Reason = fmt.Sprintf("取消 of %s: %s withdrawn; tell %d reached only there; %d held dropped; the event still stands in %s",
		title, strings.Join(dropped, ", "), len(d.Direct), d.Dropped, strings.Join(standing, ", "))
	return []Decision{d}
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// splitSuppressed separates the matches in the same series as an earlier
// event of the rule (same region, within the window, level not higher).
func (s *State) splitSuppressed(r *Rule, drill bool, ev string, ms []Match, now time.Time) (live, supp []Match) {
	if r.Options.Suppress <= 0 {
		return ms, nil
	}
	for _, m := range ms {
		mk := s.series[seriesKey(r.ID, drill, m.Region)]
		if mk != nil && mk.event != ev && !now.After(mk.until) && m.level <= mk.level {
			supp = append(supp, m)
		} else {
			live = append(live, m)
		}
	}
	return live, supp
}

func (s *State) markSeries(r *Rule, drill bool, ev string, ms []Match, now time.Time) {
	if r.Options.Suppress <= 0 {
		return
	}
	for _, m := range ms {
		k := seriesKey(r.ID, drill, m.Region)
		mk := s.series[k]
		if mk == nil || mk.event != ev || m.level > mk.level {
			mk = &mark{rule: r.ID, region: m.Region, drill: drill, level: m.level, value: m.value(), at: now, until: now.Add(r.Options.Suppress), event: ev}
			s.series[k] = mk
		}
	}
}

// suppressed builds the decision for the suppressed matches: a notice to the
// administrators (once per event), or a skip.
func (s *State) suppressed(r *Rule, rec *record, base Decision, supp []Match, ix *Index) Decision {
	d := base
	inScope := 0
	switch target(r) {
	case TargetFixed:
		inScope = len(r.Recipients)
	case TargetNationwide:
		inScope = ix.live
	default:
		for _, m := range supp {
			for _, ord := range ix.postingsLocked(m.Region) {
				if !rec.sent.has(ord) {
					inScope++
				}
			}
		}
	}
	var why []string
	for _, m := range supp {
		mk := s.series[seriesKey(r.ID, base.Drill, m.Region)]
		why = append(why, fmt.Sprintf("%s (event %s reached %s there at %s)", m.Why(), mk.event, mk.value, mk.at.UTC().Format(time.RFC3339)))
	}
	msg := fmt.Sprintf("suppressed within %s of the same series, level not higher: %s; %d recipients not asked",
		r.Options.Suppress, strings.Join(why, ", "), inScope)
	if len(r.Admins) == 0 || rec.adminsNotified {
		d.Action, d.Skip, d.Reason = ActionSkip, SkipSuppressed, msg
		return d
	}
	rec.adminsNotified = true
	d.Action = ActionSend
	if base.Drill {
		d.Action = ActionDrill
	}
	d.AdminsOnly, d.InScope, d.Direct, d.Matches = true, inScope, slices.Clone(r.Admins), supp
	d.Reason = msg + "; administrators only"
	return d
}
