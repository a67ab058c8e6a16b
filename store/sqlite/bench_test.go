package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bench1M.dir != "" {
		_ = os.RemoveAll(bench1M.dir)
	}
	os.Exit(code)
}

// answerConcurrency is the number of goroutines answering at once in
// BenchmarkDurableAnswers: an answer page under a burst of traffic.
const answerConcurrency = 256

// recordAll records n answers from answerConcurrency goroutines with
// record and returns the elapsed time.
func recordAll(b *testing.B, n int, prefix string, record func(r *anpi.Response) error) time.Duration {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for g := range answerConcurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				r := answer(fmt.Sprintf("%s-%d", prefix, i), anpi.UserID(fmt.Sprintf("u%05d", i%10000)), t0.Add(time.Duration(i%3600)*time.Second), []string{"safe", "minor", "serious"}[(i+g)%3])
				if err := record(r); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return elapsed
}

// BenchmarkDurableAnswers measures durable answers per second with
// synchronous=FULL and 256 goroutines answering at once, three ways in the
// same run: through the answers' group committer (RecordResponse on the
// Store); naively, one transaction and one commit per answer
// (RecordResponse inside InTx, on a store that commits every write
// transaction alone); and through InTx as it is, where the transactions
// queued behind the writer share commits (batchwrite.go). One op records
// 20,000 answers the first way and 5,000 each other way; it reports the
// rates and the ratio of the first to the naive one.
func BenchmarkDurableAnswers(b *testing.B) {
	const groupN, naiveN = 20_000, 5_000
	st := openTest(b, nil)
	seedSurvey(b, st, 10000)
	solo := openTest(b, &Options{soloWrites: true})
	seedSurvey(b, solo, 10000)
	ctx := context.Background()
	var group, naive, batched time.Duration
	i := 0
	for b.Loop() {
		group += recordAll(b, groupN, fmt.Sprintf("g%d", i), func(r *anpi.Response) error {
			_, err := st.RecordResponse(ctx, r)
			return err
		})
		naive += recordAll(b, naiveN, fmt.Sprintf("n%d", i), func(r *anpi.Response) error {
			return solo.InTx(ctx, func(tx anpi.Tx) error {
				_, err := tx.RecordResponse(ctx, r)
				return err
			})
		})
		batched += recordAll(b, naiveN, fmt.Sprintf("b%d", i), func(r *anpi.Response) error {
			return st.InTx(ctx, func(tx anpi.Tx) error {
				_, err := tx.RecordResponse(ctx, r)
				return err
			})
		})
		i++
	}
	txs, answers, _ := st.GroupCommitStats()
	g := float64(groupN*b.N) / group.Seconds()
	n := float64(naiveN*b.N) / naive.Seconds()
	b.ReportMetric(g, "group-answers/s")
	b.ReportMetric(n, "naive-answers/s")
	b.ReportMetric(float64(naiveN*b.N)/batched.Seconds(), "intx-answers/s")
	b.ReportMetric(g/n, "group/naive")
	b.ReportMetric(float64(answers)/float64(max(txs, 1)), "answers/commit")
}

// enqueueFixture builds n deliveries for survey s, due at once (the first
// round of a send), in user order and with the IDs anpi.DeliveryIDFor
// gives them, as the Service enqueues them.
func enqueueFixture(s anpi.SurveyID, n int) []*anpi.Delivery {
	ds := make([]*anpi.Delivery, n)
	for i := range ds {
		ds[i] = &anpi.Delivery{SurveyID: s, UserID: anpi.UserID(fmt.Sprintf("u%06d", i)), ContactID: anpi.ContactID(fmt.Sprintf("c%06d-1", i)),
			Channel: anpi.EmailChannel, State: anpi.Queued, NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0}
		ds[i].ID = anpi.DeliveryIDFor(ds[i].Key())
	}
	return ds
}

func createSurvey(b *testing.B, st anpi.Store, id anpi.SurveyID) {
	b.Helper()
	require.NoError(b, st.CreateSurvey(context.Background(), &anpi.Survey{ID: id, Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(),
		Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedAt: t0, StartedAt: t0}))
}

