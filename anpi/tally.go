package anpi

import (
	"maps"
	"slices"
	"time"
)

// ChoiceCounts counts answers: question ID → choice code → number of
// recipients whose current answer chose it. Zero counts are absent.
type ChoiceCounts map[string]map[string]int

// Add adds delta to the count of (question, code), dropping the entry when
// it reaches zero.
func (c ChoiceCounts) Add(question, code string, delta int) {
	m := c[question]
	if m == nil {
		m = map[string]int{}
		c[question] = m
	}
	m[code] += delta
	if m[code] == 0 {
		delete(m, code)
	}
	if len(m) == 0 {
		delete(c, question)
	}
}

// AddResponse adds delta (1 or -1) for every choice of r.
func (c ChoiceCounts) AddResponse(r *Response, delta int) {
	for _, a := range r.Answers {
		for _, code := range a.Choices {
			c.Add(a.QuestionID, code, delta)
		}
	}
}

// Clone returns a deep copy.
func (c ChoiceCounts) Clone() ChoiceCounts {
	out := make(ChoiceCounts, len(c))
	for q, m := range c {
		out[q] = maps.Clone(m)
	}
	return out
}

// GroupTally is the tally of one department or region.
type GroupTally struct {
	Targets  int          `json:"targets"`
	Answered int          `json:"answered"`
	Choices  ChoiceCounts `json:"choices"`
}

// ResponseRate is Answered / Targets, 0 when there are no targets.
func (g *GroupTally) ResponseRate() float64 {
	if g.Targets == 0 {
		return 0
	}
	return float64(g.Answered) / float64(g.Targets)
}

// Quartiles are the answer-time quartiles (25 %, 50 %, 75 %) of the first
// answers, counted from the survey's start in whole seconds, by the
// nearest-rank method. All zero when nobody has answered.
type Quartiles struct {
	Q1     time.Duration `json:"q1"`
	Median time.Duration `json:"median"`
	Q3     time.Duration `json:"q3"`
}

// Tally (集計) is the live picture of a survey. Stores keep it as counters
// updated in the same transaction as each recipient and response;
// ComputeTally recounts it from scratch, and the two always agree.
type Tally struct {
	SurveyID SurveyID     `json:"surveyId"`
	Targets  int          `json:"targets"`
	Answered int          `json:"answered"`
	Choices  ChoiceCounts `json:"choices"`
	// Departments counts each recipient under his direct departments.
	Departments map[DepartmentID]*GroupTally `json:"departments"`
	// Subtrees counts each recipient once under every department whose
	// subtree contains one of his departments (the roll-up).
	Subtrees map[DepartmentID]*GroupTally `json:"subtrees"`
	// Regions is keyed by Region.String(), e.g. "quake:350".
	Regions map[string]*GroupTally `json:"regions"`
	// AnswerSeconds is the histogram of first-answer times: whole seconds
	// after the survey's start → number of recipients.
	AnswerSeconds map[int64]int `json:"answerSeconds"`
}

// NewTally returns an empty tally for survey s.
func NewTally(s SurveyID) *Tally {
	return &Tally{
		SurveyID:      s,
		Choices:       ChoiceCounts{},
		Departments:   map[DepartmentID]*GroupTally{},
		Subtrees:      map[DepartmentID]*GroupTally{},
		Regions:       map[string]*GroupTally{},
		AnswerSeconds: map[int64]int{},
	}
}

// ResponseRate is Answered / Targets, 0 when there are no targets.
func (t *Tally) ResponseRate() float64 {
	if t.Targets == 0 {
		return 0
	}
	return float64(t.Answered) / float64(t.Targets)
}

// AnswerTimes returns the quartiles of the first-answer times.
func (t *Tally) AnswerTimes() Quartiles {
	secs := slices.Sorted(maps.Keys(t.AnswerSeconds))
	total := 0
	for _, s := range secs {
		total += t.AnswerSeconds[s]
	}
	if total == 0 {
		return Quartiles{}
	}
	at := func(p int) time.Duration { // nearest rank: ceil(p/100 * total)
		rank := (p*total + 99) / 100
		n := 0
		for _, s := range secs {
			n += t.AnswerSeconds[s]
			if n >= rank {
				return time.Duration(s) * time.Second
			}
		}
		return time.Duration(secs[len(secs)-1]) * time.Second
	}
	return Quartiles{Q1: at(25), Median: at(50), Q3: at(75)}
}

