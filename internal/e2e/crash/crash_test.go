package crash

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	fakesmtp "github.com/anpikit/anpi/internal/fake/smtp"
	faketwilio "github.com/anpikit/anpi/internal/fake/twilio"
)

const (
	// defaultKills is how many times the child is killed unless
	// ANPI_CRASH_KILLS says otherwise.
	defaultKills = 20
	// killBudget is the time after which no further child is killed: the
	// last one is started and runs to completion (well within finalLife).
	killBudget = 60 * time.Second
	// startupKill is the latest moment, from the child's start, of a
	// kill meant for start-up: opening the store and its recovery.
	startupKill = 300 * time.Millisecond
	// maxAfterFed is the longest a child lives after handling the document
	// when its kill waits for sends.
	maxAfterFed = 3 * time.Second
)

// TestCrash runs the engine's whole send path in a child process and kills
// it with SIGKILL at random moments (ANPI_CRASH_KILLS times, default 20,
// within a time budget): during start-up and the document's transaction,
// and while it sends and records answers. A last child runs until every
// delivery is final. After every kill it checks that the survey is whole
// or absent, that every acknowledged answer is stored and that the tally
// equals a recount; at the end, that every recipient was reached, on his
// channel, exactly once, except deliveries the killed children held in
// flight (counted and logged).
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test of the engine: kills a child process (Service, dispatcher, SQLite store, email and Twilio adapters) sending to 10,000 users at random moments, then checks deliveries and answers (under a minute)")
	}
	kills := defaultKills
	if v := os.Getenv("ANPI_CRASH_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "ANPI_CRASH_KILLS")
		require.GreaterOrEqual(t, n, 0, "ANPI_CRASH_KILLS")
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	started := time.Now()

	path := filepath.Join(t.TempDir(), "anpi.db")
	seedDirectory(t, path)
	mail, err := fakesmtp.Start(nil)
	require.NoError(t, err)
	defer mail.Close()
	for i := range users {
		if bounces(i) {
			mail.Fail(workEmail(i), fakesmtp.Bounce)
		}
	}
	tw := faketwilio.Start(&faketwilio.Options{AccountSID: accountSID, AuthToken: authToken, Unlimited: true})
	defer tw.Close()
	t.Logf("directory of %d users written in %s", users, time.Since(started).Round(time.Millisecond))

	e := &engine{t: t, path: path, mail: mail, tw: tw, lg: newLedger(), hv: newHarvester(mail, tw),
		inflight: map[anpi.DeliveryID]int{}, feedTime: 500 * time.Millisecond}
	var survived int
	kinds := map[killKind]int{}
	for run := 1; ; run++ {
		final := survived >= kills || time.Since(started) > killBudget
		if final && survived < kills {
			t.Logf("time budget spent after %d kills", survived)
		}
		var plan killPlan
		if !final {
			plan = e.plan(rnd, kills-survived)
		}
		fed := e.runChild(run, final, plan, rnd.Uint64())
		exists := e.verifyStore(run, !final)
		if final {
			break
		}
		survived++
		kinds[plan.kind]++
		if plan.kind == killFeed && !fed {
			e.beforeFed++
			e.feedTime = e.feedTime * 3 / 2 // aim later next time
		}
		if !exists {
			e.beforeSurvey++
		}
	}
	require.GreaterOrEqual(t, survived, min(kills, 1), "no kill within the time budget")
	e.verifyFinal()
	t.Logf("survived %d kills in %s: %d at start-up, %d while handling the document (%d of them before it was handled; %d kills left no survey, %d part of its recipients), %d while sending and answering",
		survived, time.Since(started).Round(time.Millisecond), kinds[killStartup], kinds[killFeed], e.beforeFed, e.beforeSurvey, e.partial, kinds[killSend])
	t.Logf("deliveries verified: %d emails and %d SMS (fallback after a bounce) to %d recipients, each reached once on his channel except %d duplicate sends of deliveries in flight at a kill (%d deliveries were held by a killed child; the most claims of one delivery: %d)",
		e.emails, e.sms, users, e.dups, len(e.inflight), e.maxAttempts)
	t.Logf("answers verified: %d acknowledged (%d by link, %d as administrator) of %d given, for %d users",
		e.lg.acks, e.lg.acksByLink, e.lg.acks-e.lg.acksByLink, e.lg.tries, e.lg.answered())
	t.Logf("the document was handled by %d children: %d reported asking some of the %d recipients (those killed before they said so are not counted), the others nobody",
		e.feeds, e.firstFeeds, users)
}

