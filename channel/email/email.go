package email

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	gmsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/anpikit/anpi/channel"
)

// TLSPolicy says how the connection to the relay is protected.
type TLSPolicy int

// The TLS policies. The zero value is TLSMandatory.
const (
	// TLSMandatory requires STARTTLS; a relay that does not offer it is a
	// configuration error (Misconfigured). Default port 587.
	TLSMandatory TLSPolicy = iota
	// TLSOpportunistic uses STARTTLS when the relay offers it and plain
	// SMTP otherwise. Default port 587.
	TLSOpportunistic
	// NoTLS speaks plain SMTP, for intranet relays on port 25 that have no
	// STARTTLS. Credentials, if any, then travel in clear text. Default
	// port 25.
	NoTLS
	// ImplicitTLS speaks TLS from the first byte (SMTPS). Default port 465.
	ImplicitTLS
)

// String returns the policy's name.
func (p TLSPolicy) String() string {
	switch p {
	case TLSMandatory:
		return "TLSMandatory"
	case TLSOpportunistic:
		return "TLSOpportunistic"
	case NoTLS:
		return "NoTLS"
	case ImplicitTLS:
		return "ImplicitTLS"
	}
	return "TLSPolicy(" + strconv.Itoa(int(p)) + ")"
}

// AuthMechanism is an SMTP AUTH mechanism.
type AuthMechanism string

// The mechanisms. AuthAuto (the zero value) picks the strongest the relay
// offers.
const (
	AuthAuto        AuthMechanism = ""
	AuthPlain       AuthMechanism = "PLAIN"
	AuthLogin       AuthMechanism = "LOGIN"
	AuthCRAMMD5     AuthMechanism = "CRAM-MD5"
	AuthSCRAMSHA256 AuthMechanism = "SCRAM-SHA-256"
)

// IdempotencyHeader is the header that carries Message.IdempotencyKey. The
// Message-ID is derived from the key too, so a retry has the same
// Message-ID and receiving systems that deduplicate on it show one mail.
const IdempotencyHeader = "X-Anpi-Idempotency-Key"

// Defaults.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxPerConnection = 100 // docomo accepts at most 100 RCPT per session
)

// Config is what an operator fills in to send mail through a relay.
type Config struct {
	// Host is the relay's host name or IP address (required).
	Host string
	// Port defaults to 465 with ImplicitTLS, 25 with NoTLS and 587
	// otherwise.
	Port int
	// TLSPolicy defaults to TLSMandatory.
	TLSPolicy TLSPolicy
	// TLSConfig overrides the TLS settings: RootCAs for an in-house CA,
	// ServerName. Nil means the system roots and ServerName = Host.
	TLSConfig *tls.Config
	// Username and Password enable SMTP AUTH when Username is set.
	Username, Password string
	// Auth is the AUTH mechanism; default AuthAuto.
	Auth AuthMechanism
	// From is the sender, e.g. "安否確認 <anpi@example.co.jp>" (required).
	From string
	// HELO is the name given in EHLO; default "localhost".
	HELO string
	// Timeout bounds each connection's I/O; default 30 s.
	Timeout time.Duration
	// MaxPerConnection is how many messages SendBatch sends over one
	// connection before it opens a new one; default 100.
	MaxPerConnection int
	// Now is the clock for Date headers and receipts; default time.Now.
	Now func() time.Time
}

// Sender sends mail through one SMTP relay. It implements channel.Sender
// and channel.BatchSender and is safe for concurrent use: every Send and
// every SendBatch has its own connection.
type Sender struct {
	cfg    Config
	from   string // the parsed From, formatted
	domain string // for Message-IDs
}

var (
	_ channel.Sender      = (*Sender)(nil)
	_ channel.BatchSender = (*Sender)(nil)
)

