package main

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	ttemplate "text/template"
	"time"

	"github.com/anpikit/anpi/jma"
)

// quakeArea is an area the simulator can shake: a demo quake area with its
// prefecture and one municipality (codes are JMA's).
type quakeArea struct {
	Code, Name         string
	PrefCode, PrefName string
	CityCode, CityName string
}

// simAreas are the areas of /dev/quake: the demo offices' areas.
var simAreas = []quakeArea{
	{"350", "東京都２３区", "13", "東京都", "1310100", "千代田区"},
	{"351", "東京都多摩東部", "13", "東京都", "1320300", "武蔵野市"},
	{"360", "神奈川県東部", "14", "神奈川県", "1410400", "横浜中区"},
	{"520", "大阪府北部", "27", "大阪府", "2712700", "大阪北区"},
	{"222", "宮城県中部", "04", "宮城県", "0410100", "仙台青葉区"},
}

// simIntensities are the intensities the simulator offers.
var simIntensities = []string{"3", "4", "5-", "5+", "6-", "6+", "7"}

// quakePage serves /dev/quake (development mode only): a form that makes a
// 震源・震度に関する情報 (VXSE53) for one demo area and gives it to the
// Service, as the JMA feed would. The document says in its headline that
// it is simulated.
type quakePage struct {
	s    *server
	tmpl *template.Template
}

func (q *quakePage) serveForm(w http.ResponseWriter, r *http.Request) {
	q.render(w, http.StatusOK, "", nil, nil)
}

// servePost makes the document the form asks for and hands it to the
// Service.
func (q *quakePage) servePost(w http.ResponseWriter, r *http.Request) {
	// The form is same-origin; refuse what a browser says comes from
	// elsewhere (a page on another site posting here).
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		q.render(w, http.StatusBadRequest, "bad form: "+err.Error(), nil, nil)
		return
	}
	form := simForm{Area: r.PostFormValue("area"), Intensity: r.PostFormValue("intensity"), Status: r.PostFormValue("status"),
		Event: r.PostFormValue("event")}
	doc, event, err := simulatedVXSE53(form.Area, form.Intensity, form.Status, form.Event, time.Now())
	if err != nil {
		q.render(w, http.StatusBadRequest, err.Error(), nil, nil)
		return
	}
	form.Event = event
	out, err := q.s.handleDocument(r.Context(), doc)
	if err != nil {
		q.render(w, http.StatusInternalServerError, "the Service refused the document: "+err.Error(), nil, nil)
		return
	}
	lines := []string{fmt.Sprintf("event %s: %s", out.Event, out.Change)}
	for _, e := range out.Effects {
		l := fmt.Sprintf("rule %s: %s, survey %s, %d newly asked, %d deliveries queued", e.Rule, e.Action, e.Survey, e.Recipients, e.Queued)
		if e.Note != "" {
			l += " (" + e.Note + ")"
		}
		lines = append(lines, l)
	}
	if len(out.Effects) == 0 {
		lines = append(lines, fmt.Sprintf("no rule acted (%d decisions): below the thresholds, or a report already seen", len(out.Decisions)))
	}
	q.render(w, http.StatusOK, "", lines, &form)
}

// simForm is what the form posted, kept to offer sending it again.
type simForm struct {
	Area, Intensity, Status, Event string
}

func (q *quakePage) render(w http.ResponseWriter, status int, errMsg string, result []string, last *simForm) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := q.tmpl.Execute(w, struct {
		Areas       []quakeArea
		Intensities []string
		Error       string
		Result      []string
		Last        *simForm
	}{simAreas, simIntensities, errMsg, result, last}); err != nil {
		q.s.log.Error("quake page", "err", err)
	}
}

// simulatedVXSE53 returns a 震源・震度に関する情報 in which area (a code of
// simAreas) observed intensity, with Control/Status status (通常 or 訓練),
// and its EventID. event, when set, is the EventID (14 digits, the origin
// time in JST) of an earlier simulated report, so the same report can be
// sent again (the same event, area and intensity give the same document);
// empty starts a new event at now. Every value is checked against the
// simulator's lists, so the XML needs no escaping of user input.
func simulatedVXSE53(area, intensity, status, event string, now time.Time) ([]byte, string, error) {
	i := slices.IndexFunc(simAreas, func(a quakeArea) bool { return a.Code == area })
	if i < 0 {
		return nil, "", fmt.Errorf("unknown area %q", area)
	}
	if !slices.Contains(simIntensities, intensity) {
		return nil, "", fmt.Errorf("unknown intensity %q", intensity)
	}
	if status != "通常" && status != "訓練" {
		return nil, "", fmt.Errorf("status %q: want 通常 or 訓練", status)
	}
	in, err := jma.ParseIntensity(intensity)
	if err != nil {
		return nil, "", err
	}
	jst := time.FixedZone("JST", 9*3600)
	origin := now.In(jst).Truncate(time.Second).Add(-90 * time.Second)
	if event != "" {
		if origin, err = time.ParseInLocation("20060102150405", event, jst); err != nil || len(event) != 14 {
			return nil, "", fmt.Errorf("event %q: want the 14 digits of an earlier report", event)
		}
	}
	t := origin.Add(90 * time.Second) // reported 90 s after the origin time
	a := simAreas[i]
	var b bytes.Buffer
	event = origin.Format("20060102150405")
	err = vxse53.Execute(&b, map[string]string{
		"DateTime": t.UTC().Format(time.RFC3339), "Status": status,
		"Report": t.Format(time.RFC3339), "Origin": origin.Format(time.RFC3339),
		"EventID": event,
		"Int":     intensity, "IntJa": in.Japanese(),
		"Area": a.Code, "AreaName": a.Name, "Pref": a.PrefCode, "PrefName": a.PrefName,
		"City": a.CityCode, "CityName": a.CityName, "Station": a.CityCode[:5] + "20",
	})
	return b.Bytes(), event, err
}

