package rules

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/anpikit/anpi/jma"
)

const (
	benchRecipients = 1_000_000
	benchAreas      = 188  // earthquake 細分区域
	benchMunis      = 1900 // 市町村等
)

// benchUser is the naive representation: each recipient with its regions.
type benchUser struct {
	id      string
	regions []string
}

func benchArea(i int) string { return strconv.Itoa(100 + i) }

// benchDirectory spreads recipients evenly over the quake areas, each with
// one quake area and one municipality (2 recipient-regions per recipient).
func benchDirectory(n int) []benchUser {
	us := make([]benchUser, n)
	for i := range us {
		us[i] = benchUser{id: "user-" + strconv.Itoa(i), regions: []string{
			"quake:" + benchArea(i%benchAreas), "warning:" + strconv.Itoa(1000000+(i*7)%benchMunis)}}
	}
	return us
}

func buildIndex(b *testing.B, us []benchUser) *Index {
	ix := NewIndex()
	for _, u := range us {
		if err := ix.Add(u.id, u.regions...); err != nil {
			b.Fatal(err)
		}
	}
	return ix
}

// quakeUpdate is the first report of an event with areas [0, n) at 5-.
func quakeUpdate(n int) jma.Update {
	u := jma.Update{Key: "quake:通常:bench", Change: jma.ChangeNew,
		Report: &jma.Report{Family: jma.FamilyEarthquake, Type: "VXSE53", Control: jma.Control{Status: jma.StatusNormal}}}
	for i := range n {
		u.Quake = append(u.Quake, jma.AreaFact{Area: benchArea(i), Pref: "13", Intensity: jma.Intensity5Lower})
	}
	return u
}

// naiveScan is the baseline: every recipient, every region, a set lookup.
func naiveScan(us []benchUser, u jma.Update, th jma.Intensity) []string {
	matched := map[string]bool{}
	for _, f := range u.Quake {
		if f.Intensity.AtLeast(th) {
			matched["quake:"+f.Area] = true
		}
	}
	var out []string
	for _, x := range us {
		for _, r := range x.regions {
			if matched[r] {
				out = append(out, x.id)
				break
			}
		}
	}
	return out
}

// BenchmarkEvaluate measures one evaluation over 1 million recipients: the
// worst case (a great quake, 80 % matched; budget 15 ms) and a regional
// quake (≤ 5 % matched; budget 1 ms), each with the naive full scan measured
// in the same run and reported as naive-ns/op and x-faster. The -with-ids
// variants also turn the decision's ordinals into a []string of IDs, which
// the naive scan produces too.
func BenchmarkEvaluate(b *testing.B) {
	us := benchDirectory(benchRecipients)
	ix := buildIndex(b, us)
	rs := []Rule{quakeRule("q", "4")}
	type benchCase struct {
		name  string
		u     jma.Update
		ids   bool    // also materialise the recipient IDs ([]string)
		naive float64 // ns per naive scan
		want  int
	}
	worst, regional := quakeUpdate(benchAreas*80/100), quakeUpdate(benchAreas*5/100)
	cases := []*benchCase{{name: "worst-80pct", u: worst}, {name: "regional-5pct", u: regional},
		{name: "worst-80pct-with-ids", u: worst, ids: true}, {name: "regional-5pct-with-ids", u: regional, ids: true}}
	// The naive baseline is measured in the same run, on the same machine
	// state; its directory is then dropped so that neither side pays for the
	// other's heap.
	for _, c := range cases {
		const naiveRuns = 5
		start := time.Now()
		for range naiveRuns {
			c.want = len(naiveScan(us, c.u, jma.Intensity4))
		}
		c.naive = float64(time.Since(start).Nanoseconds()) / naiveRuns
	}
	us = nil
	runtime.GC()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			var got int
			for range b.N {
				ds := NewState(nil).Evaluate(c.u, rs, ix, time.Time{})
				if c.ids {
					got = len(ds[0].Recipients())
				} else {
					got = ds[0].Count()
				}
			}
			b.StopTimer()
			if got != c.want {
				b.Fatalf("evaluate reached %d, naive scan %d", got, c.want)
			}
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(c.naive, "naive-ns/op")
			b.ReportMetric(c.naive/per, "x-faster")
			b.ReportMetric(100*float64(got)/float64(benchRecipients), "matched-%")
		})
	}
}

// BenchmarkIndexMemory builds an index of 1 million recipients (2 regions
// each) and reports the heap it holds per recipient-region, measured with
// runtime.MemStats before and after building (IDs included).
func BenchmarkIndexMemory(b *testing.B) {
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ix := NewIndex()
		var region [2]string
		for i := range benchRecipients {
			region[0] = "quake:" + benchArea(i%benchAreas)
			region[1] = "warning:" + strconv.Itoa(1000000+(i*7)%benchMunis)
			if err := ix.Add("user-"+strconv.Itoa(i), region[:]...); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(2*benchRecipients), "bytes/recipient-region")
		runtime.KeepAlive(ix)
	}
}

// BenchmarkIndexAdd measures an incremental add (replace) into a large index.
func BenchmarkIndexAdd(b *testing.B) {
	us := benchDirectory(100_000)
	ix := buildIndex(b, us)
	b.ResetTimer()
	for i := range b.N {
		u := us[i%len(us)]
		if err := ix.Add(u.id, "quake:"+benchArea((i+1)%benchAreas), fmt.Sprint("warning:", 1000000+i%benchMunis)); err != nil {
			b.Fatal(err)
		}
	}
}