// New checks cfg and returns a Sender. It does not connect.
func New(cfg Config) (*Sender, error) {
	if cfg.Host == "" {
		return nil, errors.New("email: config: Host is empty")
	}
	switch cfg.TLSPolicy {
	case TLSMandatory, TLSOpportunistic, NoTLS, ImplicitTLS:
	default:
		return nil, fmt.Errorf("email: config: unknown TLSPolicy %d", int(cfg.TLSPolicy))
	}
	if cfg.Port == 0 {
		switch cfg.TLSPolicy {
		case ImplicitTLS:
			cfg.Port = 465
		case NoTLS:
			cfg.Port = 25
		default:
			cfg.Port = 587
		}
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("email: config: Port %d out of range", cfg.Port)
	}
	switch cfg.Auth {
	case AuthAuto, AuthPlain, AuthLogin, AuthCRAMMD5, AuthSCRAMSHA256:
	default:
		return nil, fmt.Errorf("email: config: unknown Auth mechanism %q", cfg.Auth)
	}
	addr, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: config: From %q: %w", cfg.From, err)
	}
	at := strings.LastIndexByte(addr.Address, '@')
	if cfg.HELO == "" {
		cfg.HELO = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxPerConnection <= 0 {
		cfg.MaxPerConnection = DefaultMaxPerConnection
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	} else {
		cfg.TLSConfig = cfg.TLSConfig.Clone()
		if cfg.TLSConfig.ServerName == "" {
			cfg.TLSConfig.ServerName = cfg.Host
		}
	}
	return &Sender{cfg: cfg, from: addr.String(), domain: addr.Address[at+1:]}, nil
}

// Kind returns channel.Email.
func (s *Sender) Kind() channel.Kind { return channel.Email }

// conn is one SMTP connection, closed when ctx is done so that a hanging
// relay cannot outlive the caller's deadline.
type conn struct {
	mc   *mail.Client
	stop func() bool

	mu  sync.Mutex
	raw net.Conn
}

func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw != nil {
		_ = c.raw.Close()
	}
}

// client builds a go-mail client whose dialer records the connection and
// closes it once ctx is done.
func (s *Sender) client(ctx context.Context) (*conn, error) {
	c := &conn{}
	dial := func(dctx context.Context, network, address string) (net.Conn, error) {
		d := net.Dialer{}
		nc, err := d.DialContext(dctx, network, address)
		if err != nil {
			return nil, err
		}
		if s.cfg.TLSPolicy == ImplicitTLS {
			tc := tls.Client(nc, s.cfg.TLSConfig)
			if err := tc.HandshakeContext(dctx); err != nil {
				_ = nc.Close()
				return nil, err
			}
			nc = tc
		}
		c.mu.Lock()
		c.raw = nc
		c.mu.Unlock()
		return nc, nil
	}
	policy := mail.TLSMandatory
	switch s.cfg.TLSPolicy {
	case TLSOpportunistic:
		policy = mail.TLSOpportunistic
	case NoTLS, ImplicitTLS: // implicit TLS is done by dial
		policy = mail.NoTLS
	}
	opts := []mail.Option{
		mail.WithPort(s.cfg.Port),
		mail.WithTLSPolicy(policy),
		mail.WithTLSConfig(s.cfg.TLSConfig),
		mail.WithHELO(s.cfg.HELO),
		mail.WithTimeout(s.cfg.Timeout),
		mail.WithDialContextFunc(dial),
		mail.WithoutNoop(),
	}
	if s.cfg.Username != "" {
		auth := mail.SMTPAuthAutoDiscover
		switch s.cfg.Auth {
		case AuthPlain:
			auth = mail.SMTPAuthPlain
			if s.cfg.TLSPolicy == NoTLS {
				auth = mail.SMTPAuthPlainNoEnc
			}
		case AuthLogin:
			auth = mail.SMTPAuthLogin
			if s.cfg.TLSPolicy == NoTLS {
				auth = mail.SMTPAuthLoginNoEnc
			}
		case AuthCRAMMD5:
			auth = mail.SMTPAuthCramMD5
		case AuthSCRAMSHA256:
			auth = mail.SMTPAuthSCRAMSHA256
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	mc, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, channel.NewError(channel.Misconfigured, err, "email: client for "+s.cfg.Host)
	}
	c.mc = mc
	c.stop = context.AfterFunc(ctx, c.close)
	return c, nil
}

// messageID returns the Message-ID (without angle brackets) for key: a hash
// of the key, so retries repeat it, or random if there is no key.
func (s *Sender) messageID(key string) string {
	if key == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:]) + "@" + s.domain
	}
	sum := sha256.Sum256([]byte("anpi-email\x00" + key))
	return hex.EncodeToString(sum[:16]) + ".anpi@" + s.domain
}

