package anpi

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func quakeTemplate() *Template {
	return &Template{
		ID:      "quake",
		Name:    "地震",
		Subject: Text{Ja: "【安否確認】{event}", En: "[Safety check] {event}"},
		Body: Text{
			Ja: "{recipient} 様\n{areas}で震度{intensity}の地震がありました。\n次のリンクから安否を回答してください（{deadline}まで）。\n{url}",
			En: "Dear {recipient},\nAn earthquake of intensity {intensity} hit {areas}.\nPlease answer by {deadline}:\n{url}",
		},
		Short: Text{Ja: "{event}：安否を回答してください", En: "{event}: please report your safety"},
	}
}

func TestTemplateRender(t *testing.T) {
	tpl := quakeTemplate()
	require.NoError(t, tpl.Validate())
	v := Values{
		Recipient: "山田 太郎", Event: "震度6弱 石川県能登", Intensity: "6弱", Areas: "石川県能登",
		URL: "https://anpi.example.co.jp/a/3q2-abcdefghijklmnopqrstuv", Deadline: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC),
	}
	long, err := tpl.Render(Japanese, LongStyle, v)
	require.NoError(t, err)
	require.Equal(t, "【安否確認】震度6弱 石川県能登", long.Subject)
	require.Contains(t, long.Text, "山田 太郎 様\n石川県能登で震度6弱の地震がありました。")
	require.Contains(t, long.Text, "（1/1 18:00まで）", "deadline in Japan time")
	require.Equal(t, 1, strings.Count(long.Text, v.URL), "the link is not appended when the body has it")

	short, err := tpl.Render(English, ShortStyle, v)
	require.NoError(t, err)
	require.Equal(t, "震度6弱 石川県能登: please report your safety\n"+v.URL, short.Text)

	sms, err := tpl.Render(Japanese, SMSStyle, v)
	require.NoError(t, err)
	require.LessOrEqual(t, utf8.RuneCountInString(sms.Text), MaxSMSLen)
	require.True(t, strings.HasSuffix(sms.Text, " "+v.URL), "the link is never cut")
	require.True(t, strings.HasPrefix(sms.Text, "震度6弱"))

	drill, err := tpl.Render(Japanese, SMSStyle, Values{Event: "訓練地震", URL: "https://x.jp/a/t", Drill: true})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(drill.Text, "【訓練】"))
	en, err := tpl.Render(English, LongStyle, Values{Event: "drill", Drill: true})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(en.Subject, "[DRILL] "))
	require.True(t, strings.HasPrefix(en.Text, "[DRILL] "))
}

func TestRenderSMSClipsLongText(t *testing.T) {
	tpl := &Template{ID: "t", Subject: Text{Ja: strings.Repeat("長", 150)}, Body: Text{Ja: "b"}}
	url := "https://anpi.example.jp/a/abcdefghijklmnopqrstuv"
	r, err := tpl.Render(Japanese, SMSStyle, Values{URL: url})
	require.NoError(t, err)
	require.Equal(t, MaxSMSLen, utf8.RuneCountInString(r.Text))
	require.Contains(t, r.Text, "…")
	require.True(t, strings.HasSuffix(r.Text, url))

	_, err = tpl.Render(Japanese, SMSStyle, Values{URL: "https://" + strings.Repeat("x", 80)})
	require.Equal(t, FailedPrecondition, Code(err))
	_, err = tpl.Render(Japanese, "fax", Values{})
	require.Equal(t, InvalidArgument, Code(err))
}

func TestTemplateValidate(t *testing.T) {
	for _, tc := range []struct {
		change func(t *Template)
		err    string
	}{
		{func(t *Template) { t.Subject.Ja = "" }, "subject is required"},
		{func(t *Template) { t.Body.Ja = "{name}" }, "unknown placeholder {name}"},
		{func(t *Template) { t.Short.En = "{url" }, "unclosed placeholder"},
		{func(t *Template) { t.Subject.Ja = strings.Repeat("a", MaxSubjectLen+1) }, "subject longer than"},
		{func(t *Template) { t.ID = "" }, "template id is required"},
	} {
		tpl := quakeTemplate()
		tc.change(tpl)
		require.ErrorContains(t, tpl.Validate(), tc.err)
	}
	require.Equal(t, LongStyle, StyleOf(EmailChannel))
	require.Equal(t, ShortStyle, StyleOf(LINEChannel))
	require.Equal(t, SMSStyle, StyleOf(VoiceChannel))
}

