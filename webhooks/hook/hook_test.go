package hook_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/webhooks/hook"
)

var quiet = slog.New(slog.DiscardHandler)

// local is the policy of tests whose receivers are httptest servers on http://127.0.0.1.
var local = hook.Policy{AllowHTTP: true, AllowPrivate: true}

func newBox(t *testing.T) *secret.Box {
	t.Helper()
	key, _ := hex.DecodeString(secret.NewKey())
	box, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func newShop(t *testing.T, s *store.Store, name string) *shop.Shop {
	t.Helper()
	sh, _, err := shop.New(s.DB).Create(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// receiver is a shop's webhook endpoint: it verifies every request with the endpoint secret
// and answers as its mode says.
type receiver struct {
	secret string

	mu       sync.Mutex
	mode     int // status to answer with
	requests int
	accepted map[string]int // event id → times accepted with a 2xx
	bad      []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if err := hook.Verify(rc.secret, r.Header.Get(hook.HeaderSignature), body, time.Minute); err != nil {
		rc.bad = append(rc.bad, err.Error())
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev hook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != r.Header.Get(hook.HeaderEventID) {
		rc.bad = append(rc.bad, "body id does not match Kessai-Event-Id")
	}
	if rc.mode != http.StatusOK {
		http.Error(w, "down for maintenance", rc.mode)
		return
	}
	rc.accepted[ev.ID]++
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) set(mode int) { rc.mu.Lock(); rc.mode = mode; rc.mu.Unlock() }

func TestWebhookSurvivesReceiverOutage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sh := newShop(t, s, "お茶の店")
		eps := hook.NewEndpoints(s.DB, newBox(t), local)
		rc := &receiver{accepted: map[string]int{}, mode: http.StatusServiceUnavailable}
		srv := httptest.NewServer(rc)
		addr := srv.Listener.Addr().String()

		ep, plain, err := eps.Create(ctx, sh.ID, srv.URL+"/kessai/webhook?shop=1", []hook.Type{hook.SettlementCaptured})
		if err != nil {
			t.Fatal(err)
		}
		rc.secret = plain
		clock := clockwork.NewFakeClockAt(time.Now().Add(time.Minute)) // ahead of the wall-clock stamp Enqueue puts on rows
		d := outbox.NewDispatcher(s, outbox.Options{Clock: clock, Log: quiet, Timeout: 5 * time.Second})
		sender := hook.NewSender(eps)
		d.Register(hook.Kind, sender)

		var ev hook.Event
		err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			ev, err = hook.Publish(ctx, tx, sh.ID, hook.SettlementCaptured, map[string]any{"order_id": 1000, "amount": 3300})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		step := func(wait time.Duration) int {
			t.Helper()
			clock.Advance(wait)
			n, err := d.DispatchOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		t.Run("503 twice: retried after backoff, not before", func(t *testing.T) {
			if n := step(0); n != 1 {
				t.Fatalf("first attempt: %d", n)
			}
			if n := step(10 * time.Second); n != 0 {
				t.Fatal("retried before the 30s backoff")
			}
			if n := step(30 * time.Second); n != 1 {
				t.Fatal("no retry after 40s")
			}
		})
		t.Run("receiver gone: connection refused is a retry too", func(t *testing.T) {
			srv.Close()
			// The sender's kept-alive connection to it is gone too; without this the next
			// attempt may race the close and log EOF instead of the refused dial.
			sender.CloseIdleConnections()
			if n := step(3 * time.Minute); n != 1 {
				t.Fatal("no attempt after 3m")
			}
		})
		t.Run("receiver back: delivered, verified, exactly once", func(t *testing.T) {
			ln, err := net.Listen("tcp", addr) // the same URL as registered
			if err != nil {
				t.Skipf("cannot listen on %s again: %v", addr, err)
			}
			srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: rc}}
			srv.Start()
			defer srv.Close()
			rc.set(http.StatusOK)
			if n := step(13 * time.Minute); n != 1 {
				t.Fatal("no attempt after 13m")
			}
			for range 3 {
				if n := step(10 * time.Hour); n != 0 {
					t.Fatal("a delivered event was sent again")
				}
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if len(rc.bad) > 0 {
				t.Fatalf("receiver refused requests: %v", rc.bad)
			}
			if rc.accepted[ev.ID] != 1 || len(rc.accepted) != 1 || rc.requests != 3 {
				t.Fatalf("accepted %v after %d requests; want %s once after 3 requests", rc.accepted, rc.requests, ev.ID)
			}
		})
		t.Run("the delivery log shows every attempt", func(t *testing.T) {
			r := gin.New()
			hook.Mount(r, eps, func(*gin.Context) int64 { return sh.ID })
			w := do(t, r, http.MethodGet, "/api/v1/webhook-endpoints/"+strconv.FormatInt(ep.ID, 10)+"/deliveries", "")
			var res struct{ Deliveries []hook.DeliveryJSON }
			decode(t, w, http.StatusOK, &res)
			got := res.Deliveries
			if len(got) != 4 {
				t.Fatalf("%d attempts in the log, want 4: %+v", len(got), got)
			}
			want := []struct {
				code    int
				outcome outbox.Outcome
			}{{0, outbox.OutcomeDelivered}, {0, outbox.OutcomeRetry}, {503, outbox.OutcomeRetry}, {503, outbox.OutcomeRetry}}
			for i, a := range got {
				if a.EventID != ev.ID || a.Attempt != 4-i || a.StatusCode != want[i].code || a.Outcome != want[i].outcome {
					t.Errorf("log[%d] = %+v, want attempt %d, code %d, %s", i, a, 4-i, want[i].code, want[i].outcome)
				}
			}
			if !strings.Contains(got[1].Error, "refused") {
				t.Errorf("closed receiver logged as %q, want connection refused", got[1].Error)
			}
			if strings.Contains(got[1].Error, "shop=1") {
				t.Errorf("the URL's query string leaked into the log: %q", got[1].Error)
			}
			// A 5xx page is a server's, not the shop's: the code is logged, the body is not.
			if got[3].Error != "receiver answered 503" {
				t.Errorf("503 logged as %q, want its code only", got[3].Error)
			}
		})
	})
}

func TestPublish(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newShop(t, s, "A"), newShop(t, s, "B")
		eps := hook.NewEndpoints(s.DB, newBox(t), hook.Policy{Resolver: shopDNS})
		all, _, err := eps.Create(ctx, a.ID, "https://a.example.jp/all", []hook.Type{hook.AllTypes})
		if err != nil {
			t.Fatal(err)
		}
		captures, _, err := eps.Create(ctx, a.ID, "https://a.example.jp/captures", []hook.Type{hook.SettlementCaptured, hook.SettlementCaptured})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := eps.Create(ctx, b.ID, "https://b.example.jp/", []hook.Type{hook.AllTypes}); err != nil {
			t.Fatal(err)
		}
		rows := func(kind string) int64 {
			var n int64
			if err := s.DB.Table("outbox").Where("kind = ?", kind).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		publish := func(typ hook.Type) hook.Event {
			t.Helper()
			ev, err := hook.Publish(ctx, s.DB, a.ID, typ, map[string]int{"amount": 1})
			if err != nil {
				t.Fatal(err)
			}
			return ev
		}

		t.Run("one row per subscribed endpoint of the shop", func(t *testing.T) {
			publish(hook.SettlementCaptured)
			if n := rows(hook.Kind); n != 2 {
				t.Fatalf("%d rows, want 2 (both of A's endpoints, none of B's)", n)
			}
			publish(hook.ContinuationCharged)
			if n := rows(hook.Kind); n != 3 {
				t.Fatalf("%d rows, want 3 (only the * endpoint takes continuation.charged)", n)
			}
		})
		t.Run("a rolled-back change publishes nothing", func(t *testing.T) {
			_ = s.DB.Transaction(func(tx *gorm.DB) error {
				if _, err := hook.Publish(ctx, tx, a.ID, hook.SettlementCancelled, nil); err != nil {
					t.Fatal(err)
				}
				return errors.New("rollback")
			})
			if n := rows(hook.Kind); n != 3 {
				t.Fatalf("%d rows after rollback, want 3", n)
			}
		})
		t.Run("a deleted endpoint gets nothing new", func(t *testing.T) {
			if err := eps.Delete(ctx, a.ID, captures.ID); err != nil {
				t.Fatal(err)
			}
			publish(hook.SettlementCaptured)
			if n := rows(hook.Kind); n != 4 {
				t.Fatalf("%d rows, want 4", n)
			}
		})
		t.Run("unknown types are refused", func(t *testing.T) {
			if _, err := hook.Publish(ctx, s.DB, a.ID, "settlement.exploded", nil); !errors.Is(err, hook.ErrType) {
				t.Fatalf("err = %v, want ErrType", err)
			}
		})
		t.Run("the body is the event", func(t *testing.T) {
			ev := publish(hook.SettlementError)
			var payload string
			if err := s.DB.Table("outbox").Select("payload").Where("event_id = ?", ev.ID+"/"+strconv.FormatInt(all.ID, 10)).Scan(&payload).Error; err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(payload), &got); err != nil {
				t.Fatal(err)
			}
			if got["id"] != ev.ID || got["type"] != "settlement.error" || got["created"] == nil || got["data"] == nil || len(got) != 4 {
				t.Fatalf("body = %s", payload)
			}
			if !strings.HasPrefix(ev.ID, "evt_") {
				t.Fatalf("event id %q", ev.ID)
			}
		})
	})
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","type":"settlement.captured","created":1700000000,"data":{}}`)
	now := time.Now()
	good := hook.Sign("whsec_a", now, body)
	old := hook.Sign("whsec_old", now, body)
	v1 := func(h string) string { _, v, _ := strings.Cut(h, ",v1="); return v }
	for _, tc := range []struct {
		name, secret, header string
		body                 []byte
		want                 error
	}{
		{"good", "whsec_a", good, body, nil},
		{"rotation: any v1 may match", "whsec_a", good + ",v1=" + v1(old), body, nil},
		{"rotation: old secret still verifies", "whsec_old", good + ",v1=" + v1(old), body, nil},
		{"body changed", "whsec_a", good, bytes.Replace(body, []byte("captured"), []byte("cancelled"), 1), hook.ErrSignature},
		{"wrong secret", "whsec_b", good, body, hook.ErrSignature},
		{"too old", "whsec_a", hook.Sign("whsec_a", now.Add(-10*time.Minute), body), body, hook.ErrExpired},
		{"from the future", "whsec_a", hook.Sign("whsec_a", now.Add(10*time.Minute), body), body, hook.ErrExpired},
		{"timestamp swapped", "whsec_a", "t=" + strconv.FormatInt(now.Unix()+1, 10) + ",v1=" + v1(good), body, hook.ErrSignature},
		{"no v1", "whsec_a", "t=" + strconv.FormatInt(now.Unix(), 10), body, hook.ErrHeader},
		{"empty", "whsec_a", "", body, hook.ErrHeader},
		{"garbage", "whsec_a", "sha256=abc", body, hook.ErrHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := hook.Verify(tc.secret, tc.header, tc.body, 5*time.Minute)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSlowReceiverIsRetried(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t) // the database plays no part in a timeout
	ctx := context.Background()
	sh := newShop(t, s, "slow")
	eps := hook.NewEndpoints(s.DB, newBox(t), local)
	var mu sync.Mutex
	calls := 0
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			select { // hangs past kessai's timeout
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	defer close(stop)
	if _, _, err := eps.Create(ctx, sh.ID, srv.URL, []hook.Type{hook.AllTypes}); err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(time.Now().Add(time.Minute))
	d := outbox.NewDispatcher(s, outbox.Options{Clock: clock, Log: quiet, Timeout: 200 * time.Millisecond})
	d.Register(hook.Kind, hook.NewSender(eps))
	ev, err := hook.Publish(ctx, s.DB, sh.ID, hook.ContinuationFailed, map[string]string{"reason": "NG"})
	if err != nil {
		t.Fatal(err)
	}
	for _, wait := range []time.Duration{0, time.Minute} {
		clock.Advance(wait)
		if _, err := d.DispatchOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	log, err := outbox.Deliveries(ctx, s.DB, outbox.Filter{Kind: hook.Kind, ShopID: sh.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[1].Outcome != outbox.OutcomeRetry || log[1].Error == nil ||
		!strings.Contains(*log[1].Error, "deadline") || log[0].Outcome != outbox.OutcomeDelivered {
		t.Fatalf("log = %+v", log)
	}
	if got := log[0].EventID; !strings.HasPrefix(got, ev.ID) {
		t.Fatalf("log event %q, want %s", got, ev.ID)
	}
}
