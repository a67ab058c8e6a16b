package anpi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/rules"
)

// DefaultChannels returns the fallback order of channels used when
// Options.Channels is empty: app push first (it wakes a phone at once and
// costs nothing), then LINE, email, SMS and a voice call.
func DefaultChannels() []Channel {
	return []Channel{FCMChannel, APNsChannel, LINEChannel, EmailChannel, SMSChannel, VoiceChannel}
}

// Options configures a Service. A nil *Options means defaults.
type Options struct {
	// Clock is the time source; default time.Now. Everything the Service
	// decides (holds, deadlines, token expiry, timestamps) reads it.
	Clock func() time.Time
	// Rand is the randomness of answer tokens and response IDs; default
	// crypto/rand. Reads are serialized, so any io.Reader will do.
	Rand io.Reader
	// BaseURL is the root of the answer pages: links are BaseURL+"/a/"+token.
	// Empty gives relative links ("/a/…"). An SMS holds at most MaxSMSLen
	// characters with the link; SMS links carry a short token (22
	// characters, 128 bits), so a base URL of about 20 characters leaves
	// some 25 for the event. Other channels get 43-character tokens.
	BaseURL string
	// Logger receives what the Service does and every error it cannot
	// return (Run); default: discard.
	Logger *slog.Logger
	// Channels is the fallback order: the first channel a recipient can be
	// reached on gets his delivery. Default DefaultChannels().
	Channels []Channel
	// Form is the question form of automatic surveys; default DefaultForm.
	Form *Form
	// TemplateID names a stored template for automatic surveys; empty (or
	// a template that is gone when a message is rendered) means
	// DefaultTemplate.
	TemplateID TemplateID
	// AnswerWindow sets the deadline of automatic surveys, counted from
	// their start; answer tokens expire with it. Zero means no deadline:
	// tokens then work until the survey is closed.
	AnswerWindow time.Duration
	// AutoReminders is the reminder policy (再通知) of automatic surveys:
	// Count reminders, Interval apart, to those who have not answered
	// (before the deadline, if any). Zero means none.
	AutoReminders ReminderPolicy
	// Tracker configures the jma.Tracker; its Now is replaced by Clock.
	Tracker *jma.TrackerOptions
	// State bounds the memory of rule evaluation (rules.StateOptions).
	State *rules.StateOptions
	// TickInterval is how often Run calls Tick to release held sends and
	// retry work the store refused; default one second.
	TickInterval time.Duration
	// MaxRetries bounds the documents and decisions kept for a retry after
	// the store failed; default 256. Beyond it the oldest are dropped, with
	// an error in the log.
	MaxRetries int
	// SummaryAfter is how long after a survey starts its administrators
	// (Survey.Admins) get the summary (集計): zero means
	// DefaultSummaryAfter, a negative duration sends no summaries. See
	// FollowUp.
	SummaryAfter time.Duration
	// ContactCheck schedules the periodic contact check (連絡先の確認),
	// which Tick starts: nil starts none; &ContactCheckOptions{} checks
	// monthly. StartContactCheck works either way.
	ContactCheck *ContactCheckOptions
	// InvitationTTL is how long an invitation link (Invite) works; zero
	// means DefaultInvitationTTL.
	InvitationTTL time.Duration
	// Notifier is told of each message posted in a thread (for the other
	// members) and of each post on a board (for its creator), after the
	// commit; nil notifies nobody. See Notifier and messaging.go.
	Notifier Notifier
	// OnEnqueue is called after every commit that enqueued deliveries
	// (auto-sends, corrections, reminders, summaries, manual sends and
	// contact checks), so a dispatcher in the same process claims them at
	// once instead of at its next poll: pass the dispatcher's Notify
	// (dispatch.Dispatcher.Notify, which never blocks). It runs on the
	// goroutine that committed, with the Service's lock held when a
	// document or tick is being processed: it must return quickly and must
	// not call the Service. Nil calls nothing; dispatchers of other
	// processes find the deliveries by polling either way. The dispatcher
	// takes the Service as its Renderer, so close over a variable set
	// before the Service runs:
	//
	//	var disp *dispatch.Dispatcher
	//	svc, _ := anpi.New(st, &anpi.Options{OnEnqueue: func() { disp.Notify() }})
	//	disp, _ = dispatch.New(st, &dispatch.Options{Renderer: svc, ...})
	OnEnqueue func()
	// Handoff, when set, takes the deliveries of sends straight from the
	// transaction that writes them: those on channels the Handoff takes
	// are enqueued already leased to it and handed over once committed
	// (each chunk of an auto-send's fan-out; a manual send or a draft
	// sent), and the first render of an auto-send's uses the users and
	// contacts its fan-out read. A dispatch.Handoff given to the
	// dispatcher too is one:
	//
	//	h := dispatch.NewHandoff()
	//	svc, _ := anpi.New(st, &anpi.Options{Handoff: h, OnEnqueue: func() { disp.Notify() }})
	//	disp, _ = dispatch.New(st, &dispatch.Options{Handoff: h, Renderer: svc, Senders: senders})
	Handoff Handoff
}

