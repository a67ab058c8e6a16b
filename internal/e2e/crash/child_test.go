package crash

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/email"
	"github.com/anpikit/anpi/channel/twilio"
)

// What the parent tells a child, in its environment.
const (
	envDB     = "ANPI_E2E_CRASH_DB"     // the store file
	envRun    = "ANPI_E2E_CRASH_RUN"    // the run number, 1…
	envFinal  = "ANPI_E2E_CRASH_FINAL"  // "1": run until every delivery is final, then exit 0
	envSMTP   = "ANPI_E2E_CRASH_SMTP"   // the fake SMTP server, 127.0.0.1:port
	envTwilio = "ANPI_E2E_CRASH_TWILIO" // the fake Twilio's base URL
)

const (
	// lease is the dispatcher's lease: a killed child's claims are taken
	// again that long after they were made. The send timeout (half of it)
	// must never cut a send short on a loaded machine, or a send the
	// provider took would be retried without a crash.
	lease = 8 * time.Second
	// answerWorkers answer in parallel, each for its own users.
	answerWorkers = 4
	// adminSample is how many administrator answers (AnswerAs) a child
	// that is to be killed gives.
	adminSample = 25
	// childLife and finalLife bound a child whose parent died.
	childLife = 60 * time.Second
	finalLife = 4 * time.Minute
)

// printer writes whole lines to stdout, one write each, so that a kill
// leaves only whole lines in the pipe.
type printer struct{ mu sync.Mutex }

func (p *printer) line(f ...any) {
	s := fmt.Sprintln(f...)
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = os.Stdout.WriteString(s)
}

// task is one answer to give.
type task struct {
	user  anpi.UserID
	token string // AnswerByToken when set, AnswerAs (ViaAdmin) otherwise
}

