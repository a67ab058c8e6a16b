package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/anpikit/anpi/anpi"
)

func surveyUTC(s *anpi.Survey) *anpi.Survey {
	c := s.Clone()
	c.Deadline, c.CreatedAt, c.StartedAt, c.ClosedAt = utc(c.Deadline), utc(c.CreatedAt), utc(c.StartedAt), utc(c.ClosedAt)
	return c
}

// survey returns the stored survey, NotFound when absent. The result may
// be shared with the cache: callers must not change it.
func (t *tx) survey(ctx context.Context, op string, id anpi.SurveyID) (*anpi.Survey, error) {
	if s := t.surveys[id]; s != nil {
		return s, nil
	}
	var data []byte
	ok, err := t.one(ctx, op, "SELECT data FROM surveys WHERE id = ?", []any{string(id)}, &data)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: %s: survey %s does not exist", op, id)
	}
	s := t.s.surveys.get(id, data)
	if s == nil {
		s = new(anpi.Survey)
		if err := decode(op, data, s); err != nil {
			return nil, err
		}
		t.s.surveys.put(id, data, s)
	}
	if t.surveys == nil {
		t.surveys = map[anpi.SurveyID]*anpi.Survey{}
	}
	t.surveys[id] = s
	return s, nil
}

func (t *tx) surveyExists(ctx context.Context, op string, id anpi.SurveyID) error {
	ok, err := t.exists(ctx, op, "SELECT 1 FROM surveys WHERE id = ?", string(id))
	if err != nil {
		return err
	}
	if !ok {
		return anpi.Errorf(anpi.NotFound, "sqlite: %s: survey %s does not exist", op, id)
	}
	return nil
}

func (t *tx) writeSurvey(ctx context.Context, op string, c *anpi.Survey, insert bool) error {
	delete(t.surveys, c.ID)
	data, err := encode(op, c)
	if err != nil {
		return err
	}
	event := ""
	if c.Trigger != nil {
		event = c.Trigger.EventID
	}
	if insert {
		_, err = t.exec(ctx, op, "INSERT INTO surveys (id, kind, status, event_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?)",
			string(c.ID), string(c.Kind), string(c.Status), event, c.CreatedAt.UnixNano(), data)
	} else {
		_, err = t.exec(ctx, op, "UPDATE surveys SET kind = ?, status = ?, event_id = ?, created_at = ?, data = ? WHERE id = ?",
			string(c.Kind), string(c.Status), event, c.CreatedAt.UnixNano(), data, string(c.ID))
	}
	return err
}

func (t *tx) CreateSurvey(ctx context.Context, s *anpi.Survey) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if s == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: create survey: nil survey")
	}
	if err := s.Validate(); err != nil {
		return wrap("create survey", err)
	}
	op := "create survey " + string(s.ID)
	if ok, err := t.exists(ctx, op, "SELECT 1 FROM surveys WHERE id = ?", string(s.ID)); err != nil {
		return err
	} else if ok {
		return anpi.Errorf(anpi.AlreadyExists, "sqlite: create survey %s: already exists", s.ID)
	}
	c := surveyUTC(s)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now()
	}
	return t.writeSurvey(ctx, op, c, true)
}

func (t *tx) UpdateSurvey(ctx context.Context, s *anpi.Survey) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if s == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: update survey: nil survey")
	}
	if err := s.Validate(); err != nil {
		return wrap("update survey", err)
	}
	op := "update survey " + string(s.ID)
	old, err := t.survey(ctx, "update survey", s.ID)
	if err != nil {
		return err
	}
	c := surveyUTC(s)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = old.CreatedAt
	}
	restart := !c.StartedAt.Equal(old.StartedAt)
	if err := t.writeSurvey(ctx, op, c, false); err != nil {
		return err
	}
	if restart {
		// Answer times count from the start: recount with the new one.
		return t.recount(ctx, c.ID)
	}
	return nil
}

func (t *tx) GetSurvey(ctx context.Context, id anpi.SurveyID) (*anpi.Survey, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	s, err := t.survey(ctx, "get survey", id)
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
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: list surveys: negative limit %d", q.Limit)
	}
	var b strings.Builder
	var args []any
	b.WriteString("SELECT data FROM surveys WHERE 1")
	if q.Kind != "" {
		b.WriteString(" AND kind = ?")
		args = append(args, string(q.Kind))
	}
	if q.Status != "" {
		b.WriteString(" AND status = ?")
		args = append(args, string(q.Status))
	}
	if q.TriggerEventID != "" {
		b.WriteString(" AND event_id = ?")
		args = append(args, q.TriggerEventID)
	}
	b.WriteString(" ORDER BY created_at DESC, id DESC")
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.Limit)
	}
	return list[anpi.Survey](t, ctx, "list surveys", b.String(), args...)
}

