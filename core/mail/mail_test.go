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
	"github.com/kessai/kessai/plugins/jst"
)

func charge(r mail.Result) mail.Charge {
	return mail.Charge{
		OrderID: 1265, ApplicationDate: time.Date(2019, 7, 19, 7, 36, 24, 0, time.UTC), MemberID: 1015,
		ContractorName: "髙橋 太郎", Items: []string{"オンライン教室 月謝"}, Amount: 1082,
		TransID: "1265-c1-20190819-1", ProviderID: "tr_0X5FbhfmwBd03n84",
		NextCharging: "2019-09-19", NextContracting: "2020-07-19", Result: r,
	}
}

func TestContinuationMailWording(t *testing.T) {
	t.Run("the contractor's OK mail says 正常 with Welcart's sentences", func(t *testing.T) {
		m := mail.ContractorMail(mail.Shop{Name: "テスト店舗"}, "taro@example.jp", "髙橋 太郎", charge(mail.OK), jst.Tokyo)
		for _, want := range []string{
			"髙橋 太郎 様", "以下の通り、自動課金処理を行いましたのでご報告いたします。", "受注ID : 1265",
			"お申込み日 : 2019-07-19 16:36:24", "会員No : 1015", "契約者名 : 髙橋 太郎 様", "決済金額 : 1,082円",
			"決済ID : 1265-c1-20190819-1", "処理通番 : tr_0X5FbhfmwBd03n84", "次回課金日 : 2019-09-19",
			"次回契約更新日 : 2020-07-19", "処理結果 : 正常", "ご不明な点はショップにお問い合わせくださいませ。",
		} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, m.Body)
			}
		}
		if m.Subject != "自動継続課金処理のお知らせ" {
			t.Errorf("subject %q", m.Subject)
		}
	})
	t.Run("the NG mail carries the provider's codes", func(t *testing.T) {
		c := charge(mail.NG)
		c.Errors = []string{"9 : 与信NG(その他)"}
		m := mail.ContractorMail(mail.Shop{}, "taro@example.jp", "髙橋 太郎", c, jst.Tokyo)
		for _, want := range []string{"自動課金処理にてエラーが発生いたしましたのでご報告いたします。", "処理結果 : エラー", "9 : 与信NG(その他)"} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, m.Body)
			}
		}
	})
	t.Run("the admin result counts 正常 and 異常", func(t *testing.T) {
		m := mail.AdminResultMail("admin@example.jp", mail.AdminResult{RunDate: "2019-08-19", At: time.Date(2019, 8, 18, 16, 0, 3, 0, time.UTC),
			OK: 1, NG: 2, Blocks: []mail.Charge{charge(mail.OK), charge(mail.NG), charge(mail.Unknown)}}, jst.Tokyo)
		if m.Subject != "自動継続課金処理結果 2019-08-19" {
			t.Errorf("subject %q", m.Subject)
		}
		for _, want := range []string{"自動継続課金処理が完了しましたのでご報告いたします。", "処理日時 : 2019-08-19 01:00:03",
			"正常 : 1\n", "異常 : 2\n", "処理結果 : 確認中", "詳細は管理画面＞継続課金会員リスト＞継続課金会員情報画面にてご確認ください。"} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, m.Body)
			}
		}
	})
}

func TestContinuationMailOverSMTP(t *testing.T) {
	srv := mailtest.Start(t)
	s, err := mail.NewSender(srv.URL(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m := mail.ContractorMail(mail.Shop{Name: "テスト店舗"}, "taro@example.jp", "髙橋 太郎", charge(mail.OK), jst.Tokyo)
	if err := s.Send(context.Background(), m, "abc@example.jp"); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(1, 5*time.Second)[0]
	if got.Subject != mail.SubjectContinuation || !strings.Contains(got.Body, "契約者名 : 髙橋 太郎 様") || got.MessageID != "abc@example.jp" {
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
func TestContinuationMailOutboxWhileSMTPIsDown(t *testing.T) {
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
