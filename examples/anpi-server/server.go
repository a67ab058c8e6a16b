package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/anpi/web"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/apns"
	"github.com/anpikit/anpi/channel/email"
	"github.com/anpikit/anpi/channel/line"
	"github.com/anpikit/anpi/channel/twilio"
	smtpsink "github.com/anpikit/anpi/internal/fake/smtp"
	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/store/postgres"
	"github.com/anpikit/anpi/store/sqlite"
)

// server is one running reference server: what run wires together. Tests
// get it through run's started callback.
type server struct {
	cfg      *config
	log      *slog.Logger
	st       anpi.Store
	svc      *anpi.Service
	disp     *dispatch.Dispatcher
	sink     *smtpsink.Server // development mode only
	accounts *accountsFile
	acctPath string
	counters *counters
	channels []anpi.Channel // channels with a sender, in fallback order
	line     *line.Sender   // the LINE sender, which also replies to webhook events; nil without -line-token
	// answerCSRF and adminCSRF key the pages' CSRF fields; derived from
	// the sealing key, so they are the same after a restart and on every
	// replica.
	answerCSRF, adminCSRF []byte
	ln                    net.Listener
	baseURL               string
	ready                 atomic.Bool // migrations done, demo seeded, dispatcher running
}

// URL returns the address the server listens on, as http://host:port.
func (s *server) URL() string { return "http://" + s.ln.Addr().String() }

