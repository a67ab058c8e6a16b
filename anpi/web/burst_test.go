package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/internal/pace"
)

// burstReq is one request of the burst and the statuses it may get.
type burstReq struct {
	kind   string // what is wrong with it, for the failure message
	method string
	path   string
	body   string
	header map[string]string
	want   []int
}

// burstState is what a bad request must not change.
type burstState struct {
	tallies   map[anpi.SurveyID]*anpi.Tally
	responses map[anpi.SurveyID][]*anpi.Response
	history   map[anpi.SurveyID]int // responses kept, current and replaced
	audit     []*anpi.AuditEntry
}

// snapshot reads the tally, the responses and the history of every
// survey, and the whole audit log.
func snapshot(t *testing.T, st anpi.Store, surveys []anpi.SurveyID, users int) *burstState {
	t.Helper()
	ctx := context.Background()
	s := &burstState{tallies: map[anpi.SurveyID]*anpi.Tally{}, responses: map[anpi.SurveyID][]*anpi.Response{},
		history: map[anpi.SurveyID]int{}}
	for _, id := range surveys {
		tl, err := st.Tally(ctx, id)
		require.NoError(t, err)
		s.tallies[id] = tl
		s.responses[id], err = st.Responses(ctx, id)
		require.NoError(t, err)
		for i := range users {
			h, err := st.ResponseHistory(ctx, id, anpi.UserID(fmt.Sprintf("u%06d", i)))
			require.NoError(t, err)
			s.history[id] += len(h)
		}
	}
	var err error
	s.audit, err = st.ListAudit(ctx, &anpi.AuditQuery{Limit: 100_000})
	require.NoError(t, err)
	return s
}

