// Package anpi models 安否確認 (employee safety confirmation) for companies in
// Japan: the directory, contacts with privacy, roles, forms, templates,
// surveys, deliveries, responses and tallies, and the Store contract that
// persists them.
//
// # Directory
//
// A User has an employee code, names, a work email set by administrators,
// several departments, contact groups, a job title and several Regions (JMA
// codes: earthquake areas, tsunami regions, warning municipalities).
// Departments form a tree of unlimited depth; DepartmentTree answers
// ancestor, descendant and subtree questions and validates moves.
//
// # Privacy
//
// Contacts a user registers himself (private emails, app push tokens, LINE,
// phone, family) are visible only to him. Administrators get an
// AdminUserView, whose ContactStatus values have no address field at all: a
// private address cannot leak through them, by construction.
//
// # Permissions
//
// Three roles (Manager, CrisisManager, SystemAdmin), each company-wide or
// over a department subtree. Authorizer.Authorize is the one function that
// answers "may actor A do action X on target T".
//
// # Surveys
//
// A Survey (一斉送信) asks recipients a Form; a Template renders its text per
// channel (long for email, short for push and LINE, at most 70 characters
// for SMS) in Japanese or English. Deliveries are rows of a claimable outbox;
// a Response is a recipient's current answer; a Tally counts them, updated
// in the same transaction as each answer.
//
// # Engine
//
// Service is the engine on top of a Store. HandleDocument (or Run with a
// jma.Source) takes a JMA document through a jma.Tracker and the stored
// auto-send rules (rules.State, against an index of the active users'
// regions) and writes the survey of (rule, event), its new recipients and
// one Queued delivery per new recipient on the first channel of
// Options.Channels he can be reached on (SkippedNoContact when none), with
// audit entries and each delivery's answer link (its token stored as a
// hash): the survey with its first 64 recipients in one transaction, so
// the first messages leave within milliseconds, then chunks doubling up to
// 5,000 per transaction, each chunk whole or not at all (each chunk's
// contacts are read and its links made on the store's readers while the
// chunk before it is written). Survey IDs derive from
// the rule and the event, and the survey's recipients are the durable set of
// people already asked: a second report of the event asks only those newly
// in scope, and a restarted Service fed the same documents asks nobody
// twice. A 取消 cancels what is unsent and queues a short correction
// (CorrectionRound) to those already sent to; 訓練 documents make drill
// surveys only for rules that opt in; 試験 documents never send. Held sends
// wait in the rules.State until Tick releases them; they are saved in the
// store (Store.PutEngineState, "rules.holds") whenever they change, and a
// restarted Service restores them before its first document or tick.
//
// Render turns a delivery the dispatcher claimed into a channel.Message:
// the recipient's address on the channel, the survey's template in his
// locale and the channel's style, and a personal answer link whose token
// the store keeps only as a hash (the first render of an auto-send's
// delivery uses the link its fan-out stored). RenderBatch does the same
// for a batch of claimed deliveries, reading each survey, the users and
// their contacts once and storing all the batch's new tokens in one write
// (one fsync per batch instead of one per message). Options.OnEnqueue (a dispatcher's Notify) is
// called after every commit that enqueued deliveries, so a dispatcher in the
// same process starts on them at once. With Options.Handoff (a
// dispatch.Handoff) a send's deliveries (each chunk of an auto-send, a
// manual send) are written already leased to the dispatcher and handed to
// it once committed: it sends them without claiming them, and the first
// render of an auto-send's uses the users and contacts its fan-out read
// (one store write per delivery before its result, instead of three). AnswerByToken records an answer given
// through such a link (SubmitAnswer, the answer page's POST, builds the
// answers from the survey's form; both take a link the Service made or saw
// from memory, the store checking the token in the recording transaction),
// LookupToken serves the answer page's GET without recording anything;
// AnswerBySMS, AnswerByCall and AnswerByLINE find the person by what the
// survey reached, and AnswerAs records answers the caller authenticated
// otherwise (an administrator). LINEFollowChanged marks a LINE contact
// broken while its user blocks the account.
//
// StartSurvey starts a manual send (or, with TestTo, a test send to chosen
// people) after the Authorizer's checks; SaveDraft keeps one as a draft
// (下書き) that asks nobody until SendDraft sends it, or test-sends it
// (the draft stays); Drafts and DeleteDraft list and remove them.
//
// FollowUp, which Tick calls, enqueues the reminders (再通知) of surveys
// with a ReminderPolicy, round k at StartedAt + k×Interval, to the
// recipients who have not answered, on the channel their first send
// reached; and, Options.SummaryAfter (default ten minutes) after a survey
// started, the summary (集計: response rate and per-department table) to
// its Admins as deliveries of SummaryRound. Both are idempotent per user
// and round: ticks, restarts and replicas enqueue nothing twice.
//
// For administrators, Tally returns a survey's tally, filtered by an
// ExportFilter (department subtree, region, answer, not answered) with the
// answer-time quartiles; ExportCSV writes the same selection as a CSV for
// Excel (UTF-8 with a byte order mark, formulas escaped); Audit reads the
// audit log, which every administrative action of the Service appends to.
// Each is checked by the Authorizer.
//
// # Contact checks and onboarding
//
// StartContactCheck, and Tick when Options.ContactCheck is set (monthly by
// default), send every active user a contact check (連絡先の確認): a survey
// of kind ContactCheckSurvey with one delivery per contact, whose link
// (ContactCheckPath) names the contact it was sent to. ConfirmContact (or
// AnswerByToken) marks that contact Verified; "not for me" marks it broken.
// Contact checks have no reminders, no summary and normal priority: they
// are kept apart from safety surveys. BrokenContacts and
// UsersWithoutPrivateContact are the administrators' lists (連絡網), with
// statuses and never addresses.
//
// Invite issues a registration link (InvitationPath; package anpi/qrcode
// prints it as a QR code) with which the self-service page identifies the
// user (RedeemInvitation) and registers his private contacts
// (RegisterContact; RegisterOwnContact for a signed-in user). LINENonces is
// the NonceStore of LINE account linking (package channel/line) over the
// store, and LinkLINE registers the linked LINE account as a verified
// contact. Invitation links and nonces are answer tokens: stored as hashes,
// shared by every replica.
//
// # Messages and boards
//
// Threads (メッセージ) are discussions among chosen users: StartThread
// (whoever Settings.MessageCreators allows: administrators by default),
// PostMessage, Threads, Messages; only active members read and write.
// Boards (掲示板) publish to the company or a department's subtree:
// CreateBoard (administrators, within their scope), PostToBoard, Boards,
// Posts. Each write is checked and audited in its transaction; a message
// notifies the other members and a post the board's creator through
// Options.Notifier, after the commit. Messages and posts are numbered per
// thread and board (Seq, without gaps) and paged oldest first (PageQuery).
//
// # Errors
//
// Every error is classified by Code: NotFound, AlreadyExists,
// InvalidArgument, PermissionDenied, FailedPrecondition, Unavailable or
// Internal.
package anpi
