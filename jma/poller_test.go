package jma

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeFeedServer serves a short and a long eqvol feed and data files, counts
// every request, and honours If-Modified-Since.
type fakeFeedServer struct {
	mu        sync.Mutex
	srv       *httptest.Server
	short     []Entry // newest first
	long      []Entry
	modified  time.Time
	files     map[string][]byte
	missing   map[string]int // path -> number of 404s still to serve
	hits      map[string]int
	notMod    int
	userAgent string
}

func newFakeFeedServer(t *testing.T) *fakeFeedServer {
	f := &fakeFeedServer{files: map[string][]byte{}, missing: map[string]int{}, hits: map[string]int{},
		modified: time.Date(2024, 1, 1, 7, 0, 0, 0, time.UTC)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFeedServer) dataURL(name string) string {
	return f.srv.URL + "/developer/xml/data/" + name
}

func (f *fakeFeedServer) entry(name, title string, updated time.Time) Entry {
	typ, office, _ := TypeFromURL(name)
	return Entry{ID: f.dataURL(name), Link: f.dataURL(name), Title: title, Updated: updated, DataType: typ, Office: office}
}

func (f *fakeFeedServer) publish(e Entry, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.short = append([]Entry{e}, f.short...)
	f.modified = f.modified.Add(time.Minute)
	if body != nil {
		f.files[strings.TrimPrefix(e.Link, f.srv.URL)] = body
	}
}

func atom(title, id string, es []Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>%s</title><id>%s</id><updated>2024-01-01T16:00:00+09:00</updated>`, title, id)
	for _, e := range es {
		fmt.Fprintf(&b, `<entry><title>%s</title><id>%s</id><updated>%s</updated><author><name>気象庁</name></author><link type="application/xml" href="%s"/><content type="text">x</content></entry>`,
			e.Title, e.ID, e.Updated.UTC().Format(time.RFC3339), e.Link)
	}
	b.WriteString(`</feed>`)
	return b.String()
}

func (f *fakeFeedServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits[r.URL.Path]++
	f.userAgent = r.Header.Get("User-Agent")
	switch r.URL.Path {
	case "/developer/xml/feed/eqvol.xml":
		if ims := r.Header.Get("If-Modified-Since"); ims != "" {
			if t, err := http.ParseTime(ims); err == nil && !f.modified.After(t) {
				f.notMod++
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Header().Set("Last-Modified", f.modified.Format(http.TimeFormat))
		fmt.Fprint(w, atom("高頻度（地震火山）", f.srv.URL+"/developer/xml/feed/eqvol.xml#short_1", f.short))
	case "/developer/xml/feed/eqvol_l.xml":
		fmt.Fprint(w, atom("長期（地震火山）", f.srv.URL+"/developer/xml/feed/eqvol_l.xml#long_1", f.long))
	default:
		if n := f.missing[r.URL.Path]; n > 0 {
			f.missing[r.URL.Path] = n - 1
			http.NotFound(w, r)
			return
		}
		b, ok := f.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}
}

func (f *fakeFeedServer) hit(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

// stepClock is a fake Clock: After advances virtual time at once and calls
// onWait, so the poller runs poll after poll without sleeping.
type stepClock struct {
	mu     sync.Mutex
	now    time.Time
	waits  []time.Duration
	onWait func(n int)
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	n := len(c.waits)
	now := c.now
	c.mu.Unlock()
	if c.onWait != nil {
		c.onWait(n)
	}
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

func TestNextPoll(t *testing.T) {
	base := time.Date(2024, 1, 1, 7, 0, 0, 0, time.UTC)
	tests := []struct {
		now, want time.Time
	}{
		{base, base.Add(20 * time.Second)},
		{base.Add(19 * time.Second), base.Add(20 * time.Second)},
		{base.Add(20 * time.Second), base.Add(80 * time.Second)},
		{base.Add(59 * time.Second), base.Add(80 * time.Second)},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, NextPoll(tc.now, time.Minute, 20*time.Second), tc.now)
	}
}

func TestPoller(t *testing.T) {
	fs := newFakeFeedServer(t)
	t0 := time.Date(2024, 1, 1, 7, 0, 5, 0, time.UTC)
	old := fs.entry("20240101065000_0_VXSE53_010000.xml", "震源・震度に関する情報", t0.Add(-10*time.Minute))
	fs.long = []Entry{old}
	fs.publish(old, fixture(t, "vxse53_event_b_s1.xml"))

	a1 := fs.entry("20240101071310_0_VXSE51_010000.xml", "震度速報", t0.Add(time.Minute))
	volc := fs.entry("20240101071400_0_VFVO53_010000.xml", "降灰予報（定時）", t0.Add(2*time.Minute))
	missing := fs.entry("20240101072430_0_VXSE53_010000.xml", "震源・震度に関する情報", t0.Add(3*time.Minute))
	huge := fs.entry("20240101072500_0_VXSE52_010000.xml", "震源に関する情報", t0.Add(4*time.Minute))

	clock := &stepClock{now: t0}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock.onWait = func(n int) {
		switch n {
		case 1: // after the first poll: two new documents appear
			fs.publish(a1, fixture(t, "vxse51_event_a_1.xml"))
			fs.publish(volc, fixture(t, "unsupported_vfvo53.xml"))
		case 3: // a third: its file is not there for two polls
			fs.publish(missing, fixture(t, "vxse53_event_a_s1.xml"))
			fs.mu.Lock()
			fs.missing["/developer/xml/data/"+"20240101072430_0_VXSE53_010000.xml"] = 2
			fs.mu.Unlock()
		case 4:
			fs.publish(huge, []byte("<Report>"+strings.Repeat(" ", 20000)+"</Report>"))
		case 9:
			cancel()
		}
	}
	var got []Document
	p := NewPoller(&PollerOptions{Feeds: []string{fs.srv.URL + "/developer/xml/feed/eqvol.xml"}, Clock: clock, Client: fs.srv.Client(), MaxSize: 16384})
	err := p.Run(ctx, func(d Document) error {
		got = append(got, d)
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)

	var urls []string
	for _, d := range got {
		urls = append(urls, d.URL)
		_, perr := Parse(d.Data)
		require.NoError(t, perr)
	}
	require.Equal(t, []string{a1.Link, missing.Link}, urls, "backfilled, filtered and oversized documents are not emitted")
	require.Equal(t, "VXSE51", got[0].Type)

	path := func(e Entry) string { return strings.TrimPrefix(e.Link, fs.srv.URL) }
	require.Equal(t, 0, fs.hit(path(old)), "backfilled document never downloaded")
	require.Equal(t, 1, fs.hit(path(a1)), "downloaded exactly once across polls")
	require.Equal(t, 0, fs.hit(path(volc)), "filtered by type from the URL before download")
	require.Equal(t, 3, fs.hit(path(missing)), "two 404s, then one successful download")
	require.Equal(t, 1, fs.hit(path(huge)), "an oversized document is not fetched again")
	require.Equal(t, 1, fs.hit("/developer/xml/feed/eqvol_l.xml"), "long feed read once for backfill")
	require.Positive(t, fs.notMod, "conditional GET answered 304")
	require.Equal(t, DefaultUserAgent, fs.userAgent)
	for _, w := range clock.waits {
		require.LessOrEqual(t, w, time.Minute)
	}
	require.Equal(t, 15*time.Second, clock.waits[0], "first wait aligns to 20 s past the minute")
}

func TestPollerEmitErrorAndNoBackfill(t *testing.T) {
	fs := newFakeFeedServer(t)
	t0 := time.Date(2024, 1, 1, 7, 0, 5, 0, time.UTC)
	e := fs.entry("20240101065000_0_VXSE53_010000.xml", "震源・震度に関する情報", t0)
	fs.publish(e, fixture(t, "vxse53_event_b_s1.xml"))
	stop := errors.New("stop")
	p := NewPoller(&PollerOptions{Feeds: []string{fs.srv.URL + "/developer/xml/feed/eqvol.xml"}, NoBackfill: true,
		Clock: &stepClock{now: t0}, Client: fs.srv.Client()})
	err := p.Run(context.Background(), func(d Document) error { return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 0, fs.hit("/developer/xml/feed/eqvol_l.xml"))
}

func TestPollerBackfillFailurePrimesFromShortFeed(t *testing.T) {
	fs := newFakeFeedServer(t)
	t0 := time.Date(2024, 1, 1, 7, 0, 5, 0, time.UTC)
	e := fs.entry("20240101065000_0_VXSE53_010000.xml", "震源・震度に関する情報", t0)
	fs.publish(e, fixture(t, "vxse53_event_b_s1.xml"))
	// The long feed points elsewhere: backfill fails.
	clock := &stepClock{now: t0}
	ctx, cancel := context.WithCancel(context.Background())
	clock.onWait = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	p := NewPoller(&PollerOptions{Feeds: []string{fs.srv.URL + "/developer/xml/feed/eqvol.xml"}, Clock: clock, Client: fs.srv.Client()})
	fs.mu.Lock()
	fs.long = nil
	fs.mu.Unlock()
	srvClose := fs.srv.Config.Handler
	fs.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "_l.xml") {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		srvClose.ServeHTTP(w, r)
	})
	n := 0
	err := p.Run(ctx, func(d Document) error { n++; return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 0, n, "old documents are not emitted as new")
	require.Equal(t, 0, fs.hit("/developer/xml/data/20240101065000_0_VXSE53_010000.xml"))
}