func TestLegacyMessage(t *testing.T) {
	m := &LegacyMessage{
		Occurrence: "地震発生", StatusCategory: "被害確認中", StatusNote: "本社ビルの点検中です{url}",
		InstructionCategory: "自宅待機", InstructionNote: "指示があるまで出社しないでください",
		Place: "本社", OccurredAt: time.Date(2026, 3, 1, 1, 30, 0, 0, time.UTC), Sender: "総務部",
	}
	require.NoError(t, m.Validate())
	tpl := m.Template()
	require.NoError(t, tpl.Validate(), "typed braces are not placeholders")
	r, err := tpl.Render(Japanese, LongStyle, Values{Recipient: "佐藤", URL: "https://x.jp/a/t"})
	require.NoError(t, err)
	require.Equal(t, "【地震発生】安否確認", r.Subject)
	require.Contains(t, r.Text, "佐藤\n\n発生区分：地震発生\n状況：被害確認中 本社ビルの点検中です（url）\n指示：自宅待機 指示があるまで出社しないでください\n場所：本社\n発生日時：2026-03-01 10:30\n送信者：総務部\n")
	require.True(t, strings.HasSuffix(r.Text, "https://x.jp/a/t"))

	for _, tc := range []struct {
		change func(m *LegacyMessage)
		err    string
	}{
		{func(m *LegacyMessage) { m.Sender = "" }, "sender is required"},
		{func(m *LegacyMessage) { m.Occurrence = "" }, "occurrence is required"},
		{func(m *LegacyMessage) { m.StatusNote = strings.Repeat("あ", 81) }, "status note has 81 characters, limit 80"},
		{func(m *LegacyMessage) { m.InstructionNote = strings.Repeat("あ", 61) }, "instruction note has 61 characters, limit 60"},
		{func(m *LegacyMessage) { m.Place = strings.Repeat("あ", 21) }, "place has 21 characters, limit 20"},
	} {
		c := *m
		tc.change(&c)
		err := c.Validate()
		require.ErrorContains(t, err, tc.err)
		require.Equal(t, InvalidArgument, Code(err))
	}
}

func TestLegacyCatalog(t *testing.T) {
	cat := DefaultLegacyCatalog()
	m := &LegacyMessage{Occurrence: "地震発生", StatusCategory: "被害確認中", InstructionCategory: "自宅待機", Sender: "総務部"}
	require.NoError(t, cat.Check(m))
	bad := *m
	bad.StatusCategory = "復旧"
	require.ErrorContains(t, cat.Check(&bad), `status category "復旧" is not one of 地震発生's`)
	bad = *m
	bad.InstructionCategory = "待機"
	require.ErrorContains(t, cat.Check(&bad), `instruction category "待機"`)
	bad = *m
	bad.Occurrence = "火山噴火"
	require.ErrorContains(t, cat.Check(&bad), `unknown occurrence category "火山噴火"`)
	bad = *m
	bad.Sender = ""
	require.ErrorContains(t, cat.Check(&bad), "sender is required")
}

// FuzzExpand: expand fills placeholders as a strings.Replacer of them does
// (left to right, values never scanned again), whatever the text.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "{recipient}さん {url}", "{{url}}", "{foo {areas}", "{deadline}{", "}{event}{intensity}{"} {
		f.Add(s, "山田 {url}", "https://a.example/a/x")
	}
	f.Fuzz(func(t *testing.T, s, name, url string) {
		v := Values{Recipient: name, Event: "地震", Intensity: "6強", Areas: "能登 {recipient}", URL: url,
			Deadline: time.Date(2024, 1, 2, 3, 4, 0, 0, time.UTC)}
		want := strings.NewReplacer("{recipient}", v.Recipient, "{event}", v.Event, "{intensity}", v.Intensity,
			"{areas}", v.Areas, "{url}", v.URL, "{deadline}", v.Deadline.In(jst).Format("1/2 15:04")).Replace(s)
		if got := expand(s, Japanese, v); got != want {
			t.Fatalf("expand(%q) = %q, want %q", s, got, want)
		}
	})
}