// TestHelperCrashChild is the child process of TestCrash. It opens the
// store, feeds the document to a Service, runs a Dispatcher with the email
// and SMS adapters against the parent's fakes and answers: "token <user>
// <token>" lines read from stdin with AnswerByToken, a sample of the
// administrator-answered users with AnswerAs. It prints "ready" once the
// store is open, "fed <survey> <recipients> <queued>" once the document is
// handled, and for each answer "try <survey> <user> <choice>" before the
// call and "acked <survey> <user> <choice>" after it returned the stored
// response ("fail <user> <error>" when it failed). A final child (envFinal)
// prints "dispatched" once no delivery is left to send, answers until stdin
// ends, prints "done" and exits 0; the others run until they are killed.
func TestHelperCrashChild(t *testing.T) {
	path := os.Getenv(envDB)
	if path == "" {
		t.Skip("child process of TestCrash")
	}
	run, _ := strconv.Atoi(os.Getenv(envRun))
	final := os.Getenv(envFinal) == "1"
	life := childLife
	if final {
		life = finalLife
	}
	time.AfterFunc(life, func() { os.Exit(3) }) // never outlive a dead parent for long
	die := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "child %d: %s: %v\n", run, what, err)
		os.Exit(2)
	}
	ctx := context.Background()
	out := &printer{}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	st, err := openStore(ctx, path)
	if err != nil {
		die("open", err)
	}
	out.line("ready")
	// The dispatcher runs before the document arrives, as in a server:
	// the fan-out hands it each chunk's deliveries, leased to it, as the
	// chunk commits (a kill leaves them held until their lease ends).
	handoff := dispatch.NewHandoff()
	svc, err := anpi.New(st, &anpi.Options{BaseURL: baseURL, Logger: logger, Handoff: handoff,
		Channels: []anpi.Channel{anpi.EmailChannel, anpi.SMSChannel}})
	if err != nil {
		die("service", err)
	}
	senders, err := childSenders()
	if err != nil {
		die("senders", err)
	}
	d, err := dispatch.New(st, &dispatch.Options{
		Senders:  senders,
		Renderer: svc,
		Fallback: []anpi.Channel{anpi.EmailChannel, anpi.SMSChannel},
		Limits: map[anpi.Channel]dispatch.Limit{
			anpi.EmailChannel: {Rate: 5000, Burst: 100, Batch: 20, Concurrency: 4},
			anpi.SMSChannel:   {Rate: 1000, Burst: 20, Batch: 5, Concurrency: 2},
		},
		Owner:        owner(run),
		Lease:        lease,
		PollInterval: 250 * time.Millisecond,
		Backoff:      dispatch.Backoff{Base: 50 * time.Millisecond, Max: time.Second},
		// MaxAttempts is the default (6). A claim a kill cut short
		// counts as an attempt, so a delivery held at several kills has
		// fewer tries left should its provider then fail (it is checked
		// only on a failure); here no send to a working address fails.
		// The test logs the most claims of one delivery.
		Logger:  logger,
		Handoff: handoff,
	})
	if err != nil {
		die("dispatcher", err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = d.Run(runCtx)
	}()

	doc, err := os.ReadFile(document)
	if err != nil {
		die("read document", err)
	}
	res, err := svc.HandleDocument(ctx, doc)
	if err != nil {
		die("handle document", err)
	}
	if len(res.Effects) != 1 || res.Effects[0].Survey == "" {
		die("handle document", fmt.Errorf("effects %+v", res.Effects))
	}
	eff := res.Effects[0]
	survey := eff.Survey
	out.line("fed", survey, eff.Recipients, eff.Queued)

	// The answers: administrator answers first, then links as they come.
	rnd := rand.New(rand.NewPCG(uint64(run), 7))
	queues := make([]chan task, answerWorkers)
	var workers sync.WaitGroup
	for w := range queues {
		queues[w] = make(chan task, 2*users)
		wrnd := rand.New(rand.NewPCG(uint64(run), uint64(w)))
		workers.Go(func() {
			for tk := range queues[w] {
				answer(ctx, out, svc, survey, tk, choices[wrnd.IntN(len(choices))])
			}
		})
	}
	var admins []anpi.UserID
	for i := range users {
		if answersAsAdmin(i) {
			admins = append(admins, userID(i))
		}
	}
	rnd.Shuffle(len(admins), func(i, j int) { admins[i], admins[j] = admins[j], admins[i] })
	if !final {
		admins = admins[:adminSample]
	}
	for _, u := range admins {
		queues[shard(u, answerWorkers)] <- task{user: u}
	}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "token" {
				die("stdin", fmt.Errorf("unexpected line %q", sc.Text()))
			}
			u := anpi.UserID(f[1])
			queues[shard(u, answerWorkers)] <- task{user: u, token: f[2]}
		}
		if !final {
			die("stdin", fmt.Errorf("closed (%v): the parent is gone", sc.Err()))
		}
		for _, q := range queues {
			close(q)
		}
	}()

	if !final {
		<-ran // until killed
		die("dispatcher", fmt.Errorf("run returned"))
	}
	// The last child: send everything, then finish the answers.
	tick := time.NewTicker(250 * time.Millisecond)
	for range tick.C {
		n, err := st.CountDeliveries(ctx, survey)
		if err != nil {
			die("count deliveries", err)
		}
		left := 0
		for s, k := range n {
			if !s.Final() {
				left += k
			}
		}
		if left == 0 {
			break
		}
	}
	tick.Stop()
	stopRun()
	<-ran
	out.line("dispatched")
	workers.Wait()
	if err := st.Close(); err != nil {
		die("close", err)
	}
	out.line("done")
	os.Exit(0) // no test framework output on stdout
}

// answer gives one answer and reports it.
func answer(ctx context.Context, out *printer, svc *anpi.Service, survey anpi.SurveyID, tk task, choice string) {
	ans := []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{choice}}}
	out.line("try", survey, tk.user, choice)
	var r *anpi.Response
	var err error
	if tk.token != "" {
		r, err = svc.AnswerByToken(ctx, tk.token, ans, anpi.ViaWeb)
	} else {
		r, err = svc.AnswerAs(ctx, survey, tk.user, ans, anpi.ViaAdmin)
	}
	switch {
	case err != nil:
		out.line("fail", tk.user, strings.ReplaceAll(err.Error(), "\n", " "))
	case r.UserID != tk.user || len(r.Answers) == 0 || len(r.Answers[0].Choices) != 1:
		out.line("fail", tk.user, fmt.Sprintf("stored response %+v", r))
	default:
		out.line("acked", r.SurveyID, r.UserID, r.Answers[0].Choices[0])
	}
}

// childSenders returns the real adapters, aimed at the parent's fakes.
func childSenders() (map[anpi.Channel]channel.Sender, error) {
	host, port, err := net.SplitHostPort(os.Getenv(envSMTP))
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	mailer, err := email.New(email.Config{Host: host, Port: p, TLSPolicy: email.NoTLS, From: mailFrom})
	if err != nil {
		return nil, err
	}
	sms, err := twilio.NewSMS(twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: smsFrom,
		BaseURL: os.Getenv(envTwilio)})
	if err != nil {
		return nil, err
	}
	return map[anpi.Channel]channel.Sender{anpi.EmailChannel: mailer, anpi.SMSChannel: sms}, nil
}
