package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/internal/shareddata"
)

var example = []string{"-users", "testdata/users.csv", "-rules", "testdata/rules.json",
	"testdata/vxse51_tokyo.xml", "testdata/vxse53_tokyo.xml", "testdata/vxse51_aftershock.xml"}

func runSim(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestREADMEExample runs the README example and compares with the golden
// output (regenerate with the command in the README if the example changes).
func TestREADMEExample(t *testing.T) {
	code, out, errs := runSim(t, example...)
	require.Zero(t, code, errs)
	want, err := os.ReadFile(filepath.Join("testdata", "example.golden"))
	require.NoError(t, err)
	require.Equal(t, string(want), out)
	lines := decodeLines(t, out)
	require.Len(t, lines, 5)
	require.Equal(t, "hold", lines[2]["action"])
	require.Equal(t, "send", lines[3]["action"], "the hold is released")
	require.Equal(t, []any{"admin"}, lines[4]["recipients"], "the aftershock is suppressed to the admins")
	for _, l := range lines {
		require.Equal(t, float64(len(l["recipients"].([]any))), l["count"])
	}
	// -explain adds the skips.
	code, out, _ = runSim(t, append([]string{"-explain"}, example...)...)
	require.Zero(t, code)
	skips := 0
	for _, l := range decodeLines(t, out) {
		if l["action"] == "skip" {
			skips++
			require.Empty(t, l["recipients"])
			require.NotEmpty(t, l["reason"])
		}
	}
	require.Equal(t, 5, skips)
}

func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		if s == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &m), s)
		for _, k := range []string{"report", "rule", "action", "reason", "recipients", "count"} {
			require.Contains(t, m, k, s)
		}
		require.Len(t, m, 6, s)
		lines = append(lines, m)
	}
	return lines
}

func TestUsageAndErrors(t *testing.T) {
	code, _, errs := runSim(t)
	require.Equal(t, 2, code)
	require.Contains(t, errs, "usage: anpi-sim")

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	badRules := write("bad.json", `{"version":1,"rules":[{"id":"q","kind":"earthquake","earthquake":{"threshold":"8"}}]}`)
	code, _, errs = runSim(t, "-users", "testdata/users.csv", "-rules", badRules, "testdata/vxse51_tokyo.xml")
	require.Equal(t, 1, code)
	require.Contains(t, errs, `rules: rule "q": earthquake.threshold: unknown intensity "8"`)

	for _, c := range []struct{ csv, msg string }{
		{"name,regions\nsato,quake:350\n", "want id,regions"},
		{"id,regions\n,quake:350\n", "line 2: empty id"},
		{"id,regions\nsato,quake:350\nsato,quake:351\n", `line 3: id "sato" already on line 2`},
		{"id,regions\nsato,volcano:350\n", `line 2: rules: index: recipient "sato"`},
		{"id,regions\nsato\n", "wrong number of fields"},
	} {
		p := write("users.csv", c.csv)
		code, _, errs = runSim(t, "-users", p, "-rules", "testdata/rules.json", "testdata/vxse51_tokyo.xml")
		require.Equal(t, 1, code, c.csv)
		require.Contains(t, errs, c.msg)
	}
	// A BOM and spaces are fine.
	p := write("users.csv", "\ufeffid , regions\nsato, quake:350  warning:1310100 \n")
	code, out, errs := runSim(t, "-users", p, "-rules", "testdata/rules.json", "testdata/vxse51_tokyo.xml")
	require.Zero(t, code, errs)
	require.Contains(t, out, `"recipients":["sato"]`)

	// An unreadable or unparsable report is reported; the others still run.
	junk := write("junk.xml", "<not-jma/>")
	code, out, errs = runSim(t, "-users", "testdata/users.csv", "-rules", "testdata/rules.json", junk, filepath.Join(dir, "missing.xml"), "testdata/vxse51_tokyo.xml")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "junk.xml")
	require.Contains(t, errs, "missing.xml")
	require.Len(t, decodeLines(t, out), 1)
}

// TestSharedSamples runs anpi-sim over every real JMA document in
// ../shared/jma-samples, in name order, with rules that match anything.
func TestSharedSamples(t *testing.T) {
	dir := shareddata.Dir(t, "jma-samples")
	files, err := filepath.Glob(filepath.Join(dir, "V*.xml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	tmp := t.TempDir()
	users := "id,regions\n"
	for _, code := range []string{"100", "191", "200", "301", "350", "390", "460", "700"} {
		users += "q" + code + ",quake:" + code + " tsunami:" + code + "\n"
	}
	users += "w,warning:1310100 warning:1410000 warning:0120500\n"
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "users.csv"), []byte(users), 0o600))
	rulesJSON := `{"version":1,"rules":[
	 {"id":"q1","kind":"earthquake","earthquake":{"threshold":"1","eew":true}},
	 {"id":"q-drill","kind":"earthquake","earthquake":{"threshold":"1"},"options":{"drill":true}},
	 {"id":"q-all","kind":"earthquake","target":"nationwide","earthquake":{"threshold":"3"},"options":{"hold":"10m"}},
	 {"id":"t","kind":"tsunami","tsunami":{"kinds":["major","warning","advisory"]}},
	 {"id":"w","kind":"weather","weather":{"kinds":["special","warnings"]}}]}`
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "rules.json"), []byte(rulesJSON), 0o600))
	args := append([]string{"-explain", "-users", filepath.Join(tmp, "users.csv"), "-rules", filepath.Join(tmp, "rules.json")}, files...)
	code, out, errs := runSim(t, args...)
	require.Zero(t, code, errs)
	lines := decodeLines(t, out)
	require.NotEmpty(t, lines)
	actions := map[string]int{}
	for _, l := range lines {
		actions[l["action"].(string)]++
		// The only 訓練 sample (VXSE52) carries no intensities: nothing is sent for it.
		if strings.Contains(l["report"].(string), "32-35_01_02_240613") {
			require.Equal(t, "skip", l["action"], l)
		}
	}
	require.Positive(t, actions["send"], "%v", actions)
	require.Positive(t, actions["hold"], "%v", actions)
	require.Positive(t, actions["skip"], "%v", actions)
}
