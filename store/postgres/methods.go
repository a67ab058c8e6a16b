package postgres

import (
	"context"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// The methods below run one operation of anpi.Tx in a transaction of its
// own: writes in a read-write transaction (all or nothing, run again after
// a serialization failure or a deadlock), reads in a read-only one. Their
// documentation is on the anpi.Tx interfaces.

// CreateUser implements anpi.DirectoryTx.
func (s *Store) CreateUser(ctx context.Context, u *anpi.User) error {
	return s.update(ctx, func(t *tx) error { return t.CreateUser(ctx, u) })
}

// UpdateUser implements anpi.DirectoryTx.
func (s *Store) UpdateUser(ctx context.Context, u *anpi.User) error {
	return s.update(ctx, func(t *tx) error { return t.UpdateUser(ctx, u) })
}

// DeleteUser implements anpi.DirectoryTx.
func (s *Store) DeleteUser(ctx context.Context, id anpi.UserID) error {
	return s.update(ctx, func(t *tx) error { return t.DeleteUser(ctx, id) })
}

// GetUsers implements anpi.DirectoryTx.
func (s *Store) GetUsers(ctx context.Context, ids []anpi.UserID) (map[anpi.UserID]*anpi.User, error) {
	return view(s, ctx, func(t *tx) (map[anpi.UserID]*anpi.User, error) { return t.GetUsers(ctx, ids) })
}

// GetUser implements anpi.DirectoryTx.
func (s *Store) GetUser(ctx context.Context, id anpi.UserID) (*anpi.User, error) {
	return view(s, ctx, func(t *tx) (*anpi.User, error) { return t.GetUser(ctx, id) })
}

// GetUserByEmployeeCode implements anpi.DirectoryTx.
func (s *Store) GetUserByEmployeeCode(ctx context.Context, code string) (*anpi.User, error) {
	return view(s, ctx, func(t *tx) (*anpi.User, error) { return t.GetUserByEmployeeCode(ctx, code) })
}

// ListUsers implements anpi.DirectoryTx.
func (s *Store) ListUsers(ctx context.Context, q *anpi.UserQuery) ([]*anpi.User, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.User, error) { return t.ListUsers(ctx, q) })
}

// CountUsers implements anpi.DirectoryTx.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	return view(s, ctx, func(t *tx) (int, error) { return t.CountUsers(ctx) })
}

// UsersVersion implements anpi.DirectoryTx.
func (s *Store) UsersVersion(ctx context.Context) (int64, error) {
	return view(s, ctx, func(t *tx) (int64, error) { return t.UsersVersion(ctx) })
}

// CreateDepartment implements anpi.DirectoryTx.
func (s *Store) CreateDepartment(ctx context.Context, d *anpi.Department) error {
	return s.update(ctx, func(t *tx) error { return t.CreateDepartment(ctx, d) })
}

// UpdateDepartment implements anpi.DirectoryTx.
func (s *Store) UpdateDepartment(ctx context.Context, d *anpi.Department) error {
	return s.update(ctx, func(t *tx) error { return t.UpdateDepartment(ctx, d) })
}

// DeleteDepartment implements anpi.DirectoryTx. Role grants scoped to the
// department are removed with it.
func (s *Store) DeleteDepartment(ctx context.Context, id anpi.DepartmentID) error {
	return s.update(ctx, func(t *tx) error { return t.DeleteDepartment(ctx, id) })
}

// GetDepartment implements anpi.DirectoryTx.
func (s *Store) GetDepartment(ctx context.Context, id anpi.DepartmentID) (*anpi.Department, error) {
	return view(s, ctx, func(t *tx) (*anpi.Department, error) { return t.GetDepartment(ctx, id) })
}

// Departments implements anpi.DirectoryTx.
func (s *Store) Departments(ctx context.Context) (*anpi.DepartmentTree, error) {
	return view(s, ctx, func(t *tx) (*anpi.DepartmentTree, error) { return t.Departments(ctx) })
}

