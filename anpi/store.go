package anpi

import (
	"context"
	"time"
)

// Store persists everything the engine needs. Implementations live in
// store/memstore, store/sqlite and store/postgres, and must pass the public
// conformance suite store/storetest.
//
// Every Tx method is also available on the Store itself, where it runs in a
// transaction of its own. InTx runs several in one transaction: when fn
// returns an error (or panics), nothing it did is kept. Objects passed in and
// returned are copies: changing them does not change the store.
type Store interface {
	Tx
	// InTx runs fn in one transaction. fn must use only the Tx it is given
	// and must not call InTx.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// ReadTx runs fn in one read-only transaction: what fn reads is one
	// consistent state, and it runs beside the writes (in SQLite, on a
	// reader connection instead of the one writer), so pages that read
	// much and often, such as a live tally, do not queue behind answers.
	// A write through tx fails and changes nothing. fn must use only the
	// Tx it is given.
	ReadTx(ctx context.Context, fn func(tx Tx) error) error
	// Close releases the store's resources.
	Close() error
}

// Tx is the set of operations of a Store, run inside one transaction.
// Errors are classified by Code: NotFound, AlreadyExists, InvalidArgument
// (the message names the field), FailedPrecondition (the state forbids it).
type Tx interface {
	DirectoryTx
	ContactTx
	ConfigTx
	SurveyTx
	OutboxTx
	ResponseTx
	AuditTx
	TokenTx
	MessageTx
}

// UserQuery selects users, ordered by ID. Zero fields do not filter.
type UserQuery struct {
	Department DepartmentID // direct members of this department
	Status     UserStatus
	AfterID    UserID // for paging: IDs greater than this
	Limit      int    // 0 means all
}

// DirectoryTx holds users, departments and role grants.
type DirectoryTx interface {
	// CreateUser adds a user: AlreadyExists when the ID or the employee code
	// is taken; NotFound when a department does not exist.
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser replaces a user's record (NotFound when absent).
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes a user, his contacts and role grants. Survey
	// recipients, deliveries and responses stay for the record.
	DeleteUser(ctx context.Context, id UserID) error
	// GetUser returns a user (NotFound when absent).
	GetUser(ctx context.Context, id UserID) (*User, error)
	// GetUsers returns many users at once, by ID: what the engine reads
	// when it renders a batch of deliveries. An ID that does not exist has
	// no entry in the map; an ID listed twice is read once.
	GetUsers(ctx context.Context, ids []UserID) (map[UserID]*User, error)
	// GetUserByEmployeeCode returns the user with that employee code.
	GetUserByEmployeeCode(ctx context.Context, code string) (*User, error)
	// ListUsers lists users by ID, filtered and paged by q (nil for all).
	ListUsers(ctx context.Context, q *UserQuery) ([]*User, error)
	// CountUsers returns the number of users.
	CountUsers(ctx context.Context) (int, error)
	// UsersVersion returns a number that changes whenever a transaction
	// that created, updated or deleted a user commits (it may also change
	// when nothing did). The engine reads the whole directory again only
	// when it moved, instead of once per JMA document.
	UsersVersion(ctx context.Context) (int64, error)

	// CreateDepartment adds a department; its parent must exist.
	CreateDepartment(ctx context.Context, d *Department) error
	// UpdateDepartment renames, reorders or moves a department (with its
	// subtree). A move into its own subtree is InvalidArgument.
	UpdateDepartment(ctx context.Context, d *Department) error
	// DeleteDepartment removes a department that has no children and no
	// members (FailedPrecondition otherwise), and the role grants scoped to
	// it, so a department later created with the same ID does not inherit
	// its administrators.
	DeleteDepartment(ctx context.Context, id DepartmentID) error
	// GetDepartment returns a department (NotFound when absent).
	GetDepartment(ctx context.Context, id DepartmentID) (*Department, error)
	// Departments returns the whole department tree.
	Departments(ctx context.Context) (*DepartmentTree, error)

	// GrantRole adds a grant (idempotent). The user and the department
	// must exist.
	GrantRole(ctx context.Context, g RoleGrant) error
	// RevokeRole removes a grant (NotFound when absent).
	RevokeRole(ctx context.Context, g RoleGrant) error
	// RoleGrants lists a user's grants; an empty id lists everyone's.
	RoleGrants(ctx context.Context, id UserID) ([]RoleGrant, error)
}

