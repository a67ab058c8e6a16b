package main

import (
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/anpikit/anpi/anpi"
)

// newHandler serves the demo's read-only API over st.
func newHandler(st anpi.Store, log *slog.Logger) http.Handler {
	indexPage := template.Must(template.New("index").Parse(indexHTML))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		surveys, err := st.ListSurveys(r.Context(), &anpi.SurveyQuery{})
		if err != nil {
			httpError(w, log, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := indexPage.Execute(w, surveys); err != nil {
			log.Error("render index", "err", err)
		}
	})
	mux.HandleFunc("GET /api/departments", func(w http.ResponseWriter, r *http.Request) {
		tree, err := st.Departments(r.Context())
		if err != nil {
			httpError(w, log, err)
			return
		}
		writeJSON(w, tree.All())
	})
	mux.HandleFunc("GET /api/users", func(w http.ResponseWriter, r *http.Request) {
		users, err := st.ListUsers(r.Context(), &anpi.UserQuery{Department: anpi.DepartmentID(r.URL.Query().Get("department"))})
		if err != nil {
			httpError(w, log, err)
			return
		}
		views := make([]*anpi.AdminUserView, 0, len(users))
		for _, u := range users {
			v, err := st.AdminUserView(r.Context(), u.ID)
			if err != nil {
				httpError(w, log, err)
				return
			}
			views = append(views, v)
		}
		writeJSON(w, views)
	})
	mux.HandleFunc("GET /api/surveys", func(w http.ResponseWriter, r *http.Request) {
		surveys, err := st.ListSurveys(r.Context(), &anpi.SurveyQuery{})
		if err != nil {
			httpError(w, log, err)
			return
		}
		writeJSON(w, surveys)
	})
	mux.HandleFunc("GET /api/surveys/{id}/tally", func(w http.ResponseWriter, r *http.Request) {
		t, err := st.Tally(r.Context(), anpi.SurveyID(r.PathValue("id")))
		if err != nil {
			httpError(w, log, err)
			return
		}
		writeJSON(w, tallyView{Tally: t, ResponseRate: t.ResponseRate(), AnswerTimes: t.AnswerTimes()})
	})
	return mux
}

// tallyView adds the derived figures to a tally.
type tallyView struct {
	*anpi.Tally
	ResponseRate float64        `json:"responseRate"`
	AnswerTimes  anpi.Quartiles `json:"answerTimes"`
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// httpError maps the error code to an HTTP status.
func httpError(w http.ResponseWriter, log *slog.Logger, err error) {
	status := http.StatusInternalServerError
	switch anpi.Code(err) {
	case anpi.NotFound:
		status = http.StatusNotFound
	case anpi.InvalidArgument:
		status = http.StatusBadRequest
	case anpi.PermissionDenied:
		status = http.StatusForbidden
	case anpi.Unavailable:
		status = http.StatusServiceUnavailable
	}
	if status == http.StatusInternalServerError {
		log.Error("request failed", "err", err)
	}
	http.Error(w, http.StatusText(status), status)
}

const indexHTML = `<!doctype html>
<html lang="ja"><meta charset="utf-8"><title>AnpiKit demo</title>
<h1>AnpiKit demo</h1>
<ul>
<li><a href="/api/departments">departments</a></li>
<li><a href="/api/users">users (administrator view)</a></li>
{{range .}}<li>{{.Title}}: <a href="/api/surveys/{{.ID}}/tally">tally</a></li>{{end}}
</ul>
</html>
`
