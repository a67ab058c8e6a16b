package rules

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/anpikit/anpi/jma"
	"github.com/stretchr/testify/require"
)

func TestDecodeRulesExample(t *testing.T) {
	b, err := os.ReadFile("testdata/rules.json")
	require.NoError(t, err)
	rs, err := DecodeRules(b)
	require.NoError(t, err)
	require.Len(t, rs, 4)
	require.Equal(t, jma.Intensity5Lower, rs[0].Earthquake.Threshold)
	require.Equal(t, 10*time.Minute, rs[0].Options.Hold)
	require.Equal(t, 6*time.Hour, rs[0].Options.Suppress)
	require.Equal(t, TargetNationwide, rs[1].Target)
	require.Equal(t, []TsunamiLevel{LevelMajor, LevelWarning}, rs[2].Tsunami.Kinds)
	require.True(t, rs[2].Options.Drill)
	require.Equal(t, []string{"bcp-team"}, rs[3].Groups)

	// Round trip.
	out, err := EncodeRules(rs)
	require.NoError(t, err)
	again, err := DecodeRules(out)
	require.NoError(t, err)
	require.Equal(t, rs, again)
}

func TestDecodeRulesErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name, doc string
		paths     []string
		msg       string
	}{
		{"bad threshold", `{"version":1,"rules":[{"id":"quake-tokyo","kind":"earthquake","earthquake":{"threshold":"8"}}]}`,
			[]string{"rules[0].earthquake.threshold"}, `rules: rule "quake-tokyo": earthquake.threshold: unknown intensity "8"`},
		{"missing threshold", `{"version":1,"rules":[{"id":"q","kind":"earthquake","earthquake":{}}]}`,
			[]string{"rules[0].earthquake.threshold"}, "missing intensity"},
		{"unreceived is no threshold", `{"version":1,"rules":[{"id":"q","kind":"earthquake","earthquake":{"threshold":"震度５弱以上未入電"}}]}`,
			[]string{"rules[0].earthquake.threshold"}, "unknown intensity"},
		{"bad codes", `{"version":1,"rules":[{"id":"q","kind":"earthquake","earthquake":{"threshold":"5-","areas":["35","abc"],"prefectures":["130"]}}]}`,
			[]string{"rules[0].earthquake.areas[0]", "rules[0].earthquake.areas[1]", "rules[0].earthquake.prefectures[0]"}, `invalid 細分区域 code "35"`},
		{"hold too long", `{"version":1,"rules":[{"id":"q","kind":"earthquake","earthquake":{"threshold":"5-"},"options":{"hold":"11m","suppress":"forever"}}]}`,
			[]string{"rules[0].options.suppress", "rules[0].options.hold"}, "hold 11m0s outside 0–10m"},
		{"duplicate id and kinds", `{"version":1,"rules":[{"id":"a","kind":"tsunami","tsunami":{"kinds":["huge"]}},{"id":"a","kind":"weather","weather":{"kinds":["3"],"prefectures":["1300"]}}]}`,
			[]string{"rules[0].tsunami.kinds[0]", "rules[1].weather.kinds[0]", "rules[1].weather.prefectures[0]", "rules[1].id"}, `duplicate id "a"`},
		{"kind and trigger", `{"version":1,"rules":[{"id":"a","kind":"volcano"},{"id":"b","kind":"earthquake","tsunami":{}},{"kind":"weather","weather":{}}]}`,
			[]string{"rules[0].kind", "rules[1].earthquake", "rules[1].tsunami", "rules[2].id"}, `unknown kind "volcano"`},
		{"targeting", `{"version":1,"rules":[{"id":"a","kind":"weather","weather":{},"target":"fixed"},{"id":"b","kind":"weather","weather":{},"target":"all","recipients":[""]},{"id":"c","kind":"weather","weather":{},"options":{"adminsOnly":true,"unreceived":"maybe"}}]}`,
			[]string{"rules[0].recipients", "rules[1].target", "rules[1].recipients", "rules[1].recipients[0]", "rules[2].options.adminsOnly", "rules[2].options.unreceived"}, "a fixed rule needs recipients or groups"},
		{"version", `{"version":2,"rules":[]}`, []string{"version"}, "unsupported version 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeRules([]byte(c.doc))
			require.Error(t, err)
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			require.ElementsMatch(t, c.paths, ve.Paths())
			require.Contains(t, err.Error(), c.msg)
			var fe *FieldError
			require.True(t, errors.As(err, &fe))
		})
	}
}

func TestDecodeRulesSyntax(t *testing.T) {
	for _, doc := range []string{``, `{`, `[]`, `{"version":1,"rules":[{"id":"a","kind":"earthquake","earthquake":{"threshold":5}}]}`,
		`{"version":1,"rules":[],"extra":true}`, `{"version":1,"rules":[{"id":"a","kind":"weather","weather":{"kind":["33"]}}]}`,
		`{"version":1,"rules":[]} {}`} {
		_, err := DecodeRules([]byte(doc))
		require.ErrorIs(t, err, ErrSyntax, "%q", doc)
	}
}

func TestRuleJSONMethods(t *testing.T) {
	r := quakeRule("q", "6-")
	r.Options.Hold = 90 * time.Second
	b, err := r.MarshalJSON()
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"q","kind":"earthquake","earthquake":{"threshold":"6-"},"options":{"hold":"1m30s"}}`, string(b))
	var back Rule
	require.NoError(t, back.UnmarshalJSON(b))
	require.Equal(t, r, back)
	require.Error(t, back.UnmarshalJSON([]byte(`{"id":"q","kind":"earthquake","earthquake":{"threshold":"9"}}`)))
	_, err = EncodeRules([]Rule{{ID: "x"}})
	require.Error(t, err, "EncodeRules validates")
}
