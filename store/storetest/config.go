package storetest

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

func testSettings(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	got, err := st.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, anpi.Settings{}, got, "never set: the zero settings")
	want := anpi.Settings{MessageCreators: anpi.Everyone, ManagersMaySend: true, UsersMayEditRegions: true}
	require.NoError(t, st.PutSettings(ctx, want))
	requireCode(t, anpi.InvalidArgument, st.PutSettings(ctx, anpi.Settings{MessageCreators: "cats"}))
	got, err = st.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NoError(t, st.PutSettings(ctx, anpi.Settings{}))
	got, err = st.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, anpi.Settings{}, got)
}

// testEngineState: named blobs the engine saves, apart from each other and
// from the settings; empty data removes one.
func testEngineState(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	_, err := st.EngineState(ctx, "rules.holds")
	requireCode(t, anpi.NotFound, err, "never saved")
	holds := []byte(`{"version":1,"records":[]}` + "\x00\xff") // any bytes
	require.NoError(t, st.PutEngineState(ctx, "rules.holds", holds))
	require.NoError(t, st.PutEngineState(ctx, "other", []byte("x")))
	require.NoError(t, st.PutSettings(ctx, anpi.Settings{ManagersMaySend: true}))
	got, err := st.EngineState(ctx, "rules.holds")
	require.NoError(t, err)
	require.Equal(t, holds, got)
	got[0] = 'X' // the caller's copy
	got, err = st.EngineState(ctx, "rules.holds")
	require.NoError(t, err)
	require.Equal(t, holds, got)
	require.NoError(t, st.PutEngineState(ctx, "rules.holds", []byte("v2")))
	got, err = st.EngineState(ctx, "rules.holds")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), got)
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		if err := tx.PutEngineState(ctx, "rules.holds", []byte("rolled back")); err != nil {
			return err
		}
		return anpi.Errorf(anpi.InvalidArgument, "test: roll back")
	})
	requireCode(t, anpi.InvalidArgument, err)
	got, err = st.EngineState(ctx, "rules.holds")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), got, "a transaction that failed saved nothing")

	require.NoError(t, st.PutEngineState(ctx, "rules.holds", nil))
	_, err = st.EngineState(ctx, "rules.holds")
	requireCode(t, anpi.NotFound, err, "empty data removes it")
	require.NoError(t, st.PutEngineState(ctx, "rules.holds", nil), "removing what is not there")
	got, err = st.EngineState(ctx, "other")
	require.NoError(t, err)
	require.Equal(t, []byte("x"), got)
	s, err := st.Settings(ctx)
	require.NoError(t, err)
	require.True(t, s.ManagersMaySend)
	for _, bad := range []string{"", "has space", "改行", strings.Repeat("n", anpi.MaxEngineStateName+1)} {
		requireCode(t, anpi.InvalidArgument, st.PutEngineState(ctx, bad, []byte("x")), "name "+strconv.Quote(bad))
		_, err := st.EngineState(ctx, bad)
		requireCode(t, anpi.InvalidArgument, err, "name "+strconv.Quote(bad))
	}
}

func customForm() *anpi.Form {
	return &anpi.Form{ID: "office", Name: anpi.Text{Ja: "出社確認", En: "Office"}, Questions: []anpi.Question{
		{ID: "where", Type: anpi.MultipleChoice, Required: true, Label: anpi.Text{Ja: "場所"}, Choices: []anpi.Choice{
			{Code: "home", Label: anpi.Text{Ja: "自宅"}}, {Code: "office", Label: anpi.Text{Ja: "会社"}}, {Code: "other", Label: anpi.Text{Ja: "その他"}},
		}},
		{ID: "note", Type: anpi.FreeText, Label: anpi.Text{Ja: "備考"}, MaxLength: 100},
	}}
}

func testForms(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	def, custom := anpi.DefaultForm(), customForm()
	require.NoError(t, st.PutForm(ctx, custom))
	require.NoError(t, st.PutForm(ctx, def))
	got, err := st.GetForm(ctx, anpi.DefaultFormID)
	require.NoError(t, err)
	require.Equal(t, def, got)
	list, err := st.ListForms(ctx)
	require.NoError(t, err)
	require.Equal(t, []*anpi.Form{def, custom}, list, "by ID")

	custom.Questions = custom.Questions[:1]
	require.NoError(t, st.PutForm(ctx, custom), "replace")
	got, err = st.GetForm(ctx, "office")
	require.NoError(t, err)
	require.Equal(t, custom, got)

	bad := customForm()
	bad.ID = "bad"
	bad.Questions[0].Choices = bad.Questions[0].Choices[:1]
	requireCode(t, anpi.InvalidArgument, st.PutForm(ctx, bad))
	_, err = st.GetForm(ctx, "bad")
	requireCode(t, anpi.NotFound, err)

	require.NoError(t, st.DeleteForm(ctx, "office"))
	_, err = st.GetForm(ctx, "office")
	requireCode(t, anpi.NotFound, err)
	requireCode(t, anpi.NotFound, st.DeleteForm(ctx, "office"))
	list, err = st.ListForms(ctx)
	require.NoError(t, err)
	require.Equal(t, []*anpi.Form{def}, list)
}

