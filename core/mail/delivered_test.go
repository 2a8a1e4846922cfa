package mail_test

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/kessai/kessai/core/mail"
)

// rudeSMTP is an SMTP server that accepts every message and then misbehaves when the client
// closes the session: it answers RSET and QUIT with an error, or hangs up. It counts what it
// accepted.
type rudeSMTP struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted int
	onClose  string // "421" answers RSET/QUIT with 421; "" hangs up
}

func startRude(t *testing.T, onClose string) *rudeSMTP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rudeSMTP{ln: ln, onClose: onClose}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return r
}

func (r *rudeSMTP) serve(c net.Conn) {
	defer c.Close()
	rd := bufio.NewReader(c)
	say := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
	say("220 rude.example ESMTP")
	done := false // this session has handed over a message
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 rude.example")
		case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"):
			say("250 OK")
		case cmd == "DATA":
			say("354 go ahead")
			for {
				l, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			r.mu.Lock()
			r.accepted++
			r.mu.Unlock()
			done = true
			say("250 accepted")
		case !done && (cmd == "RSET" || cmd == "NOOP"):
			say("250 OK")
		case cmd == "RSET", cmd == "QUIT", cmd == "NOOP":
			if r.onClose == "" {
				return // hang up without a word
			}
			say("421 going away")
			return
		default:
			say("502 not implemented")
		}
	}
}

func (r *rudeSMTP) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

// A mail the server accepted is delivered, even if closing the session then fails: the sender
// must not report it undelivered, or the outbox sends it a second time.
func TestAcceptedMailIsDeliveredWhenTheSessionEndsBadly(t *testing.T) {
	for _, tc := range []struct{ name, onClose string }{
		{"the server hangs up after accepting", ""},
		{"the server answers RSET and QUIT with 421", "421"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRude(t, tc.onClose)
			s, err := mail.NewSender("smtp://"+srv.ln.Addr().String()+"?from=shop@example.jp", slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			m := message()
			if err := s.Send(context.Background(), m, "once@example.jp"); err != nil {
				t.Fatalf("an accepted mail was reported undelivered (it would be sent again): %v", err)
			}
			if n := srv.count(); n != 1 {
				t.Fatalf("server accepted %d", n)
			}
		})
	}
}
