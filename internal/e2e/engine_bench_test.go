package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// engineBenchUsers is the directory of BenchmarkEngine10k: a tenth of the
// pipeline benchmark's, so the engine's share is measured in seconds.
const engineBenchUsers = 10_000

// renderOne deliveries of BenchmarkEngine10k are rendered one by one, the
// others in batches of renderBatch.
const (
	renderOne   = 2_000
	renderBatch = 500
)

// BenchmarkEngine10k measures the engine's share of the pipeline on the
// pipeline benchmark's directory and document, scaled down to 10,000
// people (SQLite, synchronous=FULL, sealed contacts), without a dispatcher:
//
//	handle_ms        HandleDocument: parse, rules, survey, recipients and
//	                 the 10,000 deliveries in one transaction
//	floor_enqueue_ms the bare store writing a survey's 10,000 recipients
//	                 and deliveries in one transaction, measured in the
//	                 same run (what HandleDocument cannot go below)
//	render_us/delivery  Service.Render of the first 2,000 deliveries, one
//	                 at a time (one durable transaction per answer token)
//	batch_us/delivery   Service.RenderBatch of the other 8,000, in batches
//	                 of 500 (one durable transaction per batch)
func BenchmarkEngine10k(b *testing.B) {
	doc, areas := nationalVXSE53()
	ctx := context.Background()
	var handle, render, batch, floor time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		st := openBenchStore(b)
		seedBench(b, st, areas, engineBenchUsers)
		svc, err := anpi.New(st, &anpi.Options{BaseURL: "https://a.example"})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		out, err := svc.HandleDocument(ctx, doc)
		handle += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Effects) != 1 || out.Effects[0].Queued != engineBenchUsers {
			b.Fatalf("HandleDocument: want one send of %d deliveries, got %+v", engineBenchUsers, out.Effects)
		}
		ds, err := st.Deliveries(ctx, out.Effects[0].Survey)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		for _, d := range ds[:renderOne] {
			if _, _, err := svc.Render(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
		render += time.Since(start)
		start = time.Now()
		for lo := renderOne; lo < len(ds); lo += renderBatch {
			rs, err := svc.RenderBatch(ctx, ds[lo:min(lo+renderBatch, len(ds))])
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range rs {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		batch += time.Since(start)
		floor += floorEnqueue(b, st)
		n++
		b.StartTimer()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / float64(n) }
	b.ReportMetric(ms(handle), "handle_ms")
	b.ReportMetric(ms(floor), "floor_enqueue_ms")
	perDelivery := func(d time.Duration, k int) float64 { return float64(d.Microseconds()) / float64(n*k) }
	b.ReportMetric(perDelivery(render, renderOne), "render_us/delivery")
	b.ReportMetric(perDelivery(batch, engineBenchUsers-renderOne), "batch_us/delivery")
}

// floorEnqueue times the bare store writing a new survey with a recipient
// and a delivery for every user of st, in one transaction.
func floorEnqueue(b *testing.B, st anpi.Store) time.Duration {
	b.Helper()
	ctx := context.Background()
	users, err := st.ListUsers(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	sv := &anpi.Survey{ID: "floor", Kind: anpi.AutoSurvey, Title: "floor", Form: anpi.DefaultForm(), Status: anpi.Open,
		CreatedAt: now, StartedAt: now}
	rs := make([]anpi.Recipient, len(users))
	ds := make([]*anpi.Delivery, len(users))
	for i, u := range users {
		rs[i] = anpi.NewRecipient(sv.ID, u, nil)
		bc := benchChannels[i%len(benchChannels)]
		d := &anpi.Delivery{SurveyID: sv.ID, UserID: u.ID, Channel: bc.ch, ContactID: anpi.ContactID(u.ID),
			State: anpi.Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		d.ID = anpi.DeliveryIDFor(d.Key())
		ds[i] = d
	}
	start := time.Now()
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		if err := tx.CreateSurvey(ctx, sv); err != nil {
			return err
		}
		if _, err := tx.AddRecipients(ctx, sv.ID, rs); err != nil {
			return err
		}
		_, err := tx.EnqueueDeliveries(ctx, ds)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
