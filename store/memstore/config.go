package memstore

import (
	"context"
	"slices"

	"github.com/anpikit/anpi/anpi"
)

func (t *tx) Settings(ctx context.Context) (anpi.Settings, error) {
	if err := t.begin(ctx); err != nil {
		return anpi.Settings{}, err
	}
	return t.d.settings, nil
}

func (t *tx) PutSettings(ctx context.Context, s anpi.Settings) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return wrap("put settings", err)
	}
	old := t.d.settings
	t.d.settings = s
	t.undo = append(t.undo, func() { t.d.settings = old })
	return nil
}

func (t *tx) EngineState(ctx context.Context, name string) ([]byte, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := anpi.CheckEngineStateName(name); err != nil {
		return nil, wrap("engine state", err)
	}
	data, ok := t.d.engine[name]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: engine state %q: none saved", name)
	}
	return slices.Clone(data), nil
}

func (t *tx) PutEngineState(ctx context.Context, name string, data []byte) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if err := anpi.CheckEngineStateName(name); err != nil {
		return wrap("put engine state", err)
	}
	if len(data) == 0 {
		del(t, t.d.engine, name)
		return nil
	}
	put(t, t.d.engine, name, slices.Clone(data))
	return nil
}

func (t *tx) PutForm(ctx context.Context, f *anpi.Form) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if f == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: put form: nil form")
	}
	if err := f.Validate(); err != nil {
		return wrap("put form", err)
	}
	put(t, t.d.forms, f.ID, f.Clone())
	return nil
}

func (t *tx) GetForm(ctx context.Context, id anpi.FormID) (*anpi.Form, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	f, ok := t.d.forms[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: form %s does not exist", id)
	}
	return f.Clone(), nil
}

func (t *tx) ListForms(ctx context.Context) ([]*anpi.Form, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := []*anpi.Form{}
	for _, id := range sortedKeys(t.d.forms) {
		out = append(out, t.d.forms[id].Clone())
	}
	return out, nil
}

func (t *tx) DeleteForm(ctx context.Context, id anpi.FormID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if _, ok := t.d.forms[id]; !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: delete form %s: does not exist", id)
	}
	del(t, t.d.forms, id)
	return nil
}

func (t *tx) PutTemplate(ctx context.Context, tp *anpi.Template) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if tp == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: put template: nil template")
	}
	if err := tp.Validate(); err != nil {
		return wrap("put template", err)
	}
	put(t, t.d.templates, tp.ID, cloneTemplate(tp))
	return nil
}

func (t *tx) GetTemplate(ctx context.Context, id anpi.TemplateID) (*anpi.Template, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	tp, ok := t.d.templates[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: template %s does not exist", id)
	}
	return cloneTemplate(tp), nil
}

func (t *tx) ListTemplates(ctx context.Context) ([]*anpi.Template, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := []*anpi.Template{}
	for _, id := range sortedKeys(t.d.templates) {
		out = append(out, cloneTemplate(t.d.templates[id]))
	}
	return out, nil
}

func (t *tx) DeleteTemplate(ctx context.Context, id anpi.TemplateID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if _, ok := t.d.templates[id]; !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: delete template %s: does not exist", id)
	}
	del(t, t.d.templates, id)
	return nil
}

func (t *tx) PutRule(ctx context.Context, r *anpi.RuleRecord) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if r == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: put rule: nil rule")
	}
	if err := r.Validate(); err != nil {
		return wrap("put rule", err)
	}
	old, ok := t.d.rules[r.ID]
	stored := 0
	if ok {
		stored = old.Version
	}
	if r.Version != 0 && r.Version != stored {
		return anpi.Errorf(anpi.FailedPrecondition, "memstore: put rule %s: version %d is stale (stored version %d)", r.ID, r.Version, stored)
	}
	c := cloneRule(r)
	c.Version = stored + 1
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = t.now()
	}
	put(t, t.d.rules, c.ID, c)
	return nil
}

func (t *tx) GetRule(ctx context.Context, id string) (*anpi.RuleRecord, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	r, ok := t.d.rules[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: rule %s does not exist", id)
	}
	return cloneRule(r), nil
}

func (t *tx) ListRules(ctx context.Context) ([]*anpi.RuleRecord, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := []*anpi.RuleRecord{}
	for _, id := range sortedKeys(t.d.rules) {
		out = append(out, cloneRule(t.d.rules[id]))
	}
	return out, nil
}

func (t *tx) DeleteRule(ctx context.Context, id string) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if _, ok := t.d.rules[id]; !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: delete rule %s: does not exist", id)
	}
	del(t, t.d.rules, id)
	return nil
}
