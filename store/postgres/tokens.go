package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
)

// shortHash names a token in messages by the first bytes of its hash: enough
// to tell tokens apart, and the hash is no secret anyway.
func shortHash(h anpi.TokenHash) string { return hex.EncodeToString(h[:6]) }

// insertTokens inserts a batch in one statement, unless one of its hashes
// is already stored: then it inserts nothing (and reports no row), so a
// refused batch leaves the transaction usable and nothing written.
const insertTokens = `INSERT INTO {answer_tokens} (hash, survey_id, user_id, created_at, expires_at, revoked_at)
	SELECT * FROM unnest(?::bytea[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[])
	WHERE NOT EXISTS (SELECT 1 FROM {answer_tokens} WHERE hash = ANY(?::bytea[]))`

func (t *tx) PutAnswerTokens(ctx context.Context, ts []*anpi.AnswerToken) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	const op = "put answer tokens"
	seen := make(map[anpi.TokenHash]struct{}, len(ts))
	var surveys []anpi.SurveyID
	inBatch := map[anpi.SurveyID]bool{}
	for i, tk := range ts {
		if tk == nil {
			return anpi.Errorf(anpi.InvalidArgument, "postgres: put answer tokens: token %d is nil", i+1)
		}
		if err := tk.Validate(); err != nil {
			return anpi.Errorf(anpi.Code(err), "postgres: put answer tokens: token %d: %w", i+1, err)
		}
		if _, ok := seen[tk.Hash]; ok {
			return anpi.Errorf(anpi.AlreadyExists, "postgres: put answer tokens: token %d (hash %s…) appears twice in the batch", i+1, shortHash(tk.Hash))
		}
		seen[tk.Hash] = struct{}{}
		if !inBatch[tk.SurveyID] {
			inBatch[tk.SurveyID] = true
			surveys = append(surveys, tk.SurveyID)
		}
	}
	if len(ts) == 0 {
		return nil
	}
	// Each survey must exist and stay until the commit: a key-share lock,
	// once per survey, stands in for a foreign key checked once per row.
	for _, s := range surveys {
		ok, err := t.exists(ctx, op, "SELECT 1 FROM {surveys} WHERE id = ? FOR KEY SHARE", string(s))
		if err != nil {
			return err
		}
		if !ok {
			return anpi.Errorf(anpi.NotFound, "postgres: put answer tokens: survey %s does not exist", s)
		}
	}
	hashes := make([][]byte, len(ts))
	survey, user := make([]string, len(ts)), make([]string, len(ts))
	created := make([]int64, len(ts))
	expires, revoked := make([]*int64, len(ts)), make([]*int64, len(ts))
	for i, tk := range ts {
		hashes[i] = tk.Hash[:]
		survey[i], user[i] = string(tk.SurveyID), string(tk.UserID)
		created[i] = tk.CreatedAt.UnixNano()
		expires[i], revoked[i] = nanos(tk.ExpiresAt), nanos(tk.RevokedAt)
	}
	tag, err := t.exec(ctx, op, insertTokens, hashes, survey, user, created, expires, revoked, hashes)
	if err != nil {
		return err // a hash a concurrent transaction stored: AlreadyExists, and the transaction is aborted
	}
	if int(tag.RowsAffected()) == len(ts) {
		return nil
	}
	// Nothing was inserted: name a hash that is taken.
	var taken []byte
	found, err := t.one(ctx, op, "SELECT hash FROM {answer_tokens} WHERE hash = ANY(?::bytea[]) LIMIT 1", []any{hashes}, &taken)
	if err != nil {
		return err
	}
	if !found || len(taken) != len(anpi.TokenHash{}) {
		return anpi.Errorf(anpi.Internal, "postgres: put answer tokens: inserted %d of %d tokens", tag.RowsAffected(), len(ts))
	}
	h := anpi.TokenHash(taken)
	for i, tk := range ts {
		if tk.Hash == h {
			return anpi.Errorf(anpi.AlreadyExists, "postgres: put answer tokens: token %d (hash %s…) already exists", i+1, shortHash(h))
		}
	}
	return anpi.Errorf(anpi.AlreadyExists, "postgres: put answer tokens: hash %s… already exists", shortHash(h))
}

// rowQuerier is what a single-row read runs on: a transaction or the pool.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readAnswerToken looks up a token by its primary key.
func (s *Store) readAnswerToken(ctx context.Context, q rowQuerier, h anpi.TokenHash) (*anpi.AnswerToken, error) {
	tk := &anpi.AnswerToken{Hash: h}
	var survey, user string
	var created int64
	var expires, revoked *int64
	err := q.QueryRow(ctx, s.sql("SELECT survey_id, user_id, created_at, expires_at, revoked_at FROM {answer_tokens} WHERE hash = ?"), h[:]).
		Scan(&survey, &user, &created, &expires, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, anpi.Errorf(anpi.NotFound, "postgres: answer token %s… does not exist", shortHash(h))
	}
	if err != nil {
		return nil, classify("look up answer token", err)
	}
	tk.SurveyID, tk.UserID = anpi.SurveyID(survey), anpi.UserID(user)
	tk.CreatedAt = time.Unix(0, created).UTC()
	tk.ExpiresAt, tk.RevokedAt = fromNanos(expires), fromNanos(revoked)
	return tk, nil
}

func (t *tx) AnswerToken(ctx context.Context, h anpi.TokenHash) (*anpi.AnswerToken, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.s.readAnswerToken(ctx, t.q, h)
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
	var n int64
	if u != "" {
		tag, err := t.exec(ctx, op, "UPDATE {answer_tokens} SET revoked_at = ? WHERE survey_id = ? AND user_id = ? AND revoked_at IS NULL", at.UnixNano(), string(s), string(u))
		if err != nil {
			return 0, err
		}
		n = tag.RowsAffected()
	} else {
		tag, err := t.exec(ctx, op, "UPDATE {answer_tokens} SET revoked_at = ? WHERE survey_id = ? AND revoked_at IS NULL", at.UnixNano(), string(s))
		if err != nil {
			return 0, err
		}
		n = tag.RowsAffected()
	}
	return int(n), nil
}
