package anpi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/rules"
)

// Outcome is what the Service did with one JMA document.
type Outcome struct {
	Report *jma.Report    // the parsed document
	Event  string         // the tracker's event key
	Change jma.ChangeKind // what the document changed
	// Decisions are everything the rules decided, skips included, and the
	// held sends that came due.
	Decisions []rules.Decision
	// Effects are what the Service did about the decisions that act
	// (send, drill, hold, cancel), in the order of Decisions.
	Effects []Effect
}

// Effect is what the Service did about one decision.
type Effect struct {
	Rule   string       // the rule's ID
	Event  string       // the event key
	Action rules.Action // the decision's action
	Survey SurveyID     // the survey written; empty when none was
	// Created reports whether the decision created the survey (a later
	// report of the same event adds to it).
	Created     bool
	Recipients  int // recipients newly added: the people newly asked
	Queued      int // deliveries enqueued (one per new recipient with a contact)
	NoContact   int // new recipients with no reachable contact (SkippedNoContact)
	Cancelled   int // unsent deliveries cancelled (取消)
	Corrections int // corrections enqueued to those already sent to (取消)
	// Note says why nothing, or less than the decision asked, was done.
	Note string
}

// maxGenerations bounds the surveys of one (rule, event): a report
// re-issued after a 取消 starts a new one.
const maxGenerations = 32

// HandleDocument parses one JMA XML document and acts on it: the Service's
// jma.Tracker finds what changed, the rules stored in the Store decide
// (against an index of the directory's active users and their regions), and
// each send or drill decision becomes the survey of (rule, event), its new
// recipients and one delivery for each of them, written in chunks (the
// survey with the first ones, then the others; see firstChunk). A 取消
// cancels what is unsent and enqueues corrections to those already sent to.
// Held sends are kept and released by Tick.
//
// A malformed document is InvalidArgument and changes nothing. When the
// store fails (Unavailable, Internal), the document, or the decisions it led
// to, is kept and retried by the next Tick or document; the error is
// returned all the same, with the Outcome when the document was applied.
func (s *Service) HandleDocument(ctx context.Context, data []byte) (*Outcome, error) {
	rep, err := jma.Parse(data)
	if err != nil {
		return nil, Errorf(InvalidArgument, "anpi: handle document: %w", err)
	}
	return s.HandleReport(ctx, rep)
}

// HandleReport is HandleDocument for a document already parsed.
func (s *Service) HandleReport(ctx context.Context, rep *jma.Report) (*Outcome, error) {
	if rep == nil {
		return nil, Errorf(InvalidArgument, "anpi: handle report: nil report")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.retryR) > 0 || len(s.retryD) > 0 {
		if _, err := s.retryLocked(ctx, now); err != nil {
			s.log.ErrorContext(ctx, "anpi: retry of earlier work failed again", "err", err)
		}
	}
	out, applied, err := s.processLocked(ctx, rep, now)
	if err != nil && !applied {
		s.queueReport(ctx, rep)
	}
	return out, err
}

// Tick releases the held sends whose hold has expired by the Service's
// clock and acts on them, retries the documents and decisions the store
// refused before, enqueues the reminders and summaries that came due
// (FollowUp), and starts the periodic contact check when its time has come
// (Options.ContactCheck). Run calls it every Options.TickInterval; call it
// yourself when you drive the Service without Run.
func (s *Service) Tick(ctx context.Context) ([]Effect, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	effects, err := s.retryLocked(ctx, now)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if err := s.loadHoldsLocked(ctx); err != nil {
		errs = append(errs, err)
	}
	defer s.saveHoldsLocked(ctx)
	for _, d := range s.state.Due(now) {
		eff, err := s.actOrQueue(ctx, d, s.rules[d.Rule], now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		effects = append(effects, eff)
	}
	if _, err := s.followUp(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if err := s.contactCheckTick(ctx, now); err != nil {
		errs = append(errs, err)
	}
	return effects, joinErrors(errs)
}

// Preload reads the rules and the directory ahead of the first document,
// so that it does not wait for them: reading 100,000 users takes most of a
// second, which the first send of a quake should not spend. Run calls it
// as it starts; a caller that feeds documents itself may call it after
// New. Later documents read the directory again only when the store's
// users version moved (Store.UsersVersion).
func (s *Service) Preload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.loadRules(ctx); err != nil {
		return err
	}
	if err := s.loadHoldsLocked(ctx); err != nil {
		return err
	}
	err := s.syncDirectory(ctx)
	s.dir = nil // a snapshot only while a report is acted on
	return err
}

// NextDue returns when the earliest held send comes due, if any: the moment
// a caller driving the Service without Run should call Tick next.
func (s *Service) NextDue() (time.Time, bool) { return s.state.NextDue() }

// Run feeds the documents of src (a jma.Poller, a DMDATA stream) into
// HandleDocument and calls Tick every Options.TickInterval, until ctx is
// done or src stops. A document that fails is logged, not returned: one bad
// document must not stop the feed (and one the store refused is retried).
// It returns src's error.
func (s *Service) Run(ctx context.Context, src jma.Source) error {
	if src == nil {
		return Errorf(InvalidArgument, "anpi: run: nil source")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := s.Preload(ctx); err != nil {
		// The first document reads them itself.
		s.log.ErrorContext(ctx, "anpi: preload the rules and the directory", "err", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
					s.log.ErrorContext(ctx, "anpi: tick", "err", err)
				}
			}
		}
	}()
	err := src.Run(ctx, func(doc jma.Document) error {
		out, err := s.HandleDocument(ctx, doc.Data)
		switch {
		case err != nil && Code(err) == InvalidArgument:
			s.log.WarnContext(ctx, "anpi: document refused", "url", doc.URL, "err", err)
		case err != nil:
			s.log.ErrorContext(ctx, "anpi: document failed; kept for retry", "url", doc.URL, "err", err)
		default:
			s.log.InfoContext(ctx, "anpi: document", "url", doc.URL, "type", out.Report.Type, "event", out.Event,
				"change", out.Change, "decisions", len(out.Decisions), "effects", len(out.Effects))
		}
		return nil
	})
	cancel()
	<-done
	return err
}

