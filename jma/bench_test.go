package jma

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nationalVXSE53 generates a national-scale VXSE53: 47 prefectures, 188
// areas, 1,880 cities and 3,760 stations, pretty-printed like JMA output.
func nationalVXSE53() []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/" xmlns:jmx="http://xml.kishou.go.jp/jmaxml1/">
<Control><Title>震源・震度に関する情報</Title><DateTime>2024-01-01T07:24:00Z</DateTime><Status>通常</Status><EditorialOffice>気象庁本庁</EditorialOffice><PublishingOffice>気象庁</PublishingOffice></Control>
<Head xmlns="http://xml.kishou.go.jp/jmaxml1/informationBasis1/"><Title>震源・震度情報</Title><ReportDateTime>2024-01-01T16:24:00+09:00</ReportDateTime><TargetDateTime>2024-01-01T16:24:00+09:00</TargetDateTime><EventID>20240101161010</EventID><InfoType>発表</InfoType><Serial>2</Serial><InfoKind>地震情報</InfoKind><InfoKindVersion>1.0_1</InfoKindVersion>
<Headline><Text>１日１６時１０分ころ、地震による強い揺れを感じました。</Text></Headline></Head>
<Body xmlns="http://xml.kishou.go.jp/jmaxml1/body/seismology1/" xmlns:jmx_eb="http://xml.kishou.go.jp/jmaxml1/elementBasis1/">
<Earthquake><OriginTime>2024-01-01T16:10:00+09:00</OriginTime><ArrivalTime>2024-01-01T16:10:00+09:00</ArrivalTime>
<Hypocenter><Area><Name>石川県能登地方</Name><Code type="震央地名">390</Code><jmx_eb:Coordinate description="北緯３７．５度　東経１３７．３度　深さ　１０ｋｍ" datum="日本測地系">+37.5+137.3-10000/</jmx_eb:Coordinate></Area></Hypocenter>
<jmx_eb:Magnitude type="Mj" description="Ｍ７．６">7.6</jmx_eb:Magnitude></Earthquake>
<Intensity><Observation>
<CodeDefine><Type xpath="Pref/Code">地震情報／都道府県等</Type><Type xpath="Pref/Area/Code">地震情報／細分区域</Type><Type xpath="Pref/Area/City/Code">気象・地震・火山情報／市町村等</Type><Type xpath="Pref/Area/City/IntensityStation/Code">震度観測点</Type></CodeDefine>
<MaxInt>7</MaxInt>
`)
	ints := []string{"1", "2", "3", "4", "5-", "5+", "6-", "6+", "7"}
	for p := 1; p <= 47; p++ {
		fmt.Fprintf(&b, "<Pref>\n<Name>県%02d</Name>\n<Code>%02d</Code>\n<MaxInt>%s</MaxInt>\n", p, p, ints[p%9])
		for a := 0; a < 4; a++ {
			fmt.Fprintf(&b, "<Area>\n<Name>地域%02d%d</Name>\n<Code>%d%d%d</Code>\n<MaxInt>%s</MaxInt>\n", p, a, 1+p/10, p%10, a, ints[(p+a)%9])
			for c := 0; c < 10; c++ {
				fmt.Fprintf(&b, "<City>\n<Name>市%02d%d%d</Name>\n<Code>%02d%d%d%02d0</Code>\n<MaxInt>%s</MaxInt>\n", p, a, c, p, a, c, c, ints[(p+a+c)%9])
				for s := 0; s < 2; s++ {
					fmt.Fprintf(&b, "<IntensityStation>\n<Name>観測点%02d%d%d%d＊</Name>\n<Code>%02d%d%d%02d%d</Code>\n<Int>%s</Int>\n<Revise>上方修正</Revise>\n</IntensityStation>\n", p, a, c, s, p, a, c, c, s, ints[(p+a+c+s)%9])
				}
				b.WriteString("</City>\n")
			}
			b.WriteString("</Area>\n")
		}
		b.WriteString("</Pref>\n")
	}
	b.WriteString(`</Observation></Intensity>