// run is the whole server: it parses args (and the environment through
// getenv), opens the store, seeds the demo on first start, starts the
// dispatcher, the Service and the HTTP server, prints where to open it on
// stdout, logs to stderr, and serves until ctx is done; then it shuts down
// gracefully. started, when set, is called once everything runs.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, started func(*server)) (err error) {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	s := &server{cfg: cfg, log: log, counters: newCounters()}

	if cfg.NewAPIKey != "" {
		return newAPIKey(cfg.Data, cfg.NewAPIKey, stdout)
	}
	// The senders first: bad credentials stop the start before anything
	// is written.
	senders, err := s.senders()
	if err != nil {
		return err
	}
	if s.sink != nil {
		defer s.sink.Close()
	}

	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	key, keyGenerated, err := loadKey(cfg.EncryptionKey, cfg.Data)
	if err != nil {
		return err
	}
	s.answerCSRF, s.adminCSRF = deriveKey(key, "answer csrf"), deriveKey(key, "admin csrf")
	sealer, err := newSealer(key)
	if err != nil {
		return err
	}
	if keyGenerated {
		log.Info("generated the key that seals private contacts", "path", filepath.Join(cfg.Data, "key"))
	}

	// The store: SQLite in the data directory, or PostgreSQL. Open runs
	// the migrations.
	var storeDesc string
	if cfg.PostgresURL != "" {
		pg, err := postgres.Open(ctx, cfg.PostgresURL, &postgres.Options{Sealer: sealer, Schema: cfg.PGSchema})
		if err != nil {
			return fmt.Errorf("open PostgreSQL: %w", err)
		}
		s.st, storeDesc = pg, "PostgreSQL, schema "+cfg.PGSchema
	} else {
		path := filepath.Join(cfg.Data, "anpi.db")
		lite, err := sqlite.Open(ctx, path, &sqlite.Options{Sealer: sealer})
		if err != nil {
			return fmt.Errorf("open SQLite: %w", err)
		}
		s.st, storeDesc = lite, "SQLite "+path
	}
	defer func() {
		if cerr := s.st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close the store: %w", cerr))
		} else {
			log.Info("store closed")
		}
	}()

	// First start: an empty store gets the demo organisation in
	// development mode, and only its administrator in production.
	n, err := s.st.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("read the store: %w", err)
	}
	seeded, password := "", ""
	switch {
	case n > 0:
	case cfg.Dev:
		err = seedDemo(ctx, s.st, cfg.DemoUsers, uint64(time.Now().UnixNano()), time.Now(), cfg.AdminEmail)
		seeded = fmt.Sprintf("seeded a demo organisation of %d users and the default auto-send rules", cfg.DemoUsers)
	default:
		err = seedAdmin(ctx, s.st, time.Now())
		seeded = "created the administrator; import the directory (users, departments) and set the rules"
	}
	if anpi.Code(err) == anpi.AlreadyExists {
		// Another replica on the same PostgreSQL seeded it at the same
		// moment; the seed is one transaction, so it is whole.
		seeded, err = "", nil
	}
	if err != nil {
		return err
	}
	if seeded != "" {
		log.Info(seeded)
	}
	s.acctPath = filepath.Join(cfg.Data, "accounts.json")
	s.accounts, password, err = openAccounts(s.acctPath, cfg.AdminEmail, log)
	if err != nil {
		return err
	}

	s.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer s.ln.Close() // Shutdown closes it too; this covers the early returns
	s.baseURL = cfg.BaseURL
	if s.baseURL == "" {
		s.baseURL = s.URL()
		if host, _, _ := net.SplitHostPort(s.ln.Addr().String()); net.ParseIP(host).IsUnspecified() {
			log.Warn("the answer links point at " + s.baseURL + ", which recipients cannot open: set -base-url")
		}
	}

	for _, c := range anpi.DefaultChannels() {
		if senders[c] != nil {
			s.channels = append(s.channels, c)
		}
	}

	// The engine: the Service renders for the dispatcher, wakes it on
	// every enqueue and hands it the deliveries of auto-sends as their
	// chunks commit (no claim).
	var disp *dispatch.Dispatcher
	handoff := dispatch.NewHandoff()
	s.svc, err = anpi.New(s.st, &anpi.Options{
		Handoff:       handoff,
		BaseURL:       s.baseURL,
		Logger:        log,
		Channels:      s.channels,
		AnswerWindow:  cfg.AnswerWindow,
		AutoReminders: anpi.ReminderPolicy{Count: cfg.Reminders, Interval: cfg.RemindEvery},
		OnEnqueue: func() {
			s.counters.enqueues.Add(1)
			disp.Notify()
		},
	})
	if err != nil {
		return err
	}
	disp, err = dispatch.New(s.st, &dispatch.Options{Senders: senders, Renderer: s.svc, Fallback: s.channels, Logger: log, Handoff: handoff})
	if err != nil {
		return err
	}
	s.disp = disp

	// No WriteTimeout: a CSV export of a large survey may take a while.
	handler, err := s.routes()
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	dispCtx, stopDisp := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDisp()
	dispDone := make(chan struct{})
	go func() {
		defer close(dispDone)
		_ = disp.Run(dispCtx) // returns nil once its rounds in flight are recorded
	}()
	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSvc()
	svcDone := make(chan struct{})
	go func() {
		defer close(svcDone)
		s.runService(svcCtx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(s.ln) }()
	s.ready.Store(true)

	s.banner(stdout, storeDesc, seeded, password)
	if host, _, _ := net.SplitHostPort(s.ln.Addr().String()); cfg.Dev && s.sink != nil && !net.ParseIP(host).IsLoopback() {
		log.Warn("development mode on a non-loopback address: anyone who reaches it can read the captured mail, answer links included, at /dev/mail")
	}
	log.Info("serving", "addr", s.ln.Addr().String(), "base_url", s.baseURL, "dev", cfg.Dev, "channels", s.channels, "jma_poll", cfg.JMAPoll)
	if started != nil {
		started(s)
	}

	var serr error
	select {
	case serr = <-serveErr:
	case <-ctx.Done():
	}
	// Graceful shutdown: stop accepting and finish the requests in
	// flight, stop the feed and the ticks, let the dispatcher record the
	// sends in flight, then close the store (deferred: it checkpoints).
	log.Info("shutting down")
	s.ready.Store(false)
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		serr = errors.Join(serr, fmt.Errorf("http shutdown: %w", err))
	}
	stopSvc()
	<-svcDone
	stopDisp()
	<-dispDone
	log.Info("dispatcher stopped")
	if errors.Is(serr, http.ErrServerClosed) {
		serr = nil
	}
	return serr
}

