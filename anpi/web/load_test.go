package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/sqlite"
)

// The load benchmark's size: loadUsers recipients answer once each, through
// loadClients concurrent clients (keep-alive connections): the recipients'
// browsers, a few hundred of them answering at the same moment, as after a
// quake.
const (
	loadUsers   = 20_000
	loadClients = 256
	// loadBudget bounds the whole benchmark, below go test's default
	// -timeout: a run that would go past it fails with what it reached.
	loadBudget = 8 * time.Minute
	// loadBase is the Service's BaseURL: links are loadBase+"/a/"+token.
	loadBase = "https://anpi.example"
	// loadAdmin is the user who starts the surveys (a CrisisManager);
	// he is one of the recipients too.
	loadAdmin anpi.UserID = "u000000"
)

// loadKey is the CSRF key of every handler of the tests of this file and
// burst_test.go, so a reopened store's handler accepts the same fields.
func loadKey() []byte { return []byte("anpi/web load test key") }

// openLoadStore opens the SQLite store at path with its default durability
// (synchronous=FULL) and sealed contacts, as production runs it.
func openLoadStore(tb testing.TB, path string, now func() time.Time) *sqlite.Store {
	tb.Helper()
	sealer, err := anpi.NewAESSealer("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), path, &sqlite.Options{Now: now, Sealer: sealer})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// seedLoadUsers writes n active users u000000… with a work email (their
// deliveries go by email) in transactions of 10,000, and makes loadAdmin a
// company-wide CrisisManager, who may start sends to everyone.
func seedLoadUsers(tb testing.TB, st anpi.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	const batch = 10_000
	for lo := 0; lo < n; lo += batch {
		err := st.InTx(ctx, func(tx anpi.Tx) error {
			for i := lo; i < min(lo+batch, n); i++ {
				u := &anpi.User{ID: anpi.UserID(fmt.Sprintf("u%06d", i)), EmployeeCode: fmt.Sprintf("E%06d", i),
					Name: fmt.Sprintf("社員 %06d", i), WorkEmail: fmt.Sprintf("u%06d@corp.example", i), Status: anpi.Active,
					Locale: anpi.Japanese}
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := st.GrantRole(ctx, anpi.RoleGrant{UserID: loadAdmin, Role: anpi.CrisisManager}); err != nil {
		tb.Fatal(err)
	}
}

// startLoadSurvey starts a manual send to everyone through the Service and
// renders its deliveries with RenderBatch, as the dispatcher would: the
// Service makes and stores the answer tokens. It returns the survey and
// the tokens, one per recipient, in user order.
func startLoadSurvey(tb testing.TB, ctx context.Context, svc *anpi.Service, req *anpi.SendRequest) (anpi.SurveyID, []string) {
	tb.Helper()
	started, err := svc.StartSurvey(ctx, loadAdmin, req)
	if err != nil {
		tb.Fatal(err)
	}
	ds, err := svc.Store().Deliveries(ctx, started.Survey.ID)
	if err != nil {
		tb.Fatal(err)
	}
	slices.SortFunc(ds, func(a, b *anpi.Delivery) int { return strings.Compare(string(a.UserID), string(b.UserID)) })
	tokens := make([]string, 0, len(ds))
	for chunk := range slices.Chunk(ds, 1000) {
		res, err := svc.RenderBatch(ctx, chunk)
		if err != nil {
			tb.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				tb.Fatal(r.Err)
			}
			tok, ok := strings.CutPrefix(r.Message.URL, loadBase+"/a/")
			if !ok {
				tb.Fatalf("link %q is not an answer link under %s", r.Message.URL, loadBase)
			}
			tokens = append(tokens, tok)
		}
	}
	return started.Survey.ID, tokens
}

// loadChoices are the answers to the 本人 question, in turn.
var loadChoices = [...]string{"safe", "minor", "serious"}

// loadForm is the form recipient i posts: his condition and, for every
// other one, whether he can come to work.
func loadForm(i int, csrf string) url.Values {
	v := url.Values{"csrf": {csrf}, "q." + anpi.QuestionSelf: {loadChoices[i%len(loadChoices)]}}
	if i%2 == 0 {
		v.Set("q."+anpi.QuestionWork, "cannot")
	}
	return v
}

// loadAnswers is loadForm(i) as the Service receives it.
func loadAnswers(i int) []anpi.Answer {
	as := []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{loadChoices[i%len(loadChoices)]}}}
	if i%2 == 0 {
		as = append(as, anpi.Answer{QuestionID: anpi.QuestionWork, Choices: []string{"cannot"}})
	}
	return as
}

// loadClient is an HTTP client for c concurrent clients of one server:
// keep-alive, every connection kept idle between requests, redirects not
// followed (the 303 is the acknowledgement).
func loadClient(c int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c, MaxConnsPerHost: c, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// loadResult is what one run of n answers did.
type loadResult struct {
	acked   int             // answers acknowledged (303, or nil from the Service)
	elapsed time.Duration   // from the first request to the last answer
	lat     []time.Duration // per answer, in token order
	other   map[string]int  // anything else, by status or error
}

// p returns the q-quantile of the latencies, in milliseconds.
func (r *loadResult) p(q float64) float64 {
	l := slices.Clone(r.lat)
	slices.Sort(l)
	return float64(l[int(q*float64(len(l)-1))].Microseconds()) / 1e3
}

// rate is acknowledged answers per second.
func (r *loadResult) rate() float64 { return float64(r.acked) / r.elapsed.Seconds() }

// runLoad answers n recipients with c workers: each takes the next index
// and calls answer(i), which reports whether the answer was acknowledged
// or, when it was not, what came back instead.
func runLoad(ctx context.Context, n, c int, answer func(ctx context.Context, i int) (ok bool, other string)) *loadResult {
	r := &loadResult{lat: make([]time.Duration, n), other: map[string]int{}}
	var next, acked atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				ok, other := answer(ctx, i)
				r.lat[i] = time.Since(t)
				if ok {
					acked.Add(1)
					continue
				}
				mu.Lock()
				r.other[other]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.acked = int(acked.Load())
	return r
}

// postAnswer posts recipient i's form to the page of tok, as a browser
// does (same-origin), and reports whether it got the 303 of a recorded
// answer.
func postAnswer(ctx context.Context, client *http.Client, base, tok string, form url.Values) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/a/"+tok, strings.NewReader(form.Encode()))
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return false, err.Error()
	}
	if resp.StatusCode != http.StatusSeeOther {
		return false, resp.Status
	}
	return true, ""
}

// csrfField finds the CSRF field in an answer page.
var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// getForm GETs the page of tok, as a recipient opening his link does, and
// returns the CSRF field of its form.
func getForm(ctx context.Context, client *http.Client, base, tok string) (string, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/a/"+tok, nil)
	if err != nil {
		return "", err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return "", "GET " + resp.Status
	}
	m := csrfField.FindSubmatch(body)
	if m == nil {
		return "", "GET: no CSRF field"
	}
	return string(m[1]), ""
}

// loadFlow is one way of answering the recipients of a survey.
type loadFlow int

const (
	// flowPost POSTs each form with the CSRF field computed by the
	// handler's own function: the answer pages' POST alone.
	flowPost loadFlow = iota
	// flowGetPost GETs each page, reads its CSRF field and POSTs: what a
	// recipient's browser does.
	flowGetPost
	// flowDirect calls Service.AnswerByToken with no HTTP: the baseline.
	flowDirect
)

// runFlow opens the store at path, starts a survey to everyone and has
// every recipient answer it once by flow, with loadClients concurrent
// clients; then it closes the store, opens it again and fails unless the
// survey holds exactly one response per acknowledged answer (durable) and
// every answer was acknowledged. With timed set, only the answers run
// with b's timer on.
func runFlow(b *testing.B, ctx context.Context, path string, flow loadFlow, timed bool) *loadResult {
	b.Helper()
	st := openLoadStore(b, path, nil)
	svc, err := anpi.New(st, &anpi.Options{BaseURL: loadBase})
	if err != nil {
		b.Fatal(err)
	}
	sv, tokens := startLoadSurvey(b, ctx, svc, &anpi.SendRequest{Title: "安否確認 負荷試験", Targeting: anpi.Targeting{Everyone: true}})

	var answer func(ctx context.Context, i int) (bool, string)
	var srv *httptest.Server
	if flow == flowDirect {
		answer = func(ctx context.Context, i int) (bool, string) {
			if _, err := svc.AnswerByToken(ctx, tokens[i], loadAnswers(i), anpi.ViaWeb); err != nil {
				return false, err.Error()
			}
			return true, ""
		}
	} else {
		h := NewAnswerHandler(svc, &Options{CSRFKey: loadKey()}).(*handler)
		srv = httptest.NewServer(h)
		client := loadClient(loadClients)
		defer client.CloseIdleConnections()
		answer = func(ctx context.Context, i int) (bool, string) {
			csrf := h.csrf("a", tokens[i])
			if flow == flowGetPost {
				var other string
				if csrf, other = getForm(ctx, client, srv.URL, tokens[i]); other != "" {
					return false, other
				}
			}
			return postAnswer(ctx, client, srv.URL, tokens[i], loadForm(i, csrf))
		}
	}

	if timed {
		b.StartTimer()
	}
	r := runLoad(ctx, len(tokens), loadClients, answer)
	if timed {
		b.StopTimer()
	}
	if srv != nil {
		srv.Close()
	}
	if flow == flowPost {
		txs, answers, fallbacks := st.GroupCommitStats()
		b.Logf("group commit: %d answers in %d transactions (%.0f per commit), %d fallbacks", answers, txs,
			float64(answers)/float64(max(txs, 1)), fallbacks)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}

	// Every acknowledged answer must be in the file.
	st = openLoadStore(b, path, nil)
	defer st.Close()
	rs, err := st.Responses(context.Background(), sv)
	if err != nil {
		b.Fatal(err)
	}
	tl, err := st.Tally(context.Background(), sv)
	if err != nil {
		b.Fatal(err)
	}
	if len(rs) != r.acked || tl.Answered != r.acked {
		b.Fatalf("flow %d: %d answers acknowledged, but the reopened store holds %d responses (tally: %d answered)",
			flow, r.acked, len(rs), tl.Answered)
	}
	if r.acked != len(tokens) {
		b.Fatalf("flow %d: %d of %d answers acknowledged in %s; the others got %v (context: %v)",
			flow, r.acked, len(tokens), r.elapsed, r.other, ctx.Err())
	}
	return r
}

// BenchmarkHTTPAnswers measures the answer pages under load: loadUsers
// recipients of one open survey (tokens made by Service.StartSurvey and
// RenderBatch) each POST their form once to web.NewAnswerHandler over
// *anpi.Service over SQLite (synchronous=FULL), through httptest on
// 127.0.0.1, from loadClients concurrent keep-alive clients in the same
// process. One op is all loadUsers answers; ns/op times them alone. It
// reports
//
//	answers/s            acknowledged (303) answers per second, POST only
//	                     (the CSRF field computed by the handler's function)
//	p50_ms, p99_ms       their latency
//	getpost_answers/s    the same with a GET of each page first, its CSRF
//	                     field read from the HTML: what browsers do
//	getpost_p99_ms       the latency of that GET and POST
//	direct_answers/s     the baseline: Service.AnswerByToken called by the
//	                     same number of goroutines, no HTTP
//
// each on a survey of its own, on the same file. After every run the store
// is closed and opened again, and the run fails unless the survey holds
// exactly one response per acknowledged answer. The target is 10,000
// answers/s through HTTP. The whole benchmark stops after loadBudget.
// Run it with -benchtime 1x: seeding the directory alone takes seconds.
//
// What makes the POST cheap: the Service takes the token's survey and user
// from memory (it made the tokens) and the store checks the token in the
// answer's own write (Response.ViaToken), which the group committer shares
// among the answers of the same moment; the write reads what its checks
// need in one statement. With 64 clients the commits carried about 37
// answers each and the CPU was not busy (about 7,800 answers/s): throughput
// is clients over commit latency, so the benchmark runs as many clients as
// a few hundred people answering at once.
func BenchmarkHTTPAnswers(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), loadBudget)
	defer cancel()
	path := filepath.Join(b.TempDir(), "anpi.db")
	st := openLoadStore(b, path, nil)
	seedLoadUsers(b, st, loadUsers)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	var post, getPost, direct []*loadResult
	for b.Loop() {
		b.StopTimer()
		post = append(post, runFlow(b, ctx, path, flowPost, true))
		getPost = append(getPost, runFlow(b, ctx, path, flowGetPost, false))
		direct = append(direct, runFlow(b, ctx, path, flowDirect, false))
		b.StartTimer()
	}
	avg := func(rs []*loadResult, f func(*loadResult) float64) float64 {
		var s float64
		for _, r := range rs {
			s += f(r)
		}
		return s / float64(len(rs))
	}
	rate := (*loadResult).rate
	p50 := func(r *loadResult) float64 { return r.p(0.50) }
	p99 := func(r *loadResult) float64 { return r.p(0.99) }
	b.ReportMetric(avg(post, rate), "answers/s")
	b.ReportMetric(avg(post, p50), "p50_ms")
	b.ReportMetric(avg(post, p99), "p99_ms")
	b.ReportMetric(avg(getPost, rate), "getpost_answers/s")
	b.ReportMetric(avg(getPost, p99), "getpost_p99_ms")
	b.ReportMetric(avg(direct, rate), "direct_answers/s")
}
