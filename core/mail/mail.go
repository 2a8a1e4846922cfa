// Package mail owns the sending of kessai's mails: a Message queued in the outbox inside the
// transaction of the change it reports, and the Sender that hands queued messages to the SMTP
// server named by KESSAI_SMTP_URL. What a mail says belongs to the package that sends it
// (continuation's result mails are continuation's).
//
// Mails are plain text in UTF-8, base64 encoded. Welcart (wp_mail) sends UTF-8 too, every mail
// program a Japanese shop or buyer uses reads it, and ISO-2022-JP cannot carry characters
// outside JIS X 0208 that do occur in buyers' names (髙, 﨑, ①) and item names (emoji): they
// would be lost or turned into "?" in a mail about money.
//
// Delivery is the outbox's: at least once, retried with backoff while the SMTP server is down.
// Each mail carries a Message-ID derived from its outbox event id, so the rare resend after a
// lost acknowledgement is the same message to the receiving server and the reader's program.
package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/outbox"
)

// Kind is the outbox kind of a mail.
const Kind = "mail"

// Message is one mail. It is stored as JSON in the outbox, so its fields are the whole mail.
type Message struct {
	// From is the sender address; empty means the Sender's default (the from= of the SMTP URL).
	From     string `json:"from,omitempty"`
	FromName string `json:"from_name,omitempty"`
	To       string `json:"to"`
	ToName   string `json:"to_name,omitempty"`
	Subject  string `json:"subject"`
	Body     string `json:"body"`
}

// ErrNoRecipient is returned by Enqueue for a message without a To address.
var ErrNoRecipient = errors.New("mail: no recipient")

// Enqueue queues m in the outbox inside tx. eventID identifies the mail for good: a producer
// that runs twice for the same fact gets outbox.ErrDuplicate (wrapped) and no second mail.
func Enqueue(ctx context.Context, tx *gorm.DB, eventID string, shopID int64, m Message) error {
	if strings.TrimSpace(m.To) == "" {
		return fmt.Errorf("mail %s: %w", eventID, ErrNoRecipient)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("mail %s: %w", eventID, err)
	}
	_, err = outbox.Enqueue(ctx, tx, outbox.Message{Kind: Kind, ShopID: shopID, EventID: eventID, Target: m.To, Payload: b})
	if err != nil {
		return fmt.Errorf("mail %s: %w", eventID, err)
	}
	return nil
}

// Sender sends mails through one SMTP server.
type Sender struct {
	host     string
	port     int
	ssl      bool
	user     string
	password string
	from     string
	timeout  time.Duration
	log      *slog.Logger
}

var _ outbox.Handler = (*Sender)(nil)

// NewSender reads an SMTP URL: smtp://[USER:PASS@]HOST[:PORT][?from=ADDR] (STARTTLS when the
// server offers it, port 25 by default) or smtps://… (TLS from the first byte, port 465). from
// is the default sender address; without it mails go out from kessai@HOST.
func NewSender(rawURL string, log *slog.Logger) (*Sender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// The parser's message quotes the URL, or pieces of it, password included: say only
		// that it did not parse.
		return nil, errors.New("KESSAI_SMTP_URL: not a URL (want smtp://USER:PASS@HOST:PORT; percent-encode special characters in the password)")
	}
	s := &Sender{host: u.Hostname(), timeout: 30 * time.Second, log: log}
	if s.log == nil {
		s.log = slog.Default()
	}
	switch u.Scheme {
	case "smtp":
		s.port = 25
	case "smtps":
		s.port, s.ssl = 465, true
	default:
		return nil, fmt.Errorf("smtp url: scheme %q: want smtp:// or smtps://", u.Scheme)
	}
	if s.host == "" {
		return nil, errors.New("smtp url: no host")
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("smtp url: port %q", p)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
	}
	s.from = u.Query().Get("from")
	if s.from == "" {
		s.from = "kessai@" + s.host
	}
	return s, nil
}

// Register makes the dispatcher send mails through the server at smtpURL. With an empty URL
// nothing is registered and mails stay queued: the dispatcher claims only kinds it has a
// handler for, so they go out once a replica with a mail server configured runs.
func Register(d *outbox.Dispatcher, smtpURL string, log *slog.Logger) (*Sender, error) {
	if smtpURL == "" {
		return nil, nil
	}
	s, err := NewSender(smtpURL, log)
	if err != nil {
		return nil, err
	}
	d.Register(Kind, s)
	return s, nil
}

// Deliver sends one queued mail; it is the outbox handler of Kind. A refusal the server calls
// permanent (5xx) makes the message dead at once, since repeating it cannot help.
func (s *Sender) Deliver(ctx context.Context, om outbox.Message) error {
	var m Message
	if err := json.Unmarshal(om.Payload, &m); err != nil {
		return fmt.Errorf("mail %s: payload: %v: %w", om.EventID, err, outbox.ErrPermanent)
	}
	return s.Send(ctx, m, MessageID(om.EventID, s.domain()))
}

// MessageID is the Message-ID of the mail with the given outbox event id: stable across
// retries, and free of the characters event ids may hold but Message-IDs may not.
func MessageID(eventID, domain string) string {
	h := sha256.Sum256([]byte(eventID))
	return hex.EncodeToString(h[:16]) + "@" + domain
}

func (s *Sender) domain() string {
	if _, d, ok := strings.Cut(s.from, "@"); ok && d != "" {
		return d
	}
	return "kessai.invalid"
}

// Send sends m now, with the given Message-ID (without angle brackets).
func (s *Sender) Send(ctx context.Context, m Message, messageID string) error {
	msg := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingB64))
	from := m.From
	if from == "" {
		from = s.from
	}
	if err := msg.FromFormat(m.FromName, from); err != nil {
		return fmt.Errorf("mail from %q: %v: %w", from, err, outbox.ErrPermanent)
	}
	if err := msg.AddToFormat(m.ToName, m.To); err != nil {
		return fmt.Errorf("mail to %q: %v: %w", m.To, err, outbox.ErrPermanent)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(messageID)
	msg.SetDate()
	// Mail lines end in CRLF; the templates are written with "\n".
	msg.SetBodyString(gomail.TypeTextPlain, strings.ReplaceAll(m.Body, "\n", "\r\n"))

	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(s.timeout)}
	if s.ssl {
		opts = append(opts, gomail.WithSSL())
	} else {
		// A server without STARTTLS (a relay on localhost, the test server) is still used;
		// a server that offers it gets an encrypted session.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.user), gomail.WithPassword(s.password))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("mail client: %v: %w", err, outbox.ErrPermanent)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		if msg.IsDelivered() {
			// The server accepted the message; only ending the session failed (a hang-up, a
			// 421 to RSET or QUIT). Reporting it undelivered would send it a second time.
			s.log.Warn("mail: delivered, but the SMTP session ended with an error", "message_id", messageID, "err", err)
			return nil
		}
		return classify(err)
	}
	return nil
}

// classify keeps the server's reply code for the delivery log and decides whether retrying can
// help: a refused connection or a 4xx reply will pass later, a 5xx reply will not.
func classify(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) { // no reply at all: refused, timed out, TLS failed
		return fmt.Errorf("smtp: %w", err)
	}
	code := se.ErrorCode()
	if code == 0 || se.IsTemp() || code < 500 {
		return &outbox.StatusError{Code: code, Body: err.Error()}
	}
	return fmt.Errorf("%w: %w", &outbox.StatusError{Code: code, Body: err.Error()}, outbox.ErrPermanent)
}
