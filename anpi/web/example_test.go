package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
	"github.com/anpikit/anpi/store/memstore"
)

// newService builds a Service on memstore with one user, yamada, asked by
// an auto-send of a JMA report (3 people would be in a real directory), and
// returns yamada's answer token.
func newService(clock func() time.Time) (*anpi.Service, *memstore.Store, anpi.SurveyID, string, error) {
	ctx := context.Background()
	st := memstore.New(&memstore.Options{Now: clock})
	r, err := anpi.ParseRegion("quake:350")
	if err != nil {
		return nil, nil, "", "", err
	}
	if err := st.CreateUser(ctx, &anpi.User{ID: "yamada", EmployeeCode: "E1", Name: "山田 太郎", WorkEmail: "yamada@corp.example",
		Regions: []anpi.Region{r}, Status: anpi.Active, Locale: anpi.Japanese}); err != nil {
		return nil, nil, "", "", err
	}
	rule := `{"id":"quake-5lower","name":"震度5弱以上","kind":"earthquake","earthquake":{"threshold":"5-"}}`
	if err := st.PutRule(ctx, &anpi.RuleRecord{ID: "quake-5lower", Enabled: true, Spec: []byte(rule)}); err != nil {
		return nil, nil, "", "", err
	}
	svc, err := anpi.New(st, &anpi.Options{Clock: clock, BaseURL: "https://anpi.corp.example/anpi", AnswerWindow: time.Hour})
	if err != nil {
		return nil, nil, "", "", err
	}
	data, err := os.ReadFile("../testdata/vxse53_tokyo.xml") // 震度5強 in 東京都２３区
	if err != nil {
		return nil, nil, "", "", err
	}
	out, err := svc.HandleDocument(ctx, data)
	if err != nil {
		return nil, nil, "", "", err
	}
	sv := out.Effects[0].Survey
	ds, err := st.Deliveries(ctx, sv)
	if err != nil {
		return nil, nil, "", "", err
	}
	m, _, err := svc.Render(ctx, ds[0])
	if err != nil {
		return nil, nil, "", "", err
	}
	return svc, st, sv, strings.TrimPrefix(m.URL, "https://anpi.corp.example/anpi/a/"), nil
}

// An intranet application mounts the pages under a prefix of its own; the
// links the Service renders (Options.BaseURL) point there. The recipient
// opens his link (GET: nothing recorded), posts the form and is redirected
// to the thank-you page.
func ExampleNewAnswerHandler() {
	now := time.Date(2030, 4, 1, 1, 6, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	svc, st, survey, token, err := newService(clock)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	mux := http.NewServeMux()
	mux.Handle("/anpi/", http.StripPrefix("/anpi", web.NewAnswerHandler(svc, &web.Options{Clock: clock})))

	// GET shows the form.
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://anpi.corp.example/anpi/a/"+token, nil))
	fmt.Println("GET", w.Code, w.Header().Get("Referrer-Policy"))
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(w.Body.String())[1]

	// POST records the answer.
	form := url.Values{"csrf": {csrf}, "q.self": {"safe"}, "q.work": {"cannot"}}
	req := httptest.NewRequest(http.MethodPost, "https://anpi.corp.example/anpi/a/"+token+"?lang=ja", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://anpi.corp.example")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	loc, _ := url.Parse(w.Header().Get("Location"))
	next := req.URL.ResolveReference(loc)
	fmt.Println("POST", w.Code, strings.Replace(next.Path, token, "{token}", 1))

	// The thank-you page shows the answer.
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, next.String(), nil))
	fmt.Println("GET", w.Code, strings.Contains(w.Body.String(), "<dd>不可能</dd>"))

	tally, _ := st.Tally(context.Background(), survey)
	fmt.Printf("answered %d of %d, safe %d\n", tally.Answered, tally.Targets, tally.Choices[anpi.QuestionSelf]["safe"])
	// Output:
	// GET 200 no-referrer
	// POST 303 /anpi/a/{token}/thanks
	// GET 200 true
	// answered 1 of 1, safe 1
}
