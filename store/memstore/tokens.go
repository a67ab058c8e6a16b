package memstore

import (
	"context"
	"encoding/hex"
	"slices"
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
	// Check the whole batch before changing anything: all or none, even
	// when a caller of InTx goes on after the error.
	seen := make(map[anpi.TokenHash]struct{}, len(ts))
	for i, tk := range ts {
		if tk == nil {
			return anpi.Errorf(anpi.InvalidArgument, "memstore: put answer tokens: token %d is nil", i+1)
		}
		if err := tk.Validate(); err != nil {
			return anpi.Errorf(anpi.Code(err), "memstore: put answer tokens: token %d: %w", i+1, err)
		}
		if _, err := t.survey("put answer tokens", tk.SurveyID); err != nil {
			return err
		}
		if _, ok := t.d.tokens[tk.Hash]; ok {
			return anpi.Errorf(anpi.AlreadyExists, "memstore: put answer tokens: token %d (hash %s…) already exists", i+1, shortHash(tk.Hash))
		}
		if _, ok := seen[tk.Hash]; ok {
			return anpi.Errorf(anpi.AlreadyExists, "memstore: put answer tokens: token %d (hash %s…) appears twice in the batch", i+1, shortHash(tk.Hash))
		}
		seen[tk.Hash] = struct{}{}
	}
	for _, tk := range ts {
		c := tk.Clone()
		put(t, t.d.tokens, c.Hash, c)
		users := t.d.surveyTokens[c.SurveyID]
		if users == nil {
			users = map[anpi.UserID][]anpi.TokenHash{}
			put(t, t.d.surveyTokens, c.SurveyID, users)
		}
		// Clip, so that append copies: the old slice stays intact for undo.
		put(t, users, c.UserID, append(slices.Clip(users[c.UserID]), c.Hash))
	}
	return nil
}

func (t *tx) AnswerToken(ctx context.Context, h anpi.TokenHash) (*anpi.AnswerToken, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	tk, ok := t.d.tokens[h]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: answer token %s… does not exist", shortHash(h))
	}
	return tk.Clone(), nil
}

func (t *tx) RevokeAnswerTokens(ctx context.Context, s anpi.SurveyID, u anpi.UserID, at time.Time) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	if _, err := t.survey("revoke answer tokens", s); err != nil {
		return 0, err
	}
	if at.IsZero() {
		at = t.now()
	}
	n := 0
	revoke := func(hs []anpi.TokenHash) {
		for _, h := range hs {
			tk := t.d.tokens[h]
			if !tk.RevokedAt.IsZero() {
				continue
			}
			c := tk.Clone()
			c.RevokedAt = at
			put(t, t.d.tokens, h, c)
			n++
		}
	}
	if u != "" {
		revoke(t.d.surveyTokens[s][u])
		return n, nil
	}
	for _, hs := range t.d.surveyTokens[s] {
		revoke(hs)
	}
	return n, nil
}

// deleteSurveyTokens removes the tokens of survey s, recording the undo.
func (t *tx) deleteSurveyTokens(s anpi.SurveyID) {
	for _, hs := range t.d.surveyTokens[s] {
		for _, h := range hs {
			del(t, t.d.tokens, h)
		}
	}
	del(t, t.d.surveyTokens, s)
}