// AnswerSecond is the histogram bucket of a first answer at first for a
// survey started at start (negative delays count as 0).
func AnswerSecond(start, first time.Time) int64 {
	if start.IsZero() || first.Before(start) {
		return 0
	}
	return int64(first.Sub(start) / time.Second)
}

func group[K comparable](m map[K]*GroupTally, k K) *GroupTally {
	g := m[k]
	if g == nil {
		g = &GroupTally{Choices: ChoiceCounts{}}
		m[k] = g
	}
	return g
}

// AddRecipient counts a new recipient as a target.
func (t *Tally) AddRecipient(r Recipient) {
	t.Targets++
	for _, d := range r.Departments {
		group(t.Departments, d).Targets++
	}
	for _, d := range r.Scope {
		group(t.Subtrees, d).Targets++
	}
	for _, g := range r.Regions {
		group(t.Regions, g.String()).Targets++
	}
}

// AddResponse moves the counters from old (nil for a first answer) to new
// for recipient r of a survey started at start. Stores call it in the same
// transaction as they store the response.
func (t *Tally) AddResponse(r Recipient, start time.Time, old, new *Response) {
	groups := make([]*GroupTally, 0, len(r.Departments)+len(r.Scope)+len(r.Regions))
	for _, d := range r.Departments {
		groups = append(groups, group(t.Departments, d))
	}
	for _, d := range r.Scope {
		groups = append(groups, group(t.Subtrees, d))
	}
	for _, g := range r.Regions {
		groups = append(groups, group(t.Regions, g.String()))
	}
	if old == nil {
		t.Answered++
		t.AnswerSeconds[AnswerSecond(start, new.At)]++
		for _, g := range groups {
			g.Answered++
		}
	} else {
		t.Choices.AddResponse(old, -1)
		for _, g := range groups {
			g.Choices.AddResponse(old, -1)
		}
	}
	t.Choices.AddResponse(new, 1)
	for _, g := range groups {
		g.Choices.AddResponse(new, 1)
	}
}

// Clone returns a deep copy.
func (t *Tally) Clone() *Tally {
	c := *t
	c.Choices = t.Choices.Clone()
	cloneGroups := func(m map[DepartmentID]*GroupTally) map[DepartmentID]*GroupTally {
		out := make(map[DepartmentID]*GroupTally, len(m))
		for k, g := range m {
			out[k] = &GroupTally{Targets: g.Targets, Answered: g.Answered, Choices: g.Choices.Clone()}
		}
		return out
	}
	c.Departments = cloneGroups(t.Departments)
	c.Subtrees = cloneGroups(t.Subtrees)
	c.Regions = make(map[string]*GroupTally, len(t.Regions))
	for k, g := range t.Regions {
		c.Regions[k] = &GroupTally{Targets: g.Targets, Answered: g.Answered, Choices: g.Choices.Clone()}
	}
	c.AnswerSeconds = maps.Clone(t.AnswerSeconds)
	return &c
}

// ComputeTally recounts a tally from the recipients and the current
// responses of a survey started at start. Responses of users who are not
// recipients are ignored. Each response's FirstAt (or At when FirstAt is
// zero) is its first-answer time.
func ComputeTally(s SurveyID, start time.Time, recipients []Recipient, responses []*Response) *Tally {
	t := NewTally(s)
	byUser := make(map[UserID]Recipient, len(recipients))
	for _, r := range recipients {
		byUser[r.UserID] = r
		t.AddRecipient(r)
	}
	for _, resp := range responses {
		r, ok := byUser[resp.UserID]
		if !ok {
			continue
		}
		first := resp.Clone()
		if !resp.FirstAt.IsZero() {
			first.At = resp.FirstAt
		}
		t.AddResponse(r, start, nil, first)
	}
	return t
}
