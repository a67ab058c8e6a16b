package memstore

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// Options configure a Store. The zero value and nil mean defaults.
type Options struct {
	// Now is the clock that fills timestamps the caller left zero
	// (User.CreatedAt, Contact.CreatedAt, Survey.CreatedAt, …). It defaults
	// to time.Now; the store converts what it returns to UTC.
	Now func() time.Time
}

// Store is an in-memory anpi.Store. It is safe for concurrent use. Create
// one with New; the zero value is not usable.
type Store struct {
	mu     sync.RWMutex
	now    func() time.Time
	closed bool
	d      *data
}

var (
	_ anpi.Store = (*Store)(nil)
	_ anpi.Tx    = (*tx)(nil)
)

// respOwner is the survey and user a response ID was recorded for.
type respOwner struct {
	survey anpi.SurveyID
	user   anpi.UserID
}

// data is everything the store holds. Stored objects are never changed in
// place: a write replaces the pointer in its map, so the undo log only has
// to put the old pointer back.
type data struct {
	users        map[anpi.UserID]*anpi.User
	usersVersion int64 // UsersVersion: moved by every write of a user
	byCode       map[string]anpi.UserID
	depts        map[anpi.DepartmentID]*anpi.Department
	grants       map[anpi.RoleGrant]struct{}
	contacts     map[anpi.ContactID]*anpi.Contact
	userContacts map[anpi.UserID][]anpi.ContactID // sorted; replaced, never appended to in place

	settings  anpi.Settings
	engine    map[string][]byte // EngineState, by name
	forms     map[anpi.FormID]*anpi.Form
	templates map[anpi.TemplateID]*anpi.Template
	rules     map[string]*anpi.RuleRecord

	surveys    map[anpi.SurveyID]*anpi.Survey
	tallies    map[anpi.SurveyID]*anpi.Tally
	recipients map[anpi.SurveyID]map[anpi.UserID]*anpi.Recipient
	history    map[anpi.SurveyID]map[anpi.UserID][]*anpi.Response // oldest first; the last is current
	respIDs    map[anpi.ResponseID]respOwner

	deliveries       map[anpi.DeliveryID]*anpi.Delivery
	byKey            map[anpi.DeliveryKey]anpi.DeliveryID
	surveyDeliveries map[anpi.SurveyID]map[anpi.DeliveryID]struct{}
	ready            map[anpi.Channel]*dheap // Queued and FailedTemporary, by NextAttemptAt
	leased           map[anpi.Channel]*dheap // Sending, by LeaseUntil

	audit []*anpi.AuditEntry // audit[i].Seq == i+1

	tokens       map[anpi.TokenHash]*anpi.AnswerToken
	surveyTokens map[anpi.SurveyID]map[anpi.UserID][]anpi.TokenHash // slices replaced, never appended to in place

	msg *messaging // threads and boards (messages.go)

	// userGen counts changes to the set of user IDs; userIndex caches
	// the sorted IDs for the generation it was built at.
	userGen   uint64
	userIndex struct {
		mu  sync.Mutex // readers share the store's read lock
		gen uint64
		ids []anpi.UserID
	}
}

// sortedUserIDs returns the user IDs in order, from the cache when no user
// was added or removed since it was built. The caller holds the store's
// lock (read or write) and must not change the slice.
func (d *data) sortedUserIDs() []anpi.UserID {
	d.userIndex.mu.Lock()
	defer d.userIndex.mu.Unlock()
	if d.userIndex.ids == nil || d.userIndex.gen != d.userGen {
		d.userIndex.ids = sortedKeys(d.users)
		d.userIndex.gen = d.userGen
	}
	return d.userIndex.ids
}

// usersWritten moves the users version (UsersVersion). A rollback does
// not move it back: the version may change when nothing did.
func (t *tx) usersWritten() { t.d.usersVersion++ }

// usersChanged invalidates the sorted user IDs, now and on undo.
func (t *tx) usersChanged() {
	t.d.userGen++
	t.undo = append(t.undo, func() { t.d.userGen++ })
}

// allChannels lists every channel, in a fixed order.
func allChannels() []anpi.Channel {
	return []anpi.Channel{anpi.EmailChannel, anpi.FCMChannel, anpi.APNsChannel, anpi.LINEChannel, anpi.SMSChannel, anpi.VoiceChannel}
}

