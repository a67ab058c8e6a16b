package browser_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// step is how long one browser step (a page load, a click and what it
// loads) may take before the test says which step hung.
const step = 30 * time.Second

// do runs steps in tab within step's deadline, failing the test with what
// was being done.
func do(tab context.Context, t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, step)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action in tab within step's deadline and returns its value.
func run[T any](tab context.Context, t *testing.T, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, step)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// load runs steps that load a page (a navigation, a click on a link or a
// submit button) and checks the page that ends up loaded answered 200.
func load(tab context.Context, t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, step)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("%s: %d %s, want 200", what, resp.Status, resp.URL)
	}
	return resp
}

// japanese makes the tab ask for Japanese pages, as the administrators'
// browsers do (headless Chromium asks for English).
func japanese() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "ja"}})
		return err
	})
}

// tally is what the dashboard's survey page shows: how many answered of how
// many asked, and the count of each choice of the 本人 question by label.
type tally struct {
	Answered int            `json:"answered"`
	Targets  int            `json:"targets"`
	Self     map[string]int `json:"self"`
}

// readTallyJS reads the survey page: the line "(回答済 N / 対象 M)" and the
// table after the heading of the 本人 question (あなたの状況).
const readTallyJS = `(() => {
	const line = [...document.querySelectorAll("p")].map(p => p.textContent).find(s => /回答済 \d+ \/ 対象 \d+/.test(s));
	const h2 = [...document.querySelectorAll("h2")].find(h => h.textContent.trim() === "あなたの状況");
	if (!line || !h2) return null;
	const m = line.match(/回答済 (\d+) \/ 対象 (\d+)/);
	const self = {};
	for (const tr of h2.nextElementSibling.querySelectorAll("tr")) {
		if (tr.cells.length >= 2) self[tr.cells[0].textContent.trim()] = Number(tr.cells[1].textContent.trim());
	}
	return {answered: Number(m[1]), targets: Number(m[2]), self};
})()`

// readTally loads the survey's page on the dashboard and reads its tally.
func readTally(tab context.Context, t *testing.T, surveyURL string) tally {
	t.Helper()
	load(tab, t, "open the survey's page", chromedp.Navigate(surveyURL))
	tl := run(tab, t, "read the tally", chromedp.Evaluate[*tally](readTallyJS))
	if tl == nil {
		body := run(tab, t, "read the page", chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("the survey page %s shows no tally (回答済 … / 対象 … and あなたの状況):\n%s", surveyURL, body)
	}
	return *tl
}

// watchTally waits until the tally on the survey page open in tab satisfies
// want, as an administrator watching it would: the page reloads itself every
// 5 seconds (a meta refresh), so the tally is read after each reload until
// it fits or step's deadline passes. It returns what it saw last.
func watchTally(tab context.Context, t *testing.T, what string, want func(tally) bool) tally {
	t.Helper()
	var last tally
	watch := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for {
			// Subscribe before reading, so a reload that ends while the
			// tally is read is not missed.
			lctx, cancel := context.WithCancel(ctx)
			loads := cdp.Events(lctx, tg, page.LoadEventFired)
			// A read while the page reloads fails or finds no tally yet;
			// the load event brings the next try.
			if tl, err := chromedp.Evaluate[*tally](readTallyJS)(ctx, tg); err == nil && tl != nil {
				last = *tl
				if want(last) {
					cancel()
					return chromedp.Void{}, nil
				}
			}
			for _, err := range loads {
				if err != nil {
					cancel()
					return chromedp.Void{}, err
				}
				break
			}
			cancel()
			if err := ctx.Err(); err != nil {
				return chromedp.Void{}, err
			}
		}
	}
	ctx, cancel := context.WithTimeout(tab, step)
	defer cancel()
	if err := chromedp.Do(ctx, watch); err != nil {
		t.Fatalf("%s: the dashboard still shows %+v after %v: %v", what, last, step, err)
	}
	return last
}

