package jma

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedCorpus adds the fixtures and, when present, the samples.
func seedCorpus(f *testing.F, feeds bool) {
	add := func(path string) {
		// Large seeds make each new input slow to minimise; 64 KB keeps all
		// but the largest sample (a 269 KB VPWW54, covered by the tests).
		b, err := os.ReadFile(path)
		if err == nil && len(b) <= 64<<10 {
			f.Add(b)
		}
	}
	pats := []string{filepath.Join("testdata", "*.xml")}
	if feeds {
		pats = []string{filepath.Join("testdata", "*.atom")}
	}
	for _, p := range pats {
		ms, _ := filepath.Glob(p)
		for _, m := range ms {
			add(m)
		}
	}
	if dir := samplesDirOptional(); dir != "" {
		ms, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		for _, m := range ms {
			if strings.HasPrefix(filepath.Base(m), "ATOM") == feeds {
				add(m)
			}
		}
	}
	f.Add([]byte(`<!DOCTYPE Report [<!ENTITY a "b">]><Report><Control><Title>&a;</Title></Control></Report>`))
	f.Add([]byte(`<Report><Body xmlns="` + NamespaceSeismology + `"><Intensity><Observation><Pref><Area><City><Condition>震度５弱以上未入電</Condition></City></Area></Pref></Observation></Intensity></Body></Report>`))
}

// FuzzParse checks that Parse and Summarize never panic, that they agree on
// success, and that the summary of a parsed report equals Summarize's.
func FuzzParse(f *testing.F) {
	seedCorpus(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, perr := Parse(data)
		s, serr := Summarize(data)
		if perr != nil || serr != nil {
			return // the two checkers may differ on what they reject; neither may panic
		}
		got := r.Summary()
		if got.Type != s.Type || got.Family != s.Family || got.MaxInt != s.MaxInt ||
			len(got.Areas) != len(s.Areas) || len(got.Tsunami) != len(s.Tsunami) || len(got.Warnings) != len(s.Warnings) {
			t.Fatalf("summary mismatch:\nparse:     %+v\nsummarize: %+v", got, s)
		}
		tr := NewTracker(nil)
		tr.Apply(r)
		tr.Apply(r)
	})
}

// FuzzParseFastVsSlow checks the fast path of Parse against encoding/xml:
// for any input, no panic; where the fast path takes the input, encoding/xml
// decodes it too, into the same raw structures; Parse and parseSlow return
// the same report or an error with the same message (checkFastVsSlow).
func FuzzParseFastVsSlow(f *testing.F) {
	seedCorpus(f, false)
	for _, tc := range fastEdgeCases() {
		if len(tc.doc) <= 64<<10 {
			f.Add([]byte(tc.doc))
		}
	}
	// Small documents the fast path takes: mutations reach the tokenizer's
	// corners sooner than in whole reports.
	body := `<Body xmlns="` + NamespaceSeismology + `">`
	f.Add([]byte(`<Report>` + body + `<Text>a&amp;b</Text></Body></Report>`))
	f.Add([]byte("<?xml version=\"1.0\"?>\r\n<Report>" + body + "<Comments><FreeFormComment>x\r\ny<!--c-->z<b/></FreeFormComment></Comments></Body></Report>"))
	f.Add([]byte(`<Report><Control><Title a='1'>震度速報</Title></Control>` + body + `<Earthquake><Hypocenter><Area><Coordinate description="&lt;">+1+2/</Coordinate></Area></Hypocenter></Earthquake></Body></Report>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastVsSlow(t, data)
	})
}

// FuzzFeed checks that ParseFeed and TypeFromURL never panic.
func FuzzFeed(f *testing.F) {
	seedCorpus(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		feed, err := ParseFeed(data)
		if err != nil {
			return
		}
		for _, e := range feed.Entries {
			TypeFromURL(e.Link)
		}
	})
}
