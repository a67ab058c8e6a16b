package anpi_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/store/memstore"
)

// tokenCounter counts PutAnswerTokens calls and fails them while fail is set.
type tokenCounter struct {
	*memstore.Store
	mu    sync.Mutex
	calls int
	fail  bool
}

func (c *tokenCounter) PutAnswerTokens(ctx context.Context, ts []*anpi.AnswerToken) error {
	c.mu.Lock()
	c.calls++
	fail := c.fail
	c.mu.Unlock()
	if fail {
		return anpi.Errorf(anpi.Unavailable, "tokens: database is busy")
	}
	return c.Store.PutAnswerTokens(ctx, ts)
}

// batchEnv is newEnv with a Service over a tokenCounter, fed a VXSE53, and
// the survey's deliveries sorted by key.
func batchEnv(t *testing.T) (*env, *tokenCounter, *anpi.Service, anpi.SurveyID, []*anpi.Delivery) {
	t.Helper()
	e := newEnv(t, quakeRule)
	sv := sends(e.feed(docVXSE53).Effects)[0].Survey
	tc := &tokenCounter{Store: e.st}
	svc, err := anpi.New(tc, &anpi.Options{Clock: e.clock.Now, Rand: rand.NewChaCha8([32]byte{2}), BaseURL: baseURL})
	require.NoError(t, err)
	byKey := e.deliveries(sv)
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ds := make([]*anpi.Delivery, len(keys))
	for i, k := range keys {
		ds[i] = byKey[k]
	}
	return e, tc, svc, sv, ds
}

// withoutLink returns m with its answer link taken out of its text.
func withoutLink(m *channel.Message) channel.Message {
	c := *m
	if c.URL != "" {
		c.Text = strings.ReplaceAll(c.Text, c.URL, "<url>")
		c.URL = "<url>"
	}
	return c
}

func TestRenderBatchIsRenderWithOneTokenWrite(t *testing.T) {
	e, tc, svc, _, ds := batchEnv(t)
	corr := *ds[0]
	corr.Round, corr.ID = anpi.CorrectionRound, "corr"
	ds = append(ds, nil, &corr)

	got, err := svc.RenderBatch(e.ctx, ds)
	require.NoError(t, err)
	require.Len(t, got, len(ds))
	require.Equal(t, 1, tc.calls, "one PutAnswerTokens for the whole batch")

	tc.calls = 0
	withToken := 0
	for i, d := range ds {
		m, cid, err := svc.Render(e.ctx, d)
		r := got[i]
		if err != nil {
			require.Error(t, r.Err, "delivery %d", i)
			require.Equal(t, anpi.Code(err), anpi.Code(r.Err), "delivery %d: %v", i, err)
			require.Equal(t, err.Error(), r.Err.Error())
			require.Nil(t, r.Message)
			continue
		}
		require.NoError(t, r.Err, "delivery %d", i)
		require.Equal(t, cid, r.Contact)
		require.Equal(t, withoutLink(m), withoutLink(r.Message), "delivery %s", d.ID)
		if r.Message.URL == "" {
			continue
		}
		withToken++
		require.NotEqual(t, m.URL, r.Message.URL, "each render issues a token of its own")
		h, err := anpi.HashAnswerToken(tokenOf(t, r.Message.URL))
		require.NoError(t, err)
		tok, err := e.st.AnswerToken(e.ctx, h)
		require.NoError(t, err, "the batch stored the token of %s", d.ID)
		require.Equal(t, d.UserID, tok.UserID)
	}
	require.Equal(t, withToken, tc.calls, "Render writes one token at a time")
	require.GreaterOrEqual(t, withToken, 3)
	require.Equal(t, anpi.NotFound, anpi.Code(got[indexOf(ds, "nobody")].Err), "no contact: the dispatcher falls back")
	require.Equal(t, anpi.InvalidArgument, anpi.Code(got[len(ds)-2].Err), "nil delivery")
	require.Contains(t, got[len(ds)-1].Message.Subject, "【取消】", "a correction carries no token")
	require.Empty(t, got[len(ds)-1].Message.URL)
}

func indexOf(ds []*anpi.Delivery, user anpi.UserID) int {
	for i, d := range ds {
		if d != nil && d.UserID == user {
			return i
		}
	}
	return -1
}

func TestRenderBatchReadsTheSurveyAfresh(t *testing.T) {
	e, _, svc, sv, ds := batchEnv(t)
	got, err := svc.RenderBatch(e.ctx, ds)
	require.NoError(t, err)
	require.NoError(t, got[indexOf(ds, "noto")].Err)

	s, err := e.st.GetSurvey(e.ctx, sv)
	require.NoError(t, err)
	s.Status, s.ClosedAt = anpi.Closed, e.clock.Now()
	require.NoError(t, e.st.UpdateSurvey(e.ctx, s))

	corr := *ds[indexOf(ds, "noto")]
	corr.Round, corr.ID = anpi.CorrectionRound, "corr"
	got, err = svc.RenderBatch(e.ctx, append(ds, &corr))
	require.NoError(t, err)
	for i, r := range got[:len(ds)] {
		require.Error(t, r.Err, "delivery %s of a closed survey", ds[i].ID)
		if ds[i].UserID != "nobody" {
			require.Equal(t, anpi.FailedPrecondition, anpi.Code(r.Err), "delivery %s: %v", ds[i].ID, r.Err)
		}
	}
	require.NoError(t, got[len(ds)].Err, "corrections still go out")
}

func TestRenderBatchTokenWriteFails(t *testing.T) {
	e, tc, svc, _, ds := batchEnv(t)
	corr := *ds[0]
	corr.Round, corr.ID = anpi.CorrectionRound, "corr"
	ds = append(ds, &corr)
	tc.fail = true
	got, err := svc.RenderBatch(e.ctx, ds)
	require.Error(t, err)
	require.Equal(t, anpi.Unavailable, anpi.Code(err))
	for i, r := range got[:len(ds)-1] {
		require.Error(t, r.Err, "no message with a link whose token was not stored: %s", ds[i].ID)
		require.Nil(t, r.Message)
	}
	require.Equal(t, anpi.Unavailable, anpi.Code(got[indexOf(ds, "noto")].Err), "retried by the dispatcher")
	require.NoError(t, got[len(ds)-1].Err, "a correction needs no token")
	require.NotNil(t, got[len(ds)-1].Message)
}