// newestAnswerMailJS returns the address (/dev/mail/{n}) of the newest
// captured mail that holds an answer link, or false while there is none:
// the dispatcher sends in the background.
const newestAnswerMailJS = `async () => {
	const list = new DOMParser().parseFromString(await (await fetch("/dev/mail")).text(), "text/html");
	for (const a of list.querySelectorAll('td a[href^="/dev/mail/"]')) {
		const one = new DOMParser().parseFromString(await (await fetch(a.getAttribute("href"))).text(), "text/html");
		if (one.querySelector('pre a[href*="/a/"]')) return a.getAttribute("href");
	}
	return false;
}`

// TestAnswerAndDashboard goes through the reference server as people do, in
// a headless Chromium: the administrator logs in with the one-time password
// of the first start and uploads a real VXSE53 on the JMA document page,
// whose 震度3 in 宮城県中部 starts a survey of the Sendai office (the demo's
// sendai-3 rule); a recipient opens the answer link from the captured mail on a phone, answers
// 無事 and the survey's page, left open on the dashboard, shows one more
// answer at its next refresh; he changes his answer to 軽傷 from the
// thank-you page and the tally moves from one choice to the other.
// Screenshots of the answer page (phone) and of the dashboard are saved.
func TestAnswerAndDashboard(t *testing.T) {
	// Prerequisites first, before the build takes its time.
	chromiumPath(t)
	artifacts := artifactsDir(t)
	sample, _ := readQuakeSample(t)
	sample, err := filepath.Abs(sample)
	if err != nil {
		t.Fatal(err)
	}
	// The build has its own deadline: on a fresh build cache it compiles
	// SQLite and every channel adapter, which the browser steps should not
	// have to budget for.
	buildCtx, cancelBuild := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancelBuild()
	started := time.Now()
	bin := buildServer(buildCtx, t, t.TempDir())
	t.Logf("server built in %v", time.Since(started).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	started = time.Now()
	srv := startServer(ctx, t, bin)
	t.Logf("server started in %v at %s", time.Since(started).Round(time.Millisecond), srv.URL)

	admin := newBrowser(ctx, t)
	do(admin, t, "set up the administrator's tab", japanese(), chromedp.EmulateViewport(1280, 900))

	// Log in: /admin/ sends an anonymous visitor to the login form.
	load(admin, t, "open /admin/", chromedp.Navigate(srv.URL+"/admin/"))
	do(admin, t, "fill the login form",
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), srv.Email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), srv.Password))
	resp := load(admin, t, "log in", chromedp.Click(chromedp.CSS(`form[action$="login"] button[type=submit]`)))
	if !strings.HasSuffix(resp.URL, "/admin/") {
		t.Fatalf("after logging in: %s, want the survey list /admin/", resp.URL)
	}
	do(admin, t, "see the logged-in menu", chromedp.WaitVisible(chromedp.CSS(`nav a[href$="feed"]`)))

	// Upload the real VXSE53 (震度3 in 宮城県中部): the demo's sendai-3
	// rule asks the Sendai office from 震度3; quake-offices, from 震度5弱,
	// decides below-threshold.
	load(admin, t, "open the JMA document page", chromedp.Navigate(srv.URL+"/admin/feed"))
	do(admin, t, "choose the VXSE53 file", chromedp.SetUploadFiles(chromedp.CSS(`input[type=file][name=document]`), []string{sample}))
	load(admin, t, "upload the VXSE53", chromedp.Click(chromedp.CSS(`form[action=feed] button[type=submit]`)))
	outcome := run(admin, t, "read the outcome", chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(outcome, "quake-offices") || !strings.Contains(outcome, "below-threshold") {
		t.Fatalf("the outcome of %s does not show rule quake-offices deciding below-threshold:\n%s", quakeSample, outcome)
	}
	links := run(admin, t, "look for the survey started", chromedp.Nodes(chromedp.CSSAll(`a[href^="surveys/"]`), chromedp.AtLeast(0)))
	if len(links) != 1 {
		t.Fatalf("the upload of %s started %d surveys, want 1 (rule sendai-3):\n%s", quakeSample, len(links), outcome)
	}
	survey := strings.TrimPrefix(links[0].AttributeValue("href"), "surveys/")
	if !strings.Contains(outcome, "sendai-3") {
		t.Fatalf("the outcome of %s does not name rule sendai-3:\n%s", quakeSample, outcome)
	}
	t.Logf("the upload started survey %s", survey)

	// The survey list links to the survey's page.
	load(admin, t, "open the survey list", chromedp.Navigate(srv.URL+"/admin/"))
	resp = load(admin, t, "open the survey from the list", chromedp.Click(chromedp.CSS(`a[href$="surveys/`+survey+`"]`)))
	surveyURL := resp.URL
	before := readTally(admin, t, surveyURL)
	if before.Targets == 0 {
		t.Fatalf("the dashboard of survey %s says nobody was asked", survey)
	}

	// A recipient on his phone: the newest mail with an answer link.
	phoneTab, closePhone := chromedp.NewContext(admin)
	defer closePhone()
	// Open the tab on its own context: the first action of a context
	// opens its tab, bound to the context it is given, so a step's
	// shorter-lived child would take the tab with it.
	if err := chromedp.Do(phoneTab); err != nil {
		t.Fatalf("open the phone's tab: %v", err)
	}
	do(phoneTab, t, "set up the phone", phone())
	load(phoneTab, t, "open /dev/mail", chromedp.Navigate(srv.URL+"/dev/mail"))
	mail := run(phoneTab, t, "wait for a mail with an answer link",
		chromedp.PollFunction[string](newestAnswerMailJS, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(step)))
	load(phoneTab, t, "open the mail", chromedp.Navigate(srv.URL+mail))
	link := chromedp.CSS(`pre a[href*="/a/"]`)
	to := run(phoneTab, t, "read the mail", chromedp.Text(chromedp.CSS("body")))
	load(phoneTab, t, "follow the answer link", chromedp.Click(link))
	page := run(phoneTab, t, "read the answer page", chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(page, "宮城県中部") {
		t.Errorf("the answer page does not name the event (宮城県中部):\n%s", page)
	}
	do(phoneTab, t, "see the form", chromedp.WaitVisible(chromedp.CSS(`form button[type=submit]`)))
	// On a phone the page fits the screen's width: nothing to scroll
	// sideways to reach a choice or the button.
	if w := run(phoneTab, t, "measure the page", chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`)); len(w) != 2 || w[0] > w[1] || w[1] != 390 {
		t.Errorf("the answer page is %v CSS pixels wide ([page, window]); want it within the phone's 390", w)
	}
	saveScreenshot(t, artifacts, "answer-page-phone.png", run(phoneTab, t, "screenshot the answer page", chromedp.FullScreenshot(100)), 390)
	if t.Failed() {
		t.Logf("mail %s:\n%s", mail, to)
	}

	answer(phoneTab, t, "safe")
	thanks := run(phoneTab, t, "read the thank-you page", chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(thanks, "無事") {
		t.Errorf("the thank-you page does not show 無事:\n%s", thanks)
	}
	// The survey's page, still open in the administrator's tab, shows the
	// answer at its next refresh.
	after := watchTally(admin, t, "after answering 無事, want one more answered and one more 無事", func(tl tally) bool {
		return tl.Answered == before.Answered+1 && tl.Self["無事"] == before.Self["無事"]+1
	})

	// He changes his answer from the thank-you page: 無事 down, 軽傷 up,
	// the number answered unchanged.
	load(phoneTab, t, "follow 回答を変更する", chromedp.Click(chromedp.CSS(`p > a[href*="?lang="]`)))
	answer(phoneTab, t, "minor")
	changed := watchTally(admin, t, "after changing to 軽傷, want the same number answered, 無事 one down, 軽傷 one up", func(tl tally) bool {
		return tl.Answered == after.Answered && tl.Self["無事"] == after.Self["無事"]-1 && tl.Self["軽傷"] == after.Self["軽傷"]+1
	})
	t.Logf("tally of 本人: before %v, after 無事 %v, after 軽傷 %v", before.Self, after.Self, changed.Self)
	saveScreenshot(t, artifacts, "dashboard.png", run(admin, t, "screenshot the dashboard", chromedp.FullScreenshot(100)), 1280)
}