// BenchmarkEnqueue100k enqueues 100,000 deliveries in one InTx (the
// outbox write of a company-wide send). One op is 100,000 deliveries. It
// also reports the CPU seconds per op, which other load on a shared
// machine does not inflate as it does the wall time.
func BenchmarkEnqueue100k(b *testing.B) {
	st := openTest(b, nil)
	ctx := context.Background()
	const n = 100_000
	i := 0
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		s := anpi.SurveyID(fmt.Sprintf("s%d", i))
		i++
		createSurvey(b, st, s)
		ds := enqueueFixture(s, n)
		b.StartTimer()
		c0 := cpuTime()
		require.NoError(b, st.InTx(ctx, func(tx anpi.Tx) error {
			k, err := tx.EnqueueDeliveries(ctx, ds)
			if err == nil && k != n {
				err = fmt.Errorf("enqueued %d", k)
			}
			return err
		}))
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkClaimComplete100k claims and completes 100,000 deliveries with
// 8 workers; each claims 100 at a time and completes its claim in one
// transaction. One op is 100,000 deliveries.
func BenchmarkClaimComplete100k(b *testing.B) {
	st := openTest(b, nil)
	ctx := context.Background()
	const n, workers, claim = 100_000, 8, 100
	i := 0
	for b.Loop() {
		b.StopTimer()
		s := anpi.SurveyID(fmt.Sprintf("s%d", i))
		i++
		createSurvey(b, st, s)
		_, err := st.EnqueueDeliveries(ctx, enqueueFixture(s, n))
		require.NoError(b, err)
		b.StartTimer()
		var done atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			wg.Go(func() {
				owner := fmt.Sprintf("w%d", w)
				for {
					ds, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: owner, Limit: claim, Lease: time.Minute, Now: t0.Add(time.Hour)})
					if err != nil {
						errs[w] = err
						return
					}
					if len(ds) == 0 {
						return
					}
					err = st.InTx(ctx, func(tx anpi.Tx) error {
						for _, d := range ds {
							if err := tx.CompleteDelivery(ctx, d.ID, owner, anpi.SendResult{ProviderID: "p", At: t0.Add(time.Hour)}); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						errs[w] = err
						return
					}
					done.Add(int64(len(ds)))
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(b, err)
		}
		require.Equal(b, int64(n), done.Load())
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// bench1M is the 1,000,000-recipient survey, built once per benchmark
// process and removed by TestMain.
var bench1M struct {
	once           sync.Once
	dir, path      string
	bytesPerAnswer float64
	buildTime      time.Duration
	err            error
}

const oneMillion = 1_000_000

// build1M builds a database with one survey of 1,000,000 recipients in
// 110 departments (10 divisions of 10 sections) and 47 regions, all of
// whom answered (self, family and work), through the Store's own methods
// in transactions of 50,000.
func build1M() {
	bench1M.dir, bench1M.err = os.MkdirTemp("", "anpi-sqlite-bench")
	if bench1M.err != nil {
		return
	}
	bench1M.path = filepath.Join(bench1M.dir, "1m.db")
	start := time.Now()
	bench1M.bytesPerAnswer, bench1M.err = buildBig(bench1M.path, oneMillion)
	bench1M.buildTime = time.Since(start)
}

// buildBig builds the survey "big" of n recipients at path and returns the
// bytes the responses added to the database, per response.
func buildBig(path string, n int) (float64, error) {
	ctx := context.Background()
	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	size := func() (int64, error) {
		var pages, pageSize int64
		if err := st.rdb.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
			return 0, err
		}
		if err := st.rdb.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
			return 0, err
		}
		return pages * pageSize, nil
	}
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		for d := range 10 {
			div := anpi.DepartmentID(fmt.Sprintf("div%d", d))
			if err := tx.CreateDepartment(ctx, &anpi.Department{ID: div, Name: "事業部"}); err != nil {
				return err
			}
			for s := range 10 {
				if err := tx.CreateDepartment(ctx, &anpi.Department{ID: anpi.DepartmentID(fmt.Sprintf("div%d-sec%d", d, s)), Name: "課", ParentID: div}); err != nil {
					return err
				}
			}
		}
		return tx.CreateSurvey(ctx, &anpi.Survey{ID: "big", Kind: anpi.AutoSurvey, Title: "震度6弱", Form: anpi.DefaultForm(),
			Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedAt: t0, StartedAt: t0})
	})
	if err != nil {
		return 0, err
	}
	tree, err := st.Departments(ctx)
	if err != nil {
		return 0, err
	}
	chunk := min(50_000, n)
	for lo := 0; lo < n; lo += chunk {
		err := st.InTx(ctx, func(tx anpi.Tx) error {
			rs := make([]anpi.Recipient, 0, chunk)
			for i := lo; i < lo+chunk; i++ {
				u := &anpi.User{ID: anpi.UserID(fmt.Sprintf("u%07d", i)), Departments: []anpi.DepartmentID{anpi.DepartmentID(fmt.Sprintf("div%d-sec%d", i%10, i/10%10))},
					Regions: []anpi.Region{{Kind: anpi.QuakeArea, Code: fmt.Sprintf("%03d", 100+i%47)}}}
				rs = append(rs, anpi.NewRecipient("big", u, tree))
			}
			_, err := tx.AddRecipients(ctx, "big", rs)
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	before, err := size()
	if err != nil {
		return 0, err
	}
	for lo := 0; lo < n; lo += chunk {
		err := st.InTx(ctx, func(tx anpi.Tx) error {
			for i := lo; i < lo+chunk; i++ {
				r := &anpi.Response{ID: anpi.ResponseID(fmt.Sprintf("r%07d", i)), SurveyID: "big", UserID: anpi.UserID(fmt.Sprintf("u%07d", i)), Channel: anpi.ViaWeb,
					At: t0.Add(time.Duration(i%7200) * time.Second), Answers: []anpi.Answer{
						{QuestionID: anpi.QuestionSelf, Choices: []string{[]string{"safe", "minor", "serious"}[i%3]}},
						{QuestionID: anpi.QuestionFamily, Choices: []string{[]string{"all_safe", "harmed", "unknown"}[i%3]}},
						{QuestionID: anpi.QuestionWork, Choices: []string{[]string{"can", "cannot", "undecided"}[i%3]}},
					}}
				if _, err := tx.RecordResponse(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if err := st.Checkpoint(ctx); err != nil {
		return 0, err
	}
	after, err := size()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), nil
}

// BenchmarkTally1M reads the tally of a survey of 1,000,000 recipients
// who all answered (counters only, no recount). It also reports the
// database bytes per stored response.
func BenchmarkTally1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1,000,000-recipient survey (about a minute) once per process; run without -short")
	}
	bench1M.once.Do(build1M)
	require.NoError(b, bench1M.err)
	b.Logf("built the 1M survey in %s", bench1M.buildTime.Round(time.Second))
	st, err := Open(context.Background(), bench1M.path, &Options{AllowPlaintextContacts: true})
	require.NoError(b, err)
	defer st.Close()
	ctx := context.Background()
	var tl *anpi.Tally
	for b.Loop() {
		tl, err = st.Tally(ctx, "big")
		if err != nil {
			b.Fatal(err)
		}
	}
	require.Equal(b, oneMillion, tl.Targets)
	require.Equal(b, oneMillion, tl.Answered)
	require.Equal(b, oneMillion/10, tl.Subtrees["div3"].Targets)
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/read")
	b.ReportMetric(bench1M.bytesPerAnswer, "bytes/response")
}

// errRolledBack ends a benchmark's transaction without keeping its work.
var errRolledBack = errors.New("rolled back")

// BenchmarkBacklog50k measures what reads of the outbox cost while one
// channel has a backlog: 50,000 email deliveries of one survey are queued
// and due. One op of
//   - claim-idle-channel is a claim of SMS deliveries (there are none): what
//     the loop of an idle channel pays every poll interval;
//   - claim-busy-channel claims 100 emails, and claim-all-channels 100 of
//     any channel, in a transaction rolled back (the backlog stays);
//   - count is CountDeliveries of the survey.
//
// Each reports ms per op.
func BenchmarkBacklog50k(b *testing.B) {
	const n = 50_000
	st := openTest(b, nil)
	ctx := context.Background()
	createSurvey(b, st, "s")
	k, err := st.EnqueueDeliveries(ctx, enqueueFixture("s", n))
	require.NoError(b, err)
	require.Equal(b, n, k)
	now := t0.Add(time.Hour)
	perOp := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
	}
	b.Run("claim-idle-channel", func(b *testing.B) {
		for b.Loop() {
			ds, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute, Now: now, Channels: []anpi.Channel{anpi.SMSChannel}})
			require.NoError(b, err)
			require.Empty(b, ds)
		}
		perOp(b)
	})
	claimBack := func(b *testing.B, chans ...anpi.Channel) {
		for b.Loop() {
			err := st.InTx(ctx, func(tx anpi.Tx) error {
				ds, err := tx.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute, Now: now, Channels: chans})
				if err == nil && len(ds) != 100 {
					err = fmt.Errorf("claimed %d", len(ds))
				}
				if err == nil {
					err = errRolledBack
				}
				return err
			})
			require.ErrorIs(b, err, errRolledBack)
		}
		perOp(b)
	}
	b.Run("claim-busy-channel", func(b *testing.B) { claimBack(b, anpi.EmailChannel) })
	b.Run("claim-all-channels", func(b *testing.B) { claimBack(b) })
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			c, err := st.CountDeliveries(ctx, "s")
			require.NoError(b, err)
			require.Equal(b, n, c[anpi.Queued])
		}
		perOp(b)
	})
}