// ContactTx holds contacts. The full Contact (with its address) is for the
// owner and for delivery; administrators use AdminUserView.
type ContactTx interface {
	// PutContact creates or replaces a contact, enforcing
	// CheckContactLimits. The user must exist.
	PutContact(ctx context.Context, c *Contact) error
	// DeleteContact removes a contact (NotFound when absent).
	DeleteContact(ctx context.Context, id ContactID) error
	// GetContact returns a contact, address included.
	GetContact(ctx context.Context, id ContactID) (*Contact, error)
	// Contacts lists a user's contacts, addresses included.
	Contacts(ctx context.Context, user UserID) ([]*Contact, error)
	// ContactsOf lists the contacts of many users at once, addresses
	// included, each user's sorted by ID as Contacts does: what the engine
	// reads when it enqueues or renders thousands of deliveries. A user
	// with no contacts, or who does not exist, has no entry in the map; an
	// ID listed twice is read once.
	ContactsOf(ctx context.Context, users []UserID) (map[UserID][]*Contact, error)
	// RecordContactCheck replaces a contact's check state (verification,
	// last delivery error, broken).
	RecordContactCheck(ctx context.Context, id ContactID, c ContactCheck) error
	// AdminUserView returns what an administrator may see of a user: no
	// private address.
	AdminUserView(ctx context.Context, user UserID) (*AdminUserView, error)
}

// ConfigTx holds settings, forms, templates and auto-send rules.
type ConfigTx interface {
	// Settings returns the settings (the zero Settings when never set).
	Settings(ctx context.Context) (Settings, error)
	// PutSettings replaces the settings after validating them.
	PutSettings(ctx context.Context, s Settings) error

	// EngineState returns what the engine saved under name with
	// PutEngineState (NotFound when nothing is).
	EngineState(ctx context.Context, name string) ([]byte, error)
	// PutEngineState saves data under name (CheckEngineStateName),
	// replacing what was there; empty data removes it. The names are the
	// engine's own: the Service keeps its held sends under "rules.holds".
	PutEngineState(ctx context.Context, name string, data []byte) error

	// PutForm creates or replaces a form after validating it.
	PutForm(ctx context.Context, f *Form) error
	// GetForm returns a form (NotFound when absent).
	GetForm(ctx context.Context, id FormID) (*Form, error)
	// ListForms lists the forms by ID.
	ListForms(ctx context.Context) ([]*Form, error)
	// DeleteForm removes a form; surveys keep their own snapshot.
	DeleteForm(ctx context.Context, id FormID) error

	// PutTemplate creates or replaces a template after validating it.
	PutTemplate(ctx context.Context, t *Template) error
	// GetTemplate returns a template (NotFound when absent).
	GetTemplate(ctx context.Context, id TemplateID) (*Template, error)
	// ListTemplates lists the templates by ID.
	ListTemplates(ctx context.Context) ([]*Template, error)
	// DeleteTemplate removes a template.
	DeleteTemplate(ctx context.Context, id TemplateID) error

	// PutRule creates or replaces a rule, incrementing its Version. When
	// r.Version is not zero it must equal the stored version
	// (FailedPrecondition otherwise, also when the rule was never stored):
	// optimistic locking for editors.
	PutRule(ctx context.Context, r *RuleRecord) error
	// GetRule returns a rule (NotFound when absent).
	GetRule(ctx context.Context, id string) (*RuleRecord, error)
	// ListRules lists the rules by ID.
	ListRules(ctx context.Context) ([]*RuleRecord, error)
	// DeleteRule removes a rule (NotFound when absent).
	DeleteRule(ctx context.Context, id string) error
}