// TestBadRequestBurst sends a few thousand concurrent requests to the
// answer pages over a real Service on SQLite, almost all of them bad:
// malformed, unknown, revoked and expired tokens, tokens of a closed
// survey, oversized bodies, malformed forms (unknown fields, invalid
// choices, broken encodings, huge values), missing and forged CSRF fields,
// cross-origin posts, other methods and paths, one token posted past its
// rate limit, and a few requests that are not even HTTP. Among them are
// twenty valid answers. Every response must be one doc.go documents for
// that request (none 5xx), and afterwards the store must hold exactly the
// twenty answers more: every survey's tally, responses and response
// history, and the audit log, are otherwise as before.
func TestBadRequestBurst(t *testing.T) {
	ctx := context.Background()
	clk := pace.NewFakeClock(time.Date(2030, 6, 1, 0, 7, 0, 0, time.UTC))
	st := openLoadStore(t, filepath.Join(t.TempDir(), "anpi.db"), clk.Now)
	t.Cleanup(func() { st.Close() })
	const users = 200
	seedLoadUsers(t, st, users)
	svc, err := anpi.New(st, &anpi.Options{Clock: clk.Now, BaseURL: loadBase})
	require.NoError(t, err)
	everyone := anpi.Targeting{Everyone: true}
	open, openTok := startLoadSurvey(t, ctx, svc, &anpi.SendRequest{Title: "open", Targeting: everyone})
	expiring, expTok := startLoadSurvey(t, ctx, svc, &anpi.SendRequest{Title: "expiring", Targeting: everyone,
		Deadline: clk.Now().Add(30 * time.Minute)})
	closing, closedTok := startLoadSurvey(t, ctx, svc, &anpi.SendRequest{Title: "closing", Targeting: everyone})
	require.Len(t, openTok, users)

	// Answers given before the burst: bad requests must not replace them.
	for i := range 10 {
		_, err := svc.AnswerByToken(ctx, openTok[i], loadAnswers(i), anpi.ViaWeb)
		require.NoError(t, err)
	}
	for i := range 5 {
		_, err := svc.AnswerByToken(ctx, closedTok[i], loadAnswers(i), anpi.ViaWeb)
		require.NoError(t, err)
	}
	// Users 100 to 119 had their links to the open survey revoked; the
	// closing survey is closed by hand; an hour later the expiring
	// survey's links have expired.
	for i := 100; i < 120; i++ {
		n, err := st.RevokeAnswerTokens(ctx, open, anpi.UserID(fmt.Sprintf("u%06d", i)), clk.Now())
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	sv, err := st.GetSurvey(ctx, closing)
	require.NoError(t, err)
	sv.Status = anpi.Closed
	require.NoError(t, st.UpdateSurvey(ctx, sv))
	clk.Advance(time.Hour)

	h := NewAnswerHandler(svc, &Options{CSRFKey: loadKey(), Clock: clk.Now}).(*handler)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	reqs, valid := burstRequests(h, openTok, expTok, closedTok)
	before := snapshot(t, st, []anpi.SurveyID{open, expiring, closing}, users)

	// The burst: 32 clients, the requests in a random order.
	rnd := rand.New(rand.NewPCG(1, 2))
	rnd.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	got := make([]int, len(reqs))
	errs := make([]error, len(reqs))
	client := loadClient(32)
	t.Cleanup(client.CloseIdleConnections)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range work {
				got[i], errs[i] = send(ctx, client, srv.URL, &reqs[i])
			}
		})
	}
	for i := range reqs {
		work <- i
	}
	close(work)
	wg.Wait()

	statuses := map[int]int{}
	limited := map[int]int{} // the statuses of the rate-limited token
	for i, r := range reqs {
		require.NoError(t, errs[i], "%s %s (%s)", r.method, r.path, r.kind)
		statuses[got[i]]++
		require.Less(t, got[i], 500, "%s %s (%s)", r.method, r.path, r.kind)
		require.Contains(t, r.want, got[i], "%s %s (%s) %v %.200q", r.method, r.path, r.kind, r.header, r.body)
		if r.kind == "rate limit" {
			limited[got[i]]++
		}
	}
	t.Logf("%d requests, statuses %v", len(reqs), statuses)
	require.Equal(t, map[int]int{http.StatusBadRequest: h.limit, http.StatusTooManyRequests: 5}, limited)

	// Exactly the valid answers were recorded.
	after := snapshot(t, st, []anpi.SurveyID{open, expiring, closing}, users)
	require.Equal(t, before.audit, after.audit)
	for _, id := range []anpi.SurveyID{expiring, closing} {
		require.Equal(t, before.tallies[id], after.tallies[id], "survey %s", id)
		require.Equal(t, before.responses[id], after.responses[id], "survey %s", id)
		require.Equal(t, before.history[id], after.history[id], "survey %s", id)
	}
	var others []*anpi.Response
	for _, r := range after.responses[open] {
		i, ok := valid[r.UserID]
		if !ok {
			others = append(others, r)
			continue
		}
		require.Equal(t, loadAnswers(i), r.Answers, "user %s", r.UserID)
		require.Equal(t, anpi.ViaWeb, r.Channel)
		delete(valid, r.UserID)
	}
	require.Empty(t, valid, "valid answers not recorded")
	require.Equal(t, before.responses[open], others)
	require.Equal(t, before.history[open]+len(after.responses[open])-len(others), after.history[open])
	tl := after.tallies[open]
	require.Equal(t, before.tallies[open].Targets, tl.Targets)
	require.Equal(t, before.tallies[open].Answered+20, tl.Answered)
	recs, err := st.Recipients(ctx, open)
	require.NoError(t, err)
	recount := anpi.ComputeTally(open, sv.StartedAt, recs, after.responses[open])
	require.Equal(t, recount.Answered, tl.Answered)
	require.Equal(t, recount.Choices, tl.Choices)
}

