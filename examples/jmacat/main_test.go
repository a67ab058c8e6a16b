package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/anpikit/anpi/internal/shareddata"
	"github.com/anpikit/anpi/jma"
	"github.com/stretchr/testify/require"
)

func runLines(t *testing.T, args ...string) ([]map[string]any, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	var lines []map[string]any
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		lines = append(lines, m)
	}
	require.Len(t, lines, len(args), "one line per file")
	for i, l := range lines {
		require.Equal(t, args[i], l["file"], "files in order")
	}
	return lines, code
}

func fx(name string) string { return filepath.Join("..", "..", "jma", "testdata", name) }

func TestFixtures(t *testing.T) {
	tests := []struct {
		file string
		want map[string]any
	}{
		{fx("vxse53_event_a_s1.xml"), map[string]any{"type": "VXSE53", "title": "震源・震度に関する情報", "status": "通常", "infoType": "発表",
			"eventIDs": []any{"20240101161010"}, "serial": "1", "reportDateTime": "2024-01-01T16:24:00+09:00", "maxIntensity": "7",
			"areas": map[string]any{"390": "7", "380": "5-"}, "tsunami": map[string]any{}, "warnings": map[string]any{}}},
		{fx("vxse51_crlf_nodecl.xml"), map[string]any{"type": "VXSE51", "status": "通常", "eventIDs": []any{"20240201100000"}, "serial": "",
			"reportDateTime": "2024-02-01T10:02:00+09:00", "maxIntensity": "4", "areas": map[string]any{"999": "4"}}},
		{fx("vxse53_event_a_cancel.xml"), map[string]any{"type": "VXSE53", "infoType": "取消", "serial": "1", "maxIntensity": "", "areas": map[string]any{}}},
		{fx("vxse53_training.xml"), map[string]any{"status": "訓練"}},
		{fx("vtse41_event_t_2.xml"), map[string]any{"type": "VTSE41", "eventIDs": []any{"20240101161010", "20240101161800"}, "serial": "",
			"tsunami": map[string]any{"390": "53", "380": "51", "370": "62", "400": "71"}}},
		{fx("vpww53_pair_1.xml"), map[string]any{"type": "VPWW53", "eventIDs": []any{}, "warnings": map[string]any{
			"1720400": []any{"07:発表", "15:継続", "33:発表"}, "1720500": []any{"03:発表", "14:継続"}}}},
		{fx("vpww56_levels.xml"), map[string]any{"type": "VPWW56", "warnings": map[string]any{"1720400": []any{"39:発表"}, "1720500": []any{"49:発表"}}}},
		{fx("vpno50.xml"), map[string]any{"type": "VPNO50", "warnings": map[string]any{}}},
		{fx("vxse42_test.xml"), map[string]any{"type": "VXSE42", "status": "試験"}},
		{fx("unsupported_vfvo53.xml"), map[string]any{"type": "", "title": "降灰予報（定時）"}},
		{fx("feed_extra_long.atom"), map[string]any{"type": "feed", "entries": float64(3), "title": "長期（随時）"}},
	}
	args := make([]string, len(tests))
	for i, tc := range tests {
		args[i] = tc.file
	}
	lines, code := runLines(t, args...)
	require.Equal(t, 0, code)
	for i, tc := range tests {
		for k, v := range tc.want {
			require.Equal(t, v, lines[i][k], "%s: key %s", tc.file, k)
		}
		for _, k := range []string{"file", "type", "title", "status", "infoType", "eventIDs", "serial", "reportDateTime", "maxIntensity", "areas", "tsunami", "warnings"} {
			require.Contains(t, lines[i], k, "%s: contract key %s", tc.file, k)
		}
	}
}

func TestErrorsContinue(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.xml")
	require.NoError(t, os.WriteFile(bad, []byte("<Report><Control>"), 0o600))
	missing := filepath.Join(dir, "missing.xml")
	lines, code := runLines(t, bad, fx("vxse42_test.xml"), missing, fx("bad_maxint.xml"))
	require.Equal(t, 1, code)
	require.Contains(t, lines[0]["error"], "jma: parse")
	require.Equal(t, "VXSE42", lines[1]["type"])
	require.NotContains(t, lines[1], "error")
	require.Contains(t, lines[2]["error"], "no such file")
	require.Equal(t, `jma: parse VXSE53: Body/Intensity/Observation/MaxInt: unknown MaxInt "8"`, lines[3]["error"])
	require.Len(t, lines[0], 2, "an error line has only file and error")

	var out, errb bytes.Buffer
	require.Equal(t, 2, run(nil, &out, &errb))
	require.Contains(t, errb.String(), "usage")
}

// sampleFact is read off each sample file and its MANIFEST note.
type sampleFact struct {
	typ, status, info, serial, rdt, maxInt string
	eventIDs                               []any
}

