package atone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// The test shop. The secret is distinctive so that a leak into a log or a Raw is easy to find.
var shop = sandbox.Shop{Name: "テスト店舗", PublicKey: "pk_kessai_test", SecretKey: "sk_kessai_SECRET_4711"}

// world is one sandbox over real HTTP and an adapter configured against it.
type world struct {
	t   *testing.T
	sb  *sandbox.Server
	url string
	ad  *atone.Adapter
	log *syncBuffer
}

// syncBuffer collects the adapter's log lines; hclog writes from the calling goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newWorld(t *testing.T, settings plugins.Settings, mutate ...func(*sandbox.Config)) *world {
	t.Helper()
	cfg := sandbox.Config{Shops: []sandbox.Shop{shop}}
	for _, m := range mutate {
		m(&cfg)
	}
	sb := sandbox.New(cfg)
	ts := httptest.NewServer(sb)
	t.Cleanup(func() {
		ts.Close()
		_ = sb.Close()
	})
	w := &world{t: t, sb: sb, url: ts.URL, log: &syncBuffer{}}
	w.ad = atone.New(atone.Options{Version: "test", Logger: hclog.New(&hclog.LoggerOptions{
		Name: "atone", Level: hclog.Trace, Output: w.log,
	})})
	s := plugins.Settings{
		atone.KeyPublicKey: shop.PublicKey,
		atone.KeySecretKey: shop.SecretKey,
		atone.KeyAPIBase:   ts.URL + "/v1/",
	}
	for k, v := range settings {
		s[k] = v
	}
	if err := w.ad.Configure(ctx(t), s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("adapter log:\n%s", w.log.String())
		}
	})
	return w
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

var seq atomic.Int64

func attempt() string { return fmt.Sprintf("k-%d-%d", time.Now().UnixNano()%1e6, seq.Add(1)) }

// order is a Welcart-like order of amount yen: a product, shipping and a discount.
func order(amount int64) plugins.Order {
	return plugins.Order{
		ID: 1002, Number: "00001002", Attempt: attempt(), Amount: amount,
		Customer: plugins.Customer{
			FamilyName: "山田", GivenName: "太郎", FamilyKana: "ヤマダ", GivenKana: "タロウ",
			Zip: "100-0001", Pref: "東京都", Address1: "千代田区千代田", Address2: "1-1",
			Tel: "090-1234-5678", Email: "taro@example.jp",
		},
		Lines: []plugins.Line{
			{Kind: plugins.LineItem, SKU: "wcVL170508", Name: "1人掛けソファ", Price: amount - 700, Quantity: 1},
			{Kind: plugins.LineShipping, Name: "送料", Price: 800, Quantity: 1},
			{Kind: plugins.LineDiscount, Name: "クーポン値引き", Price: -100, Quantity: 1},
		},
	}
}

// checkout runs PrepareCheckout and the buyer in the sandbox widget; it returns the
// completion (the widget callbacks' payloads) as raw JSON.
func (w *world) checkout(o plugins.Order, phone string) (sandbox.WidgetCompletion, json.RawMessage) {
	w.t.Helper()
	res, err := w.ad.PrepareCheckout(ctx(w.t), plugins.CheckoutRequest{Order: o})
	if err != nil || res.Outcome != plugins.Processed {
		w.t.Fatalf("prepare checkout: %+v, %v", res, err)
	}
	status, raw := w.post("/sandbox/v1/widget/complete", map[string]any{
		"pub_key": res.Widget.PublicKey, "pre_token": res.Widget.PreToken, "payment": res.Widget.Payment,
		"phone_number": phone, "password": sandbox.TestPassword,
	})
	if status != http.StatusOK {
		w.t.Fatalf("widget: %d %s", status, raw)
	}
	var c sandbox.WidgetCompletion
	if err := json.Unmarshal(raw, &c); err != nil {
		w.t.Fatal(err)
	}
	return c, raw
}

// buy is checkout plus Confirm with the succeeded/failed payload, as the shop page posts it.
func (w *world) buy(o plugins.Order, phone string) (plugins.TransactionResult, sandbox.WidgetCompletion) {
	w.t.Helper()
	c, _ := w.checkout(o, phone)
	payload, _ := json.Marshal(c.Result)
	r, err := w.ad.Confirm(ctx(w.t), plugins.ConfirmRequest{Payload: payload, Order: o})
	if err != nil {
		w.t.Fatalf("confirm: %v", err)
	}
	return r, c
}

func (w *world) post(path string, body any) (int, []byte) {
	w.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(w.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (w *world) reference(id string) plugins.TransactionResult {
	w.t.Helper()
	r, err := w.ad.Reference(ctx(w.t), plugins.ReferenceRequest{ProviderID: id})
	if err != nil || r.Outcome != plugins.Processed {
		w.t.Fatalf("reference %s: %+v, %v", id, r, err)
	}
	return r
}

func (w *world) fault(f sandbox.Fault) {
	w.t.Helper()
	if err := w.sb.AddFault(f); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(w.sb.ClearFaults)
}

// want fails unless r has the outcome and code.
func want(t *testing.T, what string, r plugins.Result, outcome plugins.Outcome, code string) {
	t.Helper()
	if r.Outcome != outcome || r.Code != code {
		t.Fatalf("%s: outcome %s code %q, want %s %q (messages %q, raw %s)", what, r.Outcome, r.Code, outcome, code, r.Messages, r.Raw)
	}
}

func hasMessage(r plugins.Result, sub string) bool {
	for _, m := range r.Messages {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}
