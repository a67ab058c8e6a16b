package jma

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Document is one JMA document delivered by a Source.
type Document struct {
	URL      string    // where it came from (data URL, or a push-source identifier)
	Type     string    // data type code when known before parsing (from the URL or the push header)
	Entry    *Entry    // the feed entry, for documents from a feed
	Data     []byte    // the XML bytes, at most MaxDocumentSize
	Received time.Time // when it was received (Source clock)
}

// Source delivers JMA documents until ctx is done or emit returns an error.
// Run returns ctx.Err() on cancellation and emit's error unchanged.
type Source interface {
	Run(ctx context.Context, emit func(Document) error) error
}

// Clock is the time source of a Poller; tests inject a fake.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Feed URLs of JMA's PULL service (high-frequency feeds; the long feeds end in _l.xml).
const (
	FeedEqvol   = "https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml"
	FeedExtra   = "https://www.data.jma.go.jp/developer/xml/feed/extra.xml"
	FeedRegular = "https://www.data.jma.go.jp/developer/xml/feed/regular.xml"
	FeedOther   = "https://www.data.jma.go.jp/developer/xml/feed/other.xml"
)

// DefaultUserAgent identifies the poller to JMA.
const DefaultUserAgent = "anpikit-jma/0.1 (+https://github.com/anpikit/anpi; safety-confirmation feed poller)"

// PollerOptions configures a Poller. A nil *PollerOptions means defaults.
type PollerOptions struct {
	// Feeds are the short feed URLs to poll; default FeedEqvol and FeedExtra.
	Feeds []string
	// NoBackfill disables reading each feed's long (_l) version at start. With
	// backfill on, every entry already in the long feed is recorded as seen and
	// never downloaded or emitted.
	NoBackfill bool
	// Interval between polls; default 60s. Polls are aligned to Offset past
	// each multiple of Interval (default 20s past the minute).
	Interval time.Duration
	Offset   time.Duration // offset of each poll past the Interval boundary
	// Filter chooses the entries to download, before any download; the default
	// accepts the data types this package types (see FamilyOf) and entries
	// whose type cannot be told from the URL.
	Filter func(Entry) bool
	// Client is the HTTP client; default a client with a 30 s timeout.
	Client *http.Client
	// Clock is the time source; default the system clock.
	Clock Clock
	// UserAgent is sent on every request; default DefaultUserAgent.
	UserAgent string
	// MaxSize bounds one download (document or feed); default MaxDocumentSize.
	MaxSize int64
	// MaxSeen bounds the memory of seen entry URLs; default 20000 (a long
	// feed holds up to about 9,000 entries).
	MaxSeen int
	// MaxAttempts is how many polls a not-yet-available file (404) is retried;
	// default 5.
	MaxAttempts int
	// Logger receives warnings; default discards.
	Logger *slog.Logger
}

// Poller is a Source that polls JMA's Atom feeds with conditional GETs and
// downloads each new document exactly once.
type Poller struct {
	opt     PollerOptions
	feeds   map[string]*feedState
	seen    map[string]struct{}
	order   []string // seen URLs, oldest first, for bounded memory
	pending map[string]*pendingEntry
}

type feedState struct {
	lastModified string
	etag         string
	primed       bool // entries up to now are known (backfilled)
}

type pendingEntry struct {
	entry    Entry
	attempts int
}

// NewPoller returns a Poller with the given options.
func NewPoller(opt *PollerOptions) *Poller {
	p := &Poller{feeds: map[string]*feedState{}, seen: map[string]struct{}{}, pending: map[string]*pendingEntry{}}
	if opt != nil {
		p.opt = *opt
	}
	o := &p.opt
	if len(o.Feeds) == 0 {
		o.Feeds = []string{FeedEqvol, FeedExtra}
	}
	if o.Interval <= 0 {
		o.Interval = 60 * time.Second
	}
	if o.Offset <= 0 || o.Offset >= o.Interval {
		o.Offset = 20 * time.Second % o.Interval
	}
	if o.Filter == nil {
		o.Filter = func(e Entry) bool { return e.DataType == "" || FamilyOf(e.DataType) != FamilyUnsupported }
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.MaxSize <= 0 {
		o.MaxSize = MaxDocumentSize
	}
	if o.MaxSeen <= 0 {
		o.MaxSeen = 20000
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	for _, f := range o.Feeds {
		p.feeds[f] = &feedState{}
	}
	return p
}

// NextPoll returns the first poll time strictly after now: Offset past a
// multiple of Interval (UTC).
func NextPoll(now time.Time, interval, offset time.Duration) time.Time {
	next := now.Truncate(interval).Add(offset)
	for !next.After(now) {
		next = next.Add(interval)
	}
	return next
}

// errNotModified is returned by fetch on 304.
var errNotModified = errors.New("not modified")

// errNotFound is returned by fetch on 404/410.
var errNotFound = errors.New("not found")

// Run backfills, then polls until ctx is done or emit fails.
func (p *Poller) Run(ctx context.Context, emit func(Document) error) error {
	if !p.opt.NoBackfill {
		for _, f := range p.opt.Feeds {
			if err := p.backfill(ctx, f); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				p.opt.Logger.Warn("jma: backfill failed", "feed", longFeedURL(f), "err", err)
			}
		}
	}
	for {
		if err := p.pollOnce(ctx, emit); err != nil {
			return err
		}
		now := p.opt.Clock.Now()
		wait := NextPoll(now, p.opt.Interval, p.opt.Offset).Sub(now)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.opt.Clock.After(wait):
		}
	}
}