// build renders m as a go-mail message.
func (s *Sender) build(m *channel.Message) (*mail.Msg, string, error) {
	if err := m.Validate(); err != nil {
		return nil, "", err
	}
	msg := mail.NewMsg(mail.WithCharset(mail.CharsetUTF8), mail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, "", channel.NewError(channel.Misconfigured, err, "email: From")
	}
	if err := msg.To(m.To); err != nil {
		return nil, "", channel.Errorf(channel.Permanent, "email: message %q: invalid recipient address", m.IdempotencyKey)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	id := s.messageID(m.IdempotencyKey)
	msg.SetMessageIDWithValue(id)
	msg.SetDateWithValue(s.cfg.Now())
	if m.IdempotencyKey != "" {
		msg.SetGenHeader(IdempotencyHeader, m.IdempotencyKey)
	}
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	if m.Priority == channel.PriorityHigh {
		msg.SetImportance(mail.ImportanceHigh)
	}
	return msg, id, nil
}

// Send delivers m over a connection of its own.
func (s *Sender) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	msg, id, err := s.build(m)
	if err != nil {
		return channel.Receipt{}, err
	}
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, channel.NewError(channel.Temporary, err, fmt.Sprintf("email: send %q", m.IdempotencyKey))
	}
	c, err := s.client(ctx)
	if err != nil {
		return channel.Receipt{}, err
	}
	defer c.stop()
	defer c.close()
	// A failure after the relay took the message (QUIT, a cancelled
	// context closing the connection) does not undo the delivery.
	if err := c.mc.DialAndSendWithContext(ctx, msg); err != nil && !msg.IsDelivered() {
		return channel.Receipt{}, s.classify(ctx, err, m, "send")
	}
	return channel.Receipt{ProviderID: id, At: s.cfg.Now()}, nil
}

// SendBatch delivers ms over as few connections as it can: up to
// MaxPerConnection messages each, and a new connection after one breaks.
// It returns an error (and no results) only if the connection for the first
// message cannot be opened, and then nothing was sent; if a later
// connection cannot be opened, the remaining messages fail with that error.
func (s *Sender) SendBatch(ctx context.Context, ms []*channel.Message) ([]channel.Result, error) {
	res := make([]channel.Result, len(ms))
	if len(ms) == 0 {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, channel.NewError(channel.Temporary, err, fmt.Sprintf("email: batch of %d", len(ms)))
	}
	var (
		c      *conn
		sc     *gmsmtp.Client
		onConn int
	)
	closeConn := func() {
		if c != nil {
			if sc != nil {
				_ = c.mc.CloseWithSMTPClient(sc)
			}
			c.stop()
			c.close()
			c, sc = nil, nil
		}
	}
	defer closeConn()
	for i, m := range ms {
		msg, id, err := s.build(m)
		if err != nil {
			res[i].Err = err
			continue
		}
		if err := ctx.Err(); err != nil {
			res[i].Err = channel.NewError(channel.Temporary, err, fmt.Sprintf("email: send %q", m.IdempotencyKey))
			continue
		}
		if c != nil && onConn >= s.cfg.MaxPerConnection {
			closeConn()
		}
		if c == nil {
			if c, err = s.client(ctx); err != nil {
				return nil, err
			}
			cl, err := c.mc.DialToSMTPClientWithContext(ctx)
			if err != nil {
				cerr := s.classify(ctx, err, m, "connect")
				closeConn()
				if i == 0 {
					return nil, cerr
				}
				// The relay is gone or refuses us: the rest of the
				// batch fails alike, without a dial per message.
				for j := i; j < len(ms); j++ {
					if res[j].Err == nil {
						res[j].Err = cerr
					}
				}
				return res, nil
			}
			sc, onConn = cl, 0
		}
		onConn++
		err = c.mc.SendWithSMTPClient(sc, msg)
		if err != nil && !msg.IsDelivered() {
			res[i].Err = s.classify(ctx, err, m, "send")
			if connectionLost(err) {
				closeConn()
			}
			continue
		}
		res[i].Receipt = channel.Receipt{ProviderID: id, At: s.cfg.Now()}
	}
	return res, nil
}
