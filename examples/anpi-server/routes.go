package main

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/anpikit/anpi/anpi/web"
)

// routes returns the server's handler:
//
//	/a/…, /c/…         answer and contact-check pages (anpi/web)
//	/admin/…           the administrators' pages and API (anpi/web), under /admin
//	/healthz /readyz   liveness; readiness (store reachable, migrations done)
//	/metrics           Prometheus text format
//	/webhooks/line     LINE's webhook, with -line-secret
//	/webhooks/twilio/sms, /webhooks/twilio/voice   Twilio's callbacks, with Twilio
//	/dev/mail, /dev/quake   development mode only
//	/                  an index of the above
//
// It fails only if a webhook handler refuses its configuration.
func (s *server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	if err := s.mountWebhooks(mux); err != nil {
		return nil, err
	}
	answers := countAnswers(web.NewAnswerHandler(s.svc, &web.Options{Logger: s.log, CSRFKey: s.answerCSRF}), s.counters)
	mux.Handle("/a/", answers)
	mux.Handle("/c/", answers)
	s.mountAdmin(mux)

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", metricsHandler(s.st, s.disp, s.counters, s.channels))
	if s.cfg.Dev && s.sink != nil {
		mp := newMailPage(s.sink, s.log)
		mux.HandleFunc("GET /dev/mail", mp.serveList)
		mux.HandleFunc("GET /dev/mail/{n}", mp.serveOne)
		q := &quakePage{s: s, tmpl: template.Must(template.New("quake").Parse(quakeHTML))}
		mux.HandleFunc("GET /dev/quake", q.serveForm)
		mux.HandleFunc("POST /dev/quake", q.servePost)
	}
	index := template.Must(template.New("index").Parse(indexHTML))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := index.Execute(w, struct {
			Dev      bool
			Channels string
		}{s.cfg.Dev && s.sink != nil, channelList(s.channels)}); err != nil {
			s.log.Error("index page", "err", err)
		}
	})
	return mux, nil
}

// readyz answers 200 when the server may take traffic: the store was
// opened (its migrations ran), the demo is seeded, the dispatcher runs,
// and the store answers a read now.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.ready.Load() {
		http.Error(w, "starting or stopping", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.st.CountUsers(ctx); err != nil {
		s.log.Warn("readyz: store unreachable", "err", err)
		http.Error(w, "store unreachable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

const indexHTML = `<!doctype html>
<html lang="ja"><meta charset="utf-8"><title>AnpiKit</title>
<style>body{font-family:sans-serif;margin:2em}</style>
<h1>AnpiKit reference server</h1>
<ul>
<li><a href="/admin/">administration</a></li>
{{if .Dev}}<li><a href="/dev/mail">captured mail</a> (development mode)</li>
<li><a href="/dev/quake">simulate an earthquake</a> (development mode)</li>{{end}}
<li><a href="/metrics">metrics</a>, <a href="/healthz">healthz</a>, <a href="/readyz">readyz</a></li>
</ul>
<p>Channels: {{.Channels}}</p>
</html>
`