// GrantRole implements anpi.DirectoryTx.
func (s *Store) GrantRole(ctx context.Context, g anpi.RoleGrant) error {
	return s.update(ctx, func(t *tx) error { return t.GrantRole(ctx, g) })
}

// RevokeRole implements anpi.DirectoryTx.
func (s *Store) RevokeRole(ctx context.Context, g anpi.RoleGrant) error {
	return s.update(ctx, func(t *tx) error { return t.RevokeRole(ctx, g) })
}

// RoleGrants implements anpi.DirectoryTx. Grants are sorted by user,
// department and role.
func (s *Store) RoleGrants(ctx context.Context, id anpi.UserID) ([]anpi.RoleGrant, error) {
	return view(s, ctx, func(t *tx) ([]anpi.RoleGrant, error) { return t.RoleGrants(ctx, id) })
}

// PutContact implements anpi.ContactTx.
func (s *Store) PutContact(ctx context.Context, c *anpi.Contact) error {
	return s.update(ctx, func(t *tx) error { return t.PutContact(ctx, c) })
}

// DeleteContact implements anpi.ContactTx.
func (s *Store) DeleteContact(ctx context.Context, id anpi.ContactID) error {
	return s.update(ctx, func(t *tx) error { return t.DeleteContact(ctx, id) })
}

// GetContact implements anpi.ContactTx.
func (s *Store) GetContact(ctx context.Context, id anpi.ContactID) (*anpi.Contact, error) {
	return view(s, ctx, func(t *tx) (*anpi.Contact, error) { return t.GetContact(ctx, id) })
}

// Contacts implements anpi.ContactTx. Contacts are sorted by ID.
func (s *Store) Contacts(ctx context.Context, user anpi.UserID) ([]*anpi.Contact, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Contact, error) { return t.Contacts(ctx, user) })
}

// ContactsOf implements anpi.ContactTx.
func (s *Store) ContactsOf(ctx context.Context, users []anpi.UserID) (map[anpi.UserID][]*anpi.Contact, error) {
	return view(s, ctx, func(t *tx) (map[anpi.UserID][]*anpi.Contact, error) { return t.ContactsOf(ctx, users) })
}

// RecordContactCheck implements anpi.ContactTx.
func (s *Store) RecordContactCheck(ctx context.Context, id anpi.ContactID, c anpi.ContactCheck) error {
	return s.update(ctx, func(t *tx) error { return t.RecordContactCheck(ctx, id, c) })
}

// AdminUserView implements anpi.ContactTx.
func (s *Store) AdminUserView(ctx context.Context, user anpi.UserID) (*anpi.AdminUserView, error) {
	return view(s, ctx, func(t *tx) (*anpi.AdminUserView, error) { return t.AdminUserView(ctx, user) })
}

// Settings implements anpi.ConfigTx.
func (s *Store) Settings(ctx context.Context) (anpi.Settings, error) {
	return view(s, ctx, func(t *tx) (anpi.Settings, error) { return t.Settings(ctx) })
}

// EngineState implements anpi.ConfigTx.
func (s *Store) EngineState(ctx context.Context, name string) ([]byte, error) {
	return view(s, ctx, func(t *tx) ([]byte, error) { return t.EngineState(ctx, name) })
}

// PutEngineState implements anpi.ConfigTx.
func (s *Store) PutEngineState(ctx context.Context, name string, data []byte) error {
	return s.update(ctx, func(t *tx) error { return t.PutEngineState(ctx, name, data) })
}

// PutSettings implements anpi.ConfigTx.
func (s *Store) PutSettings(ctx context.Context, st anpi.Settings) error {
	return s.update(ctx, func(t *tx) error { return t.PutSettings(ctx, st) })
}

// PutForm implements anpi.ConfigTx.
func (s *Store) PutForm(ctx context.Context, f *anpi.Form) error {
	return s.update(ctx, func(t *tx) error { return t.PutForm(ctx, f) })
}