func longFeedURL(short string) string {
	if strings.HasSuffix(short, "_l.xml") {
		return short
	}
	return strings.TrimSuffix(short, ".xml") + "_l.xml"
}

func (p *Poller) backfill(ctx context.Context, feedURL string) error {
	body, _, err := p.fetch(ctx, longFeedURL(feedURL), nil)
	if err != nil {
		return err
	}
	f, err := ParseFeed(body)
	if err != nil {
		return err
	}
	for _, e := range f.Entries {
		p.markSeen(entryKey(e))
	}
	p.feeds[feedURL].primed = true
	return nil
}

func entryKey(e Entry) string {
	if e.Link != "" {
		return e.Link
	}
	return e.ID
}

func (p *Poller) markSeen(k string) {
	if _, ok := p.seen[k]; ok || k == "" {
		return
	}
	p.seen[k] = struct{}{}
	p.order = append(p.order, k)
	if over := len(p.order) - p.opt.MaxSeen; over > 0 {
		for _, old := range p.order[:over] {
			delete(p.seen, old)
		}
		p.order = append([]string(nil), p.order[over:]...)
	}
}

// pollOnce polls every feed once and handles new and pending entries. It
// returns only ctx or emit errors; fetch errors are logged and retried on
// the next poll.
func (p *Poller) pollOnce(ctx context.Context, emit func(Document) error) error {
	var fresh []Entry
	for _, fu := range p.opt.Feeds {
		st := p.feeds[fu]
		body, hdr, err := p.fetch(ctx, fu, st)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errNotModified) {
			continue
		}
		if err != nil {
			p.opt.Logger.Warn("jma: feed fetch failed", "feed", fu, "err", err)
			continue
		}
		f, err := ParseFeed(body)
		if err != nil {
			p.opt.Logger.Warn("jma: feed parse failed", "feed", fu, "err", err)
			continue
		}
		st.lastModified, st.etag = hdr.Get("Last-Modified"), hdr.Get("ETag")
		if !st.primed && !p.opt.NoBackfill {
			// The long feed could not be read: the first short feed stands in
			// for it, so old documents are not emitted as new.
			for _, e := range f.Entries {
				p.markSeen(entryKey(e))
			}
			st.primed = true
			continue
		}
		fresh = append(fresh, f.Entries...)
	}
	// Pending (not yet available) entries first, then new ones, oldest first.
	var todo []Entry
	for _, pe := range p.pending {
		todo = append(todo, pe.entry)
	}
	for _, e := range fresh {
		k := entryKey(e)
		if _, ok := p.seen[k]; ok {
			continue
		}
		if _, ok := p.pending[k]; ok {
			continue
		}
		if !p.opt.Filter(e) {
			p.markSeen(k)
			continue
		}
		todo = append(todo, e)
	}
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].Updated.Before(todo[j].Updated) })
	queued := map[string]bool{}
	for _, e := range todo {
		k := entryKey(e)
		if queued[k] {
			continue
		}
		queued[k] = true
		body, _, err := p.fetch(ctx, e.Link, nil)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errNotFound) {
			pe := p.pending[k]
			if pe == nil {
				pe = &pendingEntry{entry: e}
				p.pending[k] = pe
			}
			pe.attempts++
			if pe.attempts >= p.opt.MaxAttempts {
				p.opt.Logger.Warn("jma: giving up on missing document", "url", e.Link, "attempts", pe.attempts)
				delete(p.pending, k)
				p.markSeen(k)
			}
			continue
		}
		delete(p.pending, k)
		// Whatever happened, this URL is never downloaded again (JMA blocks
		// clients that re-fetch).
		p.markSeen(k)
		if err != nil {
			p.opt.Logger.Warn("jma: document fetch failed", "url", e.Link, "err", err)
			continue
		}
		entry := e
		if err := emit(Document{URL: e.Link, Type: e.DataType, Entry: &entry, Data: body, Received: p.opt.Clock.Now()}); err != nil {
			return err
		}
	}
	return nil
}

// fetch GETs u, conditionally when st is given, reading at most MaxSize bytes.
func (p *Poller) fetch(ctx context.Context, u string, st *feedState) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("jma: request %s: %w", u, err)
	}
	req.Header.Set("User-Agent", p.opt.UserAgent)
	if st != nil {
		if st.lastModified != "" {
			req.Header.Set("If-Modified-Since", st.lastModified)
		}
		if st.etag != "" {
			req.Header.Set("If-None-Match", st.etag)
		}
	}
	resp, err := p.opt.Client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("jma: get %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return nil, resp.Header, errNotModified
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, resp.Header, fmt.Errorf("jma: get %s: %w", u, errNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, resp.Header, fmt.Errorf("jma: get %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.opt.MaxSize+1))
	if err != nil {
		return nil, resp.Header, fmt.Errorf("jma: read %s: %w", u, err)
	}
	if int64(len(body)) > p.opt.MaxSize {
		return nil, resp.Header, fmt.Errorf("jma: get %s: %w (over %d bytes)", u, ErrTooLarge, p.opt.MaxSize)
	}
	return body, resp.Header, nil
}
