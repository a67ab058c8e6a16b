package memstore

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/anpikit/anpi/anpi"
)

func (t *tx) survey(op string, id anpi.SurveyID) (*anpi.Survey, error) {
	s, ok := t.d.surveys[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: %s: survey %s does not exist", op, id)
	}
	return s, nil
}

// tallyForWrite returns the survey's tally, copied once per transaction so
// that it may be changed in place and the copy dropped on rollback.
func (t *tx) tallyForWrite(id anpi.SurveyID) *anpi.Tally {
	if t.tallies == nil {
		t.tallies = map[anpi.SurveyID]bool{}
	}
	if !t.tallies[id] {
		t.tallies[id] = true
		put(t, t.d.tallies, id, t.d.tallies[id].Clone())
	}
	return t.d.tallies[id]
}

func (t *tx) CreateSurvey(ctx context.Context, s *anpi.Survey) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if s == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: create survey: nil survey")
	}
	if err := s.Validate(); err != nil {
		return wrap("create survey", err)
	}
	if _, ok := t.d.surveys[s.ID]; ok {
		return anpi.Errorf(anpi.AlreadyExists, "memstore: create survey %s: already exists", s.ID)
	}
	c := s.Clone()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now()
	}
	put(t, t.d.surveys, c.ID, c)
	put(t, t.d.tallies, c.ID, anpi.NewTally(c.ID))
	put(t, t.d.recipients, c.ID, map[anpi.UserID]*anpi.Recipient{})
	put(t, t.d.history, c.ID, map[anpi.UserID][]*anpi.Response{})
	put(t, t.d.surveyDeliveries, c.ID, map[anpi.DeliveryID]struct{}{})
	return nil
}

func (t *tx) UpdateSurvey(ctx context.Context, s *anpi.Survey) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if s == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: update survey: nil survey")
	}
	if err := s.Validate(); err != nil {
		return wrap("update survey", err)
	}
	old, err := t.survey("update survey", s.ID)
	if err != nil {
		return err
	}
	c := s.Clone()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = old.CreatedAt
	}
	put(t, t.d.surveys, c.ID, c)
	if !c.StartedAt.Equal(old.StartedAt) {
		// Answer times count from the start: recount with the new one.
		put(t, t.d.tallies, c.ID, anpi.ComputeTally(c.ID, c.StartedAt, t.recipientList(c.ID), t.currentResponses(c.ID)))
		if t.tallies != nil {
			delete(t.tallies, c.ID) // the next write copies the new tally again: harmless
		}
	}
	return nil
}

func (t *tx) GetSurvey(ctx context.Context, id anpi.SurveyID) (*anpi.Survey, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	s, err := t.survey("get survey", id)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}

func (t *tx) ListSurveys(ctx context.Context, q *anpi.SurveyQuery) ([]*anpi.Survey, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if q == nil {
		q = &anpi.SurveyQuery{}
	}
	if q.Limit < 0 {
		return nil, anpi.Errorf(anpi.InvalidArgument, "memstore: list surveys: negative limit %d", q.Limit)
	}
	out := []*anpi.Survey{}
	for _, s := range t.d.surveys {
		if (q.Kind != "" && s.Kind != q.Kind) || (q.Status != "" && s.Status != q.Status) {
			continue
		}
		if q.TriggerEventID != "" && (s.Trigger == nil || s.Trigger.EventID != q.TriggerEventID) {
			continue
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *anpi.Survey) int { // newest first
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(b.ID), string(a.ID))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	for i, s := range out {
		out[i] = s.Clone()
	}
	return out, nil
}

func (t *tx) DeleteSurvey(ctx context.Context, id anpi.SurveyID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	s, err := t.survey("delete survey", id)
	if err != nil {
		return err
	}
	if s.Status != anpi.Draft {
		return anpi.Errorf(anpi.FailedPrecondition, "memstore: delete survey %s: it is %s; only a draft can be deleted", id, s.Status)
	}
	for _, did := range sortedKeys(t.d.surveyDeliveries[id]) {
		t.setDelivery(t.d.deliveries[did], nil)
	}
	for _, hist := range t.d.history[id] {
		for _, r := range hist {
			del(t, t.d.respIDs, r.ID)
		}
	}
	t.deleteSurveyTokens(id)
	del(t, t.d.surveyDeliveries, id)
	del(t, t.d.history, id)
	del(t, t.d.recipients, id)
	del(t, t.d.tallies, id)
	del(t, t.d.surveys, id)
	return nil
}

func (t *tx) AddRecipients(ctx context.Context, s anpi.SurveyID, rs []anpi.Recipient) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	if _, err := t.survey("add recipients", s); err != nil {
		return 0, err
	}
	stored := t.d.recipients[s]
	n := 0
	for i, r := range rs {
		if r.SurveyID == "" {
			r.SurveyID = s
		}
		if r.SurveyID != s {
			return 0, anpi.Errorf(anpi.InvalidArgument, "memstore: add recipients to survey %s: recipient %d is for survey %s", s, i+1, r.SurveyID)
		}
		if r.UserID == "" {
			return 0, anpi.Errorf(anpi.InvalidArgument, "memstore: add recipients to survey %s: recipient %d has no user id", s, i+1)
		}
		for _, g := range r.Regions {
			if err := g.Validate(); err != nil {
				return 0, wrap("add recipients to survey "+string(s)+": recipient "+string(r.UserID), err)
			}
		}
		if _, ok := stored[r.UserID]; ok {
			continue
		}
		c := r.Clone()
		put(t, stored, c.UserID, &c)
		t.tallyForWrite(s).AddRecipient(c)
		n++
	}
	return n, nil
}

func (t *tx) GetRecipient(ctx context.Context, s anpi.SurveyID, u anpi.UserID) (*anpi.Recipient, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := t.survey("get recipient", s); err != nil {
		return nil, err
	}
	r, ok := t.d.recipients[s][u]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: user %s is not a recipient of survey %s", u, s)
	}
	c := r.Clone()
	return &c, nil
}

func (t *tx) recipientList(s anpi.SurveyID) []anpi.Recipient {
	out := make([]anpi.Recipient, 0, len(t.d.recipients[s]))
	for _, r := range t.d.recipients[s] {
		out = append(out, r.Clone())
	}
	slices.SortFunc(out, func(a, b anpi.Recipient) int { return cmp.Compare(a.UserID, b.UserID) })
	return out
}

func (t *tx) Recipients(ctx context.Context, s anpi.SurveyID) ([]anpi.Recipient, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := t.survey("list recipients", s); err != nil {
		return nil, err
	}
	return t.recipientList(s), nil
}