// Service is the engine of AnpiKit: it turns JMA documents into surveys and
// deliveries (auto-send), renders each delivery for its channel with a
// personal answer link, and records answers. Everything durable goes through
// the Store, in one transaction per step, so a crash loses nothing that was
// acknowledged and a restart asks nobody twice.
//
// A Service is safe for concurrent use. Documents and ticks are processed
// one at a time; Render and the answer methods run concurrently.
type Service struct {
	st       Store
	now      func() time.Time
	log      *slog.Logger
	base     string
	channels []Channel
	form     *Form
	tmplID   TemplateID
	window   time.Duration
	remind   ReminderPolicy // Options.AutoReminders
	tick     time.Duration
	maxRetry int
	summary  time.Duration              // Options.SummaryAfter; negative: none
	fu       followState                // what FollowUp did, so a tick does not redo it
	cc       onboarding                 // contact checks and invitations (contactcheck.go)
	notifier Notifier                   // Options.Notifier (messaging.go)
	onEnq    func()                     // Options.OnEnqueue
	phones   phoneIndexes               // who an SMS reply or a call answers for (phone.go)
	lineIx   lineContacts               // LINE contacts by LINE user, for (un)follows (linefollow.go)
	tokens   tokenMemo                  // answer tokens made or read lately (answermemo.go)
	links    memo[DeliveryID, keptLink] // links made with their deliveries (links.go)
	handoff  Handoff                    // Options.Handoff
	// contactGen counts the Service's writes to contacts: contacts a
	// fan-out read before the latest are not used to render (links.go).
	contactGen atomic.Uint64
	answered   surveyMemo // surveys answered lately, with their forms

	randMu   sync.Mutex
	rand     io.Reader
	tokenSeq uint32 // the counter of token locators, under randMu

	mu      sync.Mutex // serializes documents, ticks and the state below
	tracker *jma.Tracker
	state   *rules.State
	holds   savedHolds // the held sends of state, as saved in the store (holds.go)
	ix      *rules.Index
	regions map[UserID]string // registered regions per indexed user, joined, to detect changes
	groups  map[string][]UserID
	// dir is the directory as syncDirectory read it, while the report that
	// read it is being acted on (nil otherwise): send takes its recipients'
	// records from it instead of reading them again, one by one.
	dir map[UserID]*User
	// known is the directory as last read, at store version knownAt
	// (Store.UsersVersion): syncDirectory reads it again only when the
	// version moved.
	known   map[UserID]*User
	knownAt int64
	rules   map[string]ruleInfo // what the Service knows of each rule it loaded
	retryR  []*jma.Report       // documents the store refused before they were applied
	retryD  []pendingDecision
}

// ruleInfo is what a survey keeps of the rule that started it.
type ruleInfo struct {
	spec   json.RawMessage
	admins []string
}

// pendingDecision is a decision the store refused, kept to be acted on again.
type pendingDecision struct {
	d    rules.Decision
	rule ruleInfo
}