// processLocked applies one report. applied reports whether the tracker
// took it: before that, nothing has changed and the report may be retried
// as a whole.
func (s *Service) processLocked(ctx context.Context, rep *jma.Report, now time.Time) (out *Outcome, applied bool, err error) {
	rs, err := s.loadRules(ctx)
	if err != nil {
		return nil, false, err
	}
	if len(rs) > 0 { // without rules nothing reads the index
		if err := s.syncDirectory(ctx); err != nil {
			return nil, false, err
		}
		defer func() { s.dir = nil }() // a snapshot for this report only
	}
	if err := s.loadHoldsLocked(ctx); err != nil {
		return nil, false, err
	}
	defer s.saveHoldsLocked(ctx)
	u := s.tracker.Apply(rep)
	ds := s.state.Evaluate(u, rs, s.ix, now)
	out = &Outcome{Report: rep, Event: u.Key, Change: u.Change, Decisions: ds}
	var errs []error
	for _, d := range ds {
		if d.Action == rules.ActionSkip {
			continue
		}
		eff, err := s.actOrQueue(ctx, d, s.rules[d.Rule], now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.Effects = append(out.Effects, eff)
	}
	return out, true, joinErrors(errs)
}

// retryLocked retries the reports and decisions the store refused before.
func (s *Service) retryLocked(ctx context.Context, now time.Time) ([]Effect, error) {
	reports, decisions := s.retryR, s.retryD
	s.retryR, s.retryD = nil, nil
	var effects []Effect
	var errs []error
	for i, rep := range reports {
		out, applied, err := s.processLocked(ctx, rep, now)
		if out != nil {
			effects = append(effects, out.Effects...)
		}
		if err != nil {
			errs = append(errs, err)
			if !applied {
				s.retryR = append(s.retryR, reports[i:]...) // keep the order of the feed
				break
			}
		}
	}
	for _, p := range decisions {
		eff, err := s.actOrQueue(ctx, p.d, p.rule, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		effects = append(effects, eff)
	}
	return effects, joinErrors(errs)
}

func (s *Service) queueReport(ctx context.Context, rep *jma.Report) {
	s.retryR = append(s.retryR, rep)
	if n := len(s.retryR) - s.maxRetry; n > 0 {
		s.log.ErrorContext(ctx, "anpi: retry queue full: documents dropped", "dropped", n)
		s.retryR = slices.Delete(s.retryR, 0, n)
	}
}

// actOrQueue acts on d and keeps it for a retry when the store fails.
func (s *Service) actOrQueue(ctx context.Context, d rules.Decision, ri ruleInfo, now time.Time) (Effect, error) {
	eff, err := s.act(ctx, d, ri, now)
	if c := Code(err); c == Unavailable || c == Internal { // what a later attempt may cure
		s.retryD = append(s.retryD, pendingDecision{d: d, rule: ri})
		if n := len(s.retryD) - s.maxRetry; n > 0 {
			s.log.ErrorContext(ctx, "anpi: retry queue full: decisions dropped", "dropped", n)
			s.retryD = slices.Delete(s.retryD, 0, n)
		}
	}
	return eff, err
}

func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return Errorf(Code(errs[0]), "anpi: %d steps failed (kept for retry): %w", len(errs), errors.Join(errs...))
}

// syncDirectory brings the rules index up to date with the directory: every
// active user with his regions. It lists the users again only when the
// store's users version moved since it last did (reading 100,000 users
// took most of a second, before the first message of a send could go),
// and touches the index only for users whose regions changed, so the
// index keeps its ordinals.
func (s *Service) syncDirectory(ctx context.Context) error {
	// The version is read before the users: a write that commits in
	// between moves it again, and the next call reads once more.
	v, err := s.st.UsersVersion(ctx)
	if err != nil {
		return fmt.Errorf("anpi: read the directory's version: %w", err)
	}
	if s.known != nil && v == s.knownAt {
		s.dir = s.known
		return nil
	}
	users, err := s.st.ListUsers(ctx, nil)
	if err != nil {
		return fmt.Errorf("anpi: read the directory: %w", err)
	}
	seen := make(map[UserID]bool, len(users))
	groups := map[string][]UserID{}
	dir := make(map[UserID]*User, len(users))
	for _, u := range users {
		dir[u.ID] = u
		if u.Status != Active {
			continue
		}
		seen[u.ID] = true
		regs := make([]string, len(u.Regions))
		for i, r := range u.Regions {
			regs[i] = r.String()
		}
		key := strings.Join(regs, ",")
		if old, ok := s.regions[u.ID]; !ok || old != key {
			if err := s.ix.Add(string(u.ID), regs...); err != nil {
				s.log.ErrorContext(ctx, "anpi: user left out of auto-send", "user", u.ID, "err", err)
				continue
			}
			s.regions[u.ID] = key
		}
		for _, g := range u.Groups {
			groups[g] = append(groups[g], u.ID)
		}
	}
	for id := range s.regions {
		if !seen[id] {
			s.ix.Remove(string(id))
			delete(s.regions, id)
		}
	}
	s.groups = groups
	s.dir, s.known, s.knownAt = dir, dir, v
	return nil
}

// loadRules reads the rules from the store. A record whose spec does not
// decode is left out, with an error in the log: one broken rule must not
// stop the others. The record's ID and Enabled win over the spec's.
func (s *Service) loadRules(ctx context.Context) ([]rules.Rule, error) {
	recs, err := s.st.ListRules(ctx)
	if err != nil {
		return nil, fmt.Errorf("anpi: read the rules: %w", err)
	}
	out := make([]rules.Rule, 0, len(recs))
	for _, rec := range recs {
		var r rules.Rule
		if err := json.Unmarshal(rec.Spec, &r); err != nil {
			s.log.ErrorContext(ctx, "anpi: rule left out", "rule", rec.ID, "err", err)
			continue
		}
		r.ID = rec.ID
		r.Disabled = r.Disabled || !rec.Enabled
		out = append(out, r)
		s.rules[rec.ID] = ruleInfo{spec: slices.Clone(rec.Spec), admins: slices.Clone(r.Admins)}
	}
	return out, nil
}

// act carries out one decision.
func (s *Service) act(ctx context.Context, d rules.Decision, ri ruleInfo, now time.Time) (Effect, error) {
	eff := Effect{Rule: d.Rule, Event: d.Event, Action: d.Action}
	if d.Report != nil {
		// Invariant 1, checked here again whatever the rules say: 試験 never
		// sends, and only 通常 sends for real.
		st := d.Report.Control.Status
		if st == jma.StatusTest || (d.Action == rules.ActionSend && !d.Drill && !st.Real()) {
			s.log.ErrorContext(ctx, "anpi: decision refused: the report is not a real event", "rule", d.Rule, "event", d.Event, "status", st, "action", d.Action)
			eff.Note = "refused: a " + string(st) + " report never sends for real"
			return eff, nil
		}
	}
	switch d.Action {
	case rules.ActionSend, rules.ActionDrill:
		if d.AdminsOnly {
			return s.notice(ctx, d, eff, now)
		}
		return s.send(ctx, d, ri, eff, now)
	case rules.ActionCancel:
		return s.cancel(ctx, d, eff, now)
	case rules.ActionHold:
		eff.Note = fmt.Sprintf("held until %s: %d in scope", d.HoldUntil.UTC().Format(time.RFC3339), d.Count())
		return eff, nil
	}
	eff.Note = "nothing to do"
	return eff, nil
}

// notice tells the rule's administrators, and only them, through
// Options.Notifier (after the audit entry is written: at most once, like
// message notifications), and audits it.
func (s *Service) notice(ctx context.Context, d rules.Decision, eff Effect, now time.Time) (Effect, error) {
	to := s.activeUsers(ctx, d.Direct)
	eff.Note = fmt.Sprintf("notice to the rule's %d administrators (%d in scope, not asked)", len(to), d.InScope)
	s.log.WarnContext(ctx, "anpi: administrators' notice", "rule", d.Rule, "event", d.Event, "admins", d.Direct, "inScope", d.InScope, "reason", d.Reason)
	_, err := s.st.AppendAudit(ctx, &AuditEntry{At: now, Action: "rule.notice", TargetKind: "rule", TargetID: d.Rule,
		Detail: fmt.Sprintf("event %s: %d in scope, not asked; told %v: %s", d.Event, d.InScope, to, d.Reason)})
	if err != nil {
		return eff, err
	}
	s.notify(ctx, &Notification{Kind: RuleNoticeNotification, To: to,
		Notice: &RuleNotice{Rule: d.Rule, Event: d.Event, Drill: d.Drill, InScope: d.InScope, Reason: d.Reason}})
	return eff, nil
}

// activeUsers returns those of ids who are active users, in order; a
// failing read is logged and leaves the user out.
func (s *Service) activeUsers(ctx context.Context, ids []string) []UserID {
	var out []UserID
	for _, id := range ids {
		u, err := s.st.GetUser(ctx, UserID(id))
		if err != nil {
			if Code(err) != NotFound {
				s.log.ErrorContext(ctx, "anpi: read a rule administrator", "user", id, "err", err)
			}
			continue
		}
		if u.Status == Active {
			out = append(out, u.ID)
		}
	}
	return out
}

// recipientIDs returns the decision's recipients with its groups resolved,
// each once: those of the matched regions in the rules index's order —
// the order syncDirectory added them in, by user ID, apart from users added
// later — then those of its groups.
func (s *Service) recipientIDs(d *rules.Decision) []UserID {
	ids := d.UniqueRecipients()
	out := make([]UserID, len(ids))
	for i, id := range ids {
		out[i] = UserID(id)
	}
	if len(d.Groups) == 0 {
		return out
	}
	seen := make(map[UserID]bool, len(out))
	for _, id := range out {
		seen[id] = true
	}
	for _, g := range d.Groups {
		for _, id := range s.groups[g] {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// surveyBase returns the deterministic ID of the first survey of (rule,
// event); later generations (after a 取消 and a re-issue) append "-2", "-3".
func surveyBase(d *rules.Decision) SurveyID {
	prefix := "auto-"
	if d.Drill || d.Action == rules.ActionDrill {
		prefix = "drill-"
	}
	return SurveyID(hashID(prefix, d.Rule, d.Event))
}

// findSurvey returns the current survey of (rule, event): the first
// generation not cancelled, or, when there is none, the ID a new one takes.
// replay reports that the report is part of a cancelled generation already
// (a document fed again after a restart): it must change nothing.
func findSurvey(ctx context.Context, tx Tx, base SurveyID, reportID string) (cur *Survey, free SurveyID, replay bool, err error) {
	for gen := 1; gen <= maxGenerations; gen++ {
		id := base
		if gen > 1 {
			id = base + SurveyID("-"+strconv.Itoa(gen))
		}
		sv, err := tx.GetSurvey(ctx, id)
		if Code(err) == NotFound {
			return nil, id, false, nil
		}
		if err != nil {
			return nil, "", false, err
		}
		if sv.Status != Cancelled {
			return sv, "", false, nil
		}
		if sv.Trigger != nil && slices.Contains(sv.Trigger.Reports, reportID) {
			return nil, "", true, nil
		}
	}
	return nil, "", false, Errorf(FailedPrecondition, "anpi: survey %s: more than %d generations cancelled", base, maxGenerations)
}

// reportID identifies a JMA report: its type and issue time.
func reportID(r *jma.Report) string {
	if r == nil {
		return ""
	}
	return r.Type + "@" + r.Control.DateTime.UTC().Format(time.RFC3339Nano)
}

// The fan-out of a send is written in chunks. The first transaction
// creates the survey (or extends it, on an escalation) with its first
// firstChunk recipients and their deliveries, so that the dispatcher can
// hand the first messages to the providers a few milliseconds after the
// document arrived, instead of after the whole fan-out committed (about a
// second per 100,000 recipients in SQLite). The others follow in
// transactions twice as large as the one before, up to fanOutChunk: the
// dispatcher's first claims, which wait for the one writer, then wait for
// a short transaction, not a long one. They go in user order (the order of
// delivery IDs, see DeliveryIDFor). Each chunk is atomic: its recipients and their
// deliveries, and the audit entry saying so. A crash between chunks
// leaves the survey with part of its recipients; the document fed again
// (the Poller's backfill on a restart, or the caller) asks the rest and
// nobody twice, because a survey's recipients are the durable "already
// asked" set — as a crash before a single large transaction needed the
// document fed again to ask anyone at all. A chunk the store refuses
// leaves the decision to the retry queue (Tick), which does the same.
const (
	firstChunk  = 64
	fanOutChunk = 5000
)

// send carries out a send or drill decision: the survey and its first
// recipients in one transaction, the rest in chunks (see firstChunk).
func (s *Service) send(ctx context.Context, d rules.Decision, ri ruleInfo, eff0 Effect, now time.Time) (Effect, error) {
	if s.dir == nil {
		// A held send released by Tick: the directory as the store has it
		// now (read again only if it changed).
		if err := s.syncDirectory(ctx); err != nil {
			return eff0, fmt.Errorf("anpi: %s for rule %s, event %s: %w", d.Action, d.Rule, d.Event, err)
		}
		defer func() { s.dir = nil }()
	}
	ids := s.recipientIDs(&d)
	repID := reportID(d.Report)
	kind := AutoSurvey
	if d.Drill || d.Action == rules.ActionDrill {
		kind = DrillSurvey
	}
	action := "survey.auto_send"
	if kind == DrillSurvey {
		action = "survey.drill_send"
	}
	trig := describe(&d)
	var eff Effect
	var rest []*User     // users of the chunks after the first, when known
	var restIDs []UserID // or the IDs they are still to be found among
	var target *Survey   // the survey asked
	var links minted     // the answer links of a chunk, kept once it commits
	err := s.st.InTx(ctx, func(tx Tx) error {
		eff, rest, restIDs, links = eff0, nil, nil, minted{} // InTx may run fn again
		sv, free, replay, err := findSurvey(ctx, tx, surveyBase(&d), repID)
		if err != nil {
			return err
		}
		if replay {
			eff.Note = "replay of a withdrawn report: nothing sent"
			return nil
		}
		var first []*User
		if sv == nil {
			// A new survey asks nobody yet: its first chunk is the first
			// active users, found without looking at the others, so that
			// the first messages go before the rest is even read.
			j := 0
			for j < len(ids) && len(first) < firstChunk {
				if u := s.activeUser(ctx, ids[j], d.Rule); u != nil {
					first = append(first, u)
				}
				j++
			}
			restIDs = ids[j:]
		} else {
			users, err := s.newRecipients(ctx, tx, sv, ids, d.Rule)
			if err != nil {
				return err
			}
			n := min(len(users), firstChunk)
			first, rest = users[:n], users[n:]
		}
		if len(first) == 0 {
			if sv != nil {
				eff.Survey = sv.ID
			}
			eff.Note = "everyone in scope was asked already"
			return nil
		}
		if sv == nil {
			sv = s.newAutoSurvey(free, kind, &d, trig, repID, ri, now)
			if err := tx.CreateSurvey(ctx, sv); err != nil {
				return err
			}
			eff.Created = true
		} else if mergeTrigger(sv.Trigger, trig, repID) {
			if err := tx.UpdateSurvey(ctx, sv); err != nil {
				return err
			}
		}
		eff.Survey, target = sv.ID, sv
		return s.ask(ctx, tx, sv, first, now, &eff, &links, action, fmt.Sprintf("rule %s, event %s, report %s", d.Rule, d.Event, repID))
	})
	if err != nil {
		return eff0, fmt.Errorf("anpi: %s for rule %s, event %s: %w", d.Action, d.Rule, d.Event, err)
	}
	s.keepLinks(&links)
	s.enqueued(eff.Queued)
	for i, id := range restIDs {
		if u := s.activeUser(ctx, id, d.Rule); u != nil {
			rest = append(rest, u)
		}
		if i%4096 == 4095 {
			// The first chunk's messages are being rendered and sent
			// meanwhile: on a small machine, let them have the CPU.
			runtime.Gosched()
		}
	}
	// The other chunks, each prepared (read and made) on the store's
	// readers while the one before it is written: the single writer only
	// writes.
	left := len(rest) // not written yet
	var chunks [][]*User
	for size := firstChunk; len(rest) > 0; {
		size = min(2*size, fanOutChunk)
		n := min(len(rest), size)
		chunks, rest = append(chunks, rest[:n]), rest[n:]
	}
	prepare := func(users []*User) <-chan prepared {
		ch := make(chan prepared, 1)
		go func() {
			c, err := s.prepareAsk(ctx, s.st, target, users, now)
			ch <- prepared{c, err}
		}()
		return ch
	}
	var next <-chan prepared
	if len(chunks) > 0 {
		next = prepare(chunks[0])
	}
	for k := range chunks {
		p := <-next
		if k+1 < len(chunks) {
			next = prepare(chunks[k+1])
		}
		err := p.err
		var part Effect
		if err == nil {
			err = s.st.InTx(ctx, func(tx Tx) error {
				part = Effect{} // InTx may run fn again
				return s.writeAsk(ctx, tx, target, p.c, now, &part, action,
					fmt.Sprintf("rule %s, event %s, report %s, continued", d.Rule, d.Event, repID))
			})
		}
		if err != nil {
			if k+1 < len(chunks) {
				<-next // not left running
			}
			// The chunks written stay: the retry of the decision asks
			// those not asked yet.
			return eff0, fmt.Errorf("anpi: %s for rule %s, event %s: survey %s: %d of %d recipients written: %w",
				d.Action, d.Rule, d.Event, eff.Survey, eff.Recipients, eff.Recipients+left, err)
		}
		s.keepLinks(&p.c.links)
		s.enqueued(part.Queued)
		eff.Recipients += part.Recipients
		eff.Queued += part.Queued
		eff.NoContact += part.NoContact
		left -= len(chunks[k])
	}
	if eff.Recipients > 0 {
		s.log.InfoContext(ctx, "anpi: auto-send", "survey", eff.Survey, "rule", d.Rule, "event", d.Event,
			"created", eff.Created, "recipients", eff.Recipients, "queued", eff.Queued, "noContact", eff.NoContact)
	}
	return eff, nil
}

// prepared is a chunk prepared by prepareAsk, or why it could not be.
type prepared struct {
	c   *askChunk
	err error
}

// activeUser returns the active user id from the directory snapshot, or
// nil (a user the rules index knows and the directory does not is logged).
func (s *Service) activeUser(ctx context.Context, id UserID, rule string) *User {
	u := s.dir[id]
	if u == nil {
		s.log.WarnContext(ctx, "anpi: recipient is not in the directory", "user", id, "rule", rule)
		return nil
	}
	if u.Status != Active {
		return nil
	}
	return u
}

// ask makes users recipients of survey sv, each with his first delivery,
// and audits it (action, with why in the detail), in tx; it adds what it
// did to eff. Each queued delivery's answer link is made here and its
// token stored in tx, the link's text kept in links: once tx commits
// (keepLinks), rendering the delivery writes nothing, so the first messages
// of a send do not wait for the writer behind the next chunk.
func (s *Service) ask(ctx context.Context, tx Tx, sv *Survey, users []*User, now time.Time, eff *Effect, links *minted, action, why string) error {
	c, err := s.prepareAsk(ctx, tx, sv, users, now)
	if err != nil {
		return err
	}
	err = s.writeAsk(ctx, tx, sv, c, now, eff, action, why)
	*links = c.links
	return err
}

// askReader is what prepareAsk reads through: a Tx or the Store.
type askReader interface {
	Departments(ctx context.Context) (*DepartmentTree, error)
	ContactsOf(ctx context.Context, users []UserID) (map[UserID][]*Contact, error)
}

// askChunk is a chunk of a fan-out made ready to write: its recipients,
// their first deliveries and the links made for them.
type askChunk struct {
	rs        []Recipient
	ds        []*Delivery
	links     minted
	queued    int
	noContact int
}

// prepareAsk reads what asking users needs (the department tree, their
// contacts: through r, a transaction or the store) and makes their
// recipients, first deliveries and links. The fan-out prepares a chunk
// on the store's readers while the one before it is written.
func (s *Service) prepareAsk(ctx context.Context, r askReader, sv *Survey, users []*User, now time.Time) (*askChunk, error) {
	tree, err := r.Departments(ctx)
	if err != nil {
		return nil, err
	}
	c := &askChunk{rs: make([]Recipient, len(users)), ds: make([]*Delivery, 0, len(users))}
	uids := make([]UserID, len(users))
	for i, u := range users {
		c.rs[i] = NewRecipient(sv.ID, u, tree)
		uids[i] = u.ID
	}
	c.links.gen = s.contactGen.Load() // before the read: a write after it is seen
	contacts, err := r.ContactsOf(ctx, uids)
	if err != nil {
		return nil, err
	}
	c.links.contacts = contacts
	for _, u := range users {
		dl := s.firstDelivery(sv.ID, u, contacts[u.ID], now)
		if dl.State == SkippedNoContact {
			c.noContact++
		} else {
			c.queued++
			if err := s.mintLink(&c.links, sv, u, dl, now); err != nil {
				return nil, err
			}
		}
		c.ds = append(c.ds, dl)
	}
	return c, nil
}

// writeAsk writes a prepared chunk in tx: the recipients, their
// deliveries (those on channels the Handoff takes leased to it), the
// links' tokens and the audit entry; it adds what it did to eff. The
// chunk's deliveries are leased afresh each time (InTx may run it again).
func (s *Service) writeAsk(ctx context.Context, tx Tx, sv *Survey, c *askChunk, now time.Time, eff *Effect, action, why string) error {
	n, err := tx.AddRecipients(ctx, sv.ID, c.rs)
	if err != nil {
		return err
	}
	if n != len(c.rs) {
		return Errorf(Internal, "anpi: survey %s: %d recipients checked new, the store added %d", sv.ID, len(c.rs), n)
	}
	c.links.handed = c.links.handed[:0]
	for _, dl := range c.ds {
		if dl.State == Sending { // leased by a run of fn that did not commit
			dl.State, dl.Attempts, dl.LeaseOwner, dl.LeaseUntil = Queued, 0, "", time.Time{}
		}
		if s.leaseToHandoff(dl, now) {
			c.links.handed = append(c.links.handed, dl)
		}
	}
	if _, err := tx.EnqueueDeliveries(ctx, c.ds); err != nil {
		return err
	}
	if len(c.links.tokens) > 0 {
		if err := tx.PutAnswerTokens(ctx, c.links.tokens); err != nil {
			return err
		}
	}
	eff.Recipients += n
	eff.Queued += c.queued
	eff.NoContact += c.noContact
	_, err = tx.AppendAudit(ctx, &AuditEntry{At: now, Action: action, TargetKind: "survey", TargetID: string(sv.ID),
		Detail: fmt.Sprintf("%s: %d new recipients, %d deliveries queued, %d without a contact", why, n, c.queued, c.noContact)})
	return err
}

// bulkRead is the number of recipients from which send reads a survey's
// recipients, or the directory, whole rather than one by one.
const bulkRead = 64

// newRecipients returns the active users among ids who are not recipients
// of sv yet (all of them when sv is nil), in the order of ids. The users'
// records come from the directory syncDirectory read for the report being
// acted on, when there is one (read a moment before tx: a user suspended in
// between is asked, as if suspended a moment later); otherwise from tx,
// whole when there are many. Who was asked already is read from tx, which
// holds the durable "already asked" set, whole when there are many.
func (s *Service) newRecipients(ctx context.Context, tx Tx, sv *Survey, ids []UserID, rule string) ([]*User, error) {
	var asked map[UserID]bool
	if sv != nil && len(ids) >= bulkRead {
		rs, err := tx.Recipients(ctx, sv.ID)
		if err != nil {
			return nil, err
		}
		asked = make(map[UserID]bool, len(rs))
		for _, r := range rs {
			asked[r.UserID] = true
		}
	}
	dir := s.dir
	if dir == nil && len(ids) >= bulkRead {
		all, err := tx.ListUsers(ctx, nil)
		if err != nil {
			return nil, err
		}
		dir = make(map[UserID]*User, len(all))
		for _, u := range all {
			dir[u.ID] = u
		}
	}
	var users []*User
	for _, id := range ids {
		switch {
		case asked != nil:
			if asked[id] {
				continue // asked already: the durable "already asked" set
			}
		case sv != nil:
			_, err := tx.GetRecipient(ctx, sv.ID, id)
			if err == nil {
				continue
			}
			if Code(err) != NotFound {
				return nil, err
			}
		}
		var u *User
		if dir != nil {
			u = dir[id]
		} else {
			var err error
			if u, err = tx.GetUser(ctx, id); err != nil && Code(err) != NotFound {
				return nil, err
			}
		}
		if u == nil {
			s.log.WarnContext(ctx, "anpi: recipient is not in the directory", "user", id, "rule", rule)
			continue
		}
		if u.Status == Active {
			users = append(users, u)
		}
	}
	return users, nil
}

// newAutoSurvey builds the survey of a send or drill decision.
func (s *Service) newAutoSurvey(id SurveyID, kind SurveyKind, d *rules.Decision, trig Trigger, repID string, ri ruleInfo, now time.Time) *Survey {
	t := trig
	t.Source = "jma"
	t.RuleID = d.Rule
	t.Event = d.Event
	t.ReportID = repID
	t.Reports = []string{repID}
	t.Rule = slices.Clone(ri.spec)
	t.EventID = d.Event
	if d.Report != nil && d.Report.Head.EventID() != "" {
		t.EventID = d.Report.Head.EventID()
	}
	title := strings.TrimSpace(t.Summary + " " + joinAreas(t.Areas, Japanese))
	if title == "" {
		title = "自動一斉送信 " + d.Rule
	}
	if kind == DrillSurvey {
		title = drillLabel(Japanese) + title
	}
	sv := &Survey{
		ID:         id,
		Kind:       kind,
		Title:      clip(title, MaxTitleLen),
		Trigger:    &t,
		Form:       s.form.Clone(),
		TemplateID: s.tmplID,
		Status:     Open,
		CreatedAt:  now,
		StartedAt:  now,
	}
	for _, m := range d.Matches {
		if r, err := ParseRegion(m.Region); err == nil && !slices.Contains(sv.Targeting.Regions, r) {
			sv.Targeting.Regions = append(sv.Targeting.Regions, r)
		}
	}
	for _, a := range ri.admins {
		sv.Admins = append(sv.Admins, UserID(a))
	}
	if s.window > 0 {
		sv.Deadline = now.Add(s.window)
	}
	sv.Reminders = s.remind
	return sv
}

// firstDelivery is the delivery of a new recipient: on the first channel of
// the fallback order he can be reached on, or SkippedNoContact.
func (s *Service) firstDelivery(sv SurveyID, u *User, contacts []*Contact, now time.Time) *Delivery {
	d := &Delivery{SurveyID: sv, UserID: u.ID, State: SkippedNoContact, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	for _, ch := range s.channels {
		if cid, _, ok := pickContact(u, contacts, ch, ""); ok {
			d.Channel, d.ContactID, d.State = ch, cid, Queued
			break
		}
	}
	if d.State == SkippedNoContact {
		d.Channel = s.channels[0]
		if slices.Contains(s.channels, EmailChannel) {
			d.Channel = EmailChannel // what administrators fix first
		}
	}
	d.ID = DeliveryIDFor(d.Key())
	return d
}

// cancel carries out a 取消 in one transaction: when it withdraws the whole
// event for the rule, every unsent delivery of the survey is cancelled, the
// answer links revoked and the survey marked Cancelled; when other reports
// still stand, only the recipients reached through the withdrawn regions are
// concerned (their unsent deliveries are cancelled and their links
// revoked). Either way, everyone concerned who was
// already sent to gets a short correction (Round CorrectionRound) on each
// channel he was reached on.
func (s *Service) cancel(ctx context.Context, d rules.Decision, eff0 Effect, now time.Time) (Effect, error) {
	tell := map[UserID]bool{}
	for _, id := range s.recipientIDs(&d) {
		tell[id] = true
	}
	repID := reportID(d.Report)
	var eff Effect
	err := s.st.InTx(ctx, func(tx Tx) error {
		eff = eff0
		sv, _, replay, err := findSurvey(ctx, tx, surveyBase(&d), repID)
		if err != nil {
			return err
		}
		if replay || sv == nil {
			eff.Note = "no survey to cancel"
			return nil
		}
		eff.Survey = sv.ID
		recs, err := tx.Recipients(ctx, sv.ID)
		if err != nil {
			return err
		}
		full := true
		for _, r := range recs {
			if !tell[r.UserID] && s.ix.Has(string(r.UserID)) {
				full = false
				break
			}
		}
		if sv.Trigger == nil {
			sv.Trigger = &Trigger{}
		}
		sv.Trigger.Reports = append(sv.Trigger.Reports, repID)
		if full {
			if eff.Cancelled, err = tx.CancelDeliveries(ctx, sv.ID, now); err != nil {
				return err
			}
			if _, err := tx.RevokeAnswerTokens(ctx, sv.ID, "", now); err != nil {
				return err
			}
			sv.Status, sv.ClosedAt = Cancelled, now
		} else {
			var withdrawn []UserID
			for _, r := range recs {
				if tell[r.UserID] {
					withdrawn = append(withdrawn, r.UserID)
					if _, err := tx.RevokeAnswerTokens(ctx, sv.ID, r.UserID, now); err != nil {
						return err
					}
				}
			}
			if eff.Cancelled, err = tx.CancelUserDeliveries(ctx, sv.ID, withdrawn, now); err != nil {
				return err
			}
			eff.Note = "partial 取消: the event still stands for the other recipients"
		}
		if err := tx.UpdateSurvey(ctx, sv); err != nil {
			return err
		}
		ds, err := tx.Deliveries(ctx, sv.ID)
		if err != nil {
			return err
		}
		var corr []*Delivery
		for _, old := range ds {
			if old.Round < 0 || !tell[old.UserID] {
				continue
			}
			switch old.State {
			case Sent, Delivered, Sending: // reached, or perhaps reached: tell them
			default:
				continue
			}
			c := &Delivery{SurveyID: sv.ID, UserID: old.UserID, Channel: old.Channel, ContactID: old.ContactID,
				Round: CorrectionRound, State: Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
			c.ID = DeliveryIDFor(c.Key())
			corr = append(corr, c)
		}
		if eff.Corrections, err = tx.EnqueueDeliveries(ctx, corr); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: now, Action: "survey.cancel", TargetKind: "survey", TargetID: string(sv.ID),
			Detail: fmt.Sprintf("rule %s, event %s, report %s (取消): whole survey %t, %d unsent deliveries cancelled, %d corrections queued",
				d.Rule, d.Event, repID, full, eff.Cancelled, eff.Corrections)})
		return err
	})
	if err != nil {
		return eff0, fmt.Errorf("anpi: cancel for rule %s, event %s: %w", d.Rule, d.Event, err)
	}
	s.enqueued(eff.Corrections)
	s.log.InfoContext(ctx, "anpi: 取消", "survey", eff.Survey, "rule", d.Rule, "event", d.Event,
		"cancelled", eff.Cancelled, "corrections", eff.Corrections)
	return eff, nil
}

// describe extracts what a survey shows of its trigger: a one-line summary,
// the highest intensity (the report's maximum, or else the highest that
// matched) and the names of the matched areas.
func describe(d *rules.Decision) Trigger {
	var t Trigger
	names := map[string]string{}
	rep := d.Report
	if rep != nil {
		if eq := rep.Earthquake; eq != nil && eq.Intensity != nil {
			for _, p := range eq.Intensity.Prefs {
				for _, a := range p.Areas {
					names[rules.RegionKey(rules.RegionQuake, a.Code)] = a.Name
				}
			}
		}
		if ts := rep.Tsunami; ts != nil {
			for _, it := range ts.Forecast {
				names[rules.RegionKey(rules.RegionTsunami, it.AreaCode)] = it.AreaName
			}
		}
		if w := rep.Warnings; w != nil {
			for _, g := range w.Groups {
				for _, it := range g.Items {
					names[rules.RegionKey(rules.RegionWarning, it.AreaCode)] = it.AreaName
				}
			}
		}
	}
	var max jma.Intensity
	for _, m := range d.Matches {
		name := names[m.Region]
		if name == "" {
			_, name, _ = strings.Cut(m.Region, ":")
		}
		if !slices.Contains(t.Areas, name) {
			t.Areas = append(t.Areas, name)
		}
		if m.Intensity != jma.IntensityNone && (max == jma.IntensityNone || m.Intensity.Floor().Compare(max.Floor()) > 0) {
			max = m.Intensity
		}
	}
	if rep != nil && rep.Earthquake != nil && rep.Earthquake.Intensity != nil && rep.Earthquake.Intensity.MaxInt != jma.IntensityNone {
		max = rep.Earthquake.Intensity.MaxInt // the event's, where the report states it
	}
	t.Intensity = max.Japanese()
	if rep != nil {
		t.Summary = strings.TrimSpace(rep.Head.Title + " " + t.Intensity)
	}
	return t
}

// mergeTrigger adds what a later report of the event brings to a survey's
// trigger: new areas, a higher intensity, the report. It reports whether
// anything changed.
func mergeTrigger(t *Trigger, add Trigger, repID string) bool {
	changed := false
	for _, a := range add.Areas {
		if !slices.Contains(t.Areas, a) {
			t.Areas = append(t.Areas, a)
			changed = true
		}
	}
	if add.Intensity != "" && add.Intensity != t.Intensity {
		old, err := jma.ParseIntensity(t.Intensity)
		nw, err2 := jma.ParseIntensity(add.Intensity)
		if t.Intensity == "" || (err == nil && err2 == nil && nw.Floor().Compare(old.Floor()) > 0) {
			t.Intensity, t.Summary = add.Intensity, add.Summary
			changed = true
		}
	}
	if repID != "" && !slices.Contains(t.Reports, repID) {
		t.Reports = append(t.Reports, repID)
		t.ReportID = repID
		changed = true
	}
	return changed
}

// joinAreas lists area names for a message: at most five, then "ほか".
func joinAreas(areas []string, l Locale) string {
	sep, more := "、", "ほか"
	if l == English {
		sep, more = ", ", " and more"
	}
	if len(areas) > 5 {
		return strings.Join(areas[:5], sep) + more
	}
	return strings.Join(areas, sep)
}
