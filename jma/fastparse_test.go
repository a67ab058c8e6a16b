package jma

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// deepEqualNaN is reflect.DeepEqual except that NaN equals NaN (a Report
// without a magnitude holds NaN) and times compare by instant and zone name.
func deepEqualNaN(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == reflect.TypeFor[time.Time]() {
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		return ta.Equal(tb) && ta.Location().String() == tb.Location().String()
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return deepEqualNaN(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !deepEqualNaN(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !deepEqualNaN(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if !deepEqualNaN(a.MapIndex(k), b.MapIndex(k)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

func TestDeepEqualNaN(t *testing.T) {
	nan := math.NaN()
	a := &Report{Earthquake: &Earthquake{Hypocenter: &Hypocenter{Magnitude: Magnitude{Value: nan}}}}
	b := &Report{Earthquake: &Earthquake{Hypocenter: &Hypocenter{Magnitude: Magnitude{Value: nan}}}}
	require.False(t, reflect.DeepEqual(a, b), "reflect.DeepEqual sees NaN != NaN, the reason for the helper")
	require.True(t, deepEqualNaN(reflect.ValueOf(a), reflect.ValueOf(b)))
	b.Earthquake.Hypocenter.Magnitude.Value = 7.6
	require.False(t, deepEqualNaN(reflect.ValueOf(a), reflect.ValueOf(b)))
	b.Earthquake.Hypocenter.Magnitude.Value = nan
	b.Earthquake.Hypocenter.Name = "x"
	require.False(t, deepEqualNaN(reflect.ValueOf(a), reflect.ValueOf(b)))
	c := &Report{Head: Head{EventIDs: []string{}}}
	require.False(t, deepEqualNaN(reflect.ValueOf(&Report{}), reflect.ValueOf(c)), "nil and empty slices differ, as for DeepEqual")
}

// checkFastVsSlow asserts that the fast path, when it takes data, decodes
// exactly the raw structures encoding/xml decodes, and that Parse returns
// what parseSlow returns (the same report, or an error with the same
// message). It returns the fast path's reason to give up ("" if it took the
// document).
func checkFastVsSlow(t testing.TB, data []byte) string {
	t.Helper()
	fast, why := fastDecode(data)
	slow, serr := unmarshalRaw(data)
	if why == "" {
		if serr != nil {
			t.Fatalf("fast path decoded a document encoding/xml refuses (%v)", serr)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("raw structures differ:\nfast: %+v\nslow: %+v", fast, slow)
		}
	} else if fast != nil {
		t.Fatalf("fast path gave up (%s) but returned structures", why)
	}
	got, gerr := Parse(data)
	want, werr := parseSlow(data)
	if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
		t.Fatalf("Parse error %v, parseSlow error %v", gerr, werr)
	}
	if werr == nil && !deepEqualNaN(reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Fatalf("reports differ:\nParse:     %+v\nparseSlow: %+v", got, want)
	}
	return why
}

// TestFastParseSamples runs the fast and the encoding/xml path over every
// JMA sample and fixture: the same raw structures and the same Report
// wherever the fast path takes the document, and every earthquake
// (VXSE51/52/53) and EEW sample must take it.
func TestFastParseSamples(t *testing.T) {
	dir := samplesDir(t)
	paths, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	require.NoError(t, err)
	fx, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	require.NoError(t, err)
	paths = append(paths, fx...)
	require.NotEmpty(t, paths)
	fastN, eqN := 0, 0
	var fellBack []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		name := filepath.Base(p)
		why := checkFastVsSlow(t, data)
		r, perr := Parse(data)
		eq := perr == nil && (r.Family == FamilyEarthquake || r.Family == FamilyEEW)
		if eq {
			eqN++
		}
		if why == "" {
			fastN++
			continue
		}
		fellBack = append(fellBack, fmt.Sprintf("%s: %s", name, why))
		if eq {
			t.Errorf("earthquake or EEW document %s took the encoding/xml path: %s", name, why)
		}
	}
	sort.Strings(fellBack)
	t.Logf("%d of %d documents took the fast path (%d earthquake and EEW documents); encoding/xml for:\n%s",
		fastN, len(paths), eqN, strings.Join(fellBack, "\n"))
	require.Positive(t, fastN)
}

// The hand-written documents below wrap a Body in this Control and Head.
const fastHead = `<?xml version="1.0" encoding="UTF-8"?>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/" xmlns:jmx="http://xml.kishou.go.jp/jmaxml1/">
<Control><Title>震源・震度に関する情報</Title><DateTime>2024-01-01T07:24:00Z</DateTime><Status>通常</Status><EditorialOffice>気象庁本庁</EditorialOffice><PublishingOffice>気象庁</PublishingOffice></Control>
<Head xmlns="http://xml.kishou.go.jp/jmaxml1/informationBasis1/"><Title>震源・震度情報</Title><ReportDateTime>2024-01-01T16:24:00+09:00</ReportDateTime><TargetDateTime>2024-01-01T16:24:00+09:00</TargetDateTime><EventID>20240101161010</EventID><InfoType>発表</InfoType><Serial>2</Serial><InfoKind>地震情報</InfoKind><InfoKindVersion>1.0_1</InfoKindVersion>
<Headline><Text>強い揺れ</Text><Information type="震源・震度に関する情報（細分区域）"><Item><Kind><Name>震度５強</Name></Kind><Areas codeType="地震情報／細分区域"><Area><Name>石川県能登</Name><Code>390</Code></Area></Areas></Item></Information></Headline></Head>
`

const seismoBody = `<Body xmlns="http://xml.kishou.go.jp/jmaxml1/body/seismology1/" xmlns:jmx_eb="http://xml.kishou.go.jp/jmaxml1/elementBasis1/">`

// eqDoc is a small VXSE53 whose Body content is body.
func eqDoc(body string) string {
	return fastHead + seismoBody + "\n" + body + "\n</Body>\n</Report>\n"
}

const fastObs = `<Intensity><Observation><MaxInt>5+</MaxInt><Pref><Name>石川県</Name><Code>17</Code><MaxInt>5+</MaxInt>` +
	`<Area><Name>石川県能登</Name><Code>390</Code><MaxInt>5+</MaxInt><City><Name>輪島市</Name><Code>1720400</Code><MaxInt>5+</MaxInt>` +
	`<IntensityStation><Name>輪島市鳳至町</Name><Code>1720420</Code><Int>5+</Int></IntensityStation></City></Area></Pref></Observation></Intensity>`

// TestFastParseEdgeCases checks the XML details the fast path must read as
// encoding/xml does, and the inputs it must leave to encoding/xml (fast
// false), malformed ones included: for all, Parse must equal parseSlow.
func TestFastParseEdgeCases(t *testing.T) {
	for _, tc := range fastEdgeCases() {
		t.Run(tc.name, func(t *testing.T) {
			why := checkFastVsSlow(t, []byte(tc.doc))
			if tc.fast {
				require.Empty(t, why, "the fast path must take this document")
			} else {
				require.NotEmpty(t, why, "the fast path must leave this document to encoding/xml")
			}
		})
	}
}

type fastEdgeCase struct {
	name string
	doc  string
	fast bool // whether the fast path must take the document
}

// fastEdgeCases are the documents of TestFastParseEdgeCases, also seeds of
// FuzzParseFastVsSlow.
func fastEdgeCases() []fastEdgeCase {
	return []fastEdgeCase{
		{"plain", eqDoc(fastObs), true},
		{"references", eqDoc(`<Comments><FreeFormComment>a&amp;b&lt;c&gt;d&apos;e&quot;f&#x5C0F;&#23567;&#x10FFFF;</FreeFormComment></Comments>` + fastObs), true},
		{"CRLF in text and attributes", strings.ReplaceAll(eqDoc(`<Comments><FreeFormComment>a
b
c</FreeFormComment></Comments>`+fastObs), "\n", "\r\n"), true},
		{"lone CR", eqDoc("<Comments><FreeFormComment>a\rb\r\r\nc\r</FreeFormComment></Comments>" + `<Earthquake><Hypocenter><Area><jmx_eb:Coordinate description="x` + "\r\n\ry\t" + `z">+37.5+137.3-10000/</jmx_eb:Coordinate></Area></Hypocenter></Earthquake>`), true},
		{"CR next to references", eqDoc("<Comments><FreeFormComment>\r&amp;\n&#13;\n\r&#10;</FreeFormComment></Comments>"), true},
		{"text around comments and children", eqDoc(`<Comments><FreeFormComment> 東京<!-- 注 -->都<x>skipped<y/></x>内 </FreeFormComment></Comments><Earthquake><jmx_eb:Magnitude type="Mj">7<!---->.<b>9</b>6</jmx_eb:Magnitude></Earthquake>`), true},
		{"self-closing elements", eqDoc(`<Earthquake/><Intensity><Observation><MaxInt/><Pref/><Pref><Name/><Area/></Pref></Observation></Intensity><Comments/>`), true},
		{"repeated elements", eqDoc(`<Earthquake><OriginTime>2024-01-01T16:10:00+09:00</OriginTime><OriginTime>2024-01-01T16:11:00+09:00</OriginTime>` +
			`<Hypocenter><Area><Name>a</Name><Code>1</Code></Area></Hypocenter><Hypocenter><Area><Name>b</Name></Area><Area><DetailedName>c</DetailedName></Area></Hypocenter>` +
			`<jmx_eb:Magnitude type="Mj">6</jmx_eb:Magnitude><jmx_eb:Magnitude type="Mw">7</jmx_eb:Magnitude></Earthquake><Earthquake><Condition>x</Condition></Earthquake>` +
			fastObs + `<Intensity><Observation><Pref><Name>富山県</Name><Code>16</Code><MaxInt>4</MaxInt></Pref><MaxInt>6-</MaxInt></Observation></Intensity>`), true},
		{"two Bodies", fastHead + seismoBody + fastObs + `</Body><Body xmlns="` + NamespaceSeismology + `"><Text>二つ目</Text></Body></Report>`, true},
		{"unknown elements are skipped", eqDoc(`<Unknown a="1"><Name>x</Name><Pref><MaxInt>8</MaxInt></Pref></Unknown><Earthquake><Hypocenter><Name>not Area</Name><x><Area><Name>nested too deep</Name></Area></x></Hypocenter><Area><Name>not in Hypocenter</Name></Area></Earthquake>` + fastObs), true},
		{"prefixes on elements and attributes", eqDoc(`<jmx:Earthquake><jmx_eb:Hypocenter><x:Area><y:Name>名</y:Name></x:Area></jmx_eb:Hypocenter><jmx_eb:Magnitude jmx:type="Mj" xmlns:condition="c" description="M7" type="Mw">7</jmx_eb:Magnitude></jmx:Earthquake>`), true},
		{"Body namespace from Report", strings.Replace(strings.Replace(eqDoc(fastObs), seismoBody, "<Body>", 1), `<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"`, `<Report xmlns="`+NamespaceSeismology+`"`, 1), true},
		{"Body namespace with a reference", strings.Replace(eqDoc(fastObs), "seismology1/", "seismology1&#x2F;", 1), true},
		{"last xmlns wins", strings.Replace(eqDoc(fastObs), "<Body ", `<Body xmlns="`+NamespaceMeteorology+`" `, 1), true},
		{"Body namespace not last", strings.Replace(eqDoc(fastObs), seismoBody, seismoBody[:len(seismoBody)-1]+` xmlns="`+NamespaceMeteorology+`">`, 1), false},
		{"attributes in single quotes and spaces", eqDoc(`<Earthquake><jmx_eb:Magnitude  type = 'Mj'  description='Ｍ"７"'>7.0</jmx_eb:Magnitude ></Earthquake>`), true},
		{"attribute with ]]>", eqDoc(`<Earthquake><jmx_eb:Magnitude description="]]>">7.0</jmx_eb:Magnitude></Earthquake>`), true},
		{"text before and after the root", "\n<!-- 前 -->\n \t" + eqDoc(fastObs) + "trailing <garbage & ]]> never read", true},
		{"declaration variants", strings.Replace(eqDoc(fastObs), `<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version='1.0' encoding="utf-8"  standalone="yes" ?>`, 1), true},
		{"no declaration", strings.Replace(eqDoc(fastObs), `<?xml version="1.0" encoding="UTF-8"?>`, ``, 1), true},
		{"BOM", "\ufeff" + eqDoc(fastObs), true},
		{"intensity error is the same", eqDoc(strings.Replace(fastObs, "<Int>5+</Int>", "<Int>8</Int>", 1)), true},
		{"bad time is the same", strings.Replace(eqDoc(fastObs), "2024-01-01T07:24:00Z", "yesterday", 1), true},
		{"U+FFFD, DEL and tabs", eqDoc("<Text>\ufffd\x7f\t</Text><Earthquake><jmx_eb:Magnitude description=\"\t\ufffd\x7f\">7</jmx_eb:Magnitude></Earthquake>"), true},
		{"attributes without space between them", eqDoc(`<Earthquake><jmx_eb:Magnitude type="Mj"description="M7">7</jmx_eb:Magnitude ><Condition >x</Condition ></Earthquake>`), true},
		{"EEW", strings.Replace(eqDoc(`<Earthquake><OriginTime>2024-01-01T16:10:00+09:00</OriginTime><Hypocenter><Area><Name>能登半島沖</Name></Area></Hypocenter></Earthquake>`+
			`<Intensity><Forecast><ForecastInt><From>5+</From><To>over</To></ForecastInt><ForecastLgInt><From>3</From><To>4</To></ForecastLgInt>`+
			`<Pref><Name>石川県</Name><Code>17</Code><Area><Name>石川県能登</Name><Code>390</Code><Category><Kind><Name>緊急地震速報（警報）</Name><Code>19</Code></Kind><LastKind><Code>00</Code></LastKind></Category>`+
			`<ForecastInt><From>5+</From><To>6-</To></ForecastInt><ArrivalTime>2024-01-01T16:10:20+09:00</ArrivalTime><Condition>既に主要動到達と推測</Condition></Area></Pref></Forecast></Intensity>`+
			`<NextAdvisory>この情報をもって終了します。</NextAdvisory>`), "震源・震度に関する情報", "緊急地震速報（警報）", 1), true},
		{"cancel", strings.Replace(eqDoc(`<Text>取り消します。</Text>`), "<InfoType>発表</InfoType>", "<InfoType>取消</InfoType>", 1), true},

		// Left to encoding/xml although it reads them.
		{"DOCTYPE", "<!DOCTYPE Report>" + eqDoc(fastObs), false},
		{"CDATA", eqDoc(`<Comments><FreeFormComment><![CDATA[a<b]]></FreeFormComment></Comments>`), false},
		{"encoding label utf8", strings.Replace(eqDoc(fastObs), `encoding="UTF-8"`, `encoding="utf8"`, 1), false},
		{"version without quotes around =", strings.Replace(eqDoc(fastObs), `version="1.0"`, `version = "1.0"`, 1), false},
		{"processing instruction inside", eqDoc(`<?pi x?>` + fastObs), false},
		{"stylesheet before the root", "<?xml-stylesheet href=\"a\"?>" + eqDoc(fastObs), false},
		{"non-ASCII element name", eqDoc(`<名前>x</名前>` + fastObs), false},
		{"leading colon in name", eqDoc(`<:Name>x</:Name>` + fastObs), false},
		{"prefixed Body", strings.Replace(strings.Replace(eqDoc(fastObs), "<Body ", `<b:Body xmlns:b="`+NamespaceSeismology+`" `, 1), "</Body>", "</b:Body>", 1), false},
		{"prefixed Report", strings.Replace(strings.Replace(eqDoc(fastObs), "<Report ", `<r:Report xmlns:r="x" `, 1), "</Report>", "</r:Report>", 1), false},
		{"surrogate character reference", eqDoc(`<Text>&#xD800;</Text>`), false},
		{"long character reference", eqDoc(`<Text>&#0000000065;</Text>`), false},
		{"Body in no namespace", strings.Replace(eqDoc(fastObs), seismoBody, `<Body xmlns="">`, 1), false},
		{"meteorology Body", strings.Replace(eqDoc(`<Warning type="x"/>`), "body/seismology1/", "body/meteorology1/", 1), false},
		{"no Body", strings.Replace(eqDoc(""), seismoBody+"\n\n</Body>", "", 1), false},
		{"Tsunami", eqDoc(`<Tsunami><Forecast/></Tsunami>`), false},
		{"Warning", eqDoc(`<Warning type="x"/>`), false},
		{"too large", eqDoc(`<Text>` + strings.Repeat("x", MaxDocumentSize) + `</Text>`), false},

		// Malformed: encoding/xml refuses them, and so must Parse.
		{"]]> in text", eqDoc(`<Text>a]]>b</Text>`), false},
		{"-- in comment", eqDoc(`<!-- a -- b -->` + fastObs), false},
		{"---> comment end", eqDoc(`<!-- a --->` + fastObs), false},
		{"invalid UTF-8 in text", eqDoc("<Text>\xff</Text>"), false},
		{"invalid UTF-8 in attribute", eqDoc("<Earthquake><jmx_eb:Magnitude type=\"\xc3\">7</jmx_eb:Magnitude></Earthquake>"), false},
		{"control character", eqDoc("<Text>a\x01b</Text>"), false},
		{"NUL reference", eqDoc("<Text>&#0;</Text>"), false},
		{"control character reference", eqDoc("<Text>&#1;</Text>"), false},
		{"U+FFFE in text", eqDoc("<Text>\ufffe</Text>"), false},
		{"U+FFFF in an attribute", eqDoc("<Earthquake><jmx_eb:Magnitude type=\"\uffff\">7</jmx_eb:Magnitude></Earthquake>"), false},
		{"U+FFFE reference", eqDoc(`<Text>&#xFFFE;</Text>`), false},
		{"reference past U+10FFFF", eqDoc(`<Text>&#x110000;</Text>`), false},
		{"unknown entity", eqDoc(`<Text>&nbsp;</Text>`), false},
		{"capital X in a character reference", eqDoc(`<Text>&#X41;</Text>`), false},
		{"unterminated reference", eqDoc(`<Text>a & b</Text>`), false},
		{"mismatched end tag", eqDoc(`<Text>a</Txt>`), false},
		{"unquoted attribute", eqDoc(`<Earthquake><jmx_eb:Magnitude type=Mj>7</jmx_eb:Magnitude></Earthquake>`), false},
		{"< in attribute", eqDoc(`<Earthquake><jmx_eb:Magnitude type="<">7</jmx_eb:Magnitude></Earthquake>`), false},
		{"two colons in a name", eqDoc(`<a:b:c/>`), false},
		{"end of input", eqDoc(fastObs)[:len(eqDoc(fastObs))-20], false},
		{"no root", "<?xml version=\"1.0\"?>\n", false},
		{"not a Report", `<feed xmlns="http://www.w3.org/2005/Atom"></feed>`, false},
		{"Shift_JIS", strings.Replace(eqDoc(fastObs), `encoding="UTF-8"`, `encoding="Shift_JIS"`, 1), false},
		{"version 1.1", strings.Replace(eqDoc(fastObs), `version="1.0"`, `version="1.1"`, 1), false},
	}
}

// writeFields writes, for every field of the raw struct type typ, elements
// (two for a slice) or attributes with distinct values, following the xml
// tags. skip names the element paths (from Body) left out.
func writeFields(b *strings.Builder, typ reflect.Type, path string, n *int, skip map[string]bool) {
	for i := range typ.NumField() {
		fld := typ.Field(i)
		tag, opts, _ := strings.Cut(fld.Tag.Get("xml"), ",")
		if fld.Name == "XMLName" || opts == "attr" {
			continue
		}
		if opts == "chardata" {
			*n++
			fmt.Fprintf(b, "v%d", *n)
			continue
		}
		names := strings.Split(tag, ">")
		p := path + "/" + strings.Join(names, "/")
		if skip[p] {
			continue
		}
		ft := fld.Type
		count := 1
		if ft.Kind() == reflect.Slice {
			ft, count = ft.Elem(), 2
		}
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		for range count {
			for _, nm := range names[:len(names)-1] {
				fmt.Fprintf(b, "<%s>", nm)
			}
			last := names[len(names)-1]
			b.WriteString("<" + last)
			if ft.Kind() == reflect.Struct {
				for j := range ft.NumField() {
					if name, opts, _ := strings.Cut(ft.Field(j).Tag.Get("xml"), ","); opts == "attr" {
						*n++
						fmt.Fprintf(b, ` %s="a%d"`, name, *n)
					}
				}
			}
			if last == "Body" {
				b.WriteString(` xmlns="` + NamespaceSeismology + `"`)
			}
			b.WriteString(">")
			if ft.Kind() == reflect.Struct {
				writeFields(b, ft, p, n, skip)
			} else {
				*n++
				fmt.Fprintf(b, "v%d", *n)
			}
			b.WriteString("</" + last + ">\n")
			for k := len(names) - 2; k >= 0; k-- {
				fmt.Fprintf(b, "</%s>", names[k])
			}
		}
	}
}

// TestFastParseCoversRawFields builds, from the raw structures' xml tags, a
// document with every field the fast path decodes (all but Body/Tsunami
// and Body/Warning, which make it give up) and
// checks that the fast path decodes it as encoding/xml does. A field added
// to a raw structure without teaching fastparse.go fails here.
func TestFastParseCoversRawFields(t *testing.T) {
	var b strings.Builder
	b.WriteString("<Report>\n")
	n := 0
	skip := map[string]bool{"/Body/Tsunami": true, "/Body/Warning": true}
	writeFields(&b, reflect.TypeFor[rawReport](), "", &n, skip)
	b.WriteString("</Report>\n")
	doc := b.String()
	require.Greater(t, n, 100, "every field has a value")
	require.Empty(t, checkFastVsSlow(t, []byte(doc)), doc)
	raw, _ := fastUnmarshal([]byte(doc))
	require.Len(t, raw.Body.Intensity.Observation.Pref[1].Area[1].City[1].Station, 2)
	require.Regexp(t, `^a\d+$`, raw.Head.Headline.Information[0].Type, "attributes are written and read")
	require.Regexp(t, `^a\d+$`, raw.Body.Earthquake[0].Magnitude[1].Condition)
	require.NotEmpty(t, raw.Body.Earthquake[1].Area.Coordinate[1].Value)
	require.NotEmpty(t, raw.Body.Intensity.Forecast.Pref[1].Area[1].Kind.Code)

	// Each skipped part alone makes the fast path give up.
	for p := range skip {
		others := map[string]bool{}
		for q := range skip {
			others[q] = q != p
		}
		var b strings.Builder
		b.WriteString("<Report>\n")
		writeFields(&b, reflect.TypeFor[rawReport](), "", new(int), others)
		b.WriteString("</Report>\n")
		require.NotEmpty(t, checkFastVsSlow(t, []byte(b.String())), p)
	}
}