// SurveyQuery selects surveys, newest first. Zero fields do not filter.
type SurveyQuery struct {
	Kind           SurveyKind
	Status         SurveyStatus
	TriggerEventID string // surveys started by this JMA event
	Limit          int    // 0 means all
}

// SurveyTx holds surveys and their recipients.
type SurveyTx interface {
	// CreateSurvey adds a survey (AlreadyExists when the ID is taken).
	CreateSurvey(ctx context.Context, s *Survey) error
	// UpdateSurvey replaces a survey's record (status, deadline, …).
	UpdateSurvey(ctx context.Context, s *Survey) error
	// GetSurvey returns a survey (NotFound when absent).
	GetSurvey(ctx context.Context, id SurveyID) (*Survey, error)
	// ListSurveys lists surveys, newest first, filtered by q (nil for all).
	ListSurveys(ctx context.Context, q *SurveyQuery) ([]*Survey, error)
	// DeleteSurvey removes a draft (FailedPrecondition for any other status).
	DeleteSurvey(ctx context.Context, id SurveyID) error

	// AddRecipients adds recipients to a survey and counts them in its
	// tally. Recipients already present are skipped, so escalation and
	// crash recovery can call it again; it returns how many were new.
	AddRecipients(ctx context.Context, s SurveyID, rs []Recipient) (int, error)
	// GetRecipient returns one recipient of a survey (NotFound when absent).
	GetRecipient(ctx context.Context, s SurveyID, u UserID) (*Recipient, error)
	// Recipients lists a survey's recipients by user ID.
	Recipients(ctx context.Context, s SurveyID) ([]Recipient, error)
}

// OutboxTx holds deliveries: a claimable outbox. Enqueue deliveries in the
// same transaction as the survey or recipients they belong to.
type OutboxTx interface {
	// EnqueueDeliveries adds deliveries in state Queued (or
	// SkippedNoContact), or Sending under a lease (LeaseOwner, LeaseUntil,
	// Attempts ≥ 1): claimed as they are enqueued, by the dispatcher they
	// are handed to once the transaction commits (Handoff); such a
	// delivery is claimable again when its lease expires, as any claimed
	// one. Deliveries whose Key already exists are skipped; it returns how
	// many were new.
	EnqueueDeliveries(ctx context.Context, ds []*Delivery) (int, error)
	// ClaimDeliveries leases up to Limit deliveries that are Queued or
	// FailedTemporary with NextAttemptAt ≤ Now, or Sending with an expired
	// lease, oldest NextAttemptAt first. Each becomes Sending with the
	// request's Owner and LeaseUntil = Now+Lease, and its Attempts grow by
	// one. Concurrent claimers never get the same delivery.
	ClaimDeliveries(ctx context.Context, req ClaimRequest) ([]*Delivery, error)
	// CompleteDelivery records a success for a delivery the owner holds
	// (FailedPrecondition when the lease was lost to someone else).
	CompleteDelivery(ctx context.Context, id DeliveryID, owner string, r SendResult) error
	// FailDelivery records a failure for a delivery the owner holds.
	FailDelivery(ctx context.Context, id DeliveryID, owner string, f SendFailure) error
	// MarkDelivered records a provider's delivery confirmation for a Sent
	// delivery (callbacks arrive late and out of order; it is idempotent).
	// A delivery that is not Sent or Delivered is FailedPrecondition: the
	// caller retries once the send is recorded.
	MarkDelivered(ctx context.Context, id DeliveryID, at time.Time) error
	// CancelDeliveries cancels every Queued and FailedTemporary delivery of
	// a survey and returns how many. Deliveries being sent are left to
	// finish.
	CancelDeliveries(ctx context.Context, s SurveyID, at time.Time) (int, error)
	// CancelUserDeliveries is CancelDeliveries restricted to some users of
	// the survey: it cancels their Queued and FailedTemporary deliveries,
	// leaves those being sent to finish and everyone else's untouched, and
	// returns how many it cancelled (0 for no users). A partial 取消 uses
	// it to stop the withdrawn recipients' unsent deliveries. An unknown
	// survey is NotFound.
	CancelUserDeliveries(ctx context.Context, s SurveyID, users []UserID, at time.Time) (int, error)
	// GetDelivery returns a delivery (NotFound when absent).
	GetDelivery(ctx context.Context, id DeliveryID) (*Delivery, error)
	// Deliveries lists a survey's deliveries by ID.
	Deliveries(ctx context.Context, s SurveyID) ([]*Delivery, error)
	// CountDeliveries counts a survey's deliveries per state.
	CountDeliveries(ctx context.Context, s SurveyID) (map[DeliveryState]int, error)
}