// GetForm implements anpi.ConfigTx.
func (s *Store) GetForm(ctx context.Context, id anpi.FormID) (*anpi.Form, error) {
	return view(s, ctx, func(t *tx) (*anpi.Form, error) { return t.GetForm(ctx, id) })
}

// ListForms implements anpi.ConfigTx. Forms are sorted by ID.
func (s *Store) ListForms(ctx context.Context) ([]*anpi.Form, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Form, error) { return t.ListForms(ctx) })
}

// DeleteForm implements anpi.ConfigTx.
func (s *Store) DeleteForm(ctx context.Context, id anpi.FormID) error {
	return s.update(ctx, func(t *tx) error { return t.DeleteForm(ctx, id) })
}

// PutTemplate implements anpi.ConfigTx.
func (s *Store) PutTemplate(ctx context.Context, tp *anpi.Template) error {
	return s.update(ctx, func(t *tx) error { return t.PutTemplate(ctx, tp) })
}

// GetTemplate implements anpi.ConfigTx.
func (s *Store) GetTemplate(ctx context.Context, id anpi.TemplateID) (*anpi.Template, error) {
	return view(s, ctx, func(t *tx) (*anpi.Template, error) { return t.GetTemplate(ctx, id) })
}

// ListTemplates implements anpi.ConfigTx. Templates are sorted by ID.
func (s *Store) ListTemplates(ctx context.Context) ([]*anpi.Template, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Template, error) { return t.ListTemplates(ctx) })
}

// DeleteTemplate implements anpi.ConfigTx.
func (s *Store) DeleteTemplate(ctx context.Context, id anpi.TemplateID) error {
	return s.update(ctx, func(t *tx) error { return t.DeleteTemplate(ctx, id) })
}

// PutRule implements anpi.ConfigTx.
func (s *Store) PutRule(ctx context.Context, r *anpi.RuleRecord) error {
	return s.update(ctx, func(t *tx) error { return t.PutRule(ctx, r) })
}

// GetRule implements anpi.ConfigTx.
func (s *Store) GetRule(ctx context.Context, id string) (*anpi.RuleRecord, error) {
	return view(s, ctx, func(t *tx) (*anpi.RuleRecord, error) { return t.GetRule(ctx, id) })
}

// ListRules implements anpi.ConfigTx. Rules are sorted by ID.
func (s *Store) ListRules(ctx context.Context) ([]*anpi.RuleRecord, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.RuleRecord, error) { return t.ListRules(ctx) })
}

// DeleteRule implements anpi.ConfigTx.
func (s *Store) DeleteRule(ctx context.Context, id string) error {
	return s.update(ctx, func(t *tx) error { return t.DeleteRule(ctx, id) })
}

// CreateSurvey implements anpi.SurveyTx.
func (s *Store) CreateSurvey(ctx context.Context, sv *anpi.Survey) error {
	return s.update(ctx, func(t *tx) error { return t.CreateSurvey(ctx, sv) })
}

// UpdateSurvey implements anpi.SurveyTx. A changed StartedAt recounts the
// tally, since answer times count from it.
func (s *Store) UpdateSurvey(ctx context.Context, sv *anpi.Survey) error {
	return s.update(ctx, func(t *tx) error { return t.UpdateSurvey(ctx, sv) })
}

// GetSurvey implements anpi.SurveyTx.
func (s *Store) GetSurvey(ctx context.Context, id anpi.SurveyID) (*anpi.Survey, error) {
	return view(s, ctx, func(t *tx) (*anpi.Survey, error) { return t.GetSurvey(ctx, id) })
}

// ListSurveys implements anpi.SurveyTx. Surveys are sorted by CreatedAt,
// newest first, then by ID, descending.
func (s *Store) ListSurveys(ctx context.Context, q *anpi.SurveyQuery) ([]*anpi.Survey, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Survey, error) { return t.ListSurveys(ctx, q) })
}

