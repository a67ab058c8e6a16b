package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
)

// An intranet application mounts the answer pages under /anpi/ and the
// administrator pages under /admin/, each with http.StripPrefix: every link
// and redirect of the pages is relative, so any prefix works. An
// administrator logs in, reads the live tally, and a monitoring script
// reads the same tally over the API with a bearer key.
func ExampleNewAdminHandler() {
	now := time.Date(2030, 4, 1, 1, 6, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	svc, st, survey, _, err := newService(clock) // yamada, asked by an auto-send
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.GrantRole(ctx, anpi.RoleGrant{UserID: "yamada", Role: anpi.CrisisManager}); err != nil {
		fmt.Println(err)
		return
	}

	// Accounts: a password login and an API key for yamada. A server
	// persists them with json.Marshal (hashes only).
	accounts := web.NewMemAccounts(nil)
	if err := accounts.SetPassword("yamada", "yamada@corp.example", "a long passphrase"); err != nil {
		fmt.Println(err)
		return
	}
	key, _ := accounts.NewAPIKey("yamada", "monitoring")

	mux := http.NewServeMux()
	mux.Handle("/anpi/", http.StripPrefix("/anpi", web.NewAnswerHandler(svc, &web.Options{Clock: clock})))
	mux.Handle("/admin/", http.StripPrefix("/admin", web.NewAdminHandler(svc, accounts,
		&web.AdminOptions{Clock: clock, CookiePath: "/admin/"})))

	cookies := map[string]string{}
	do := func(method, target string, form url.Values) *http.Response {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req := httptest.NewRequest(method, "https://intra.example"+target, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://intra.example")
		}
		for k, v := range cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		for _, c := range w.Result().Cookies() {
			cookies[c.Name] = c.Value
		}
		return w.Result()
	}
	csrfOf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)

	res := do("GET", "/admin/", nil)
	fmt.Println("GET /admin/", res.StatusCode, res.Header.Get("Location"))
	page, _ := io.ReadAll(do("GET", "/admin/login", nil).Body)
	csrf := csrfOf.FindStringSubmatch(string(page))[1]
	res = do("POST", "/admin/login", url.Values{"csrf": {csrf}, "email": {"yamada@corp.example"}, "password": {"a long passphrase"}})
	fmt.Println("POST /admin/login", res.StatusCode, res.Header.Get("Location"))

	page, _ = io.ReadAll(do("GET", "/admin/surveys/"+string(survey), nil).Body)
	fmt.Println("tally page shows:", regexp.MustCompile(`回答済 \d+ / 対象 \d+`).FindString(string(page)))

	req := httptest.NewRequest("GET", "https://intra.example/admin/api/surveys/"+string(survey)+"/tally", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	fmt.Println("API", w.Code, strings.Contains(w.Body.String(), `"targets":1`))
	// Output:
	// GET /admin/ 303 ./login
	// POST /admin/login 303 ./
	// tally page shows: 回答済 0 / 対象 1
	// API 200 true
}
