package browser_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
	"github.com/anpikit/anpi/internal/shareddata"
	"github.com/anpikit/anpi/store/memstore"
)

// quakeSample is the VXSE53 the tests feed: the 2021-02-17 Fukushima-oki
// aftershock (M4.5, 震度3 at most), whose areas include 宮城県中部 (222), one
// of the demo organisation's regions.
const quakeSample = "VXSE53_20210217140958_0_VXSE53_010000.xml"

// readQuakeSample reads quakeSample from the shared JMA samples, skipping the
// test when they are absent (failing under CI=true).
func readQuakeSample(t *testing.T) (string, []byte) {
	t.Helper()
	dir, ok := shareddata.Find("jma-samples")
	if !ok {
		missing(t, "JMA samples not found: expected ../shared/jma-samples beside the repository root, or set %s", shareddata.EnvVar)
	}
	p := filepath.Join(dir, quakeSample)
	data, err := os.ReadFile(p)
	if err != nil {
		missing(t, "JMA sample %s: %v", quakeSample, err)
	}
	return p, data
}

// answerFixture is an anpi.Service on memstore behind anpi/web's answer
// handler on 127.0.0.1, with one recipient asked by an auto-send of
// quakeSample.
type answerFixture struct {
	st     *memstore.Store
	survey anpi.SurveyID
	link   string // the recipient's answer link, as the Service rendered it
}

func newAnswerFixture(ctx context.Context, t *testing.T) *answerFixture {
	t.Helper()
	_, data := readQuakeSample(t)
	// The clock stands just after the report, so the tracker takes it as
	// news and the link is fresh.
	now := time.Date(2021, 2, 17, 14, 12, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	ts := httptest.NewUnstartedServer(nil)
	t.Cleanup(ts.Close)
	base := "http://" + ts.Listener.Addr().String()

	st := memstore.New(&memstore.Options{Now: clock})
	t.Cleanup(func() { st.Close() })
	r, err := anpi.ParseRegion("quake:222")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, &anpi.User{ID: "miyagi", EmployeeCode: "E1", Name: "宮城 花子", WorkEmail: "miyagi@corp.example",
		Regions: []anpi.Region{r}, Status: anpi.Active, Locale: anpi.Japanese}); err != nil {
		t.Fatal(err)
	}
	rule := `{"id":"quake-3","name":"震度3以上","kind":"earthquake","earthquake":{"threshold":"3"}}`
	if err := st.PutRule(ctx, &anpi.RuleRecord{ID: "quake-3", Enabled: true, Spec: []byte(rule)}); err != nil {
		t.Fatal(err)
	}
	svc, err := anpi.New(st, &anpi.Options{Clock: clock, BaseURL: base, AnswerWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	out, err := svc.HandleDocument(ctx, data)
	if err != nil {
		t.Fatalf("HandleDocument(%s): %v", quakeSample, err)
	}
	if len(out.Effects) == 0 || out.Effects[0].Survey == "" {
		t.Fatalf("HandleDocument(%s) created no survey: %+v", quakeSample, out)
	}
	sv := out.Effects[0].Survey
	ds, err := st.Deliveries(ctx, sv)
	if err != nil || len(ds) == 0 {
		t.Fatalf("deliveries of %s: %v (%d)", sv, err, len(ds))
	}
	m, _, err := svc.Render(ctx, ds[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.URL, base+"/a/") {
		t.Fatalf("answer link %q is not under %s/a/", m.URL, base)
	}

	ts.Config.Handler = web.NewAnswerHandler(svc, &web.Options{Clock: clock})
	ts.Start()
	return &answerFixture{st: st, survey: sv, link: m.URL}
}

// tally returns how many answered and the count of each choice of the 本人
// question.
func (f *answerFixture) tally(ctx context.Context, t *testing.T) (int, map[string]int) {
	t.Helper()
	tl, err := f.st.Tally(ctx, f.survey)
	if err != nil {
		t.Fatal(err)
	}
	return tl.Answered, tl.Choices[anpi.QuestionSelf]
}

// phone makes the tab a phone: 390×844 CSS pixels at 3× in portrait, with
// mobile layout and touch, as an iPhone 14 reports itself.
func phone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch)
}

// answer picks choice code of the 本人 question on the open answer page,
// sends the form and checks it lands on the thank-you page.
func answer(ctx context.Context, t *testing.T, code string) {
	t.Helper()
	radio := chromedp.CSS(`input[type=radio][name="q.self"][value="` + code + `"]`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(radio), chromedp.Click(radio)); err != nil {
		t.Fatalf("choose %s: %v", code, err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
	if err != nil {
		t.Fatalf("send the answer %s: %v", code, err)
	}
	if resp.Status != http.StatusOK || !strings.Contains(resp.URL, "/thanks") {
		t.Fatalf("after sending %s: %d %s, want 200 on the thank-you page", code, resp.Status, resp.URL)
	}
}

// TestAnswerPageInChromium answers through anpi/web's answer page in a real
// browser on a phone-sized screen, so what only a browser does is checked:
// the page's inline style applies under its Content-Security-Policy (the
// hash matches), Chromium's own Sec-Fetch-Site and Origin pass the
// same-origin check, the 303 lands on the thank-you page, and its link back
// changes the answer.
func TestAnswerPageInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	f := newAnswerFixture(ctx, t)
	tab := newBrowser(ctx, t)

	resp, err := chromedp.Run(tab, chromedp.NavigateResponse(f.link))
	if err != nil {
		t.Fatalf("open the answer link: %v", err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("answer link: %d", resp.Status)
	}
	if err := chromedp.Do(tab, phone()); err != nil {
		t.Fatal(err)
	}
	// The button's size comes from the page's only style, an inline <style>
	// that the CSP allows by its hash: a wrong hash leaves it at the
	// browser's default size.
	size, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("form button")).fontSize`))
	if err != nil {
		t.Fatal(err)
	}
	if size != "19.2px" {
		t.Errorf("submit button font-size %q, want 19.2px (1.2rem from the inline style): did the CSP block the style?", size)
	}
	if n, _ := f.tally(ctx, t); n != 0 {
		t.Fatalf("opening the link recorded an answer: answered %d", n)
	}

	answer(tab, t, "safe")
	text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "回答を記録しました") || !strings.Contains(text, "無事") {
		t.Errorf("thank-you page does not confirm 無事:\n%s", text)
	}
	if n, c := f.tally(ctx, t); n != 1 || c["safe"] != 1 {
		t.Fatalf("after answering 無事: answered %d, choices %v; want 1 answered, safe 1", n, c)
	}

	// The thank-you page's link goes back to the form, which shows the
	// answer given; a new one replaces it in the tally.
	if _, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`p > a[href*="?lang="]`))); err != nil {
		t.Fatalf("follow 回答を変更する: %v", err)
	}
	checked, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('input[name="q.self"][value="safe"]').checked`))
	if err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Error("the form reopened from the thank-you page does not show 無事 checked")
	}
	answer(tab, t, "minor")
	if n, c := f.tally(ctx, t); n != 1 || c["safe"] != 0 || c["minor"] != 1 {
		t.Fatalf("after changing to 軽傷: answered %d, choices %v; want 1 answered, safe 0, minor 1", n, c)
	}
}