func testTemplates(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	a := &anpi.Template{ID: "quake", Name: "地震", Subject: anpi.Text{Ja: "【安否確認】{event}", En: "Safety check: {event}"},
		Body: anpi.Text{Ja: "{recipient} 様\n{event}\n{url}"}, Short: anpi.Text{Ja: "{event} 回答: {url}"}, SMS: anpi.Text{Ja: "安否確認 {url}"}}
	b := &anpi.Template{ID: "drill", Name: "訓練", Subject: anpi.Text{Ja: "訓練"}, Body: anpi.Text{Ja: "訓練です"}}
	require.NoError(t, st.PutTemplate(ctx, a))
	require.NoError(t, st.PutTemplate(ctx, b))
	got, err := st.GetTemplate(ctx, "quake")
	require.NoError(t, err)
	require.Equal(t, a, got)
	list, err := st.ListTemplates(ctx)
	require.NoError(t, err)
	require.Equal(t, []*anpi.Template{b, a}, list, "by ID")

	b.Body.En = "This is a drill"
	require.NoError(t, st.PutTemplate(ctx, b), "replace")
	got, err = st.GetTemplate(ctx, "drill")
	require.NoError(t, err)
	require.Equal(t, b, got)

	requireCode(t, anpi.InvalidArgument, st.PutTemplate(ctx, &anpi.Template{ID: "bad", Subject: anpi.Text{Ja: "{nope}"}, Body: anpi.Text{Ja: "x"}}))
	require.NoError(t, st.DeleteTemplate(ctx, "drill"))
	_, err = st.GetTemplate(ctx, "drill")
	requireCode(t, anpi.NotFound, err)
	requireCode(t, anpi.NotFound, st.DeleteTemplate(ctx, "drill"))
	list, err = st.ListTemplates(ctx)
	require.NoError(t, err)
	require.Equal(t, []*anpi.Template{a}, list)
}

func testRules(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	r := &anpi.RuleRecord{ID: "quake-5plus", Name: "震度5強以上", Enabled: true, Spec: json.RawMessage(`{"kind":"quake","min":"5+"}`), UpdatedAt: t0(), UpdatedBy: "admin"}
	require.NoError(t, st.PutRule(ctx, r))
	got, err := st.GetRule(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version, "a new rule is version 1")
	require.Equal(t, r.Name, got.Name)
	require.Equal(t, r.Enabled, got.Enabled)
	require.Equal(t, r.UpdatedBy, got.UpdatedBy)
	require.True(t, r.UpdatedAt.Equal(got.UpdatedAt))
	require.JSONEq(t, string(r.Spec), string(got.Spec))

	// An editor holding version 1 saves; one still holding version 1 loses.
	got.Enabled = false
	got.UpdatedAt = at(time.Minute)
	require.NoError(t, st.PutRule(ctx, got))
	stale := *got
	stale.Version = 1
	stale.Enabled = true
	requireCode(t, anpi.FailedPrecondition, st.PutRule(ctx, &stale), "stale version")
	cur, err := st.GetRule(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, 2, cur.Version)
	require.False(t, cur.Enabled)
	// Version 0 replaces unconditionally.
	r.Version = 0
	require.NoError(t, st.PutRule(ctx, r))
	cur, err = st.GetRule(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, 3, cur.Version)
	require.True(t, cur.Enabled)

	requireCode(t, anpi.FailedPrecondition, st.PutRule(ctx, &anpi.RuleRecord{ID: "new", Version: 4, Spec: json.RawMessage(`{}`)}), "a version for a rule never stored")
	requireCode(t, anpi.InvalidArgument, st.PutRule(ctx, &anpi.RuleRecord{ID: "bad", Spec: json.RawMessage(`[1]`)}), "spec not an object")
	requireCode(t, anpi.InvalidArgument, st.PutRule(ctx, &anpi.RuleRecord{ID: "bad", Spec: json.RawMessage(`null`)}), "spec null")
	requireCode(t, anpi.InvalidArgument, st.PutRule(ctx, &anpi.RuleRecord{ID: "bad"}), "no spec")
	require.NoError(t, st.PutRule(ctx, &anpi.RuleRecord{ID: "a-first", Spec: json.RawMessage(`{}`), UpdatedAt: t0()}))
	list, err := st.ListRules(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a-first", "quake-5plus"}, ids(list, func(r *anpi.RuleRecord) string { return r.ID }))

	require.NoError(t, st.DeleteRule(ctx, "a-first"))
	_, err = st.GetRule(ctx, "a-first")
	requireCode(t, anpi.NotFound, err)
	requireCode(t, anpi.NotFound, st.DeleteRule(ctx, "a-first"))
}
