package memstore

import (
	"context"
	"slices"

	"github.com/anpikit/anpi/anpi"
)

func (t *tx) RecordResponse(ctx context.Context, r *anpi.Response) (bool, error) {
	if err := t.beginWrite(ctx); err != nil {
		return false, err
	}
	if r == nil {
		return false, anpi.Errorf(anpi.InvalidArgument, "memstore: record response: nil response")
	}
	if r.SurveyID == "" || r.UserID == "" {
		return false, anpi.Errorf(anpi.InvalidArgument, "memstore: record response %s: survey and user are required", r.ID)
	}
	if _, ok := t.d.respIDs[r.ID]; ok {
		return false, nil // a retry: already recorded, change nothing
	}
	if r.ViaToken != nil && !t.d.tokens[*r.ViaToken].Admits(r) {
		return false, errTokenRefused(r)
	}
	s, err := t.survey("record response "+string(r.ID), r.SurveyID)
	if err != nil {
		return false, err
	}
	if err := r.Validate(s.Form); err != nil {
		return false, wrap("record response "+string(r.ID), err)
	}
	if s.Status != anpi.Open {
		return false, anpi.Errorf(anpi.FailedPrecondition, "memstore: record response %s: survey %s is %s, not open", r.ID, s.ID, s.Status)
	}
	rec, ok := t.d.recipients[s.ID][r.UserID]
	if !ok {
		return false, anpi.Errorf(anpi.NotFound, "memstore: record response %s: user %s is not a recipient of survey %s", r.ID, r.UserID, s.ID)
	}
	hist := t.d.history[s.ID][r.UserID]
	var old *anpi.Response
	c := r.Clone()
	c.ViaToken = nil // not stored
	c.FirstAt = c.At
	if len(hist) > 0 {
		old = hist[len(hist)-1]
		c.FirstAt = old.FirstAt
	}
	put(t, t.d.history[s.ID], r.UserID, append(slices.Clip(hist), c))
	put(t, t.d.respIDs, c.ID, respOwner{survey: s.ID, user: c.UserID})
	t.tallyForWrite(s.ID).AddResponse(*rec, s.StartedAt, old, c)
	return true, nil
}

func (t *tx) GetResponse(ctx context.Context, s anpi.SurveyID, u anpi.UserID) (*anpi.Response, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := t.survey("get response", s); err != nil {
		return nil, err
	}
	hist := t.d.history[s][u]
	if len(hist) == 0 {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: user %s has not answered survey %s", u, s)
	}
	return hist[len(hist)-1].Clone(), nil
}

func (t *tx) ResponseHistory(ctx context.Context, s anpi.SurveyID, u anpi.UserID) ([]*anpi.Response, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := t.survey("response history", s); err != nil {
		return nil, err
	}
	out := []*anpi.Response{}
	for _, r := range t.d.history[s][u] {
		out = append(out, r.Clone())
	}
	return out, nil
}

func (t *tx) currentResponses(s anpi.SurveyID) []*anpi.Response {
	out := []*anpi.Response{}
	for _, u := range sortedKeys(t.d.history[s]) {
		if hist := t.d.history[s][u]; len(hist) > 0 {
			out = append(out, hist[len(hist)-1].Clone())
		}
	}
	return out
}

func (t *tx) Responses(ctx context.Context, s anpi.SurveyID) ([]*anpi.Response, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := t.survey("list responses", s); err != nil {
		return nil, err
	}
	return t.currentResponses(s), nil
}

func (t *tx) Tally(ctx context.Context, s anpi.SurveyID) (*anpi.Tally, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := t.survey("tally", s); err != nil {
		return nil, err
	}
	return t.d.tallies[s].Clone(), nil
}

// errTokenRefused is the error of a response whose answer token
// (Response.ViaToken) is unknown, revoked, expired or someone else's.
func errTokenRefused(r *anpi.Response) error {
	return anpi.Errorf(anpi.NotFound, "memstore: record response %s: its answer token is unknown, revoked, expired or not %s's for survey %s", r.ID, r.UserID, r.SurveyID)
}