// DeleteSurvey implements anpi.SurveyTx. The draft's recipients,
// deliveries, responses and tally go with it.
func (s *Store) DeleteSurvey(ctx context.Context, id anpi.SurveyID) error {
	return s.update(ctx, func(t *tx) error { return t.DeleteSurvey(ctx, id) })
}

// AddRecipients implements anpi.SurveyTx.
func (s *Store) AddRecipients(ctx context.Context, sv anpi.SurveyID, rs []anpi.Recipient) (int, error) {
	return write(s, ctx, func(t *tx) (int, error) { return t.AddRecipients(ctx, sv, rs) })
}

// GetRecipient implements anpi.SurveyTx.
func (s *Store) GetRecipient(ctx context.Context, sv anpi.SurveyID, u anpi.UserID) (*anpi.Recipient, error) {
	return view(s, ctx, func(t *tx) (*anpi.Recipient, error) { return t.GetRecipient(ctx, sv, u) })
}

// Recipients implements anpi.SurveyTx.
func (s *Store) Recipients(ctx context.Context, sv anpi.SurveyID) ([]anpi.Recipient, error) {
	return view(s, ctx, func(t *tx) ([]anpi.Recipient, error) { return t.Recipients(ctx, sv) })
}

// EnqueueDeliveries implements anpi.OutboxTx. A thousand deliveries or
// more are written with COPY; when a key is already stored, they are
// inserted again with INSERT … ON CONFLICT DO NOTHING. A NOTIFY tells
// WaitForDeliveries, in every replica, once the transaction commits.
func (s *Store) EnqueueDeliveries(ctx context.Context, ds []*anpi.Delivery) (int, error) {
	return write(s, ctx, func(t *tx) (int, error) { return t.EnqueueDeliveries(ctx, ds) })
}

// ClaimDeliveries implements anpi.OutboxTx. One statement selects the
// claimable deliveries in claim order through a partial index, locks them
// with FOR UPDATE SKIP LOCKED and leases them, so claimers in any number
// of replicas never wait for one another nor get the same delivery.
func (s *Store) ClaimDeliveries(ctx context.Context, req anpi.ClaimRequest) ([]*anpi.Delivery, error) {
	return write(s, ctx, func(t *tx) ([]*anpi.Delivery, error) { return t.ClaimDeliveries(ctx, req) })
}

// CompleteDelivery implements anpi.OutboxTx.
func (s *Store) CompleteDelivery(ctx context.Context, id anpi.DeliveryID, owner string, r anpi.SendResult) error {
	return s.update(ctx, func(t *tx) error { return t.CompleteDelivery(ctx, id, owner, r) })
}

// FailDelivery implements anpi.OutboxTx.
func (s *Store) FailDelivery(ctx context.Context, id anpi.DeliveryID, owner string, f anpi.SendFailure) error {
	return s.update(ctx, func(t *tx) error { return t.FailDelivery(ctx, id, owner, f) })
}

// MarkDelivered implements anpi.OutboxTx.
func (s *Store) MarkDelivered(ctx context.Context, id anpi.DeliveryID, at time.Time) error {
	return s.update(ctx, func(t *tx) error { return t.MarkDelivered(ctx, id, at) })
}

// CancelDeliveries implements anpi.OutboxTx.
func (s *Store) CancelDeliveries(ctx context.Context, sv anpi.SurveyID, at time.Time) (int, error) {
	return write(s, ctx, func(t *tx) (int, error) { return t.CancelDeliveries(ctx, sv, at) })
}

// CancelUserDeliveries implements anpi.OutboxTx.
func (s *Store) CancelUserDeliveries(ctx context.Context, sv anpi.SurveyID, users []anpi.UserID, at time.Time) (int, error) {
	return write(s, ctx, func(t *tx) (int, error) { return t.CancelUserDeliveries(ctx, sv, users, at) })
}

// GetDelivery implements anpi.OutboxTx.
func (s *Store) GetDelivery(ctx context.Context, id anpi.DeliveryID) (*anpi.Delivery, error) {
	return view(s, ctx, func(t *tx) (*anpi.Delivery, error) { return t.GetDelivery(ctx, id) })
}

