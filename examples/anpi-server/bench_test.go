package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/memchan"
	"github.com/anpikit/anpi/store/sqlite"
)

// BenchmarkMetricsScrape measures one /metrics scrape over an open survey
// of 10,000 deliveries in SQLite (ms/scrape), and, as the baseline in the
// same run, counting that survey's deliveries by state only
// (CountDeliveries, ms/count): the price of the per-channel breakdown,
// which reads every delivery of the open surveys.
func BenchmarkMetricsScrape(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	key, _, err := loadKey("", b.TempDir())
	require.NoError(b, err)
	sealer, err := newSealer(key)
	require.NoError(b, err)
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "anpi.db"), &sqlite.Options{Sealer: sealer})
	require.NoError(b, err)
	defer st.Close()
	now := time.Now()
	require.NoError(b, seedDemo(ctx, st, n, 1, now, defaultAdminEmail))
	sv := &anpi.Survey{ID: "bench", Kind: anpi.ManualSurvey, Title: "bench", Form: anpi.DefaultForm(),
		Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedBy: adminID, CreatedAt: now, StartedAt: now}
	require.NoError(b, st.CreateSurvey(ctx, sv))
	users, err := st.ListUsers(ctx, nil)
	require.NoError(b, err)
	ds := make([]*anpi.Delivery, len(users))
	for i, u := range users {
		d := &anpi.Delivery{SurveyID: sv.ID, UserID: u.ID, Channel: anpi.EmailChannel, ContactID: anpi.ContactID("c-" + string(u.ID)),
			State: anpi.Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		d.ID = anpi.DeliveryIDFor(d.Key())
		ds[i] = d
	}
	_, err = st.EnqueueDeliveries(ctx, ds)
	require.NoError(b, err)
	// A dispatcher that never runs: writeMetrics reads its (zero) totals.
	disp, err := dispatch.New(st, &dispatch.Options{Senders: map[anpi.Channel]channel.Sender{anpi.EmailChannel: memchan.New(nil)},
		Renderer: dispatch.RendererFunc(func(context.Context, *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
			return nil, "", anpi.Errorf(anpi.Internal, "not used")
		})})
	require.NoError(b, err)
	c := newCounters()
	chs := []anpi.Channel{anpi.EmailChannel}

	var scrape, count time.Duration
	for b.Loop() {
		t0 := time.Now()
		require.NoError(b, writeMetrics(ctx, io.Discard, st, disp, c, chs))
		t1 := time.Now()
		counts, err := st.CountDeliveries(ctx, sv.ID)
		require.NoError(b, err)
		scrape, count = scrape+t1.Sub(t0), count+time.Since(t1)
		if counts[anpi.Queued] != n {
			b.Fatalf("queued: %v, want %d", counts, n)
		}
	}
	b.ReportMetric(float64(scrape.Microseconds())/1000/float64(b.N), "ms/scrape")
	b.ReportMetric(float64(count.Microseconds())/1000/float64(b.N), "ms/count")
}