// engine is the parent's side: the fakes, what the children acknowledged
// and what was in flight at each kill.
type engine struct {
	t    *testing.T
	path string
	mail *fakesmtp.Server
	tw   *faketwilio.Server
	lg   *ledger
	hv   *harvester

	survey     anpi.SurveyID
	asked      int                     // recipients the children reported newly added
	inflight   map[anpi.DeliveryID]int // kills at which the killed child held the delivery
	feeds      int                     // children that handled the document
	firstFeeds int                     // of which, those that added recipients
	// feedTime is how long the last child that handled the document took
	// for it, from "ready" to "fed": the window of feed kills.
	feedTime     time.Duration
	beforeFed    int // feed kills that fell before the child printed "fed"
	beforeSurvey int // kills after which there was no survey: before its transaction committed
	partial      int // kills after which the survey had part of its recipients: between chunks

	emails, sms, dups int // found by verifyFinal
	maxAttempts       int // the most claims of one delivery
}

// killKind is the phase of the child a kill aims at.
type killKind int

const (
	killStartup killKind = iota // opening the store
	killFeed                    // handling the document: the survey's transaction
	killSend                    // sending and answering
)

// killPlan is when a child dies.
type killPlan struct {
	kind  killKind
	after time.Duration // since the start (killStartup), "ready" (killFeed) or "fed" (killSend, at the latest)
	sends int           // killSend: once the fakes took this many messages since "fed"
}

// delivered returns what the fakes accepted so far.
func (e *engine) delivered() int { return e.mail.Count() + e.tw.Accepted("sms") }

// plan draws the moment of the next kill. Until the survey exists, the
// kill falls while the child handles the document (within the time the
// last child took for it, or later each time a kill came too early);
// afterwards one in ten falls at start-up, one in ten
// while handling the document again, and the others after a number of
// sends spread so that the kills cover the whole dispatch, or a while
// after the document was handled (once all is sent, the kills hit
// answers).
func (e *engine) plan(rnd *rand.Rand, killsLeft int) killPlan {
	feed := killPlan{kind: killFeed, after: time.Duration(rnd.Int64N(int64(e.feedTime*5/4) + 1))}
	if e.survey == "" {
		return feed
	}
	switch rnd.IntN(10) {
	case 0:
		return killPlan{kind: killStartup, after: time.Duration(rnd.Int64N(int64(startupKill)))}
	case 1:
		return feed
	}
	left := max(users-e.delivered(), 0)
	return killPlan{kind: killSend, after: time.Duration(rnd.Int64N(int64(maxAfterFed))), sends: rnd.IntN(2*left/max(killsLeft, 1) + 1)}
}