// New returns an empty store. opts may be nil.
func New(opts *Options) *Store {
	now := time.Now
	if opts != nil && opts.Now != nil {
		now = opts.Now
	}
	d := &data{
		users:            map[anpi.UserID]*anpi.User{},
		byCode:           map[string]anpi.UserID{},
		depts:            map[anpi.DepartmentID]*anpi.Department{},
		grants:           map[anpi.RoleGrant]struct{}{},
		contacts:         map[anpi.ContactID]*anpi.Contact{},
		userContacts:     map[anpi.UserID][]anpi.ContactID{},
		forms:            map[anpi.FormID]*anpi.Form{},
		engine:           map[string][]byte{},
		templates:        map[anpi.TemplateID]*anpi.Template{},
		rules:            map[string]*anpi.RuleRecord{},
		surveys:          map[anpi.SurveyID]*anpi.Survey{},
		tallies:          map[anpi.SurveyID]*anpi.Tally{},
		recipients:       map[anpi.SurveyID]map[anpi.UserID]*anpi.Recipient{},
		history:          map[anpi.SurveyID]map[anpi.UserID][]*anpi.Response{},
		respIDs:          map[anpi.ResponseID]respOwner{},
		deliveries:       map[anpi.DeliveryID]*anpi.Delivery{},
		byKey:            map[anpi.DeliveryKey]anpi.DeliveryID{},
		surveyDeliveries: map[anpi.SurveyID]map[anpi.DeliveryID]struct{}{},
		ready:            map[anpi.Channel]*dheap{},
		leased:           map[anpi.Channel]*dheap{},
		tokens:           map[anpi.TokenHash]*anpi.AnswerToken{},
		surveyTokens:     map[anpi.SurveyID]map[anpi.UserID][]anpi.TokenHash{},
		msg:              newMessaging(),
	}
	for _, c := range allChannels() {
		d.ready[c] = newDHeap(nextAttemptKey)
		d.leased[c] = newDHeap(leaseKey)
	}
	return &Store{now: now, d: d}
}

// Close marks the store closed: every later call fails with
// FailedPrecondition. It always returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// InTx runs fn in one transaction, holding the store's write lock. When fn
// returns an error or panics, every change it made is undone (and the panic
// goes on). fn must use only the Tx it is given: calling the Store's own
// methods from fn deadlocks. The Tx is not safe for concurrent use, and
// fails with FailedPrecondition once fn has returned.
func (s *Store) InTx(ctx context.Context, fn func(tx anpi.Tx) error) error {
	if fn == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: transaction: nil function")
	}
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

// ReadTx implements anpi.Store: fn runs under the read lock, beside other
// readers.
func (s *Store) ReadTx(ctx context.Context, fn func(tx anpi.Tx) error) error {
	if fn == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: read transaction: nil function")
	}
	_, err := view(s, ctx, func(t *tx) (struct{}, error) { return struct{}{}, fn(t) })
	return err
}

// update runs fn in a read-write transaction.
func (s *Store) update(ctx context.Context, fn func(t *tx) error) (err error) {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed()
	}
	t := &tx{s: s, d: s.d}
	committed := false
	defer func() {
		t.done = true
		if !committed { // an error or a panic: undo, newest change first
			for i := len(t.undo) - 1; i >= 0; i-- {
				t.undo[i]()
			}
		}
		t.undo = nil
	}()
	if err := fn(t); err != nil {
		return err
	}
	committed = true
	return nil
}

// view runs fn in a read-only transaction.
func view[T any](s *Store, ctx context.Context, fn func(t *tx) (T, error)) (T, error) {
	var zero T
	if err := checkCtx(ctx); err != nil {
		return zero, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return zero, errClosed()
	}
	t := &tx{s: s, d: s.d, readOnly: true}
	defer func() { t.done = true }()
	return fn(t)
}

// write runs fn, which returns a result, in a read-write transaction.
func write[T any](s *Store, ctx context.Context, fn func(t *tx) (T, error)) (T, error) {
	var out T
	err := s.update(ctx, func(t *tx) error {
		var err error
		out, err = fn(t)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

func errClosed() error { return anpi.Errorf(anpi.FailedPrecondition, "memstore: the store is closed") }

func checkCtx(ctx context.Context) error {
	if ctx == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: nil context")
	}
	if err := ctx.Err(); err != nil {
		return anpi.Errorf(anpi.Unavailable, "memstore: %w", err)
	}
	return nil
}

// tx is one transaction. Every write records how to undo itself.
type tx struct {
	s        *Store
	d        *data
	readOnly bool
	done     bool
	undo     []func()
	// tallies holds the surveys whose tally this transaction already
	// copied (so it may change the copy in place).
	tallies map[anpi.SurveyID]bool
}

// begin checks that the transaction may run an operation.
func (t *tx) begin(ctx context.Context) error {
	if t.done {
		return anpi.Errorf(anpi.FailedPrecondition, "memstore: the transaction has ended")
	}
	return checkCtx(ctx)
}

// beginWrite is begin for an operation that changes the store.
func (t *tx) beginWrite(ctx context.Context) error {
	if err := t.begin(ctx); err != nil {
		return err
	}
	if t.readOnly {
		return anpi.Errorf(anpi.Internal, "memstore: write in a read-only transaction")
	}
	return nil
}

func (t *tx) now() time.Time { return t.s.now().UTC() }

// put sets m[k] = v, recording the undo.
func put[K comparable, V any](t *tx, m map[K]V, k K, v V) {
	old, had := m[k]
	m[k] = v
	t.undo = append(t.undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
}

// del deletes m[k], recording the undo.
func del[K comparable, V any](t *tx, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	delete(m, k)
	t.undo = append(t.undo, func() { m[k] = old })
}

// wrap prefixes a validation error with the operation, keeping its code.
func wrap(op string, err error) error {
	return anpi.Errorf(anpi.Code(err), "memstore: %s: %w", op, err)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func cloneRule(r *anpi.RuleRecord) *anpi.RuleRecord {
	c := *r
	c.Spec = json.RawMessage(slices.Clone([]byte(r.Spec)))
	return &c
}

func cloneTemplate(t *anpi.Template) *anpi.Template { c := *t; return &c }
