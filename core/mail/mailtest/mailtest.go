// Package mailtest runs a real SMTP server for tests (emersion/go-smtp on a loopback port), as
// httptest runs a real HTTP server: kessai's Sender talks SMTP to it, and tests read what
// arrived, decoded (MIME headers, base64 or quoted-printable, UTF-8 or ISO-2022-JP). Stop and
// Restart take the server down and up again on the same address, to show that mails queued
// while the mail server is away arrive once it is back, and arrive once.
package mailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// Received is one mail as the server got it.
type Received struct {
	From      string   // envelope sender
	To        []string // envelope recipients
	Header    mail.Header
	Subject   string // decoded
	MessageID string // without angle brackets
	Body      string // decoded to UTF-8, CRLF turned into LF
	Raw       []byte
}

// Server is a running (or stopped) test SMTP server.
type Server struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	received []Received
	changed  chan struct{} // closed and replaced whenever a mail arrives
}

// Start starts a server on a free loopback port; it is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s := &Server{t: t, addr: ln.Addr().String(), changed: make(chan struct{})}
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's address as KESSAI_SMTP_URL takes it, with a sender address.
func (s *Server) URL() string { return "smtp://" + s.addr + "?from=shop@example.jp" }

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(backend{s})
	srv.Domain = "mailtest.local"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxRecipients = 50
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop closes the listener and every open session: from now on connections are refused.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// Closing the listener ourselves covers a Serve goroutine that has not started yet,
		// which srv.Close would not know about.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// Restart listens again on the same address after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	var ln net.Listener
	var err error
	// The port was ours a moment ago; give the kernel a little time if it still holds it.
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("mailtest: restart on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// Messages returns every mail received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// To returns the mails received for the address.
func (s *Server) To(addr string) []Received {
	var out []Received
	for _, m := range s.Messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Wait waits up to d until at least n mails have arrived and returns them all; it fails the
// test when they do not come.
func (s *Server) Wait(n int, d time.Duration) []Received {
	s.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, ch := len(s.received), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-ch:
		case <-deadline.C:
			s.t.Fatalf("mailtest: %d mails after %s, want %d", got, d, n)
			return nil
		}
	}
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec, err := Decode(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "mailtest: undecodable message: " + err.Error()}
	}
	rec.From, rec.To = x.from, append([]string(nil), x.to...)
	x.s.add(rec)
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// Decode parses a single-part text mail into a Received (envelope fields empty).
func Decode(raw []byte) (Received, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, err
	}
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return Received{}, fmt.Errorf("subject: %w", err)
	}
	body, err := io.ReadAll(m.Body)
	if err != nil {
		return Received{}, err
	}
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "base64":
		body, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, newlineStripper(body)))
	case "quoted-printable":
		body, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
	}
	if err != nil {
		return Received{}, fmt.Errorf("body: %w", err)
	}
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if cs := params["charset"]; cs != "" {
		r, err := charsetReader(cs, bytes.NewReader(body))
		if err != nil {
			return Received{}, err
		}
		if body, err = io.ReadAll(r); err != nil {
			return Received{}, fmt.Errorf("body charset %s: %w", cs, err)
		}
	}
	return Received{
		Header:    m.Header,
		Subject:   subject,
		MessageID: strings.Trim(m.Header.Get("Message-Id"), "<>"),
		Body:      strings.ReplaceAll(string(body), "\r\n", "\n"),
		Raw:       raw,
	}, nil
}

func newlineStripper(b []byte) io.Reader {
	return strings.NewReader(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
}

func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "us-ascii", "":
		return r, nil
	case "iso-2022-jp":
		return transform.NewReader(r, japanese.ISO2022JP.NewDecoder()), nil
	case "shift_jis":
		return transform.NewReader(r, japanese.ShiftJIS.NewDecoder()), nil
	}
	return nil, fmt.Errorf("mailtest: charset %q not supported", charset)
}