// runChild runs one child to its kill (or, final, to its end), feeding it
// answer links on stdin and reading what it acknowledges. It reports
// whether the child handled the document.
func (e *engine) runChild(run int, final bool, plan killPlan, seed uint64) (fed bool) {
	t := e.t
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashChild$", "-test.count=1")
	finalEnv := "0"
	if final {
		finalEnv = "1"
	}
	cmd.Env = append(os.Environ(), envDB+"="+e.path, envRun+"="+strconv.Itoa(run), envFinal+"="+finalEnv,
		envSMTP+"="+e.mail.Addr(), envTwilio+"="+e.tw.URL())
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	start := time.Now()
	gone := make(chan struct{}) // the child was waited for
	var killed atomic.Bool
	kill := func() {
		if killed.CompareAndSwap(false, true) {
			_ = cmd.Process.Kill() // SIGKILL
		}
	}
	defer func() {
		select {
		case <-gone:
		default:
			kill() // a failed check must not leave the child running
			_ = cmd.Wait()
		}
	}()
	var readyAt, fedAt atomic.Int64 // unix nanoseconds, once the child opened the store and handled the document
	var bg sync.WaitGroup
	if !final {
		bg.Go(func() { e.killer(plan, start, &readyAt, &fedAt, kill, gone) })
	}
	finish := make(chan struct{}) // the final child sent everything: send the last links
	feedErr := make(chan error, 1)
	skip := e.lg.ackedUsers()
	bg.Go(func() { feedErr <- e.feed(stdin, final, skip, seed, finish, gone) })

	sc := bufio.NewScanner(stdout)
	var done, finished bool
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && f[0] == "ready":
			readyAt.Store(time.Now().UnixNano())
		case len(f) == 4 && f[0] == "fed" && readyAt.Load() != 0:
			now := time.Now()
			fedAt.Store(now.UnixNano())
			fed = true
			e.feedTime = now.Sub(time.Unix(0, readyAt.Load()))
			n, err1 := strconv.Atoi(f[2])
			_, err2 := strconv.Atoi(f[3])
			require.NoError(t, err1, line)
			require.NoError(t, err2, line)
			if e.survey == "" {
				e.survey = anpi.SurveyID(f[1])
			}
			require.Equal(t, e.survey, anpi.SurveyID(f[1]), "run %d: the document led to another survey", run)
			e.feeds++
			if n > 0 {
				e.firstFeeds++
			}
			// The fan-out is written in chunks: a child adds the
			// recipients the children before it did not (those killed
			// before they printed are not counted here), and nobody is
			// added twice.
			require.LessOrEqual(t, e.asked+n, users, "run %d: %s after %d recipients", run, line, e.asked)
			e.asked += n
		case len(f) == 4 && f[0] == "try":
			e.lg.try(t, anpi.UserID(f[2]), f[3])
		case len(f) == 4 && f[0] == "acked":
			require.Equal(t, e.survey, anpi.SurveyID(f[1]), line)
			e.lg.ack(t, anpi.UserID(f[2]), f[3])
		case len(f) >= 2 && f[0] == "fail":
			require.Failf(t, "answer failed", "run %d: %s", run, line)
		case final && len(f) == 1 && f[0] == "dispatched" && !finished:
			finished = true
			close(finish)
		case final && finished && len(f) == 1 && f[0] == "done":
			done = true
		default:
			require.Failf(t, "child printed an unexpected line", "run %d: %q", run, line)
		}
	}
	require.NoError(t, sc.Err())
	err = cmd.Wait()
	close(gone)
	bg.Wait()
	ferr := <-feedErr
	if final {
		require.NoError(t, err, "final run %d; stderr:\n%s", run, stderr.String())
		require.True(t, done, "final run %d ended without \"done\"; stderr:\n%s", run, stderr.String())
		require.NoError(t, ferr, "final run %d: feeding answer links", run)
		return fed
	}
	if !killed.Load() || err == nil || !strings.Contains(err.Error(), "killed") {
		require.Failf(t, "child died by itself", "run %d ended with %v, not by the kill; stderr:\n%s", run, err, stderr.String())
	}
	return fed
}

// killer kills the child as planned.
func (e *engine) killer(plan killPlan, start time.Time, readyAt, fedAt *atomic.Int64, kill func(), gone <-chan struct{}) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	since := func(at *atomic.Int64) (time.Duration, bool) {
		ns := at.Load()
		return time.Since(time.Unix(0, ns)), ns != 0
	}
	base := -1
	for {
		select {
		case <-gone:
			return
		case <-tick.C:
		}
		switch plan.kind {
		case killStartup:
			if time.Since(start) >= plan.after {
				kill()
				return
			}
		case killFeed:
			if d, ok := since(readyAt); ok && d >= plan.after {
				kill()
				return
			}
		case killSend:
			d, ok := since(fedAt)
			if !ok {
				continue
			}
			if base < 0 {
				base = e.delivered()
			}
			if e.delivered()-base >= plan.sends || d >= plan.after {
				kill()
				return
			}
		}
	}
}

// feed writes "token <user> <token>" lines to the child: the links found so
// far of users without an acknowledged answer (and one in ten of the
// others, to answer again), then new ones as the fakes receive them. The
// final child's stdin is closed once it reports everything sent and the
// last links were written.
func (e *engine) feed(stdin io.WriteCloser, final bool, acked map[anpi.UserID]bool, seed uint64, finish, gone <-chan struct{}) error {
	rnd := rand.New(rand.NewPCG(seed, 2))
	sent := map[anpi.UserID]bool{}
	write := func(us []anpi.UserID) error {
		var b strings.Builder
		for _, u := range us {
			if sent[u] {
				continue
			}
			sent[u] = true
			if acked[u] && rnd.IntN(10) != 0 {
				continue
			}
			fmt.Fprintf(&b, "token %s %s\n", u, e.hv.tokens[u])
		}
		if b.Len() == 0 {
			return nil
		}
		_, err := io.WriteString(stdin, b.String())
		return err
	}
	if err := write(e.hv.order); err != nil {
		return err
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-gone:
			return nil
		case <-finish:
			if err := write(e.hv.harvest()); err != nil {
				return err
			}
			return stdin.Close()
		case <-tick.C:
			if err := write(e.hv.harvest()); err != nil {
				if final {
					return err
				}
				return nil // killed: the pipe is broken
			}
		}
	}
}

// lockedBuffer collects a child's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil // enough to diagnose
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harvester reads the answer links out of what the fakes received.
type harvester struct {
	mail              *fakesmtp.Server
	tw                *faketwilio.Server
	seenMail, seenSMS int
	tokens            map[anpi.UserID]string // the latest link of each user who answers by link
	order             []anpi.UserID          // in the order their first link arrived
}

