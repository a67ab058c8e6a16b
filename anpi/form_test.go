package anpi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultFormIsValidAndBilingual(t *testing.T) {
	f := DefaultForm()
	require.NoError(t, f.Validate())
	require.Equal(t, []string{"self", "family", "home", "work", "message"}, func() []string {
		var ids []string
		for _, q := range f.Questions {
			ids = append(ids, q.ID)
		}
		return ids
	}())
	self := f.Question(QuestionSelf)
	require.True(t, self.Required)
	require.Equal(t, "無事", self.Choices[0].Label.In(Japanese))
	require.Equal(t, "Safe", self.Choices[0].Label.In(English))
	require.Equal(t, "全壊", f.Question(QuestionHome).Choices[2].Label.Ja)
	require.Equal(t, "未定", f.Question(QuestionWork).Choices[2].Label.Ja)
	require.Nil(t, f.Question("nope"))
	// Each call is a new copy.
	f.Questions[0].Label.Ja = "changed"
	require.Equal(t, "あなたの状況", DefaultForm().Questions[0].Label.Ja)
}

func TestValidateAnswers(t *testing.T) {
	f := DefaultForm()
	require.NoError(t, f.ValidateAnswers([]Answer{{QuestionID: "self", Choices: []string{"safe"}}}))
	require.NoError(t, f.ValidateAnswers([]Answer{
		{QuestionID: "self", Choices: []string{"minor"}},
		{QuestionID: "family", Choices: []string{"all_safe"}},
		{QuestionID: "message", Text: "駅で待機しています"},
	}))
	for _, tc := range []struct {
		name    string
		answers []Answer
		err     string
	}{
		{"missing required", nil, `answer "self": required`},
		{"required left empty", []Answer{{QuestionID: "self"}}, `answer "self": required`},
		{"unknown question", []Answer{{QuestionID: "self", Choices: []string{"safe"}}, {QuestionID: "pet", Choices: []string{"cat"}}}, `answer "pet": no such question`},
		{"unknown choice", []Answer{{QuestionID: "self", Choices: []string{"fine"}}}, `answer "self": unknown choice "fine"`},
		{"two choices for single", []Answer{{QuestionID: "self", Choices: []string{"safe", "minor"}}}, `answer "self": choose one option`},
		{"answered twice", []Answer{{QuestionID: "self", Choices: []string{"safe"}}, {QuestionID: "self", Choices: []string{"safe"}}}, "answered twice"},
		{"text on choice", []Answer{{QuestionID: "self", Choices: []string{"safe"}, Text: "x"}}, "takes no text"},
		{"choices on text", []Answer{{QuestionID: "self", Choices: []string{"safe"}}, {QuestionID: "message", Choices: []string{"a"}}}, "takes no choices"},
		{"text too long", []Answer{{QuestionID: "self", Choices: []string{"safe"}}, {QuestionID: "message", Text: strings.Repeat("あ", DefaultMaxTextLen+1)}}, `answer "message": text has 401 characters`},
		{"bad utf8", []Answer{{QuestionID: "self", Choices: []string{"safe"}}, {QuestionID: "message", Text: "\xff"}}, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.ValidateAnswers(tc.answers)
			require.ErrorContains(t, err, tc.err)
			require.Equal(t, InvalidArgument, Code(err))
		})
	}
}

func TestMultipleChoiceAndFormValidation(t *testing.T) {
	f := &Form{ID: "f", Name: Text{Ja: "f"}, Questions: []Question{{ID: "need", Type: MultipleChoice, Label: Text{Ja: "必要なもの"}, Choices: []Choice{
		{Code: "water", Label: Text{Ja: "水"}}, {Code: "food", Label: Text{Ja: "食料"}}, {Code: "meds", Label: Text{Ja: "薬"}},
	}}}}
	require.NoError(t, f.Validate())
	require.NoError(t, f.ValidateAnswers([]Answer{{QuestionID: "need", Choices: []string{"water", "meds"}}}))
	require.ErrorContains(t, f.ValidateAnswers([]Answer{{QuestionID: "need", Choices: []string{"water", "water"}}}), "given twice")

	bad := []struct {
		change func(f *Form)
		err    string
	}{
		{func(f *Form) { f.Questions = nil }, "want 1 to 20 questions"},
		{func(f *Form) { f.Questions[0].Type = "slider" }, `unknown type "slider"`},
		{func(f *Form) { f.Questions[0].Choices = f.Questions[0].Choices[:1] }, "want 2 to 20 choices"},
		{func(f *Form) { f.Questions[0].Choices[1].Code = "water" }, `choice "water" listed twice`},
		{func(f *Form) { f.Questions[0].Label.Ja = "" }, "label is required"},
		{func(f *Form) { f.Questions = append(f.Questions, f.Questions[0]) }, `question "need" listed twice`},
		{func(f *Form) { f.Questions[0].Choices[0].Label.Ja = " " }, `choice "water": label is required`},
	}
	for _, b := range bad {
		c := f.Clone()
		b.change(c)
		require.ErrorContains(t, c.Validate(), b.err)
	}
	require.NoError(t, f.Validate(), "Clone is deep: the original is untouched")
}