// Deliveries implements anpi.OutboxTx.
func (s *Store) Deliveries(ctx context.Context, sv anpi.SurveyID) ([]*anpi.Delivery, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Delivery, error) { return t.Deliveries(ctx, sv) })
}

// CountDeliveries implements anpi.OutboxTx. States with no delivery are
// absent from the map.
func (s *Store) CountDeliveries(ctx context.Context, sv anpi.SurveyID) (map[anpi.DeliveryState]int, error) {
	return view(s, ctx, func(t *tx) (map[anpi.DeliveryState]int, error) { return t.CountDeliveries(ctx, sv) })
}

// RecordResponse implements anpi.ResponseTx. A user who is not a
// recipient is NotFound; a survey that is not open is FailedPrecondition.
//
// It goes through the group committer: answers arriving together share one
// transaction, and RecordResponse returns only once that transaction is
// durably committed. When ctx ends first it returns Unavailable, and the
// answer may or may not have been recorded: retrying with the same
// response ID is safe.
func (s *Store) RecordResponse(ctx context.Context, r *anpi.Response) (bool, error) {
	return s.gc.record(ctx, r)
}

// GetResponse implements anpi.ResponseTx.
func (s *Store) GetResponse(ctx context.Context, sv anpi.SurveyID, u anpi.UserID) (*anpi.Response, error) {
	return view(s, ctx, func(t *tx) (*anpi.Response, error) { return t.GetResponse(ctx, sv, u) })
}

// ResponseHistory implements anpi.ResponseTx. It is empty for a user who
// has not answered.
func (s *Store) ResponseHistory(ctx context.Context, sv anpi.SurveyID, u anpi.UserID) ([]*anpi.Response, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Response, error) { return t.ResponseHistory(ctx, sv, u) })
}

// Responses implements anpi.ResponseTx.
func (s *Store) Responses(ctx context.Context, sv anpi.SurveyID) ([]*anpi.Response, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Response, error) { return t.Responses(ctx, sv) })
}

// Tally implements anpi.ResponseTx. It reads the counter rows in one
// pipeline straight on the pool, without a transaction to begin and end.
func (s *Store) Tally(ctx context.Context, sv anpi.SurveyID) (*anpi.Tally, error) {
	// One pipeline straight on the pool: no transaction to begin and end.
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s.readTally(ctx, s.pool, sv)
}

// AppendAudit implements anpi.AuditTx. Sequence numbers start at 1.
func (s *Store) AppendAudit(ctx context.Context, e *anpi.AuditEntry) (int64, error) {
	return write(s, ctx, func(t *tx) (int64, error) { return t.AppendAudit(ctx, e) })
}

// ListAudit implements anpi.AuditTx.
func (s *Store) ListAudit(ctx context.Context, q *anpi.AuditQuery) ([]*anpi.AuditEntry, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.AuditEntry, error) { return t.ListAudit(ctx, q) })
}

// PutAnswerTokens implements anpi.TokenTx.
func (s *Store) PutAnswerTokens(ctx context.Context, ts []*anpi.AnswerToken) error {
	return s.update(ctx, func(t *tx) error { return t.PutAnswerTokens(ctx, ts) })
}

// AnswerToken implements anpi.TokenTx. It reads the primary key of
// answer_tokens in one statement straight on the pool, without a
// transaction to begin and end: it runs on every answer-page hit.
func (s *Store) AnswerToken(ctx context.Context, h anpi.TokenHash) (*anpi.AnswerToken, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s.readAnswerToken(ctx, s.pool, h)
}

// RevokeAnswerTokens implements anpi.TokenTx. A zero at means the store's
// clock.
func (s *Store) RevokeAnswerTokens(ctx context.Context, sv anpi.SurveyID, u anpi.UserID, at time.Time) (int, error) {
	return write(s, ctx, func(t *tx) (int, error) { return t.RevokeAnswerTokens(ctx, sv, u, at) })
}