// ResponseTx holds responses and their tallies.
type ResponseTx interface {
	// RecordResponse stores r as the recipient's current answer, keeping
	// the one it replaces in the history, and moves the tally counters in
	// the same transaction. The survey must be Open, the user a recipient,
	// the answers valid for the survey's form. A response whose ID was
	// already recorded changes nothing (it returns false). A user who is not
	// a recipient is NotFound; a survey that is not Open is
	// FailedPrecondition. A response that names the answer token it came
	// through (ViaToken) is NotFound unless that token admits it
	// (AnswerToken.Admits), checked in the same transaction.
	RecordResponse(ctx context.Context, r *Response) (bool, error)
	// GetResponse returns the current answer (NotFound when none).
	GetResponse(ctx context.Context, s SurveyID, u UserID) (*Response, error)
	// ResponseHistory returns every answer the user gave, oldest first,
	// the current one last.
	ResponseHistory(ctx context.Context, s SurveyID, u UserID) ([]*Response, error)
	// Responses lists the current answers of a survey by user ID.
	Responses(ctx context.Context, s SurveyID) ([]*Response, error)
	// Tally returns the survey's counters, without recounting.
	Tally(ctx context.Context, s SurveyID) (*Tally, error)
}

// AuditTx holds the append-only audit log.
type AuditTx interface {
	// AppendAudit appends an entry and returns its sequence number.
	AppendAudit(ctx context.Context, e *AuditEntry) (int64, error)
	// ListAudit returns entries matching q, oldest first.
	ListAudit(ctx context.Context, q *AuditQuery) ([]*AuditEntry, error)
}

// TokenTx holds the hashes of answer tokens (see AnswerToken). A token
// belongs to its survey: DeleteSurvey removes the survey's tokens with it,
// so their hashes are NotFound afterwards (and may be stored again).
type TokenTx interface {
	// PutAnswerTokens stores tokens, all or none. A hash already stored
	// is AlreadyExists; an unknown survey is NotFound; an invalid token is
	// InvalidArgument.
	PutAnswerTokens(ctx context.Context, ts []*AnswerToken) error
	// AnswerToken returns the token with hash h, revoked and expired ones
	// included (the caller decides with Usable); NotFound when there is
	// none.
	AnswerToken(ctx context.Context, h TokenHash) (*AnswerToken, error)
	// RevokeAnswerTokens revokes, at at, the valid tokens of user u for
	// survey s, or of every recipient of s when u is empty, and returns
	// how many it revoked. Valid means not yet revoked: expired tokens are
	// revoked and counted too. Revoked tokens stay revoked, with the
	// RevokedAt they had, and are not counted again. An unknown survey is
	// NotFound; a user without tokens revokes none.
	RevokeAnswerTokens(ctx context.Context, s SurveyID, u UserID, at time.Time) (int, error)
}

// MaxEngineStateName is the longest name of an engine state.
const MaxEngineStateName = 100

// CheckEngineStateName returns InvalidArgument unless name can name an
// engine state (ConfigTx.PutEngineState): 1 to MaxEngineStateName
// printable ASCII characters.
func CheckEngineStateName(name string) error {
	if name == "" || len(name) > MaxEngineStateName {
		return Errorf(InvalidArgument, "anpi: engine state name %q: 1 to %d characters", name, MaxEngineStateName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			return Errorf(InvalidArgument, "anpi: engine state name %q: printable ASCII only", name)
		}
	}
	return nil
}
