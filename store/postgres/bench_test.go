package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

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

// BenchmarkDurableAnswers records b.N answers from 256 goroutines twice in
// the same run: through the group committer (RecordResponse on the Store)
// and naively, one transaction and one commit per answer (RecordResponse
// inside InTx). It reports both rates and their ratio. The figures mean
// "durable" only on a server with fsync=on and synchronous_commit=on (the
// CI cluster runs with fsync=off).
func BenchmarkDurableAnswers(b *testing.B) {
	st := openTest(b, nil)
	seedSurvey(b, st, 10000)
	ctx := context.Background()
	var fsync, syncCommit string
	require.NoError(b, st.pool.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &syncCommit))
	b.Logf("server fsync=%s synchronous_commit=%s, pool of %d connections", fsync, syncCommit, st.pool.Config().MaxConns)
	b.ResetTimer()
	group := recordAll(b, b.N, "g", func(r *anpi.Response) error {
		_, err := st.RecordResponse(ctx, r)
		return err
	})
	naive := recordAll(b, b.N, "n", func(r *anpi.Response) error {
		return st.InTx(ctx, func(tx anpi.Tx) error {
			_, err := tx.RecordResponse(ctx, r)
			return err
		})
	})
	b.StopTimer()
	txs, answers, _ := st.GroupCommitStats()
	g := float64(b.N) / group.Seconds()
	n := float64(b.N) / naive.Seconds()
	b.ReportMetric(g, "group-answers/s")
	b.ReportMetric(n, "naive-answers/s")
	b.ReportMetric(g/n, "group/naive")
	b.ReportMetric(float64(answers)/float64(max(txs, 1)), "answers/commit")
	verifyTally(b, st, "s")
}

// enqueueFixture builds n deliveries for survey s, due at once (the first
// round of a send).
func enqueueFixture(s anpi.SurveyID, n int) []*anpi.Delivery {
	ds := make([]*anpi.Delivery, n)
	for i := range ds {
		ds[i] = &anpi.Delivery{ID: anpi.DeliveryID(fmt.Sprintf("%s-d%06d", s, i)), SurveyID: s, UserID: anpi.UserID(fmt.Sprintf("u%06d", i)),
			Channel: anpi.EmailChannel, State: anpi.Queued, NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0}
	}
	return ds
}

func createSurvey(b *testing.B, st anpi.Store, id anpi.SurveyID) {
	b.Helper()
	require.NoError(b, st.CreateSurvey(context.Background(), &anpi.Survey{ID: id, Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(),
		Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedAt: t0, StartedAt: t0}))
}

// BenchmarkEnqueue100k enqueues 100,000 deliveries in one InTx (the
// outbox write of a company-wide send), next to a baseline of the same
// rows enqueued 500 per transaction. One op is 100,000 deliveries.
func BenchmarkEnqueue100k(b *testing.B) {
	st := openTest(b, nil)
	ctx := context.Background()
	const n = 100_000
	i := 0
	var small time.Duration
	for b.Loop() {
		b.StopTimer()
		s := anpi.SurveyID(fmt.Sprintf("s%d", i))
		base := anpi.SurveyID(fmt.Sprintf("base%d", i))
		i++
		createSurvey(b, st, s)
		createSurvey(b, st, base)
		ds, bs := enqueueFixture(s, n), enqueueFixture(base, n)
		start := time.Now()
		for lo := 0; lo < n; lo += 500 {
			k, err := st.EnqueueDeliveries(ctx, bs[lo:lo+500])
			require.NoError(b, err)
			require.Equal(b, 500, k)
		}
		small += time.Since(start)
		b.StartTimer()
		require.NoError(b, st.InTx(ctx, func(tx anpi.Tx) error {
			k, err := tx.EnqueueDeliveries(ctx, ds)
			if err == nil && k != n {
				err = fmt.Errorf("enqueued %d", k)
			}
			return err
		}))
	}
	per := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(per, "s/100k")
	b.ReportMetric(float64(n)/per, "deliveries/s")
	b.ReportMetric(small.Seconds()/float64(b.N)/per, "speedup-vs-500/tx")
}

// BenchmarkClaimComplete100k claims and completes 100,000 deliveries with
// 8 workers; each claims 100 at a time (one statement, FOR UPDATE SKIP
// LOCKED) and completes its claim in one transaction. One op is 100,000
// deliveries.
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
	per := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(per, "s/100k")
	b.ReportMetric(float64(n)/per, "deliveries/s")
}

const oneMillion = 1_000_000

// schemaBytes is the size of every table of the store's schema, indexes
// and TOAST included (pg_total_relation_size).
func schemaBytes(b *testing.B, st *Store, table string) int64 {
	b.Helper()
	var n int64
	require.NoError(b, st.pool.QueryRow(context.Background(), `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname = $1 AND c.relkind = 'r' AND ($2 = '' OR c.relname = $2)`, st.Schema(), table).Scan(&n))
	return n
}

