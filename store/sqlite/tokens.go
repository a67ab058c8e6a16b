package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// shortHash names a token in messages by the first bytes of its hash: enough
// to tell tokens apart, and the hash is no secret anyway.
func shortHash(h anpi.TokenHash) string { return hex.EncodeToString(h[:6]) }

func (t *tx) PutAnswerTokens(ctx context.Context, ts []*anpi.AnswerToken) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	const op = "put answer tokens"
	seen := make(map[anpi.TokenHash]struct{}, len(ts))
	surveys := map[anpi.SurveyID]bool{}
	for i, tk := range ts {
		if tk == nil {
			return anpi.Errorf(anpi.InvalidArgument, "sqlite: put answer tokens: token %d is nil", i+1)
		}
		if err := tk.Validate(); err != nil {
			return anpi.Errorf(anpi.Code(err), "sqlite: put answer tokens: token %d: %w", i+1, err)
		}
		if _, ok := seen[tk.Hash]; ok {
			return anpi.Errorf(anpi.AlreadyExists, "sqlite: put answer tokens: token %d (hash %s…) appears twice in the batch", i+1, shortHash(tk.Hash))
		}
		seen[tk.Hash] = struct{}{}
		surveys[tk.SurveyID] = true
	}
	if len(ts) == 0 {
		return nil
	}
	for _, tk := range ts {
		if surveys[tk.SurveyID] {
			surveys[tk.SurveyID] = false
			if err := t.surveyExists(ctx, op, tk.SurveyID); err != nil {
				return err
			}
		}
	}
	// All or none, even inside InTx when fn goes on after an error: the
	// inserts run behind a savepoint that a failure rolls back.
	if _, err := t.exec(ctx, op, "SAVEPOINT answer_tokens"); err != nil {
		return err
	}
	if err := t.insertTokens(ctx, ts); err != nil {
		// Undo even when ctx ended. When SQLite already rolled back the
		// whole transaction (an interrupt does), there is no savepoint
		// left and nothing to undo: the error is the insert's either way.
		ctx := context.WithoutCancel(ctx)
		if _, rerr := t.exec(ctx, op, "ROLLBACK TO answer_tokens"); rerr == nil {
			_, _ = t.exec(ctx, op, "RELEASE answer_tokens")
		}
		return err
	}
	_, err := t.exec(ctx, op, "RELEASE answer_tokens")
	return err
}

// insertTokens inserts ts, enqueueChunk rows per statement (each
// statement is prepared once by the writer): a hash already stored fails
// the statement on the primary key, and the token is then named by looking
// its chunk up. The caller's savepoint undoes the chunks before it.
func (t *tx) insertTokens(ctx context.Context, ts []*anpi.AnswerToken) error {
	const op = "put answer tokens"
	args := make([]any, 0, 6*enqueueChunk)
	for start := 0; start < len(ts); start += enqueueChunk {
		chunk := ts[start:min(start+enqueueChunk, len(ts))]
		args = args[:0]
		for _, tk := range chunk {
			args = append(args, tk.Hash[:], string(tk.SurveyID), string(tk.UserID), tk.CreatedAt.UnixNano(), nanos(tk.ExpiresAt), nanos(tk.RevokedAt))
		}
		_, err := t.q.ExecContext(ctx, insertTokensSQL(len(chunk)), args...)
		if err == nil {
			continue
		}
		err = classify(op, err)
		if anpi.Code(err) != anpi.AlreadyExists {
			return err
		}
		for i, tk := range chunk {
			if taken, lerr := t.exists(ctx, op, "SELECT 1 FROM answer_tokens WHERE hash = ?", tk.Hash[:]); lerr == nil && taken {
				return anpi.Errorf(anpi.AlreadyExists, "sqlite: put answer tokens: token %d (hash %s…) already exists", start+i+1, shortHash(tk.Hash))
			}
		}
		return err
	}
	return nil
}

// insertTokensSQL is the INSERT of n tokens.
func insertTokensSQL(n int) string {
	return multiRow("INSERT INTO answer_tokens (hash, survey_id, user_id, created_at, expires_at, revoked_at) VALUES ", "(?,?,?,?,?,?)", n, "")
}

func (t *tx) AnswerToken(ctx context.Context, h anpi.TokenHash) (*anpi.AnswerToken, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	tk := &anpi.AnswerToken{Hash: h}
	var survey, user string
	var created int64
	var expires, revoked sql.NullInt64
	found, err := t.one(ctx, "look up answer token", "SELECT survey_id, user_id, created_at, expires_at, revoked_at FROM answer_tokens WHERE hash = ?",
		[]any{h[:]}, &survey, &user, &created, &expires, &revoked)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: answer token %s… does not exist", shortHash(h))
	}
	tk.SurveyID, tk.UserID = anpi.SurveyID(survey), anpi.UserID(user)
	tk.CreatedAt = fromNanos(sql.NullInt64{Int64: created, Valid: true})
	tk.ExpiresAt, tk.RevokedAt = fromNanos(expires), fromNanos(revoked)
	return tk, nil
}

func (t *tx) RevokeAnswerTokens(ctx context.Context, s anpi.SurveyID, u anpi.UserID, at time.Time) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	const op = "revoke answer tokens"
	if err := t.surveyExists(ctx, op, s); err != nil {
		return 0, err
	}
	if at.IsZero() {
		at = t.now()
	}
	var res sql.Result
	var err error
	if u != "" {
		res, err = t.exec(ctx, op, "UPDATE answer_tokens SET revoked_at = ? WHERE survey_id = ? AND user_id = ? AND revoked_at IS NULL", at.UnixNano(), string(s), string(u))
	} else {
		res, err = t.exec(ctx, op, "UPDATE answer_tokens SET revoked_at = ? WHERE survey_id = ? AND revoked_at IS NULL", at.UnixNano(), string(s))
	}
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, classify(op, err)
	}
	return int(n), nil
}