func TestSamples(t *testing.T) {
	dir := shareddata.Dir(t, "jma-samples")
	facts := map[string]sampleFact{
		"VXSE51_201504030407_sokuhou.xml":           {"VXSE51", "通常", "発表", "", "2015-04-03T04:07:00+09:00", "3", []any{"20150403040453"}},
		"VXSE51_20210217140808_0_VXSE51_010000.xml": {"VXSE51", "通常", "発表", "", "2021-02-17T23:08:00+09:00", "3", []any{"20210217230627"}},
		"VXSE51_32-35_04_02_100831_VXSE51.xml":      {"VXSE51", "通常", "発表", "", "2010-01-25T16:18:00+09:00", "4", []any{"20100125161517"}},
		"VXSE51_32-35_10_01_220510_VXSE51.xml":      {"VXSE51", "通常", "取消", "", "2022-05-10T18:10:00+09:00", "", []any{"20220509152315"}},
		"VXSE52_201504030408_singen.xml":            {"VXSE52", "通常", "発表", "", "2015-04-03T04:08:00+09:00", "", []any{"20150403040453"}},
		"VXSE52_20210217140847_0_VXSE52_010000.xml": {"VXSE52", "通常", "発表", "", "2021-02-17T23:08:00+09:00", "", []any{"20210217230627"}},
		"VXSE52_32-35_01_02_240613_VXSE52.xml":      {"VXSE52", "訓練", "発表", "", "2009-10-01T13:48:00+09:00", "", []any{"20091001134500"}},
		"VXSE52_32-35_04_03_240613_VXSE52.xml":      {"VXSE52", "通常", "発表", "", "2010-01-25T16:18:00+09:00", "", []any{"20100125161517"}},
		"VXSE53_201503060810_jishin.xml":            {"VXSE53", "通常", "発表", "1", "2015-03-06T08:10:00+09:00", "3", []any{"20150306080609"}},
		"VXSE53_20210216071046_0_VXSE53_270000.xml": {"VXSE53", "通常", "発表", "1", "2021-02-16T16:10:00+09:00", "1", []any{"20210216160714"}},
		"VXSE53_20210217140958_0_VXSE53_010000.xml": {"VXSE53", "通常", "発表", "1", "2021-02-17T23:09:00+09:00", "3", []any{"20210217230627"}},
		"VXSE53_20230410231623_04156158_VXSE53.xml": {"VXSE53", "通常", "発表", "1", "2023-04-10T23:16:00+09:00", "", []any{"20230410221000"}},
		"VXSE53_20230411000017_05859620_VXSE53.xml": {"VXSE53", "通常", "発表", "2", "2023-04-11T00:00:00+09:00", "", []any{"20230410221000"}},
		"VXSE53_32-35_04_04_240613_VXSE53.xml":      {"VXSE53", "通常", "発表", "1", "2010-01-25T16:19:00+09:00", "4", []any{"20100125161517"}},
		"VXSE53_32-35_04_06_240613_VXSE53.xml":      {"VXSE53", "通常", "発表", "2", "2010-01-25T16:25:00+09:00", "4", []any{"20100125161517"}},
		"VXSE43_37_01_01_240613_VXSE43.xml":         {"VXSE43", "通常", "発表", "1", "2024-04-17T23:14:59+09:00", "", []any{"20240417231454"}},
		"VXSE44_36_01_01_240613_VXSE44.xml":         {"VXSE44", "通常", "発表", "1", "2024-04-17T23:14:57+09:00", "", []any{"20240417231454"}},
		"VXSE45_77_01_01_240613_VXSE45.xml":         {"VXSE45", "通常", "発表", "1", "2024-04-17T23:14:57+09:00", "", []any{"20240417231454"}},
		"VXSE45_77_01_04_240613_VXSE45.xml":         {"VXSE45", "通常", "発表", "4", "2024-04-17T23:14:59+09:00", "", []any{"20240417231454"}},
		"VTSE41_20231009064018_06274659_VTSE41.xml": {"VTSE41", "通常", "発表", "", "2023-10-09T06:40:00+09:00", "", []any{"20231009052500"}},
		"VTSE41_20231009120003_08446949_VTSE41.xml": {"VTSE41", "通常", "発表", "", "2023-10-09T12:00:00+09:00", "", []any{"20231009052500"}},
		"VTSE41_32-39_11_02_250206_VTSE41.xml":      {"VTSE41", "通常", "発表", "", "2011-03-11T14:49:00+09:00", "", []any{"20110311144640"}},
		"VTSE41_38-39_02_01_250206_VTSE41.xml":      {"VTSE41", "通常", "発表", "", "2015-11-14T05:56:00+09:00", "", []any{"20151114055157"}},
		"VTSE51_38-39_02_02_250206_VTSE51.xml":      {"VTSE51", "通常", "発表", "1", "2015-11-14T05:58:00+09:00", "", []any{"20151114055157"}},
		"VTSE52_61_11_02_250206_VTSE52.xml":         {"VTSE52", "通常", "発表", "2", "2011-03-11T14:55:00+09:00", "", []any{"20110311144640"}},
		"VPWW53_15_12_03_161130_VPWW53.xml":         {"VPWW53", "通常", "発表", "", "2016-07-15T16:03:00+09:00", "", []any{}},
		"VPWW53_15_14_01_170216_VPWW53.xml":         {"VPWW53", "通常", "発表", "", "2017-01-26T17:20:00+09:00", "", []any{}},
		"VPWW53_201504022028_keihou.xml":            {"VPWW53", "通常", "発表", "", "2015-04-02T20:28:00+09:00", "", []any{}},
		"VPWW53_202403200953_weatherAlart1-2.xml":   {"VPWW53", "通常", "発表", "", "2024-03-20T09:53:00+09:00", "", []any{}},
		"VPWW54_15_12_03_161130_VPWW54.xml":         {"VPWW54", "通常", "発表", "", "2016-07-15T16:03:00+09:00", "", []any{}},
		"VPWW54_15_14_01_170216_VPWW54.xml":         {"VPWW54", "通常", "発表", "", "2017-01-26T17:20:00+09:00", "", []any{}},
		"VPWW55_15_16_03_241226_VPWW55.xml":         {"VPWW55", "通常", "発表", "", "2020-06-22T23:00:00+09:00", "", []any{}},
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	require.NoError(t, err)
	require.Len(t, files, len(facts)+1, "a fact row for every report sample, plus the feed")
	lines, code := runLines(t, files...)
	require.Equal(t, 0, code)
	for i, path := range files {
		line := lines[i]
		base := filepath.Base(path)
		if strings.HasPrefix(base, "ATOM-") {
			require.Equal(t, "feed", line["type"])
			require.Equal(t, float64(25), line["entries"])
			continue
		}
		f, ok := facts[base]
		require.True(t, ok, "no fact row for %s", base)
		require.Equal(t, f.typ, line["type"], base)
		require.Equal(t, f.status, line["status"], base)
		require.Equal(t, f.info, line["infoType"], base)
		require.Equal(t, f.serial, line["serial"], base)
		require.Equal(t, f.rdt, line["reportDateTime"], base)
		require.Equal(t, f.maxInt, line["maxIntensity"], base)
		require.Equal(t, f.eventIDs, line["eventIDs"], base)
		crossCheck(t, path, line)
	}
	// A few facts read directly off the files.
	byBase := map[string]map[string]any{}
	for i, p := range files {
		byBase[filepath.Base(p)] = lines[i]
	}
	require.Equal(t, map[string]any{"222": "3", "251": "3"}, byBase["VXSE51_20210217140808_0_VXSE51_010000.xml"]["areas"])
	require.Equal(t, map[string]any{"320": "62", "321": "62"}, byBase["VTSE41_20231009064018_06274659_VTSE41.xml"]["tsunami"])
	require.Equal(t, []any{"43:発表"}, byBase["VPWW55_15_16_03_241226_VPWW55.xml"]["warnings"].(map[string]any)["0121400"])
	require.Equal(t, []any{"03:継続"}, byBase["VPWW55_15_16_03_241226_VPWW55.xml"]["warnings"].(map[string]any)["0151100"])
}

// crossCheck compares the jmacat line with jma.Summarize, the independent
// streaming path.
func crossCheck(t *testing.T, path string, line map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s, err := jma.Summarize(b)
	require.NoError(t, err)
	areas := map[string]any{}
	for _, a := range s.Areas {
		if a.MaxInt != jma.IntensityNone {
			areas[a.Code] = a.MaxInt.String()
		}
	}
	require.Equal(t, areas, line["areas"], path)
	ts := map[string]any{}
	for _, it := range s.Tsunami {
		ts[it.AreaCode] = string(it.Kind)
	}
	require.Equal(t, ts, line["tsunami"], path)
	ws := map[string][]string{}
	for _, w := range s.Warnings {
		if w.Level != jma.LevelCity {
			continue
		}
		for _, k := range w.Kinds {
			if k.Code != "" {
				ws[w.AreaCode] = append(ws[w.AreaCode], k.Code+":"+string(k.Status))
			}
		}
	}
	want := map[string]any{}
	for k, v := range ws {
		sort.Strings(v)
		arr := make([]any, len(v))
		for i := range v {
			arr[i] = v[i]
		}
		want[k] = arr
	}
	require.Equal(t, want, line["warnings"], path)
	require.Equal(t, s.MaxInt.String(), line["maxIntensity"], path)
}
