package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
)

func (t *tx) RecordResponse(ctx context.Context, r *anpi.Response) (bool, error) {
	if err := t.beginWrite(ctx); err != nil {
		return false, err
	}
	res, err := t.recordResponses(ctx, []*anpi.Response{r})
	if err != nil {
		return false, err
	}
	return res[0].ok, res[0].err
}

// recordResult is the outcome of one answer of a batch.
type recordResult struct {
	ok  bool
	err error
}

type userKey struct {
	s anpi.SurveyID
	u anpi.UserID
}

// recordResponses records a batch of answers in the transaction, in two
// round trips whatever its size: one pipeline reads the surveys (FOR
// SHARE), the recipients (locked FOR UPDATE, in key order), then their
// current answers and the response IDs already recorded; a second one inserts
// the new responses and moves each recipient's current answer. The tally
// changes are folded into the transaction's pending counters. An answer
// refused for its own reasons (not a recipient, survey not open, invalid)
// gets its error in the result and changes nothing; the error returned is
// for the batch as a whole (the transaction is then unusable).
func (t *tx) recordResponses(ctx context.Context, rs []*anpi.Response) ([]recordResult, error) {
	out := make([]recordResult, len(rs))
	var surveyIDs, respIDs []string
	var keyS, keyU []string
	var hashes [][]byte // of the answer tokens the answers came through (Response.ViaToken)
	seenSurvey := map[anpi.SurveyID]bool{}
	seenKey := map[userKey]bool{}
	for i, r := range rs {
		switch {
		case r == nil:
			out[i].err = anpi.Errorf(anpi.InvalidArgument, "postgres: record response: nil response")
			continue
		case r.SurveyID == "" || r.UserID == "":
			out[i].err = anpi.Errorf(anpi.InvalidArgument, "postgres: record response %s: survey and user are required", r.ID)
			continue
		}
		respIDs = append(respIDs, string(r.ID))
		if r.ViaToken != nil {
			hashes = append(hashes, r.ViaToken[:])
		}
		if !seenSurvey[r.SurveyID] {
			seenSurvey[r.SurveyID] = true
			surveyIDs = append(surveyIDs, string(r.SurveyID))
		}
		if k := (userKey{r.SurveyID, r.UserID}); !seenKey[k] {
			seenKey[k] = true
			keyS, keyU = append(keyS, string(r.SurveyID)), append(keyU, string(r.UserID))
		}
	}
	if len(respIDs) == 0 {
		return out, nil
	}
	const op = "record responses"

	// Read: surveys, recipients (locked), then the IDs already recorded:
	// after the lock, so that an answer committed by another transaction
	// for the same recipient is seen.
	b := &pgx.Batch{}
	b.Queue(t.s.sql("SELECT id, data FROM {surveys} WHERE id = ANY(?::text[]) ORDER BY id FOR SHARE"), surveyIDs)
	b.Queue(t.s.sql(`SELECT survey_id, user_id, data FROM {recipients}
		WHERE (survey_id, user_id) IN (SELECT * FROM unnest(?::text[], ?::text[]))
		ORDER BY survey_id, user_id
		FOR UPDATE`), keyS, keyU)
	// The current answers are read by a statement of their own, after the
	// locks are held: a join in the locking statement would pair a row
	// that another transaction changed meanwhile with the answer of the
	// statement's older snapshot.
	b.Queue(t.s.sql(`SELECT r.survey_id, r.user_id, p.data
		FROM {recipients} r JOIN {responses} p ON p.id = r.cur
		WHERE (r.survey_id, r.user_id) IN (SELECT * FROM unnest(?::text[], ?::text[]))`), keyS, keyU)
	b.Queue(t.s.sql("SELECT id FROM {responses} WHERE id = ANY(?::text[])"), respIDs)
	if len(hashes) > 0 {
		// Locked: a revocation committing meanwhile is waited for and seen.
		b.Queue(t.s.sql("SELECT hash, survey_id, user_id, created_at, expires_at, revoked_at FROM {answer_tokens} WHERE hash = ANY(?::bytea[]) FOR SHARE"), hashes)
	}
	tokens := map[anpi.TokenHash]*anpi.AnswerToken{}
	surveys := map[anpi.SurveyID]*anpi.Survey{}
	type recState struct {
		rec anpi.Recipient
		cur *anpi.Response
	}
	recs := map[userKey]*recState{}
	dups := map[anpi.ResponseID]bool{}
	err := func() error {
		br := t.q.SendBatch(ctx, b)
		defer br.Close()
		rows, err := br.Query()
		if err != nil {
			return classify(op, err)
		}
		var id string
		var data, cur []byte
		if _, err := pgx.ForEachRow(rows, []any{&id, &data}, func() error {
			sv, err := t.cachedSurvey(op, anpi.SurveyID(id), data)
			surveys[anpi.SurveyID(id)] = sv
			return err
		}); err != nil {
			return classify(op, err)
		}
		rows, err = br.Query()
		if err != nil {
			return classify(op, err)
		}
		var sid, uid string
		if _, err := pgx.ForEachRow(rows, []any{&sid, &uid, &data}, func() error {
			st := &recState{}
			if err := decode(op, data, &st.rec); err != nil {
				return err
			}
			recs[userKey{anpi.SurveyID(sid), anpi.UserID(uid)}] = st
			return nil
		}); err != nil {
			return classify(op, err)
		}
		rows, err = br.Query()
		if err != nil {
			return classify(op, err)
		}
		if _, err := pgx.ForEachRow(rows, []any{&sid, &uid, &cur}, func() error {
			st := recs[userKey{anpi.SurveyID(sid), anpi.UserID(uid)}]
			if st == nil {
				return nil // cannot happen: the row is locked
			}
			st.cur = new(anpi.Response)
			return decode(op, cur, st.cur)
		}); err != nil {
			return classify(op, err)
		}
		rows, err = br.Query()
		if err != nil {
			return classify(op, err)
		}
		if _, err := pgx.ForEachRow(rows, []any{&id}, func() error {
			dups[anpi.ResponseID(id)] = true
			return nil
		}); err != nil {
			return classify(op, err)
		}
		if len(hashes) == 0 {
			return nil
		}
		rows, err = br.Query()
		if err != nil {
			return classify(op, err)
		}
		var hash []byte
		var created int64
		var expires, revoked *int64
		if _, err := pgx.ForEachRow(rows, []any{&hash, &sid, &uid, &created, &expires, &revoked}, func() error {
			tk := &anpi.AnswerToken{SurveyID: anpi.SurveyID(sid), UserID: anpi.UserID(uid), CreatedAt: time.Unix(0, created).UTC(),
				ExpiresAt: fromNanos(expires), RevokedAt: fromNanos(revoked)}
			copy(tk.Hash[:], hash)
			tokens[tk.Hash] = tk
			return nil
		}); err != nil {
			return classify(op, err)
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}

	// Decide, in order: a later answer of the batch replaces an earlier one.
	type newRow struct {
		c   *anpi.Response
		rec anpi.Recipient
		old *anpi.Response
		s   *anpi.Survey
	}
	var rows []newRow
	for i, r := range rs {
		if out[i].err != nil {
			continue
		}
		if dups[r.ID] {
			continue // a retry: already recorded, change nothing
		}
		op := "record response " + string(r.ID)
		if r.ViaToken != nil && !tokens[*r.ViaToken].Admits(r) {
			out[i].err = anpi.Errorf(anpi.NotFound, "postgres: %s: its answer token is unknown, revoked, expired or not %s's for survey %s", op, r.UserID, r.SurveyID)
			continue
		}
		s := surveys[r.SurveyID]
		if s == nil {
			out[i].err = anpi.Errorf(anpi.NotFound, "postgres: %s: survey %s does not exist", op, r.SurveyID)
			continue
		}
		if err := r.Validate(s.Form); err != nil {
			out[i].err = wrap(op, err)
			continue
		}
		if s.Status != anpi.Open {
			out[i].err = anpi.Errorf(anpi.FailedPrecondition, "postgres: %s: survey %s is %s, not open", op, s.ID, s.Status)
			continue
		}
		st := recs[userKey{r.SurveyID, r.UserID}]
		if st == nil {
			out[i].err = anpi.Errorf(anpi.NotFound, "postgres: %s: user %s is not a recipient of survey %s", op, r.UserID, s.ID)
			continue
		}
		c := r.Clone()
		c.At = utc(c.At)
		c.FirstAt = c.At
		if st.cur != nil {
			c.FirstAt = st.cur.FirstAt
		}
		rows = append(rows, newRow{c: c, rec: st.rec, old: st.cur, s: s})
		st.cur = c
		dups[r.ID] = true
		out[i].ok = true
	}
	if len(rows) == 0 {
		return out, nil
	}

	// Write: the responses, in order (rid follows it), and each
	// recipient's current answer.
	ids, sids, uids := make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	datas := make([][]byte, len(rows))
	for i, nr := range rows {
		data, err := encode(op, nr.c)
		if err != nil {
			return nil, err
		}
		ids[i], sids[i], uids[i], datas[i] = string(nr.c.ID), string(nr.c.SurveyID), string(nr.c.UserID), data
	}
	fresh := make(map[*anpi.Response]bool, len(rows))
	for _, nr := range rows {
		fresh[nr.c] = true
	}
	var curS, curU, curID []string
	for k, st := range recs {
		if fresh[st.cur] {
			curS, curU, curID = append(curS, string(k.s)), append(curU, string(k.u)), append(curID, string(st.cur.ID))
		}
	}
	wb := &pgx.Batch{}
	wb.Queue(t.s.sql(`INSERT INTO {responses} (id, survey_id, user_id, data)
		SELECT id, s, u, d FROM unnest(?::text[], ?::text[], ?::text[], ?::bytea[]) WITH ORDINALITY AS x(id, s, u, d, ord)
		ORDER BY ord`), ids, sids, uids, datas)
	wb.Queue(t.s.sql(`UPDATE {recipients} r SET cur = x.cur
		FROM unnest(?::text[], ?::text[], ?::text[]) AS x(s, u, cur)
		WHERE r.survey_id = x.s AND r.user_id = x.u`), curS, curU, curID)
	br := t.q.SendBatch(ctx, wb)
	_, err1 := br.Exec()
	var err2 error
	if err1 == nil {
		_, err2 = br.Exec()
	}
	err3 := br.Close()
	if err := errors.Join(err1, err2); err != nil {
		return nil, classify(op, err)
	}
	if err3 != nil {
		return nil, classify(op, err3)
	}
	for _, nr := range rows {
		t.tallyDelta(nr.s.ID).AddResponse(nr.rec, nr.s.StartedAt, nr.old, nr.c)
	}
	return out, nil
}

// cachedSurvey decodes a stored survey, through the cache.
func (t *tx) cachedSurvey(op string, id anpi.SurveyID, data []byte) (*anpi.Survey, error) {
	if s := t.s.surveys.get(id, data); s != nil {
		return s, nil
	}
	s := new(anpi.Survey)
	if err := decode(op, data, s); err != nil {
		return nil, err
	}
	t.s.surveys.put(id, data, s)
	return s, nil
}

func (t *tx) GetResponse(ctx context.Context, s anpi.SurveyID, u anpi.UserID) (*anpi.Response, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "get response", s); err != nil {
		return nil, err
	}
	var data []byte
	ok, err := t.one(ctx, "get response", "SELECT p.data FROM {recipients} c JOIN {responses} p ON p.id = c.cur WHERE c.survey_id = ? AND c.user_id = ?", []any{string(s), string(u)}, &data)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "postgres: user %s has not answered survey %s", u, s)
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
	return list[anpi.Response](t, ctx, "response history", "SELECT data FROM {responses} WHERE survey_id = ? AND user_id = ? ORDER BY rid", string(s), string(u))
}

func (t *tx) currentResponses(ctx context.Context, s anpi.SurveyID) ([]*anpi.Response, error) {
	return list[anpi.Response](t, ctx, "list responses", "SELECT p.data FROM {recipients} c JOIN {responses} p ON p.id = c.cur WHERE c.survey_id = ? ORDER BY c.user_id", string(s))
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
