package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

func startDemo(t *testing.T) (*httptest.Server, anpi.Store) {
	t.Helper()
	st := memstore.New(nil)
	t.Cleanup(func() { st.Close() })
	_, err := seedDemo(context.Background(), st, 120, 7, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	srv := httptest.NewServer(newHandler(st, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return srv, st
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestDemoServer(t *testing.T) {
	srv, st := startDemo(t)
	ctx := context.Background()

	code, body := get(t, srv.URL+"/healthz")
	require.Equal(t, 200, code)
	require.Equal(t, "ok\n", body)

	code, body = get(t, srv.URL+"/")
	require.Equal(t, 200, code)
	require.Contains(t, body, "/api/surveys/demo-1/tally")

	code, body = get(t, srv.URL+"/api/users")
	require.Equal(t, 200, code)
	var views []anpi.AdminUserView
	require.NoError(t, json.Unmarshal([]byte(body), &views))
	require.Len(t, views, 120)
	require.NotContains(t, body, "example.net", "no private address in an administrator's view")
	registered := 0
	for _, v := range views {
		if v.HasPrivateContact() {
			registered++
		}
	}
	require.Greater(t, registered, 60, "most demo users registered a private contact")

	code, body = get(t, srv.URL+"/api/surveys/demo-1/tally")
	require.Equal(t, 200, code)
	var got struct {
		Targets      int     `json:"targets"`
		Answered     int     `json:"answered"`
		ResponseRate float64 `json:"responseRate"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	recipients, err := st.Recipients(ctx, "demo-1")
	require.NoError(t, err)
	responses, err := st.Responses(ctx, "demo-1")
	require.NoError(t, err)
	survey, err := st.GetSurvey(ctx, "demo-1")
	require.NoError(t, err)
	want := anpi.ComputeTally("demo-1", survey.StartedAt, recipients, responses)
	require.Equal(t, 120, got.Targets)
	require.Equal(t, want.Answered, got.Answered)
	require.InDelta(t, want.ResponseRate(), got.ResponseRate, 1e-9)
	require.True(t, strings.Contains(body, `"hq"`), "the roll-up reaches the top department")

	code, _ = get(t, srv.URL+"/api/surveys/nope/tally")
	require.Equal(t, 404, code)
}

func TestSeedRefusesNoUsers(t *testing.T) {
	_, err := seedDemo(context.Background(), memstore.New(nil), 0, 1, time.Now())
	require.ErrorContains(t, err, "at least 1")
}
