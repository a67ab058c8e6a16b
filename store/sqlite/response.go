package sqlite

import (
	"context"
	"database/sql"

	"github.com/anpikit/anpi/anpi"
)

func (t *tx) RecordResponse(ctx context.Context, r *anpi.Response) (bool, error) {
	if err := t.beginWrite(ctx); err != nil {
		return false, err
	}
	return t.recordResponse(ctx, r)
}

// recordResponse stores r. Every check comes before the first write, and
// the tally change, in memory, after the last: a refused answer changes
// nothing, so the group committer goes on with the others. An error after
// the first write is a writeError: the group committer then abandons the
// shared transaction.
func (t *tx) recordResponse(ctx context.Context, r *anpi.Response) (bool, error) {
	if r == nil {
		return false, anpi.Errorf(anpi.InvalidArgument, "sqlite: record response: nil response")
	}
	if r.SurveyID == "" || r.UserID == "" {
		return false, anpi.Errorf(anpi.InvalidArgument, "sqlite: record response %s: survey and user are required", r.ID)
	}
	op := "record response " + string(r.ID)
	// One statement reads all that the checks need: whether the response
	// is a retry, the answer token it names, the recipient and his current
	// answer (the anchor row makes it return one row whatever is missing).
	var hash any
	if r.ViaToken != nil {
		hash = r.ViaToken[:]
	}
	var dup bool
	var tkSurvey, tkUser sql.NullString
	var tkExpires, tkRevoked, cur sql.NullInt64
	var recData, oldData []byte
	if _, err := t.one(ctx, op, `SELECT EXISTS (SELECT 1 FROM responses WHERE id = ?), k.survey_id, k.user_id, k.expires_at, k.revoked_at, c.data, c.cur, p.data
		FROM (SELECT 1) AS anchor
		LEFT JOIN answer_tokens k ON k.hash = ?
		LEFT JOIN recipients c ON c.survey_id = ? AND c.user_id = ?
		LEFT JOIN responses p ON p.rid = c.cur`, []any{string(r.ID), hash, string(r.SurveyID), string(r.UserID)},
		&dup, &tkSurvey, &tkUser, &tkExpires, &tkRevoked, &recData, &cur, &oldData); err != nil {
		return false, err
	}
	if dup {
		return false, nil // a retry: already recorded, change nothing
	}
	if r.ViaToken != nil {
		var tk *anpi.AnswerToken
		if tkSurvey.Valid {
			tk = &anpi.AnswerToken{Hash: *r.ViaToken, SurveyID: anpi.SurveyID(tkSurvey.String), UserID: anpi.UserID(tkUser.String),
				ExpiresAt: fromNanos(tkExpires), RevokedAt: fromNanos(tkRevoked)}
		}
		if !tk.Admits(r) {
			return false, anpi.Errorf(anpi.NotFound, "sqlite: %s: its answer token is unknown, revoked, expired or not %s's for survey %s", op, r.UserID, r.SurveyID)
		}
	}
	s, err := t.survey(ctx, op, r.SurveyID)
	if err != nil {
		return false, err
	}
	if err := r.Validate(s.Form); err != nil {
		return false, wrap(op, err)
	}
	if s.Status != anpi.Open {
		return false, anpi.Errorf(anpi.FailedPrecondition, "sqlite: record response %s: survey %s is %s, not open", r.ID, s.ID, s.Status)
	}
	if recData == nil {
		return false, anpi.Errorf(anpi.NotFound, "sqlite: record response %s: user %s is not a recipient of survey %s", r.ID, r.UserID, s.ID)
	}
	var rec anpi.Recipient
	if err := decode(op, recData, &rec); err != nil {
		return false, err
	}
	var old *anpi.Response
	if oldData != nil {
		old = new(anpi.Response)
		if err := decode(op, oldData, old); err != nil {
			return false, err
		}
	}
	c := r.Clone()
	c.At = utc(c.At)
	c.FirstAt = c.At
	if old != nil {
		c.FirstAt = old.FirstAt
	}
	data, err := encode(op, c)
	if err != nil {
		return false, err
	}
	res, err := t.exec(ctx, op, "INSERT INTO responses (id, survey_id, user_id, data) VALUES (?, ?, ?, ?)", string(c.ID), string(c.SurveyID), string(c.UserID), data)
	if err != nil {
		return false, err // a failed statement leaves nothing behind
	}
	rid, err := res.LastInsertId()
	if err != nil {
		return false, &writeError{classify(op, err)}
	}
	if _, err := t.exec(ctx, op, "UPDATE recipients SET cur = ? WHERE survey_id = ? AND user_id = ?", rid, string(c.SurveyID), string(c.UserID)); err != nil {
		return false, &writeError{err}
	}
	t.tallyDelta(s.ID).AddResponse(rec, s.StartedAt, old, c)
	return true, nil
}

// writeError is an error that happened after a write of the same
// operation: the transaction holds half of it.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func (t *tx) GetResponse(ctx context.Context, s anpi.SurveyID, u anpi.UserID) (*anpi.Response, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "get response", s); err != nil {
		return nil, err
	}
	var data []byte
	ok, err := t.one(ctx, "get response", "SELECT r.data FROM recipients c JOIN responses r ON r.rid = c.cur WHERE c.survey_id = ? AND c.user_id = ?", []any{string(s), string(u)}, &data)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: user %s has not answered survey %s", u, s)
	}
	r := new(anpi.Response)
	return r, decode("get response", data, r)
}

func (t *tx) ResponseHistory(ctx context.Context, s anpi.SurveyID, u anpi.UserID) ([]*anpi.Response, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "response history", s); err != nil {
		return nil, err
	}
	return list[anpi.Response](t, ctx, "response history", "SELECT data FROM responses WHERE survey_id = ? AND user_id = ? ORDER BY rid", string(s), string(u))
}

func (t *tx) currentResponses(ctx context.Context, s anpi.SurveyID) ([]*anpi.Response, error) {
	return list[anpi.Response](t, ctx, "list responses", "SELECT r.data FROM recipients c JOIN responses r ON r.rid = c.cur WHERE c.survey_id = ? ORDER BY c.user_id", string(s))
}

func (t *tx) Responses(ctx context.Context, s anpi.SurveyID) ([]*anpi.Response, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "list responses", s); err != nil {
		return nil, err
	}
	return t.currentResponses(ctx, s)
}
