package rules

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// stateJSON is the persisted form of a State.
type stateJSON struct {
	Version int          `json:"version"`
	Records []recordJSON `json:"records"`
	Series  []markJSON   `json:"series,omitempty"`
}

type recordJSON struct {
	Rule           string       `json:"rule"`
	Event          string       `json:"event"`
	Drill          bool         `json:"drill,omitempty"`
	First          time.Time    `json:"first"`
	Last           time.Time    `json:"last"`
	Sent           []string     `json:"sent,omitempty"`
	Direct         []string     `json:"direct,omitempty"`
	AdminsNotified bool         `json:"adminsNotified,omitempty"`
	Observed       bool         `json:"observed,omitempty"`
	Regions        []string     `json:"regions,omitempty"`
	Pending        *pendingJSON `json:"pending,omitempty"`
}

type pendingJSON struct {
	Due        time.Time   `json:"due"`
	Drill      bool        `json:"drill,omitempty"`
	AdminsOnly bool        `json:"adminsOnly,omitempty"`
	Chunks     []chunkJSON `json:"chunks"`
}

type chunkJSON struct {
	Matches []Match  `json:"matches,omitempty"`
	Direct  []string `json:"direct,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	InScope int      `json:"inScope,omitempty"`
	Reason  string   `json:"reason"`
}

type markJSON struct {
	Rule   string    `json:"rule"`
	Region string    `json:"region"`
	Drill  bool      `json:"drill,omitempty"`
	Level  int       `json:"level"`
	Value  string    `json:"value,omitempty"`
	At     time.Time `json:"at"`
	Until  time.Time `json:"until"`
	Event  string    `json:"event"`
}

// MarshalJSON writes the state: per (rule, event) the IDs already reached
// and any held send, and the suppression series. Records are sorted, so
// equal states give equal bytes.
func (s *State) MarshalJSON() ([]byte, error) { return s.marshal(false) }

// MarshalHolds writes the part of the state that nothing else can restore:
// the (rule, event) records with a held send, each with the IDs it reached
// or holds, and no series. UnmarshalJSON reads it. A caller whose sends
// are durable elsewhere (the anpi Service's survey recipients) saves this
// after every change, so held sends outlive a restart; equal holds give
// equal bytes.
func (s *State) MarshalHolds() ([]byte, error) { return s.marshal(true) }

// marshal writes the state, or only its records with a held send.
func (s *State) marshal(holdsOnly bool) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := stateJSON{Version: 1, Records: []recordJSON{}}
	for _, r := range s.recs {
		if holdsOnly && r.pending == nil {
			continue
		}
		j := recordJSON{Rule: r.rule, Event: r.event, Drill: r.drill, First: r.first, Last: r.last,
			Direct: sortedKeys(r.direct), AdminsNotified: r.adminsNotified, Observed: r.observed, Regions: sortedKeys(r.regions)}
		if r.sentIDs != nil {
			j.Sent = slices.Clone(r.sentIDs)
		} else if r.ix != nil {
			r.ix.mu.RLock()
			r.sent.each(func(ord uint32) {
				if int(ord) < len(r.ix.ids) {
					j.Sent = append(j.Sent, r.ix.ids[ord])
				}
			})
			r.ix.mu.RUnlock()
		}
		slices.Sort(j.Sent)
		if p := r.pending; p != nil {
			j.Pending = &pendingJSON{Due: p.due, Drill: p.drill, AdminsOnly: p.adminsOnly, Chunks: []chunkJSON{}}
			for _, c := range p.chunks {
				j.Pending.Chunks = append(j.Pending.Chunks, chunkJSON{Matches: c.matches, Direct: c.direct,
					Groups: c.groups, InScope: c.inScope, Reason: c.reason})
			}
		}
		out.Records = append(out.Records, j)
	}
	slices.SortFunc(out.Records, func(a, b recordJSON) int {
		if a.Rule != b.Rule {
			if a.Rule < b.Rule {
				return -1
			}
			return 1
		}
		if a.Event < b.Event {
			return -1
		} else if a.Event > b.Event {
			return 1
		}
		return 0
	})
	for _, m := range s.series {
		if holdsOnly {
			break
		}
		out.Series = append(out.Series, markJSON{Rule: m.rule, Region: m.region, Drill: m.drill, Level: m.level, Value: m.value, At: m.at, Until: m.until, Event: m.event})
	}
	slices.SortFunc(out.Series, func(a, b markJSON) int {
		return compareStrings(a.Rule+"\x00"+a.Region+fmt.Sprint(a.Drill), b.Rule+"\x00"+b.Region+fmt.Sprint(b.Drill))
	})
	return json.Marshal(out)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// UnmarshalJSON restores a state written by MarshalJSON, replacing the
// receiver's records (its options are kept; a zero State gets defaults).
// Recipient IDs are mapped to ordinals on the next Evaluate against whatever
// index is passed; IDs no longer registered are forgotten.
func (s *State) UnmarshalJSON(b []byte) error {
	var in stateJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("rules: state: %w", err)
	}
	if in.Version != 1 {
		return fmt.Errorf("rules: state: unsupported version %d (want 1)", in.Version)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opt.EventTTL <= 0 {
		s.opt.EventTTL = 72 * time.Hour
	}
	if s.opt.MaxRecords <= 0 {
		s.opt.MaxRecords = 4096
	}
	s.recs = map[string]*record{}
	s.series = map[string]*mark{}
	for _, j := range in.Records {
		if j.Rule == "" || j.Event == "" {
			return fmt.Errorf("rules: state: record without rule or event")
		}
		r := &record{rule: j.Rule, event: j.Event, drill: j.Drill, first: j.First, last: j.Last,
			sentIDs: j.Sent, adminsNotified: j.AdminsNotified, observed: j.Observed}
		if r.sentIDs == nil {
			r.sentIDs = []string{}
		}
		for _, k := range j.Direct {
			r.setDirect(k)
		}
		for _, reg := range j.Regions {
			if r.regions == nil {
				r.regions = map[string]bool{}
			}
			r.regions[reg] = true
		}
		if p := j.Pending; p != nil {
			r.pending = &pending{due: p.Due, drill: p.Drill, adminsOnly: p.AdminsOnly}
			for _, c := range p.Chunks {
				r.pending.chunks = append(r.pending.chunks, &chunk{matches: c.Matches, direct: c.Direct,
					groups: c.Groups, inScope: c.InScope, reason: c.Reason})
			}
			if len(r.pending.chunks) == 0 {
				r.pending = nil
			}
		}
		s.recs[recKey(r.rule, r.event)] = r
	}
	for _, m := range in.Series {
		s.series[seriesKey(m.Rule, m.Drill, m.Region)] = &mark{rule: m.Rule, region: m.Region, drill: m.Drill,
			level: m.Level, value: m.Value, at: m.At, until: m.Until, event: m.Event}
	}
	return nil
}