// senders returns the channel senders the configuration enables: email
// always (to the relay, or to the in-process sink in development mode),
// LINE, SMS and APNs when their credentials are given.
func (s *server) senders() (map[anpi.Channel]channel.Sender, error) {
	cfg := s.cfg
	out := map[anpi.Channel]channel.Sender{}
	ecfg := email.Config{From: cfg.SMTPFrom, Username: cfg.SMTPUser, Password: cfg.SMTPPassword}
	if cfg.SMTP == "" {
		sink, err := smtpsink.Start(nil)
		if err != nil {
			return nil, fmt.Errorf("start the mail sink: %w", err)
		}
		s.sink = sink
		ecfg.Host, ecfg.Port, ecfg.TLSPolicy = sink.Host(), sink.Port(), email.NoTLS
	} else {
		host, port, _ := net.SplitHostPort(cfg.SMTP) // checked by parseConfig
		ecfg.Host = host
		ecfg.Port, _ = strconv.Atoi(port)
		ecfg.TLSPolicy = map[string]email.TLSPolicy{"mandatory": email.TLSMandatory, "opportunistic": email.TLSOpportunistic,
			"none": email.NoTLS, "implicit": email.ImplicitTLS}[cfg.SMTPTLS]
	}
	mail, err := email.New(ecfg)
	if err != nil {
		return nil, err
	}
	out[anpi.EmailChannel] = mail
	if cfg.LINEToken != "" {
		ln, err := line.New(line.Config{ChannelAccessToken: cfg.LINEToken, Endpoint: cfg.LINEAPI})
		if err != nil {
			return nil, err
		}
		s.line = ln
		out[anpi.LINEChannel] = ln
	}
	if cfg.twilio() {
		tcfg := twilio.Config{AccountSID: cfg.TwilioSID, AuthToken: cfg.TwilioToken, From: cfg.TwilioFrom, BaseURL: cfg.TwilioAPI}
		if cfg.TwilioVoice {
			// parseConfig made sure of the base URL: Twilio must reach
			// the action from outside.
			tcfg.GatherAction = cfg.BaseURL + twilioVoicePath
			voice, err := twilio.NewVoice(tcfg)
			if err != nil {
				return nil, fmt.Errorf("voice (-twilio-sid, -twilio-token, -twilio-from): %w", err)
			}
			out[anpi.VoiceChannel] = voice
		} else {
			sms, err := twilio.NewSMS(tcfg)
			if err != nil {
				return nil, fmt.Errorf("SMS (-twilio-sid, -twilio-token, -twilio-from): %w", err)
			}
			out[anpi.SMSChannel] = sms
		}
	}
	if cfg.APNsKeyFile != "" {
		ios, err := apns.New(apns.Config{KeyFile: cfg.APNsKeyFile, KeyID: cfg.APNsKeyID, TeamID: cfg.APNsTeamID,
			Topic: cfg.APNsTopic, Production: !cfg.APNsSandbox})
		if err != nil {
			return nil, fmt.Errorf("APNs (-apns-key, -apns-key-id, -apns-team, -apns-topic): %w", err)
		}
		out[anpi.APNsChannel] = ios
	}
	for c, snd := range out {
		out[c] = countSends(c, snd, s.counters)
	}
	return out, nil
}

// runService feeds the JMA feed into the Service when polling is on
// (Service.Run ticks too); otherwise it only ticks, so held sends,
// reminders and summaries still happen.
func (s *server) runService(ctx context.Context) {
	if s.cfg.JMAPoll {
		src := &countingSource{src: jma.NewPoller(&jma.PollerOptions{Feeds: s.cfg.JMAFeeds, Logger: s.log}), c: s.counters}
		if err := s.svc.Run(ctx, src); err != nil && ctx.Err() == nil {
			s.log.Error("JMA feed stopped", "err", err)
		}
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.svc.Tick(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("tick", "err", err)
			}
		}
	}
}