// send sends one request of the burst and returns its status. A request
// whose kind starts with "raw" is written as bytes on a connection of its
// own: it is not even valid HTTP.
func send(ctx context.Context, client *http.Client, base string, r *burstReq) (int, error) {
	if strings.HasPrefix(r.kind, "raw") {
		return sendRaw(base, r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, base, strings.NewReader(r.body))
	if err != nil {
		return 0, err
	}
	req.URL.Opaque = r.path // sent as is: escapes, dots and all
	for k, v := range r.header {
		if v == "SELF" {
			v = base // the server's own origin
		}
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// sendRaw writes raw to a new connection to base and reads the status.
func sendRaw(base, raw string) (int, error) {
	u, err := url.Parse(base)
	if err != nil {
		return 0, err
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return 0, err
	}
	if _, err := io.WriteString(c, raw); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// burstRequests builds the burst against h for the open survey's tokens
// (user i holds openTok[i]), the expired ones and the closed survey's. It
// returns the requests and the users whose answers are valid (user →
// index for loadAnswers).
//
// No token gets more than h.limit posts with a valid CSRF field, except the
// one of the "rate limit" kind, so every other request's status does not
// depend on the order the requests arrive in.
func burstRequests(h *handler, openTok, expTok, closedTok []string) ([]burstReq, map[anpi.UserID]int) {
	var reqs []burstReq
	form := "application/x-www-form-urlencoded"
	add := func(kind, method, path, body string, hdr map[string]string, want ...int) {
		if hdr == nil {
			hdr = map[string]string{"Content-Type": form}
		}
		reqs = append(reqs, burstReq{kind: kind, method: method, path: path, body: body, header: hdr, want: want})
	}
	post := func(kind, tok string, v url.Values, want ...int) {
		add(kind, http.MethodPost, "/a/"+tok, v.Encode(), nil, want...)
	}
	csrf := func(tok string) string { return h.csrf("a", tok) }
	good := func(tok string, i int) url.Values { return loadForm(i, csrf(tok)) }
	rnd := rand.New(rand.NewPCG(3, 4))
	randomToken := func(n int) string {
		const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		b := make([]byte, n)
		for i := range b {
			b[i] = abc[rnd.IntN(len(abc))]
		}
		return string(b)
	}

	// Malformed tokens, each its own (the limiter counts the posts of a
	// token that looks well-formed to the pages and carries its field),
	// with a valid-looking form and the field of the token as decoded.
	malformed := []func() string{
		func() string { return randomToken(129) },
		func() string { return randomToken(44) },
		func() string { return randomToken(42) },
		func() string { return randomToken(21) },
		func() string { return randomToken(1) },
		func() string { return randomToken(42) + "." },
		func() string { return randomToken(42) + "~" },
		func() string { return randomToken(42) + "%2F" },
		func() string { return randomToken(40) + "%E5%AE%89" },
		func() string { return randomToken(42) + "%20" },
		func() string { return "%00" + randomToken(42) },
		func() string { return randomToken(43) + "%00" },
		func() string { return "+" + randomToken(42) },
		func() string { return "%252F" + randomToken(40) },
	}
	for range 20 {
		for _, f := range malformed {
			m := f()
			dec, err := url.PathUnescape(m)
			if err != nil {
				panic(err)
			}
			post("malformed token", m, url.Values{"csrf": {csrf(dec)}, "q.self": {"safe"}}, http.StatusNotFound)
			add("malformed token", http.MethodGet, "/a/"+f(), "", nil, http.StatusNotFound)
		}
	}
	// A token well-formed only once unescaped is the token unescaped.
	tok := strings.Repeat("%41", 43)
	post("escaped token", tok, url.Values{"csrf": {csrf(strings.Repeat("A", 43))}, "q.self": {"safe"}}, http.StatusNotFound)
	post("escaped token", tok, url.Values{"csrf": {csrf(tok)}, "q.self": {"safe"}}, http.StatusForbidden)

	// Unknown tokens of both lengths, with their (valid) CSRF field and
	// without: each its own, so the limiter sees each once.
	for i := range 400 {
		tok := randomToken([]int{43, 22}[i%2])
		post("unknown token", tok, url.Values{"csrf": {csrf(tok)}, "q.self": {"safe"}}, http.StatusNotFound)
		post("unknown token, no CSRF", randomToken(43), url.Values{"q.self": {"safe"}}, http.StatusForbidden)
		add("unknown token", http.MethodGet, "/a/"+randomToken(43), "", nil, http.StatusNotFound)
		add("unknown token", http.MethodGet, "/a/"+randomToken(43)+"/thanks", "", nil, http.StatusNotFound)
	}
	// Revoked tokens (users 100 to 119), expired ones, a closed survey's.
	for i := 100; i < 120; i++ {
		for range h.limit {
			post("revoked token", openTok[i], good(openTok[i], i), http.StatusNotFound)
		}
		add("revoked token", http.MethodGet, "/a/"+openTok[i], "", nil, http.StatusNotFound)
		add("revoked token", http.MethodGet, "/a/"+openTok[i]+"/thanks", "", nil, http.StatusNotFound)
	}
	for i, tok := range expTok {
		post("expired token", tok, good(tok, i), http.StatusNotFound)
		add("expired token", http.MethodGet, "/a/"+tok, "", nil, http.StatusNotFound)
	}
	for i, tok := range closedTok {
		post("closed survey", tok, good(tok, i), http.StatusGone)
	}

	// Bodies past the limit, unread: one huge field, many fields.
	for i := 20; i < 45; i++ {
		tok := openTok[i]
		v := good(tok, i)
		v.Set("q.message", strings.Repeat("あ", maxBody/3+10))
		post("oversized body", tok, v, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
		var b strings.Builder
		b.WriteString(v.Encode())
		for b.Len() <= maxBody {
			fmt.Fprintf(&b, "&f%d=x", b.Len())
		}
		add("oversized body", http.MethodPost, "/a/"+tok, b.String(), nil, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	}

	// Malformed forms with a valid CSRF field, on open tokens of users
	// who answered before (0 to 9) and who did not (20 to 99): at most
	// h.limit each.
	for i := range 100 {
		if i >= 10 && i < 20 {
			continue
		}
		tok := openTok[i]
		c := csrf(tok)
		bad := []url.Values{
			{"csrf": {c}, "q.nope": {"safe"}},                                           // an unknown question only
			{"csrf": {c}, "q.self": {"dead"}},                                           // an invalid choice
			{"csrf": {c}, "q.self": {"safe", "minor"}},                                  // two choices to a single-choice question
			{"csrf": {c}, "q.self": {""}},                                               // an empty choice
			{"csrf": {c}, "q.work": {"can"}},                                            // the required question left out
			{"csrf": {c}, "q.self": {"safe"}, "q.message": {strings.Repeat("x", 5000)}}, // a text past its length
			{"csrf": {c}, "q.self": {"safe"}, "q.message": {"\xff\xfe壊れた"}},             // not UTF-8
			{"csrf": {c}, "q.self": {"safe\x00"}},                                       // a NUL in a choice
		}
		for _, v := range bad {
			post("malformed form", tok, v, http.StatusBadRequest)
		}
		// Encodings the form parser refuses or does not read: the CSRF
		// field is then missing too.
		add("broken encoding", http.MethodPost, "/a/"+tok, "csrf="+c+"&q.self=%zz", nil, http.StatusBadRequest)
		add("broken encoding", http.MethodPost, "/a/"+tok, "csrf="+c+"&q.self=safe",
			map[string]string{"Content-Type": "multipart/form-data; boundary=xyz"}, http.StatusBadRequest, http.StatusForbidden)
		add("broken encoding", http.MethodPost, "/a/"+tok, "csrf="+c+"&q.self=safe",
			map[string]string{"Content-Type": "text/plain"}, http.StatusForbidden)
		add("broken encoding", http.MethodPost, "/a/"+tok, `{"csrf":"`+c+`","q.self":"safe"}`,
			map[string]string{"Content-Type": "application/json"}, http.StatusForbidden)
		add("broken encoding", http.MethodPost, "/a/"+tok, "csrf="+c+";q.self=safe", nil, http.StatusBadRequest)
		add("broken encoding", http.MethodPost, "/a/"+tok, "csrf="+c+"&q.self=safe&q.message=%96%B3%8E%96",
			map[string]string{"Content-Type": form + "; charset=Shift_JIS"}, http.StatusBadRequest) // 無事 in Shift_JIS
		add("broken encoding", http.MethodPost, "/a/"+tok, "csrf="+c+"&q.self=safe", map[string]string{}, http.StatusForbidden)

		// Missing and forged CSRF fields; the field in the query only.
		other := openTok[(i+1)%len(openTok)]
		for _, f := range []string{"", "x", c[:len(c)-1], c + "A", strings.ToUpper(c), csrf(other), h.csrf("c", tok),
			strings.Repeat("A", 10_000)} {
			post("bad CSRF", tok, url.Values{"csrf": {f}, "q.self": {"safe"}}, http.StatusForbidden)
		}
		post("bad CSRF", tok, url.Values{"q.self": {"safe"}}, http.StatusForbidden)
		add("bad CSRF", http.MethodPost, "/a/"+tok+"?csrf="+url.QueryEscape(c), "q.self=safe", nil, http.StatusForbidden)

		// Cross-origin posts with the right field.
		for _, hd := range []map[string]string{
			{"Origin": "https://evil.example"},
			{"Origin": "null"},
			{"Origin": "http://" + "127.0.0.1.evil.example"},
			{"Origin": "::bad url"},
			{"Sec-Fetch-Site": "cross-site"},
			{"Sec-Fetch-Site": "same-site"},
			{"Sec-Fetch-Site": "cross-site", "Origin": "SELF"}, // the same Origin does not win over Sec-Fetch-Site
		} {
			hd["Content-Type"] = form
			add("cross-origin", http.MethodPost, "/a/"+tok, good(tok, i).Encode(), hd, http.StatusForbidden)
		}

		// Other methods and paths.
		for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "PROPFIND"} {
			add("wrong method", m, "/a/"+tok, good(tok, i).Encode(), nil, http.StatusNotFound, http.StatusMethodNotAllowed)
		}
		add("wrong path", http.MethodPost, "/a/"+tok+"/thanks", good(tok, i).Encode(), nil, http.StatusNotFound, http.StatusMethodNotAllowed)
		add("wrong path", http.MethodPost, "/a/"+tok+"/x", good(tok, i).Encode(), nil, http.StatusNotFound)
		add("wrong path", http.MethodPost, "/A/"+tok, good(tok, i).Encode(), nil, http.StatusNotFound)
		add("wrong path", http.MethodPost, "/", good(tok, i).Encode(), nil, http.StatusNotFound)
		// The answer link on the contact check's page, its field too.
		add("wrong path", http.MethodPost, "/c/"+tok, url.Values{"csrf": {h.csrf("c", tok)}}.Encode(), nil, http.StatusNotFound)
	}

	// Paths with dots and slashes. net/http's ServeMux answers a path that
	// is not clean with 307 to the clean one before the pages' routes are
	// tried (doc.go does not say so): the redirect records nothing and
	// leads to the page of the same token.
	for _, p := range []string{"/a/..%2F..%2Fetc%2Fpasswd", "/a/../c/" + openTok[60], "//a/" + openTok[60], "/a/./" + openTok[60],
		"/a/" + openTok[60] + "/", "/a/" + openTok[60] + "/thanks/.."} {
		add("dots", http.MethodPost, p, good(openTok[60], 60).Encode(), nil, http.StatusNotFound, http.StatusTemporaryRedirect)
		add("dots", http.MethodGet, p, "", nil, http.StatusNotFound, http.StatusTemporaryRedirect)
	}

	// One token posted past its limit with a bad form: h.limit refusals
	// of the form (400), then 429.
	for range h.limit + 5 {
		post("rate limit", openTok[190], url.Values{"csrf": {csrf(openTok[190])}, "q.self": {"dead"}},
			http.StatusBadRequest, http.StatusTooManyRequests)
	}

	// Not HTTP, or not well-formed.
	for _, raw := range []string{
		"POST /a/%zz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"POST /a/" + openTok[21] + " HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
		"POST /a/" + openTok[21] + " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"POST /a/" + openTok[21] + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + form + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GARBAGE\r\n\r\n",
	} {
		reqs = append(reqs, burstReq{kind: "raw", body: raw, want: []int{http.StatusBadRequest}})
	}

	// Twenty valid answers, of users who had not answered (150 to 169).
	valid := map[anpi.UserID]int{}
	for i := 150; i < 170; i++ {
		post("valid", openTok[i], good(openTok[i], i), http.StatusSeeOther)
		valid[anpi.UserID(fmt.Sprintf("u%06d", i))] = i
	}
	slices.SortStableFunc(reqs, func(a, b burstReq) int { return strings.Compare(a.kind, b.kind) })
	return reqs, valid
}
