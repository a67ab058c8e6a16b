package main

import (
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	smtpsink "github.com/anpikit/anpi/internal/fake/smtp"
)

// mailPage serves /dev/mail (development mode only): the mails the
// in-process SMTP sink captured, newest first, and /dev/mail/{n}, one mail
// with its links clickable, so the answer link can be followed.
type mailPage struct {
	sink *smtpsink.Server
	log  *slog.Logger
	list *template.Template
	one  *template.Template
}

// newMailPage returns the pages of sink's mail.
func newMailPage(sink *smtpsink.Server, log *slog.Logger) *mailPage {
	return &mailPage{
		sink: sink,
		log:  log,
		list: template.Must(template.New("list").Parse(mailListHTML)),
		one:  template.Must(template.New("one").Parse(mailOneHTML)),
	}
}

// mailRow is one line of the list.
type mailRow struct {
	N       int // 1-based, in arrival order: the mail's address /dev/mail/{n}
	Date    string
	To      string
	Subject string
}

// serveList serves /dev/mail: the latest 500 mails, newest first.
func (p *mailPage) serveList(w http.ResponseWriter, r *http.Request) {
	msgs := p.sink.Messages()
	rows := make([]mailRow, 0, len(msgs))
	for i := len(msgs) - 1; i >= 0 && len(rows) < 500; i-- {
		m := msgs[i]
		rows = append(rows, mailRow{N: i + 1, Date: m.Header.Get("Date"), To: strings.Join(m.To, ", "), Subject: m.Subject})
	}
	p.render(w, p.list, struct {
		Total int
		Rows  []mailRow
	}{len(msgs), rows})
}

// linkRE finds the links of a mail's text.
var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// textPart is a piece of a mail's text: plain text, or a link.
type textPart struct {
	Text string
	Link bool
}

// serveOne serves /dev/mail/{n}: mail n with its links clickable.
func (p *mailPage) serveOne(w http.ResponseWriter, r *http.Request) {
	msgs := p.sink.Messages()
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 || n > len(msgs) {
		http.NotFound(w, r)
		return
	}
	m := msgs[n-1]
	var parts []textPart
	text := m.Text
	for _, loc := range linkRE.FindAllStringIndex(text, -1) {
		parts = append(parts, textPart{Text: text[:loc[0]]}, textPart{Text: text[loc[0]:loc[1]], Link: true})
		text = text[loc[1]:]
	}
	parts = append(parts, textPart{Text: text})
	p.render(w, p.one, struct {
		N                 int
		From, To, Subject string
		Date              string
		Parts             []textPart
		DecodeErr         error
		Raw               string
	}{n, m.From, strings.Join(m.To, ", "), m.Subject, m.Header.Get("Date"), parts, m.DecodeErr, string(m.Raw)})
}

func (p *mailPage) render(w http.ResponseWriter, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err := t.Execute(w, data); err != nil {
		p.log.Debug("dev mail page", "err", err) // the client went away
	}
}

const mailListHTML = `<!doctype html>
<html lang="ja"><meta charset="utf-8"><title>Captured mail</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .6em;text-align:left}tr:nth-child(even){background:#f4f4f4}</style>
<h1>Captured mail ({{.Total}})</h1>
<p>Development mode: every mail the server sends lands here instead of leaving the machine. Newest first.</p>
<table><tr><th>#</th><th>date</th><th>to</th><th>subject</th></tr>
{{range .Rows}}<tr><td>{{.N}}</td><td>{{.Date}}</td><td>{{.To}}</td><td><a href="/dev/mail/{{.N}}">{{.Subject}}</a></td></tr>
{{else}}<tr><td colspan="4">No mail yet.</td></tr>{{end}}
</table>
</html>
`

const mailOneHTML = `<!doctype html>
<html lang="ja"><meta charset="utf-8"><title>{{.Subject}}</title>
<style>body{font-family:sans-serif;margin:2em}pre{white-space:pre-wrap;background:#f8f8f8;padding:1em}</style>
<p><a href="/dev/mail">← all mail</a></p>
<h1>{{.Subject}}</h1>
<p>From: {{.From}}<br>To: {{.To}}<br>Date: {{.Date}}</p>
{{if .DecodeErr}}<p>Could not decode: {{.DecodeErr}}</p><pre>{{.Raw}}</pre>{{else}}
<pre>{{range .Parts}}{{if .Link}}<a href="{{.Text}}" rel="noreferrer">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>{{end}}
</html>
`