// build1M fills the store with one survey "big" of 1,000,000 recipients in
// 110 departments (10 divisions of 10 sections) and 47 regions, all of
// whom answered (self, family and work) within two hours, through the
// store's own write path: AddRecipients in transactions of 50,000, and the
// answers in batches of 5,000 through the code the group committer uses,
// so the counters are maintained, not recounted. It returns the growth of
// the schema and of the responses table while the answers were recorded.
func build1M(b *testing.B, st *Store) (total, responses int64) {
	ctx := context.Background()
	start := time.Now()
	require.NoError(b, st.InTx(ctx, func(tx anpi.Tx) error {
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
	}))
	tree, err := st.Departments(ctx)
	require.NoError(b, err)
	const chunk, batch = 50_000, 5_000
	for lo := 0; lo < oneMillion; lo += chunk {
		require.NoError(b, st.InTx(ctx, func(tx anpi.Tx) error {
			rs := make([]anpi.Recipient, 0, chunk)
			for i := lo; i < lo+chunk; i++ {
				u := &anpi.User{ID: anpi.UserID(fmt.Sprintf("u%07d", i)), Departments: []anpi.DepartmentID{anpi.DepartmentID(fmt.Sprintf("div%d-sec%d", i%10, i/10%10))},
					Regions: []anpi.Region{{Kind: anpi.QuakeArea, Code: fmt.Sprintf("%03d", 100+i%47)}}}
				rs = append(rs, anpi.NewRecipient("big", u, tree))
			}
			_, err := tx.AddRecipients(ctx, "big", rs)
			return err
		}))
	}
	b.Logf("1M recipients added in %s", time.Since(start).Round(time.Millisecond))
	_, err = st.pool.Exec(ctx, "VACUUM ANALYZE "+st.ident+".recipients")
	require.NoError(b, err)
	beforeAll, beforeResp := schemaBytes(b, st, ""), schemaBytes(b, st, "responses")
	start = time.Now()
	for lo := 0; lo < oneMillion; lo += chunk {
		require.NoError(b, st.update(ctx, func(t *tx) error {
			for blo := lo; blo < lo+chunk; blo += batch {
				rs := make([]*anpi.Response, 0, batch)
				for i := blo; i < blo+batch; i++ {
					rs = append(rs, &anpi.Response{ID: anpi.ResponseID(fmt.Sprintf("r%07d", i)), SurveyID: "big", UserID: anpi.UserID(fmt.Sprintf("u%07d", i)), Channel: anpi.ViaWeb,
						At: t0.Add(time.Duration(i%7200) * time.Second), Answers: []anpi.Answer{
							{QuestionID: anpi.QuestionSelf, Choices: []string{[]string{"safe", "minor", "serious"}[i%3]}},
							{QuestionID: anpi.QuestionFamily, Choices: []string{[]string{"all_safe", "harmed", "unknown"}[i%3]}},
							{QuestionID: anpi.QuestionWork, Choices: []string{[]string{"can", "cannot", "undecided"}[i%3]}},
						}})
				}
				res, err := t.recordResponses(ctx, rs)
				if err != nil {
					return err
				}
				for _, r := range res {
					if r.err != nil || !r.ok {
						return fmt.Errorf("record: %v %v", r.ok, r.err)
					}
				}
			}
			return nil
		}))
	}
	b.Logf("1M answers recorded in %s", time.Since(start).Round(time.Millisecond))
	_, err = st.pool.Exec(ctx, "VACUUM ANALYZE")
	require.NoError(b, err)
	return schemaBytes(b, st, "") - beforeAll, schemaBytes(b, st, "responses") - beforeResp
}

// BenchmarkTally1M reads the tally of a survey of 1,000,000 recipients
// who all answered (counters only, no recount). It also reports the
// database bytes per stored response: the growth of the whole schema while
// the answers were recorded (responses, the recipients' current answer,
// counters) and of the responses table alone.
func BenchmarkTally1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1,000,000-recipient survey (a minute or two); run without -short")
	}
	st := openTest(b, nil)
	total, responses := build1M(b, st)
	ctx := context.Background()
	var tl *anpi.Tally
	var err error
	for b.Loop() {
		tl, err = st.Tally(ctx, "big")
		if err != nil {
			b.Fatal(err)
		}
	}
	require.Equal(b, oneMillion, tl.Targets)
	require.Equal(b, oneMillion, tl.Answered)
	require.Equal(b, oneMillion/10, tl.Subtrees["div3"].Targets)
	require.Equal(b, oneMillion/3+1, tl.Choices[anpi.QuestionSelf]["safe"])
	require.Len(b, tl.AnswerSeconds, 7200)
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/read")
	b.ReportMetric(float64(total)/oneMillion, "bytes/response")
	b.ReportMetric(float64(responses)/oneMillion, "responses-table-bytes/response")
}

func newBenchSurvey(id anpi.SurveyID) *anpi.Survey {
	return &anpi.Survey{ID: id, Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(), Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedAt: t0, StartedAt: t0}
}

// errRolledBack ends a benchmark's transaction without keeping its work.
var errRolledBack = errors.New("rolled back")

// BenchmarkBacklog50k measures what reads of the outbox cost while one
// channel has a backlog: 50,000 email deliveries of one survey are queued
// and due (the table analysed). One op of
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
	_, err = st.pool.Exec(ctx, "VACUUM ANALYZE "+st.sql("{deliveries}"))
	require.NoError(b, err)
	now := t0.Add(time.Hour)
	perOp := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
	}
	// count first: the claims rolled back leave dead rows behind.
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			c, err := st.CountDeliveries(ctx, "s")
			require.NoError(b, err)
			require.Equal(b, n, c[anpi.Queued])
		}
		perOp(b)
	})
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
}
