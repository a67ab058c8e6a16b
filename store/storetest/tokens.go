package storetest

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// tokenHash is a deterministic hash for the token named name.
func tokenHash(name string) anpi.TokenHash { return sha256.Sum256([]byte("storetest token " + name)) }

// newToken returns a valid token named name for (s, u), created at t0.
func newToken(name string, s anpi.SurveyID, u anpi.UserID) *anpi.AnswerToken {
	return &anpi.AnswerToken{Hash: tokenHash(name), SurveyID: s, UserID: u, CreatedAt: t0()}
}

// requireToken fails unless the store holds want under want.Hash.
func requireToken(t *testing.T, st anpi.Tx, want *anpi.AnswerToken, msgAndArgs ...any) {
	t.Helper()
	got, err := st.AnswerToken(t.Context(), want.Hash)
	require.NoError(t, err, msgAndArgs...)
	require.Equal(t, want, got, msgAndArgs...)
}

// requireNoToken fails unless looking up h is NotFound.
func requireNoToken(t *testing.T, st anpi.Tx, h anpi.TokenHash, msgAndArgs ...any) {
	t.Helper()
	_, err := st.AnswerToken(t.Context(), h)
	require.Error(t, err, msgAndArgs...)
	require.Equal(t, anpi.NotFound.String(), anpi.Code(err).String(), msgAndArgs...)
}

func testTokens(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustSurvey(t, st, newSurvey("s1", anpi.Open, t0()))
	mustSurvey(t, st, newSurvey("s2", anpi.Open, t0()))

	a := newToken("a", "s1", "u1")
	b := newToken("b", "s1", "u1")
	b.ExpiresAt = at(-time.Hour) // expired already: still stored and returned
	c := newToken("c", "s2", "u2")
	c.CreatedAt = at(time.Minute)
	c.ExpiresAt = at(48 * time.Hour)
	c.RevokedAt = at(2 * time.Minute) // revoked already: kept as given
	in := []*anpi.AnswerToken{a, b, c}
	want := []*anpi.AnswerToken{a.Clone(), b.Clone(), c.Clone()}
	require.NoError(t, st.PutAnswerTokens(ctx, in))
	for i, w := range want {
		requireToken(t, st, w, "token %d", i+1)
	}
	require.False(t, want[1].Usable(t0()), "the suite's expired token is expired")
	require.False(t, want[2].Usable(t0()), "the suite's revoked token is revoked")

	// Copies in and out.
	a.UserID, a.ExpiresAt, c.RevokedAt = "u9", at(time.Second), time.Time{}
	requireToken(t, st, want[0], "changing a token passed in")
	requireToken(t, st, want[2], "changing a token passed in")
	got, err := st.AnswerToken(ctx, want[0].Hash)
	require.NoError(t, err)
	got.SurveyID, got.RevokedAt = "s2", at(time.Hour)
	requireToken(t, st, want[0], "changing a token returned")

	requireNoToken(t, st, tokenHash("ghost"), "a hash never stored")
	require.NoError(t, st.PutAnswerTokens(ctx, nil), "an empty batch")
	require.NoError(t, st.PutAnswerTokens(ctx, []*anpi.AnswerToken{}), "an empty batch")

	// Looking up inside a transaction sees the transaction's own writes.
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		d := newToken("d", "s2", "u1")
		require.NoError(t, tx.PutAnswerTokens(ctx, []*anpi.AnswerToken{d}))
		requireToken(t, tx, d.Clone(), "a transaction reads its own tokens")
		return nil
	}))
	requireToken(t, st, newToken("d", "s2", "u1"), "a committed token")
}