// countingSource counts the documents a source emits.
type countingSource struct {
	src jma.Source
	c   *counters
}

// Run runs the source, counting each document it emits.
func (cs *countingSource) Run(ctx context.Context, emit func(jma.Document) error) error {
	return cs.src.Run(ctx, func(d jma.Document) error {
		cs.c.documents.Add(1)
		return emit(d)
	})
}

// handleDocument gives one JMA document to the Service, counting it.
func (s *server) handleDocument(ctx context.Context, data []byte) (*anpi.Outcome, error) {
	return countDocument(s.counters, func() (*anpi.Outcome, error) { return s.svc.HandleDocument(ctx, data) })
}

// banner prints where to open the server, and the administrator's
// password on the first start only.
func (s *server) banner(w io.Writer, storeDesc, seeded, password string) {
	mode := "production mode: mail goes to " + s.cfg.SMTP
	if s.cfg.SMTP == "" {
		mode = "development mode: mail goes to the in-process sink"
	} else if s.cfg.Dev {
		mode = "development mode: mail goes to " + s.cfg.SMTP
	}
	fmt.Fprintf(w, "AnpiKit reference server (%s)\n", mode)
	fmt.Fprintf(w, "  store:  %s\n", storeDesc)
	fmt.Fprintf(w, "  admin:  %s/admin/\n", s.URL())
	if s.cfg.Dev && s.sink != nil {
		fmt.Fprintf(w, "  mail:   %s/dev/mail\n", s.URL())
		fmt.Fprintf(w, "  quake:  %s/dev/quake (simulate an earthquake)\n", s.URL())
	}
	fmt.Fprintf(w, "  health: %s/healthz  %s/readyz  %s/metrics\n", s.URL(), s.URL(), s.URL())
	// The webhooks are given as the providers must call them: public URLs.
	if s.cfg.LINESecret != "" {
		fmt.Fprintf(w, "  LINE webhook:     %s%s\n", s.baseURL, lineWebhookPath)
	}
	if s.cfg.twilio() {
		fmt.Fprintf(w, "  Twilio callbacks: %s%s  %s%s\n", s.baseURL, twilioSMSPath, s.baseURL, twilioVoicePath)
	}
	if p := s.cfg.oidcProvider(s.baseURL); p != nil {
		fmt.Fprintf(w, "  OIDC redirect URL: %s (register it at %s)\n", p.RedirectURL, p.Issuer)
	}
	if seeded != "" {
		fmt.Fprintf(w, "First start: %s.\n", seeded)
	}
	if password != "" {
		fmt.Fprintf(w, "Administrator login (shown only this once; only its hash is kept, in %s):\n", s.acctPath)
		fmt.Fprintf(w, "  open:     %s/admin/\n  email:    %s\n  password: %s\n", s.URL(), s.cfg.AdminEmail, password)
	}
	fmt.Fprintf(w, "Stop with Ctrl-C.\n")
}

// adminOIDC is the admin handler's OIDC providers: the one of the flags,
// its callback under the public base URL; none without -oidc-issuer.
func (s *server) adminOIDC() []web.OIDCProvider {
	if p := s.cfg.oidcProvider(s.baseURL); p != nil {
		return []web.OIDCProvider{*p}
	}
	return nil
}

// UserByEmail implements web.EmailAccounts: an OIDC sign-in finds the
// administrator by the login email of accounts.json.
func (a *accountsFile) UserByEmail(ctx context.Context, email string) (anpi.UserID, error) {
	return a.get().UserByEmail(ctx, email)
}

// channelList formats channels for the index page.
func channelList(cs []anpi.Channel) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}