func (t *tx) DeleteSurvey(ctx context.Context, id anpi.SurveyID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	s, err := t.survey(ctx, "delete survey", id)
	if err != nil {
		return err
	}
	if s.Status != anpi.Draft {
		return anpi.Errorf(anpi.FailedPrecondition, "sqlite: delete survey %s: it is %s; only a draft can be deleted", id, s.Status)
	}
	delete(t.pending, id)
	delete(t.surveys, id)
	// Recipients, responses and counters go with it (ON DELETE CASCADE);
	// deliveries have no foreign key (migration 0006), so they go here.
	if _, err := t.exec(ctx, "delete survey "+string(id), "DELETE FROM deliveries WHERE survey_id = ?", string(id)); err != nil {
		return err
	}
	_, err = t.exec(ctx, "delete survey "+string(id), "DELETE FROM surveys WHERE id = ?", string(id))
	return err
}

// tallyDelta returns the pending tally changes of survey s.
func (t *tx) tallyDelta(s anpi.SurveyID) *anpi.Tally {
	if t.pending == nil {
		t.pending = map[anpi.SurveyID]*anpi.Tally{}
	}
	d := t.pending[s]
	if d == nil {
		d = anpi.NewTally(s)
		t.pending[s] = d
	}
	return d
}

func (t *tx) AddRecipients(ctx context.Context, s anpi.SurveyID, rs []anpi.Recipient) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	if err := t.surveyExists(ctx, "add recipients", s); err != nil {
		return 0, err
	}
	for i, r := range rs {
		if r.SurveyID != "" && r.SurveyID != s {
			return 0, anpi.Errorf(anpi.InvalidArgument, "sqlite: add recipients to survey %s: recipient %d is for survey %s", s, i+1, r.SurveyID)
		}
		if r.UserID == "" {
			return 0, anpi.Errorf(anpi.InvalidArgument, "sqlite: add recipients to survey %s: recipient %d has no user id", s, i+1)
		}
		for _, g := range r.Regions {
			if err := g.Validate(); err != nil {
				return 0, wrap("add recipients to survey "+string(s)+": recipient "+string(r.UserID), err)
			}
		}
	}
	if len(rs) == 0 {
		return 0, nil
	}
	op := "add recipients to survey " + string(s)
	// enqueueChunk rows per statement; RETURNING names the rows inserted
	// (a recipient already there is skipped, and counts nothing).
	d := t.tallyDelta(s)
	added := 0
	args := make([]any, 0, 3*enqueueChunk)
	for start := 0; start < len(rs); start += enqueueChunk {
		chunk := rs[start:min(start+enqueueChunk, len(rs))]
		args = args[:0]
		byUser := make(map[string]int, len(chunk))
		for i := range chunk {
			r := &chunk[i]
			c := *r
			c.SurveyID = s
			data, err := encode(op, c)
			if err != nil {
				return 0, err
			}
			args = append(args, string(s), string(r.UserID), data)
			if _, dup := byUser[string(r.UserID)]; !dup {
				byUser[string(r.UserID)] = i // the first one is the one inserted
			}
		}
		rows, err := t.q.QueryContext(ctx, insertRecipientsSQL(len(chunk)), args...)
		if err != nil {
			return 0, classify(op, err)
		}
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return 0, classify(op, err)
			}
			c := chunk[byUser[u]]
			c.SurveyID = s
			d.AddRecipient(c)
			added++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return 0, classify(op, err)
		}
	}
	return added, nil
}

// insertRecipientsSQL is the INSERT of n recipients, returning the users
// of those inserted.
func insertRecipientsSQL(n int) string {
	return multiRow("INSERT INTO recipients (survey_id, user_id, data) VALUES ", "(?,?,?)", n, " ON CONFLICT DO NOTHING RETURNING user_id")
}

// recipient returns a stored recipient and the rowid of his current
// response (0 when none); found is false when he is not a recipient.
func (t *tx) recipient(ctx context.Context, op string, s anpi.SurveyID, u anpi.UserID) (r anpi.Recipient, cur int64, found bool, err error) {
	var data []byte
	var c sql.NullInt64
	ok, err := t.one(ctx, op, "SELECT data, cur FROM recipients WHERE survey_id = ? AND user_id = ?", []any{string(s), string(u)}, &data, &c)
	if err != nil || !ok {
		return r, 0, false, err
	}
	return r, c.Int64, true, decode(op, data, &r)
}

func (t *tx) GetRecipient(ctx context.Context, s anpi.SurveyID, u anpi.UserID) (*anpi.Recipient, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "get recipient", s); err != nil {
		return nil, err
	}
	r, _, ok, err := t.recipient(ctx, "get recipient", s, u)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: user %s is not a recipient of survey %s", u, s)
	}
	return &r, nil
}

func (t *tx) recipientList(ctx context.Context, s anpi.SurveyID) ([]anpi.Recipient, error) {
	rs, err := list[anpi.Recipient](t, ctx, "list recipients", "SELECT data FROM recipients WHERE survey_id = ? ORDER BY user_id", string(s))
	if err != nil {
		return nil, err
	}
	out := make([]anpi.Recipient, len(rs))
	for i, r := range rs {
		out[i] = *r
	}
	return out, nil
}

func (t *tx) Recipients(ctx context.Context, s anpi.SurveyID) ([]anpi.Recipient, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "list recipients", s); err != nil {
		return nil, err
	}
	return t.recipientList(ctx, s)
}
