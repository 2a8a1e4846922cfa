package sandbox_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
	"github.com/kessai/kessai/plugins/jst"
)

var (
	shopA = sandbox.Shop{Name: "店舗A", PublicKey: "pk_a", SecretKey: "sk_a"}
	shopB = sandbox.Shop{Name: "店舗B", PublicKey: "pk_b", SecretKey: "sk_b"}
)

// clock is a settable test clock for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	sb    *sandbox.Server
	url   string
	clock *clock
}

func start(t *testing.T, mutate ...func(*sandbox.Config)) *env {
	t.Helper()
	clk := &clock{now: time.Date(2026, 11, 2, 10, 0, 0, 0, jst.Tokyo)}
	cfg := sandbox.Config{Shops: []sandbox.Shop{shopA, shopB}, Now: clk.Now}
	for _, m := range mutate {
		m(&cfg)
	}
	sb := sandbox.New(cfg)
	ts := httptest.NewServer(sb)
	t.Cleanup(func() {
		ts.Close()
		_ = sb.Close()
	})
	return &env{t: t, sb: sb, url: ts.URL, clock: clk}
}

type answer struct {
	status int
	raw    []byte
}

func (a answer) tx(t *testing.T) wire.Transaction {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.raw)
	}
	var tx wire.Transaction
	if err := json.Unmarshal(a.raw, &tx); err != nil {
		t.Fatalf("decode transaction: %v: %s", err, a.raw)
	}
	return tx
}

func (a answer) errBody(t *testing.T) wire.ErrorBody {
	t.Helper()
	var eb wire.ErrorBody
	if err := json.Unmarshal(a.raw, &eb); err != nil || len(eb.Errors) == 0 {
		t.Fatalf("status %d, not an error body: %s", a.status, a.raw)
	}
	return eb
}

// wantError checks status, name, code, message and params of the first error, all against
// wire's table.
func (a answer) wantError(t *testing.T, code string, params ...string) {
	t.Helper()
	row := wire.Lookup(code)
	eb := a.errBody(t)
	if a.status != row.Status || eb.Name != row.Type || eb.Errors[0].Code != code ||
		len(eb.Errors[0].Messages) != 1 || eb.Errors[0].Messages[0] != row.Message || eb.Message != row.Message {
		t.Fatalf("want %d %s %s %q, got %d %s", row.Status, row.Type, code, row.Message, a.status, a.raw)
	}
	want := params
	if want == nil && row.Param != "" {
		want = []string{row.Param}
	}
	if fmt.Sprint(eb.Errors[0].Params) != fmt.Sprint(want) {
		t.Fatalf("%s params = %v, want %v", code, eb.Errors[0].Params, want)
	}
}

type req struct {
	method, path string
	body         any
	auth         string // Authorization header; "" = Basic of shopA's secret, "-" = none
	header       map[string]string
}

func basic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

func (e *env) do(r req) answer {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = bytes.NewBufferString(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(r.method, e.url+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	switch r.auth {
	case "":
		hr.Header.Set("Authorization", basic(shopA.SecretKey))
	case "-":
	default:
		hr.Header.Set("Authorization", r.auth)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, raw: raw}
}

var seq atomic.Int64

// payment is a small valid payment with a fresh shop_transaction_no.
func payment(amount int64) map[string]any {
	return map[string]any{
		"amount":              amount,
		"shop_transaction_no": fmt.Sprintf("order-%d", seq.Add(1)),
		"sales_settled":       false,
		"customer":            map[string]any{"customer_name": "注文太郎", "phone_number": "090-1111-1111"},
		"items": []any{map[string]any{
			"shop_item_id": "item-1", "item_name": "商品", "item_price": amount, "item_count": 1,
		}},
	}
}

func signed(t *testing.T, shop sandbox.Shop, p map[string]any) map[string]any {
	t.Helper()
	sum, err := wire.Checksum(shop.SecretKey, p)
	if err != nil {
		t.Fatal(err)
	}
	p["checksum"] = sum
	return p
}

// buy runs the widget for a member and returns what the callbacks got.
func (e *env) buy(shop sandbox.Shop, phone string, p map[string]any) (sandbox.WidgetCompletion, answer) {
	e.t.Helper()
	a := e.do(req{method: "POST", path: "/sandbox/v1/widget/complete", auth: "-", body: map[string]any{
		"pub_key": shop.PublicKey, "payment": signed(e.t, shop, p),
		"phone_number": phone, "password": sandbox.TestPassword,
	}})
	var c sandbox.WidgetCompletion
	if a.status == 200 {
		if err := json.Unmarshal(a.raw, &c); err != nil {
			e.t.Fatal(err)
		}
	}
	return c, a
}

// token logs the OK member in at shop A through the widget and returns its token.
func (e *env) token(phone string) string {
	e.t.Helper()
	c, a := e.buy(shopA, phone, payment(100))
	if a.status != 200 || c.AuthenticationToken == "" {
		e.t.Fatalf("widget: %d %s", a.status, a.raw)
	}
	return c.AuthenticationToken
}

// create registers a transaction through the server API.
func (e *env) create(tok string, p map[string]any) answer {
	e.t.Helper()
	p["authentication_token"] = tok
	return e.do(req{method: "POST", path: "/v1/transactions", body: p})
}