<Comments><ForecastComment codeType="固定付加文"><Text>この地震による津波の心配はありません。</Text><Code>0215</Code></ForecastComment></Comments>
</Body>
</Report>
`)
	return b.Bytes()
}

// BenchmarkSummarizeVsUnmarshal times Summarize and the naive encoding/xml
// Unmarshal into full structs on the same national VXSE53 in the same run,
// interleaved (one naive run every 8 iterations, at least 3), and reports the
// fastest run of each — the figure least disturbed by other load on a shared
// machine — and their ratio. The default ns/op and B/op mix both paths; use
// BenchmarkSummarize for the fast path alone.
func BenchmarkSummarizeVsUnmarshal(b *testing.B) {
	doc := nationalVXSE53()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	fastMin, naiveMin := time.Duration(1<<62), time.Duration(1<<62)
	naiveRuns, i := 0, 0
	for b.Loop() {
		t0 := time.Now()
		s, err := Summarize(doc)
		fastMin = min(fastMin, time.Since(t0))
		if err != nil || len(s.Areas) != 188 {
			b.Fatalf("summarize: %v", err)
		}
		if i%8 == 0 {
			t0 = time.Now()
			if _, err := unmarshalRaw(doc); err != nil {
				b.Fatal(err)
			}
			naiveMin = min(naiveMin, time.Since(t0))
			naiveRuns++
		}
		i++
	}
	for ; naiveRuns < 3; naiveRuns++ {
		t0 := time.Now()
		if _, err := unmarshalRaw(doc); err != nil {
			b.Fatal(err)
		}
		naiveMin = min(naiveMin, time.Since(t0))
	}
	b.ReportMetric(float64(naiveMin.Nanoseconds()), "naive_ns/op")
	b.ReportMetric(float64(fastMin.Nanoseconds()), "summary_ns/op")
	b.ReportMetric(float64(naiveMin)/float64(fastMin), "x_faster")
	b.ReportMetric(float64(len(doc)), "doc_bytes")
}

// BenchmarkSummarize times the streaming summary alone.
func BenchmarkSummarize(b *testing.B) {
	doc := nationalVXSE53()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Summarize(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalNaive times the encoding/xml baseline alone.
func BenchmarkUnmarshalNaive(b *testing.B) {
	doc := nationalVXSE53()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := unmarshalRaw(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse times the full typed Parse.
func BenchmarkParse(b *testing.B) {
	doc := nationalVXSE53()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseFastVsSlow times Parse, which takes the fast path on
// earthquake and EEW documents, and parseSlow (encoding/xml only) on the
// same documents in the same run, interleaved (one slow run every 4
// iterations, at least 3), and reports the fastest run of each in
// milliseconds — the figure least disturbed by other load on a shared
// machine — and their ratio. Cases: the national-scale VXSE53 and, when
// ../shared is there, the largest earthquake sample and all the earthquake
// and EEW samples (VXSE*) one after the other. The default ns/op mixes both
// paths.
func BenchmarkParseFastVsSlow(b *testing.B) {
	type bcase struct {
		name string
		docs [][]byte
	}
	cases := []bcase{{"national_VXSE53", [][]byte{nationalVXSE53()}}}
	if dir := samplesDirOptional(); dir != "" {
		paths, _ := filepath.Glob(filepath.Join(dir, "VXSE*.xml"))
		var all [][]byte
		var largest []byte
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			all = append(all, data)
			if strings.HasPrefix(filepath.Base(p), "VXSE5") && len(data) > len(largest) {
				largest = data
			}
		}
		if largest != nil {
			cases = append(cases, bcase{"largest_earthquake_sample", [][]byte{largest}}, bcase{"earthquake_and_eew_samples", all})
		}
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			size := 0
			for _, d := range c.docs {
				if _, ok := fastUnmarshal(d); !ok {
					b.Fatal("the fast path does not take a document")
				}
				size += len(d)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			run := func(parse func([]byte) (*Report, error)) time.Duration {
				t0 := time.Now()
				for _, d := range c.docs {
					if _, err := parse(d); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(t0)
			}
			fastMin, slowMin := time.Duration(1<<62), time.Duration(1<<62)
			i, slowRuns := 0, 0
			for b.Loop() {
				fastMin = min(fastMin, run(Parse))
				if i%4 == 0 {
					slowMin = min(slowMin, run(parseSlow))
					slowRuns++
				}
				i++
			}
			for ; slowRuns < 3; slowRuns++ {
				slowMin = min(slowMin, run(parseSlow))
			}
			b.ReportMetric(float64(fastMin.Nanoseconds())/1e6, "fast_ms")
			b.ReportMetric(float64(slowMin.Nanoseconds())/1e6, "slow_ms")
			b.ReportMetric(float64(slowMin)/float64(fastMin), "x_faster")
		})
	}
}