func testTokenErrors(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustSurvey(t, st, newSurvey("s1", anpi.Open, t0()))
	require.NoError(t, st.PutAnswerTokens(ctx, []*anpi.AnswerToken{newToken("old", "s1", "u1")}))

	noHash := newToken("x", "s1", "u1")
	noHash.Hash = anpi.TokenHash{}
	noSurvey := newToken("x", "", "u1")
	noUser := newToken("x", "s1", "")
	noTime := newToken("x", "s1", "u1")
	noTime.CreatedAt = time.Time{}
	cases := []struct {
		name string
		bad  *anpi.AnswerToken
		code anpi.ErrorCode
	}{
		{"existing hash", newToken("old", "s1", "u2"), anpi.AlreadyExists},
		{"hash twice in the batch", newToken("new1", "s1", "u2"), anpi.AlreadyExists},
		{"unknown survey", newToken("x", "ghost", "u1"), anpi.NotFound},
		{"nil token", nil, anpi.InvalidArgument},
		{"no hash", noHash, anpi.InvalidArgument},
		{"no survey", noSurvey, anpi.InvalidArgument},
		{"no user", noUser, anpi.InvalidArgument},
		{"no created-at", noTime, anpi.InvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The bad token comes last, so a store that writes as it goes
			// has written the good ones before it fails.
			batch := []*anpi.AnswerToken{newToken("new1", "s1", "u1"), newToken("new2", "s1", "u2"), tc.bad}
			requireCode(t, tc.code, st.PutAnswerTokens(ctx, batch), tc.name)
			requireNoToken(t, st, tokenHash("new1"), "%s: nothing of the batch is stored", tc.name)
			requireNoToken(t, st, tokenHash("new2"), "%s: nothing of the batch is stored", tc.name)
			requireNoToken(t, st, tokenHash("x"), "%s: nothing of the batch is stored", tc.name)
			requireToken(t, st, newToken("old", "s1", "u1"), "%s: the stored token is unchanged", tc.name)

			// Inside a transaction that goes on after the error and
			// commits, the refused batch still leaves nothing.
			err := st.InTx(ctx, func(tx anpi.Tx) error {
				requireCode(t, tc.code, tx.PutAnswerTokens(ctx, batch), tc.name)
				return nil
			})
			if err != nil {
				// A store whose transaction cannot go on after a failed
				// statement reports it at commit; that keeps nothing too.
				require.NotEqual(t, anpi.OK.String(), anpi.Code(err).String())
			}
			requireNoToken(t, st, tokenHash("new1"), "%s in a transaction: nothing of the batch is stored", tc.name)
			requireNoToken(t, st, tokenHash("new2"), "%s in a transaction: nothing of the batch is stored", tc.name)
		})
	}
}

func testRevokeTokens(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustSurvey(t, st, newSurvey("s1", anpi.Open, t0()))
	mustSurvey(t, st, newSurvey("s2", anpi.Open, t0()))
	tokens := map[string]*anpi.AnswerToken{
		"u1a":   newToken("u1a", "s1", "u1"),
		"u1b":   newToken("u1b", "s1", "u1"),
		"u2":    newToken("u2", "s1", "u2"),
		"u3old": newToken("u3old", "s1", "u3"),
		"u3":    newToken("u3", "s1", "u3"),
		"other": newToken("other", "s2", "u1"), // another survey, same user
	}
	tokens["u1b"].ExpiresAt = at(-time.Minute) // expired, not revoked: revoked too
	tokens["u3old"].RevokedAt = at(-time.Hour)
	batch := []*anpi.AnswerToken{}
	for _, name := range []string{"u1a", "u1b", "u2", "u3old", "u3", "other"} {
		batch = append(batch, tokens[name].Clone())
	}
	require.NoError(t, st.PutAnswerTokens(ctx, batch))
	check := func(msg string) {
		t.Helper()
		for name, tk := range tokens {
			requireToken(t, st, tk, "%s: token %s", msg, name)
		}
	}

	revoke := func(s anpi.SurveyID, u anpi.UserID, when time.Time) int {
		t.Helper()
		n, err := st.RevokeAnswerTokens(ctx, s, u, when)
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 2, revoke("s1", "u1", at(time.Hour)), "both tokens of u1 in s1")
	tokens["u1a"].RevokedAt = at(time.Hour)
	tokens["u1b"].RevokedAt = at(time.Hour)
	check("after revoking u1")

	require.Zero(t, revoke("s1", "u1", at(2*time.Hour)), "revoking twice")
	check("revoking twice keeps the first time")
	require.Zero(t, revoke("s1", "nobody", at(2*time.Hour)), "a user without tokens")
	check("revoking a user without tokens")

	require.Equal(t, 2, revoke("s1", "", at(3*time.Hour)), "u2 and u3's valid token")
	tokens["u2"].RevokedAt = at(3 * time.Hour)
	tokens["u3"].RevokedAt = at(3 * time.Hour)
	check("after revoking the survey")
	require.Zero(t, revoke("s1", "", at(4*time.Hour)), "revoking the survey twice")
	check("revoking the survey twice")

	_, err := st.RevokeAnswerTokens(ctx, "ghost", "u1", at(time.Hour))
	requireCode(t, anpi.NotFound, err, "unknown survey, one user")
	_, err = st.RevokeAnswerTokens(ctx, "ghost", "", at(time.Hour))
	requireCode(t, anpi.NotFound, err, "unknown survey")
	require.Equal(t, 1, revoke("s2", "", at(5*time.Hour)))
	tokens["other"].RevokedAt = at(5 * time.Hour)
	check("after revoking the other survey")
}