// New returns a Service over st.
func New(st Store, opts *Options) (*Service, error) {
	if st == nil {
		return nil, Errorf(InvalidArgument, "anpi: new service: nil store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Service{
		st:       st,
		now:      o.Clock,
		log:      o.Logger,
		base:     strings.TrimRight(o.BaseURL, "/"),
		channels: o.Channels,
		form:     o.Form,
		tmplID:   o.TemplateID,
		onEnq:    o.OnEnqueue,
		handoff:  o.Handoff,
		window:   o.AnswerWindow,
		remind:   o.AutoReminders,
		tick:     o.TickInterval,
		maxRetry: o.MaxRetries,
		summary:  o.SummaryAfter,
		notifier: o.Notifier,
		rand:     o.Rand,
		ix:       rules.NewIndex(),
		regions:  map[UserID]string{},
		rules:    map[string]ruleInfo{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if len(s.channels) == 0 {
		s.channels = DefaultChannels()
	}
	seen := map[Channel]bool{}
	for _, c := range s.channels {
		if !c.Valid() {
			return nil, Errorf(InvalidArgument, "anpi: new service: options: unknown channel %q", c)
		}
		if seen[c] {
			return nil, Errorf(InvalidArgument, "anpi: new service: options: channel %q listed twice", c)
		}
		seen[c] = true
	}
	s.channels = append([]Channel(nil), s.channels...)
	if s.form == nil {
		s.form = DefaultForm()
	} else {
		s.form = s.form.Clone()
	}
	if err := s.form.Validate(); err != nil {
		return nil, Errorf(InvalidArgument, "anpi: new service: options: form: %w", err)
	}
	if s.window < 0 {
		return nil, Errorf(InvalidArgument, "anpi: new service: options: negative answer window %s", s.window)
	}
	if r := s.remind; r.Count < 0 || r.Count > MaxReminders || (r.Count > 0 && r.Interval < MinReminderEvery) {
		return nil, Errorf(InvalidArgument, "anpi: new service: options: auto reminders: count 0 to %d, interval at least %s", MaxReminders, MinReminderEvery)
	}
	if s.tick <= 0 {
		s.tick = time.Second
	}
	if s.maxRetry <= 0 {
		s.maxRetry = 256
	}
	if s.summary == 0 {
		s.summary = DefaultSummaryAfter
	}
	if err := s.cc.init(o.ContactCheck, o.InvitationTTL); err != nil {
		return nil, err
	}
	var topt jma.TrackerOptions
	if o.Tracker != nil {
		topt = *o.Tracker
	}
	topt.Now = s.now
	s.tracker = jma.NewTracker(&topt)
	s.state = rules.NewState(o.State)
	return s, nil
}

// Store returns the store the Service works on.
func (s *Service) Store() Store { return s.st }

// answerURL returns the link of an answer token.
// enqueued tells Options.OnEnqueue that a commit enqueued n deliveries.
func (s *Service) enqueued(n int) {
	if n > 0 && s.onEnq != nil {
		s.onEnq()
	}
}

func (s *Service) answerURL(token string) string { return s.base + "/a/" + token }

// randomHex returns n random bytes from the Service's randomness, in hex.
func (s *Service) randomHex(n int) (string, error) {
	b := make([]byte, n)
	s.randMu.Lock()
	_, err := io.ReadFull(s.rand, b)
	s.randMu.Unlock()
	if err != nil {
		return "", Errorf(Internal, "anpi: read randomness: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// newToken returns a fresh answer token from the Service's randomness,
// its locator the Service's clock and a counter, so that the tokens it
// makes are stored in order.
func (s *Service) newToken() (string, TokenHash, error) {
	now := s.now()
	s.randMu.Lock()
	defer s.randMu.Unlock()
	s.tokenSeq++
	return NewLocatedAnswerToken(s.rand, now, s.tokenSeq)
}

// newShortToken returns a fresh short answer token (for SMS links).
func (s *Service) newShortToken() (string, TokenHash, error) {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return NewShortAnswerToken(s.rand)
}

// hashID returns prefix + the first 24 hex digits of the SHA-256 of parts
// joined by NUL: a short, deterministic ID for values of any length.
func hashID(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + hex.EncodeToString(h[:12])
}

// DeliveryIDFor returns the deterministic ID the Service gives a delivery
// with key k: the same key always gets the same ID, so enqueuing again after
// a crash finds the delivery already there.
//
// The ID is "d", a hash of the survey and round, ".", the user ID, ".", and a
// hash of the whole key: the deliveries of one round sort by user, so a
// fan-out, enqueued in user order, appends to a store's ID index instead of
// writing at random places in it (with hashed IDs, enqueueing 100,000
// deliveries into SQLite took four times as long). A user ID too long for
// that gets "dlv-" and a hash of the whole key.
func DeliveryIDFor(k DeliveryKey) DeliveryID {
	d := Delivery{SurveyID: k.SurveyID, UserID: k.UserID, Channel: k.Channel, ContactID: k.ContactID, Round: k.Round}
	whole := hashID("", d.IdempotencyKey())
	id := "d" + hashID("", string(k.SurveyID), strconv.Itoa(k.Round))[:10] + "." + string(k.UserID) + "." + whole[:12]
	if len(id) > MaxCodeLen {
		id = "dlv-" + whole
	}
	return DeliveryID(id)
}

// ctxErr classifies a done context as Unavailable.
func ctxErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return Errorf(Unavailable, "anpi: %s: %w", what, err)
	}
	return nil
}
