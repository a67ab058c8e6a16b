package postgres

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/anpikit/anpi/anpi"
)

func (t *tx) Settings(ctx context.Context) (anpi.Settings, error) {
	if err := t.begin(ctx); err != nil {
		return anpi.Settings{}, err
	}
	var data []byte
	var s anpi.Settings
	ok, err := t.one(ctx, "settings", "SELECT data FROM {config} WHERE key = 'settings'", nil, &data)
	if err != nil || !ok {
		return s, err
	}
	return s, decode("settings", data, &s)
}

func (t *tx) PutSettings(ctx context.Context, s anpi.Settings) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return wrap("put settings", err)
	}
	data, err := encode("put settings", s)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "put settings", "INSERT INTO {config} (key, data) VALUES ('settings', ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data", data)
	return err
}

// engineKey is the config key of the engine state name.
func engineKey(name string) string { return "engine:" + name }

func (t *tx) EngineState(ctx context.Context, name string) ([]byte, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := anpi.CheckEngineStateName(name); err != nil {
		return nil, wrap("engine state", err)
	}
	var data []byte
	ok, err := t.one(ctx, "engine state", "SELECT data FROM {config} WHERE key = ?", []any{engineKey(name)}, &data)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "postgres: engine state %q: none saved", name)
	}
	return data, nil
}

func (t *tx) PutEngineState(ctx context.Context, name string, data []byte) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if err := anpi.CheckEngineStateName(name); err != nil {
		return wrap("put engine state", err)
	}
	if len(data) == 0 {
		_, err := t.exec(ctx, "put engine state", "DELETE FROM {config} WHERE key = ?", engineKey(name))
		return err
	}
	_, err := t.exec(ctx, "put engine state", "INSERT INTO {config} (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data", engineKey(name), data)
	return err
}

// putByID stores a JSON document under an ID in table.
func (t *tx) putByID(ctx context.Context, op, table, id string, v any) error {
	data, err := encode(op, v)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, op, "INSERT INTO {"+table+"} (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data", id, data)
	return err
}

// getByID decodes the document of id from table; found is false when absent.
func getByID[T any](t *tx, ctx context.Context, op, table, id string) (*T, error) {
	var data []byte
	ok, err := t.one(ctx, op, "SELECT data FROM {"+table+"} WHERE id = ?", []any{id}, &data)
	if err != nil || !ok {
		return nil, err
	}
	v := new(T)
	return v, decode(op, data, v)
}

// deleteByID deletes id from table; NotFound when absent.
func (t *tx) deleteByID(ctx context.Context, op, table, what, id string) error {
	res, err := t.exec(ctx, op, "DELETE FROM {"+table+"} WHERE id = ?", id)
	if err != nil {
		return err
	}
	if res.RowsAffected() == 0 {
		return anpi.Errorf(anpi.NotFound, "postgres: delete %s %s: does not exist", what, id)
	}
	return nil
}

func (t *tx) PutForm(ctx context.Context, f *anpi.Form) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if f == nil {
		return anpi.Errorf(anpi.InvalidArgument, "postgres: put form: nil form")
	}
	if err := f.Validate(); err != nil {
		return wrap("put form", err)
	}
	return t.putByID(ctx, "put form "+string(f.ID), "forms", string(f.ID), f)
}

func (t *tx) GetForm(ctx context.Context, id anpi.FormID) (*anpi.Form, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	f, err := getByID[anpi.Form](t, ctx, "get form", "forms", string(id))
	if err == nil && f == nil {
		err = anpi.Errorf(anpi.NotFound, "postgres: form %s does not exist", id)
	}
	return f, err
}

func (t *tx) ListForms(ctx context.Context) ([]*anpi.Form, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return list[anpi.Form](t, ctx, "list forms", "SELECT data FROM {forms} ORDER BY id")
}

func (t *tx) DeleteForm(ctx context.Context, id anpi.FormID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	return t.deleteByID(ctx, "delete form", "forms", "form", string(id))
}

func (t *tx) PutTemplate(ctx context.Context, tp *anpi.Template) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if tp == nil {
		return anpi.Errorf(anpi.InvalidArgument, "postgres: put template: nil template")
	}
	if err := tp.Validate(); err != nil {
		return wrap("put template", err)
	}
	return t.putByID(ctx, "put template "+string(tp.ID), "templates", string(tp.ID), tp)
}

func (t *tx) GetTemplate(ctx context.Context, id anpi.TemplateID) (*anpi.Template, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	tp, err := getByID[anpi.Template](t, ctx, "get template", "templates", string(id))
	if err == nil && tp == nil {
		err = anpi.Errorf(anpi.NotFound, "postgres: template %s does not exist", id)
	}
	return tp, err
}

func (t *tx) ListTemplates(ctx context.Context) ([]*anpi.Template, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return list[anpi.Template](t, ctx, "list templates", "SELECT data FROM {templates} ORDER BY id")
}

func (t *tx) DeleteTemplate(ctx context.Context, id anpi.TemplateID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	return t.deleteByID(ctx, "delete template", "templates", "template", string(id))
}

func (t *tx) PutRule(ctx context.Context, r *anpi.RuleRecord) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if r == nil {
		return anpi.Errorf(anpi.InvalidArgument, "postgres: put rule: nil rule")
	}
	if err := r.Validate(); err != nil {
		return wrap("put rule", err)
	}
	op := "put rule " + r.ID
	stored := 0
	if _, err := t.one(ctx, op, "SELECT version FROM {rules} WHERE id = ? FOR UPDATE", []any{r.ID}, &stored); err != nil {
		return err
	}
	if r.Version != 0 && r.Version != stored {
		return anpi.Errorf(anpi.FailedPrecondition, "postgres: put rule %s: version %d is stale (stored version %d)", r.ID, r.Version, stored)
	}
	c := *r
	c.Spec = json.RawMessage(slices.Clone([]byte(r.Spec)))
	c.Version = stored + 1
	c.UpdatedAt = utc(c.UpdatedAt)
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = t.now()
	}
	data, err := encode(op, &c)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, op, "INSERT INTO {rules} (id, version, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, data = excluded.data", c.ID, c.Version, data)
	return err
}

func (t *tx) GetRule(ctx context.Context, id string) (*anpi.RuleRecord, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	r, err := getByID[anpi.RuleRecord](t, ctx, "get rule", "rules", id)
	if err == nil && r == nil {
		err = anpi.Errorf(anpi.NotFound, "postgres: rule %s does not exist", id)
	}
	return r, err
}

func (t *tx) ListRules(ctx context.Context) ([]*anpi.RuleRecord, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return list[anpi.RuleRecord](t, ctx, "list rules", "SELECT data FROM {rules} ORDER BY id")
}

func (t *tx) DeleteRule(ctx context.Context, id string) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	return t.deleteByID(ctx, "delete rule", "rules", "rule", id)
}
