package jma

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"time"
)

// Feed is a parsed JMA Atom feed (eqvol, extra, regular, other and their
// _l long versions).
type Feed struct {
	Title    string    // e.g. 高頻度（地震火山）
	Subtitle string    // e.g. JMAXML publishing feed
	ID       string    // feed id, e.g. …/eqvol.xml#short_1637708469
	Updated  time.Time // feed updated time (JST in JMA feeds)
	Name     string    // eqvol, extra, regular or other ("" when unknown)
	Long     bool      // the long (長期) feed
	Entries  []Entry   // entries as listed (newest first)
}

// Entry is one feed entry. DataType and Office are taken from the data URL
// when it has the current form …/data/<yyyymmddhhmmss>_<n>_<TYPE>_<office>.xml;
// they are empty for the legacy urn:uuid form.
type Entry struct {
	ID       string    // entry id: the data URL, or urn:uuid:… in the legacy form
	Title    string    // Control/Title
	Updated  time.Time // Control/DateTime of the document (UTC)
	Author   string    // publishing office
	Link     string    // data URL
	Content  string    // 【Head/Title】Headline/Text
	DataType string    // e.g. "VXSE53"
	Office   string    // e.g. "010000"
}

type rawFeed struct {
	XMLName  xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	Title    string   `xml:"title"`
	Subtitle string   `xml:"subtitle"`
	ID       string   `xml:"id"`
	Updated  string   `xml:"updated"`
	Entries  []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Author  string `xml:"author>name"`
		Links   []struct {
			Href string `xml:"href,attr"`
			Rel  string `xml:"rel,attr"`
		} `xml:"link"`
		Content string `xml:"content"`
	} `xml:"entry"`
}

// ParseFeed parses a JMA Atom feed. Inputs over MaxDocumentSize are refused.
func ParseFeed(data []byte) (*Feed, error) {
	if len(data) > MaxDocumentSize {
		return nil, &ParseError{Type: "feed", Msg: fmt.Sprintf("%d bytes exceed the %d byte limit", len(data), MaxDocumentSize), Err: ErrTooLarge}
	}
	var raw rawFeed
	if err := newDecoder(data).Decode(&raw); err != nil {
		if err == io.EOF {
			return nil, &ParseError{Type: "feed", Msg: "no root element", Err: ErrSyntax}
		}
		if strings.Contains(err.Error(), "expected element type") {
			return nil, &ParseError{Type: "feed", Msg: err.Error(), Err: ErrNotReport}
		}
		return nil, &ParseError{Type: "feed", Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrSyntax, err)}
	}
	f := &Feed{Title: strings.TrimSpace(raw.Title), Subtitle: strings.TrimSpace(raw.Subtitle), ID: strings.TrimSpace(raw.ID)}
	var err error
	if f.Updated, err = feedTime(raw.Updated); err != nil {
		return nil, &ParseError{Type: "feed", Path: "feed/updated", Msg: err.Error(), Err: ErrInvalidValue}
	}
	f.Name, f.Long = feedName(f.ID, f.Title)
	for i, e := range raw.Entries {
		en := Entry{ID: strings.TrimSpace(e.ID), Title: strings.TrimSpace(e.Title), Author: strings.TrimSpace(e.Author), Content: strings.TrimSpace(e.Content)}
		if en.Updated, err = feedTime(e.Updated); err != nil {
			return nil, &ParseError{Type: "feed", Path: fmt.Sprintf("feed/entry[%d]/updated", i), Msg: err.Error(), Err: ErrInvalidValue}
		}
		for _, l := range e.Links {
			if l.Rel == "" || l.Rel == "alternate" {
				en.Link = strings.TrimSpace(l.Href)
				break
			}
		}
		if en.Link == "" && strings.HasPrefix(en.ID, "http") {
			en.Link = en.ID
		}
		en.DataType, en.Office, _ = TypeFromURL(en.Link)
		f.Entries = append(f.Entries, en)
	}
	return f, nil
}

func feedTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	return t, nil
}

// feedName tells the feeds apart by the id fragment (#short_/#long_) and file
// name, falling back to the title (the long extra feed's self link names
// extra.xml).
func feedName(id, title string) (string, bool) {
	long := strings.Contains(id, "#long_")
	base := id
	if i := strings.IndexByte(base, '#'); i >= 0 {
		base = base[:i]
	}
	name := strings.TrimSuffix(path.Base(base), ".xml")
	if strings.HasSuffix(name, "_l") {
		name, long = strings.TrimSuffix(name, "_l"), true
	}
	switch name {
	case "eqvol", "extra", "regular", "other":
		return name, long
	}
	if strings.HasPrefix(title, "長期") {
		long = true
	}
	switch {
	case strings.Contains(title, "地震火山"):
		return "eqvol", long
	case strings.Contains(title, "随時"):
		return "extra", long
	case strings.Contains(title, "定時"):
		return "regular", long
	case strings.Contains(title, "その他"):
		return "other", long
	}
	return "", long
}

// TypeFromURL extracts the data type code and office code from a JMA data
// URL such as https://www.data.jma.go.jp/developer/xml/data/20211123230030_0_VFVO53_010000.xml,
// so callers can filter before downloading. ok is false for other forms
// (e.g. the legacy …/data/<uuid>.xml).
func TypeFromURL(u string) (typ, office string, ok bool) {
	p := u
	if pu, err := url.Parse(u); err == nil && pu.Path != "" {
		p = pu.Path
	}
	name := strings.TrimSuffix(path.Base(p), ".xml")
	parts := strings.Split(name, "_")
	if len(parts) != 4 || len(parts[0]) != 14 || !isUpperAlnum(parts[2]) || len(parts[2]) < 4 {
		return "", "", false
	}
	return parts[2], parts[3], true
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// IsFeed reports whether data's root element is an Atom feed.
func IsFeed(data []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.RawToken()
		if err != nil {
			return false
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local == "feed"
		}
	}
}