func newHarvester(mail *fakesmtp.Server, tw *faketwilio.Server) *harvester {
	return &harvester{mail: mail, tw: tw, tokens: map[anpi.UserID]string{}}
}

// harvest takes the links of the messages received since the last call and
// returns the users they are for (among those who answer by link).
func (h *harvester) harvest() []anpi.UserID {
	var out []anpi.UserID
	add := func(i int, text string) {
		if !answersByLink(i) {
			return
		}
		m := tokenRE.FindStringSubmatch(text)
		if m == nil {
			return // verifyFinal reports it
		}
		u := userID(i)
		if _, ok := h.tokens[u]; !ok {
			h.order = append(h.order, u)
		}
		h.tokens[u] = m[1]
		out = append(out, u)
	}
	if h.mail.Count() > h.seenMail {
		ms := h.mail.Messages()
		for _, m := range ms[h.seenMail:] {
			if len(m.To) == 1 {
				if i, ok := userIndex(anpi.UserID(strings.TrimSuffix(m.To[0], "@corp.example"))); ok {
					add(i, m.Text)
				}
			}
		}
		h.seenMail = len(ms)
	}
	if h.tw.Accepted("sms") > h.seenSMS {
		rs := h.tw.Requests()
		for _, r := range rs[h.seenSMS:] {
			if i, ok := phoneIndex(r.To); ok {
				add(i, r.Body)
			}
		}
		h.seenSMS = len(rs)
	}
	return out
}

// phoneIndex returns the user whose phone is p.
func phoneIndex(p string) (int, bool) {
	s, ok := strings.CutPrefix(p, "+8190")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= users || phone(i) != p || !hasPhone(i) {
		return 0, false
	}
	return i, true
}

// ledger is what the children said about answers. Each user's answers come
// from one worker of one child at a time, so his lines are in order: a
// "try" before the call, an "acked" after it returned.
type ledger struct {
	users                   map[anpi.UserID]*answerLog
	tries, acks, acksByLink int
}

// answerLog is one user's answers: the last acknowledged choice, and the
// choices tried since (any of which may be stored: the child may have died
// after the commit, before printing).
type answerLog struct {
	acked string
	after []string
}

func newLedger() *ledger { return &ledger{users: map[anpi.UserID]*answerLog{}} }

func (l *ledger) try(t *testing.T, u anpi.UserID, choice string) {
	i, ok := userIndex(u)
	require.True(t, ok && (answersByLink(i) || answersAsAdmin(i)), "answer for %s, who is not in the subsets", u)
	require.Contains(t, choices, choice)
	a := l.users[u]
	if a == nil {
		a = &answerLog{}
		l.users[u] = a
	}
	a.after = append(a.after, choice)
	l.tries++
}

func (l *ledger) ack(t *testing.T, u anpi.UserID, choice string) {
	a := l.users[u]
	require.True(t, a != nil && len(a.after) > 0, "acknowledged answer of %s that was not tried", u)
	require.Equal(t, a.after[len(a.after)-1], choice, "acknowledged answer of %s is not the one tried last", u)
	a.acked, a.after = choice, nil
	l.acks++
	if i, _ := userIndex(u); answersByLink(i) {
		l.acksByLink++
	}
}

// ackedUsers returns the users with an acknowledged answer.
func (l *ledger) ackedUsers() map[anpi.UserID]bool {
	out := map[anpi.UserID]bool{}
	for u, a := range l.users {
		if a.acked != "" {
			out[u] = true
		}
	}
	return out
}

// answered returns how many users have an acknowledged answer.
func (l *ledger) answered() int { return len(l.ackedUsers()) }

// check checks the stored answer of u (nil when there is none) against the
// ledger.
func (l *ledger) check(t *testing.T, u anpi.UserID, r *anpi.Response) {
	a := l.users[u]
	if r == nil {
		require.True(t, a == nil || a.acked == "", "acknowledged answer of %s (%s) lost", u, a.acked)
		return
	}
	require.NotNil(t, a, "answer of %s stored, but never given", u)
	require.Len(t, r.Answers, 1, "answer of %s", u)
	got := r.Answers[0]
	require.Equal(t, anpi.QuestionSelf, got.QuestionID)
	require.Len(t, got.Choices, 1)
	ok := got.Choices[0] == a.acked || slices.Contains(a.after, got.Choices[0])
	require.True(t, ok, "answer of %s is %q: neither the last acknowledged one (%q) nor one tried since (%v)", u, got.Choices[0], a.acked, a.after)
}