// vxse53 is the simulated document. Values come from fixed lists only.
var vxse53 = ttemplate.Must(ttemplate.New("vxse53").Parse(`<?xml version="1.0" encoding="UTF-8"?>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/" xmlns:jmx="http://xml.kishou.go.jp/jmaxml1/">
<Control>
<Title>震源・震度に関する情報</Title>
<DateTime>{{.DateTime}}</DateTime>
<Status>{{.Status}}</Status>
<EditorialOffice>気象庁本庁</EditorialOffice>
<PublishingOffice>気象庁</PublishingOffice>
</Control>
<Head xmlns="http://xml.kishou.go.jp/jmaxml1/informationBasis1/">
<Title>震源・震度情報</Title>
<ReportDateTime>{{.Report}}</ReportDateTime>
<TargetDateTime>{{.Report}}</TargetDateTime>
<EventID>{{.EventID}}</EventID>
<InfoType>発表</InfoType>
<Serial>1</Serial>
<InfoKind>地震情報</InfoKind>
<InfoKindVersion>1.0_1</InfoKindVersion>
<Headline>
<Text>AnpiKit 開発モードの模擬電文です。{{.AreaName}}で{{.IntJa}}を観測したものとしています。</Text>
</Headline>
</Head>
<Body xmlns="http://xml.kishou.go.jp/jmaxml1/body/seismology1/" xmlns:jmx_eb="http://xml.kishou.go.jp/jmaxml1/elementBasis1/">
<Earthquake>
<OriginTime>{{.Origin}}</OriginTime>
<ArrivalTime>{{.Origin}}</ArrivalTime>
<Hypocenter>
<Area>
<Name>{{.AreaName}}</Name>
<Code type="震央地名">{{.Area}}</Code>
</Area>
</Hypocenter>
<jmx_eb:Magnitude type="Mj" description="Ｍ６．５">6.5</jmx_eb:Magnitude>
</Earthquake>
<Intensity>
<Observation>
<MaxInt>{{.Int}}</MaxInt>
<Pref><Name>{{.PrefName}}</Name><Code>{{.Pref}}</Code><MaxInt>{{.Int}}</MaxInt>
<Area><Name>{{.AreaName}}</Name><Code>{{.Area}}</Code><MaxInt>{{.Int}}</MaxInt>
<City><Name>{{.CityName}}</Name><Code>{{.City}}</Code><MaxInt>{{.Int}}</MaxInt>
<IntensityStation><Name>{{.CityName}}</Name><Code>{{.Station}}</Code><Int>{{.Int}}</Int></IntensityStation>
</City>
</Area>
</Pref>
</Observation>
</Intensity>
</Body>
</Report>
`))

const quakeHTML = `<!doctype html>
<html lang="ja"><meta charset="utf-8"><title>Simulate an earthquake</title>
<style>body{font-family:sans-serif;margin:2em}</style>
<p><a href="/">AnpiKit</a> · <a href="/dev/mail">captured mail</a></p>
<h1>Simulate an earthquake</h1>
<p>Development mode: makes a 震源・震度に関する情報 (VXSE53) for a new event and gives it to the Service,
as the JMA feed would. The default rules ask everyone registered in the area from 震度5弱; a 訓練 document
gives a drill survey.</p>
{{if .Error}}<p style="color:#b00">{{.Error}}</p>{{end}}
{{if .Result}}<ul>{{range .Result}}<li>{{.}}</li>{{end}}</ul><p><a href="/dev/mail">see the mail</a></p>{{end}}
{{with .Last}}<form method="post" action="/dev/quake">
<input type="hidden" name="area" value="{{.Area}}"><input type="hidden" name="intensity" value="{{.Intensity}}">
<input type="hidden" name="status" value="{{.Status}}"><input type="hidden" name="event" value="{{.Event}}">
<button>send the same report again</button> (event {{.Event}}: a duplicate asks nobody)
</form>
<p>Or a new report:</p>{{end}}
<form method="post" action="/dev/quake">
<label>area <select name="area">{{range .Areas}}<option value="{{.Code}}">{{.Name}} ({{.Code}})</option>{{end}}</select></label>
<label>intensity <select name="intensity">{{range .Intensities}}<option{{if eq . "5+"}} selected{{end}}>{{.}}</option>{{end}}</select></label>
<label>status <select name="status"><option>通常</option><option>訓練</option></select></label>
<button>send the report</button>
</form>
</html>
`