func testTokenRollback(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustSurvey(t, st, newSurvey("s1", anpi.Open, t0()))
	kept := newToken("kept", "s1", "u1")
	require.NoError(t, st.PutAnswerTokens(ctx, []*anpi.AnswerToken{kept.Clone()}))
	boom := errors.New("boom")
	err := st.InTx(ctx, func(tx anpi.Tx) error {
		require.NoError(t, tx.PutAnswerTokens(ctx, []*anpi.AnswerToken{newToken("new", "s1", "u1")}))
		n, err := tx.RevokeAnswerTokens(ctx, "s1", "u1", at(time.Hour))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		got, err := tx.AnswerToken(ctx, kept.Hash)
		require.NoError(t, err)
		require.Equal(t, at(time.Hour), got.RevokedAt, "a transaction reads its own revocations")
		return boom
	})
	require.ErrorIs(t, err, boom)
	requireNoToken(t, st, tokenHash("new"), "a token put in a failed transaction")
	requireToken(t, st, kept, "a revocation in a failed transaction")

	require.PanicsWithValue(t, "boom", func() {
		_ = st.InTx(ctx, func(tx anpi.Tx) error {
			require.NoError(t, tx.PutAnswerTokens(ctx, []*anpi.AnswerToken{newToken("new", "s1", "u1")}))
			_, err := tx.RevokeAnswerTokens(ctx, "s1", "", at(time.Hour))
			require.NoError(t, err)
			panic("boom")
		})
	})
	requireNoToken(t, st, tokenHash("new"), "a token put in a panicking transaction")
	requireToken(t, st, kept, "a revocation in a panicking transaction")
}

// testTokensOfDeletedSurvey: DeleteSurvey removes the survey's tokens, so
// their hashes are NotFound and may be stored again.
func testTokensOfDeletedSurvey(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustSurvey(t, st, newSurvey("draft", anpi.Draft, t0()))
	mustSurvey(t, st, newSurvey("open", anpi.Open, t0()))
	require.NoError(t, st.PutAnswerTokens(ctx, []*anpi.AnswerToken{
		newToken("d1", "draft", "u1"), newToken("d2", "draft", "u2"), newToken("o1", "open", "u1"),
	}))
	require.NoError(t, st.DeleteSurvey(ctx, "draft"))
	requireNoToken(t, st, tokenHash("d1"), "a deleted survey's token")
	requireNoToken(t, st, tokenHash("d2"), "a deleted survey's token")
	requireToken(t, st, newToken("o1", "open", "u1"), "another survey's token stays")

	// The deletion rolls back with its transaction, tokens included.
	mustSurvey(t, st, newSurvey("draft", anpi.Draft, t0()))
	require.NoError(t, st.PutAnswerTokens(ctx, []*anpi.AnswerToken{newToken("d1", "draft", "u1")}), "a deleted token's hash is free")
	boom := errors.New("boom")
	err := st.InTx(ctx, func(tx anpi.Tx) error {
		require.NoError(t, tx.DeleteSurvey(ctx, "draft"))
		_, err := tx.AnswerToken(ctx, tokenHash("d1"))
		requireCode(t, anpi.NotFound, err, "inside the deleting transaction")
		return boom
	})
	require.ErrorIs(t, err, boom)
	requireToken(t, st, newToken("d1", "draft", "u1"), "a rolled-back deletion keeps the tokens")
}
