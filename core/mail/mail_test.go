package mail_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/mail"
	"github.com/kessai/kessai/core/mail/mailtest"
	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/store/storetest"
)

// message is a mail as kessai sends them: Japanese, from the shop, to a named person.
func message() mail.Message {
	return mail.Message{FromName: "テスト店舗", To: "taro@example.jp", ToName: "髙橋 太郎 様",
		Subject: "自動継続課金処理のお知らせ", Body: "髙橋 太郎 様\n\n契約者名 : 髙橋 太郎 様\n決済金額 : 1,082円\n"}
}

func TestMailOverSMTP(t *testing.T) {
	srv := mailtest.Start(t)
	s, err := mail.NewSender(srv.URL(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m := message()
	if err := s.Send(context.Background(), m, "abc@example.jp"); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(1, 5*time.Second)[0]
	if got.Subject != m.Subject || !strings.Contains(got.Body, "契約者名 : 髙橋 太郎 様") || got.MessageID != "abc@example.jp" {
		t.Fatalf("received %q %q\n%s", got.Subject, got.MessageID, got.Body)
	}
	if got.From != "shop@example.jp" || got.To[0] != "taro@example.jp" {
		t.Fatalf("envelope %s → %v", got.From, got.To)
	}
	if ct := got.Header.Get("Content-Type"); !strings.Contains(strings.ToLower(ct), "charset=utf-8") {
		t.Fatalf("content type %q", ct)
	}
}

// The outbox keeps mails while the SMTP server is down and sends each once when it is back.
func TestMailOutboxWhileSMTPIsDown(t *testing.T) {
	st := storetest.SQLite(t)
	srv := mailtest.Start(t)
	clock := clockwork.NewFakeClockAt(time.Now().Add(time.Minute)) // Enqueue stamps rows by the wall clock
	d := outbox.NewDispatcher(st, outbox.Options{Clock: clock, Log: slog.New(slog.DiscardHandler), Jitter: -1, Timeout: 5 * time.Second})
	if _, err := mail.Register(d, srv.URL(), nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.Stop()
	err := st.DB.Transaction(func(tx *gorm.DB) error {
		for _, id := range []string{"a", "b"} {
			m := mail.Message{To: id + "@example.jp", Subject: "件名 " + id, Body: "本文"}
			if err := mail.Enqueue(ctx, tx, "test:"+id, 0, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DispatchOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := outbox.Get(ctx, st.DB, "test:a"); st.State != outbox.Pending || st.Attempts != 1 {
		t.Fatalf("while SMTP is down: %+v", st)
	}
	srv.Restart()
	clock.Advance(time.Minute)
	if _, err := d.DispatchOnce(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if _, err := d.DispatchOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 2 || got[0].Subject == got[1].Subject {
		t.Fatalf("received %d mails: %+v", len(got), got)
	}
	if err := st.DB.Transaction(func(tx *gorm.DB) error {
		return mail.Enqueue(ctx, tx, "test:a", 0, mail.Message{To: "a@example.jp"})
	}); err == nil {
		t.Fatal("a second mail with the same event id was queued")
	}
}

func TestSMTPURLErrorHidesThePassword(t *testing.T) {
	for _, raw := range []string{"smtp://user:s3cr/et@host:587", "smtp://user:p%zzword@host:587"} {
		_, err := mail.NewSender(raw, nil)
		if err == nil {
			t.Fatalf("%s accepted", raw)
		}
		if strings.Contains(err.Error(), "s3cr") || strings.Contains(err.Error(), "p%zz") {
			t.Fatalf("error shows the password: %v", err)
		}
	}
}
