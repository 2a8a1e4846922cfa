package sandbox_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
)

var (
	reTrID  = regexp.MustCompile(`^tr_[A-Za-z0-9]{16}$`)
	reToken = regexp.MustCompile(`^tk_[A-Za-z0-9_]{24}$`)
)

func TestLifecycleCreateReferenceSettleRefund(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	if !reToken.MatchString(tok) {
		t.Fatalf("token %q", tok)
	}
	var tx wire.Transaction
	t.Run("create authorizes without settling", func(t *testing.T) {
		tx = e.create(tok, payment(12000)).tx(t)
		if !reTrID.MatchString(tx.ID) || tx.AuthorizationResult != wire.AuthorizationOK ||
			tx.AuthorizationResultNGReason != nil || tx.Settled() || tx.Object != "transaction" ||
			tx.RegistrationDatetime != "2026/11/02 10:00" || tx.Customer.UserNo != "100000001" {
			t.Fatalf("created %+v", tx)
		}
	})
	t.Run("reference shows the same transaction with null settle time", func(t *testing.T) {
		a := e.do(req{method: "GET", path: "/v1/transactions/" + tx.ID})
		got := a.tx(t)
		if got.ID != tx.ID || got.Amount != 12000 || !strings.Contains(string(a.raw), `"sales_settled_datetime":null`) {
			t.Fatalf("reference %s", a.raw)
		}
	})
	t.Run("settle sets sales_settled_datetime", func(t *testing.T) {
		e.clock.Add(26 * time.Hour)
		got := e.do(req{method: "PATCH", path: "/v1/transactions/" + tx.ID + "/settle"}).tx(t)
		if !got.Settled() || *got.SalesSettledDatetime != "2026/11/03 12:00" {
			t.Fatalf("settled %+v", got)
		}
	})
	t.Run("settle twice is EATN1201", func(t *testing.T) {
		e.do(req{method: "PATCH", path: "/v1/transactions/" + tx.ID + "/settle"}).wantError(t, wire.CodeAlreadySettled)
	})
	t.Run("partial refund with a numeric string", func(t *testing.T) {
		got := e.do(req{method: "PATCH", path: "/v1/transactions/" + tx.ID + "/refund",
			body: map[string]any{"amount_refund": "2000", "refund_reason": "返品", "description_refund": "1点返品"}}).tx(t)
		if got.AmountRefundTotal != 2000 || len(got.Refunds) != 1 || got.Refunds[0].AmountRefund != 2000 ||
			got.Refunds[0].RefundReason != "返品" || got.Cancelled() {
			t.Fatalf("refund %+v", got)
		}
	})
	t.Run("refund more than is left is refused", func(t *testing.T) {
		e.do(req{method: "PATCH", path: "/v1/transactions/" + tx.ID + "/refund",
			body: map[string]any{"amount_refund": 10001}}).wantError(t, wire.CodeRefundAmount)
	})
	t.Run("refund without amount cancels the rest", func(t *testing.T) {
		got := e.do(req{method: "PATCH", path: "/v1/transactions/" + tx.ID + "/refund",
			body: map[string]any{"id": tx.ID}}).tx(t)
		if got.AmountRefundTotal != 12000 || len(got.Refunds) != 2 || !got.Cancelled() {
			t.Fatalf("cancel %+v", got)
		}
	})
	t.Run("refund after full refund is refused", func(t *testing.T) {
		e.do(req{method: "PATCH", path: "/v1/transactions/" + tx.ID + "/refund"}).wantError(t, wire.CodeRefundNotAllowed)
	})
	t.Run("settle after cancel is refused", func(t *testing.T) {
		tx2 := e.create(tok, payment(300)).tx(t)
		e.do(req{method: "PATCH", path: "/v1/transactions/" + tx2.ID + "/refund"}).tx(t)
		e.do(req{method: "PATCH", path: "/v1/transactions/" + tx2.ID + "/settle"}).wantError(t, wire.CodeSettleNotAllowed)
	})
	t.Run("sales_settled true settles at once", func(t *testing.T) {
		p := payment(400)
		p["sales_settled"] = "true"
		if got := e.create(tok, p).tx(t); !got.Settled() {
			t.Fatalf("not settled: %+v", got)
		}
	})
	t.Run("NG transactions cannot be settled or refunded", func(t *testing.T) {
		ng := e.create(tok, payment(50_001)).tx(t)
		if ng.AuthorizationResult != wire.AuthorizationNG {
			t.Fatalf("50,001 yen authorized: %+v", ng)
		}
		e.do(req{method: "PATCH", path: "/v1/transactions/" + ng.ID + "/settle"}).wantError(t, wire.CodeSettleNotAllowed)
		e.do(req{method: "PATCH", path: "/v1/transactions/" + ng.ID + "/refund"}).wantError(t, wire.CodeRefundNotAllowed)
	})
	t.Run("the limit itself is OK", func(t *testing.T) {
		if got := e.create(tok, payment(sandbox.OKMemberLimit)).tx(t); got.AuthorizationResult != wire.AuthorizationOK {
			t.Fatalf("50,000 yen: %+v", got)
		}
	})
}

// TestAnswersCarryEveryField: atone answers every documented field of a transaction and of
// its refunds, an empty text as "", and clients that read a field's presence must meet that
// here too.
func TestAnswersCarryEveryField(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	tx := e.create(tok, payment(900)).tx(t)
	a := e.do(req{method: "PATCH", path: "/v1/transactions/" + tx.ID + "/refund", body: map[string]any{}})
	var got map[string]any
	if err := json.Unmarshal(a.raw, &got); err != nil {
		t.Fatalf("refund: %d %s", a.status, a.raw)
	}
	for _, k := range []string{"id", "object", "livemode", "authentication_token", "shop_transaction_no", "amount",
		"authorization_result", "authorization_result_ng_reason", "amount_refund_total", "discount_amount", "subtract_point",
		"registration_datetime", "sales_settled_datetime", "transaction_options", "related_transaction",
		"updated_transactions", "description_trans", "shop_name", "customer", "dest_customers", "items", "refunds"} {
		if _, ok := got[k]; !ok {
			t.Errorf("transaction answer lacks %s: %s", k, a.raw)
		}
	}
	if got["description_trans"] != "" {
		t.Errorf("description_trans = %#v, want \"\"", got["description_trans"])
	}
	refunds, _ := got["refunds"].([]any)
	if len(refunds) != 1 {
		t.Fatalf("refunds %s", a.raw)
	}
	r := refunds[0].(map[string]any)
	for _, k := range []string{"object", "amount_refund", "refund_datetime", "refund_reason", "description_refund"} {
		if _, ok := r[k]; !ok {
			t.Errorf("refund lacks %s: %s", k, a.raw)
		}
	}
	if r["refund_reason"] != "" || r["description_refund"] != "" {
		t.Errorf("empty refund texts answered as %#v, %#v", r["refund_reason"], r["description_refund"])
	}
}

func TestLifecycleModification(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	old := e.create(tok, payment(3000)).tx(t)

	p := payment(2500)
	p["shop_transaction_no"] = old.ShopTransactionNo // same number is allowed for a replacement
	p["updated_transactions"] = []string{old.ID}
	repl := e.create(tok, p).tx(t)
	t.Run("a new transaction with a new id replaces the old", func(t *testing.T) {
		if repl.ID == old.ID || repl.AuthorizationResult != wire.AuthorizationOK ||
			len(repl.UpdatedTransactions) != 1 || repl.UpdatedTransactions[0] != old.ID {
			t.Fatalf("replacement %+v", repl)
		}
	})
	t.Run("the old transaction is cancelled", func(t *testing.T) {
		got := e.do(req{method: "GET", path: "/v1/transactions/" + old.ID}).tx(t)
		if !got.Cancelled() || got.AmountRefundTotal != 3000 {
			t.Fatalf("old %+v", got)
		}
	})
	t.Run("a cancelled transaction cannot be modified again", func(t *testing.T) {
		p := payment(100)
		p["updated_transactions"] = []string{old.ID}
		e.create(tok, p).wantError(t, wire.CodeUpdateTarget)
	})
	t.Run("an increase above the limit is NG and keeps the old one", func(t *testing.T) {
		p := payment(80_000)
		p["updated_transactions"] = []string{repl.ID}
		ng := e.create(tok, p).tx(t)
		if ng.AuthorizationResult != wire.AuthorizationNG {
			t.Fatalf("increase %+v", ng)
		}
		if got := e.do(req{method: "GET", path: "/v1/transactions/" + repl.ID}).tx(t); got.Cancelled() {
			t.Fatal("a failed modification cancelled the transaction it would replace")
		}
	})
	t.Run("a settled transaction can be modified; the new one is unsettled", func(t *testing.T) {
		e.do(req{method: "PATCH", path: "/v1/transactions/" + repl.ID + "/settle"}).tx(t)
		p := payment(2000)
		p["updated_transactions"] = []string{repl.ID}
		got := e.create(tok, p).tx(t)
		if got.AuthorizationResult != wire.AuthorizationOK || got.Settled() {
			t.Fatalf("modified %+v", got)
		}
	})
}

func TestLifecycleRecurringByToken(t *testing.T) {
	e := start(t)
	p := payment(1980)
	p["transaction_options"] = []int{wire.OptionRecurring}
	first, a := e.buy(shopA, sandbox.OKMemberPhone, p)
	if a.status != 200 {
		t.Fatalf("first order: %s", a.raw)
	}
	t.Run("later charges use the token and name the first transaction", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			e.clock.Add(30 * 24 * time.Hour)
			p := payment(1980)
			p["related_transaction"] = first.Result.ID
			got := e.create(first.AuthenticationToken, p).tx(t)
			if got.AuthorizationResult != wire.AuthorizationOK || got.RelatedTransaction == nil ||
				*got.RelatedTransaction != first.Result.ID || got.AuthenticationToken != first.AuthenticationToken {
				t.Fatalf("charge %d: %+v", i, got)
			}
		}
	})
	t.Run("an unknown related transaction is refused", func(t *testing.T) {
		p := payment(1980)
		p["related_transaction"] = "tr_AAAAAAAAAAAAAAAA"
		e.create(first.AuthenticationToken, p).wantError(t, wire.CodeRelatedTarget)
	})
	t.Run("a revoked token is EATN0104", func(t *testing.T) {
		a := e.do(req{method: "POST", path: "/sandbox/v1/tokens/revoke", auth: "-",
			body: map[string]string{"authentication_token": first.AuthenticationToken}})
		if a.status != 200 {
			t.Fatalf("revoke: %d %s", a.status, a.raw)
		}
		e.create(first.AuthenticationToken, payment(1980)).wantError(t, wire.CodeTokenRevoked)
	})
	t.Run("logging in again issues a new token", func(t *testing.T) {
		if tok := e.token(sandbox.OKMemberPhone); tok == first.AuthenticationToken {
			t.Fatal("revoked token issued again")
		}
	})
}

func TestLifecycleNinetyDayLapse(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	early := e.create(tok, payment(100)).tx(t)
	late := e.create(tok, payment(100)).tx(t)

	e.clock.Add(90*24*time.Hour - time.Minute)
	t.Run("settleable on day 89", func(t *testing.T) {
		e.do(req{method: "PATCH", path: "/v1/transactions/" + early.ID + "/settle"}).tx(t)
	})
	e.clock.Add(time.Minute)
	t.Run("lapsed on day 90", func(t *testing.T) {
		e.do(req{method: "PATCH", path: "/v1/transactions/" + late.ID + "/settle"}).wantError(t, wire.CodeAuthorizationLapsed)
	})
	t.Run("a lapsed authorization can still be cancelled", func(t *testing.T) {
		if got := e.do(req{method: "PATCH", path: "/v1/transactions/" + late.ID + "/refund"}).tx(t); !got.Cancelled() {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("the clock also moves over HTTP", func(t *testing.T) {
		fresh := e.create(tok, payment(100)).tx(t)
		a := e.do(req{method: "POST", path: "/sandbox/v1/clock", auth: "-", body: map[string]string{"advance": "2160h"}})
		if a.status != 200 {
			t.Fatalf("clock: %s", a.raw)
		}
		e.do(req{method: "PATCH", path: "/v1/transactions/" + fresh.ID + "/settle"}).wantError(t, wire.CodeAuthorizationLapsed)
	})
}

func TestMethodOverride(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	tx := e.create(tok, payment(700)).tx(t)
	override := func(m string) map[string]string { return map[string]string{"X-HTTP-Method-Override": m} }

	t.Run("POST+GET with the id in the body", func(t *testing.T) {
		got := e.do(req{method: "POST", path: "/v1/transactions", header: override("GET"), body: map[string]string{"id": tx.ID}}).tx(t)
		if got.ID != tx.ID {
			t.Fatalf("got %s", got.ID)
		}
	})
	t.Run("POST+GET on the id path", func(t *testing.T) {
		e.do(req{method: "POST", path: "/v1/transactions/" + tx.ID, header: override("GET"), body: map[string]string{"id": tx.ID}}).tx(t)
	})
	t.Run("POST+PATCH settle and refund", func(t *testing.T) {
		if got := e.do(req{method: "POST", path: "/v1/transactions/" + tx.ID + "/settle", header: override("PATCH"), body: map[string]string{"id": tx.ID}}).tx(t); !got.Settled() {
			t.Fatal("not settled")
		}
		if got := e.do(req{method: "POST", path: "/v1/transactions/" + tx.ID + "/refund", header: override("patch"), body: map[string]string{"id": tx.ID}}).tx(t); !got.Cancelled() {
			t.Fatal("not cancelled")
		}
	})
	t.Run("POST+POST creates", func(t *testing.T) {
		p := payment(100)
		p["authentication_token"] = tok
		e.do(req{method: "POST", path: "/v1/transactions", header: override("POST"), body: p}).tx(t)
	})
}

func TestNumericStringsAndBooleans(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	body := `{"amount":"1400","shop_transaction_no":"w2-1","sales_settled":"false","authentication_token":"` + tok + `",
		"customer":{"customer_name":"注文太郎","total_purchase_count":"3","total_purchase_amount":"12000"},
		"items":[{"shop_item_id":"A","item_name":"商品","item_price":"1500","item_count":"1"},
		         {"shop_item_id":"P","item_name":"ポイント値引","item_price":"-100","item_count":"1"}]}`
	got := e.do(req{method: "POST", path: "/v1/transactions", body: body}).tx(t)
	if got.Amount != 1400 || got.Settled() || got.Items[1].ItemPrice != -100 {
		t.Fatalf("%+v", got)
	}
}

func TestBasicAuthForms(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	tx := e.create(tok, payment(100)).tx(t)
	for name, auth := range map[string]string{
		"secret alone":          basic(shopA.SecretKey),
		"secret and colon":      basic(shopA.SecretKey + ":"),
		"lower-case scheme":     "basic " + strings.TrimPrefix(basic(shopA.SecretKey), "Basic "),
		"unpadded base64":       "Basic " + strings.TrimRight(strings.TrimPrefix(basic(shopA.SecretKey+":"), "Basic "), "="),
		"second shop sees none": basic(shopB.SecretKey),
	} {
		t.Run(name, func(t *testing.T) {
			a := e.do(req{method: "GET", path: "/v1/transactions/" + tx.ID, auth: auth})
			if name == "second shop sees none" {
				a.wantError(t, wire.CodeNotFound)
				return
			}
			a.tx(t)
		})
	}
}

func TestFaults(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)

	t.Run("500 EATN9999 for the next call only", func(t *testing.T) {
		if err := e.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultInternalError, Times: 1}); err != nil {
			t.Fatal(err)
		}
		e.create(tok, payment(100)).wantError(t, wire.CodeSystemError)
		e.create(tok, payment(100)).tx(t)
	})
	t.Run("503 EATN9901 on one path until cleared, set over HTTP", func(t *testing.T) {
		a := e.do(req{method: "POST", path: "/sandbox/v1/faults", auth: "-",
			body: map[string]any{"kind": "maintenance", "path": "*/settle"}})
		if a.status != 200 {
			t.Fatalf("faults: %s", a.raw)
		}
		tx := e.create(tok, payment(100)).tx(t)
		for i := 0; i < 2; i++ {
			e.do(req{method: "PATCH", path: "/v1/transactions/" + tx.ID + "/settle"}).wantError(t, wire.CodeMaintenance)
		}
		e.do(req{method: "DELETE", path: "/sandbox/v1/faults", auth: "-"})
		e.do(req{method: "PATCH", path: "/v1/transactions/" + tx.ID + "/settle"}).tx(t)
	})
	t.Run("latency", func(t *testing.T) {
		_ = e.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultLatency, Latency: 200 * time.Millisecond, Times: 1, Method: "GET"})
		tx := e.create(tok, payment(100)).tx(t)
		t0 := time.Now()
		e.do(req{method: "GET", path: "/v1/transactions/" + tx.ID}).tx(t)
		if d := time.Since(t0); d < 200*time.Millisecond {
			t.Fatalf("answered after %v", d)
		}
	})
	t.Run("drop before the handler: nothing was created", func(t *testing.T) {
		before := len(e.sb.Transactions(shopA.PublicKey))
		_ = e.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultDropBefore, Path: "/v1/transactions", Method: "POST", Times: 1})
		if _, err := rawPost(e.url+"/v1/transactions", payment(100), tok); err == nil {
			t.Fatal("the connection was not dropped")
		}
		if after := len(e.sb.Transactions(shopA.PublicKey)); after != before {
			t.Fatalf("%d transactions became %d", before, after)
		}
	})
	t.Run("drop after commit: the transaction exists although the client got nothing", func(t *testing.T) {
		before := len(e.sb.Transactions(shopA.PublicKey))
		_ = e.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultDropAfterCommit, Path: "/v1/transactions", Method: "POST", Times: 1})
		p := payment(100)
		if _, err := rawPost(e.url+"/v1/transactions", p, tok); err == nil {
			t.Fatal("the connection was not dropped")
		}
		all := e.sb.Transactions(shopA.PublicKey)
		if len(all) != before+1 || all[len(all)-1].ShopTransactionNo != p["shop_transaction_no"] {
			t.Fatalf("committed transaction missing: %d → %d", before, len(all))
		}
		t.Run("a retry with the same number is EATN1101", func(t *testing.T) {
			e.create(tok, p).wantError(t, wire.CodeDuplicateShopNo)
		})
	})
	t.Run("unknown kinds are refused", func(t *testing.T) {
		if err := e.sb.AddFault(sandbox.Fault{Kind: "boom"}); err == nil {
			t.Fatal("accepted")
		}
		a := e.do(req{method: "POST", path: "/sandbox/v1/faults", auth: "-", body: map[string]any{"kind": "boom"}})
		if a.status != 400 {
			t.Fatalf("status %d", a.status)
		}
	})
	if f := e.sb.Faults(); len(f) != 0 {
		t.Fatalf("faults left armed: %+v", f)
	}
}

// rawPost sends a create on a fresh connection, so that a dropped connection is seen as such
// and not retried by the transport.
func rawPost(url string, p map[string]any, tok string) (*http.Response, error) {
	p["authentication_token"] = tok
	b, _ := json.Marshal(p)
	hr, _ := http.NewRequest("POST", url, strings.NewReader(string(b)))
	hr.Header.Set("Authorization", basic(shopA.SecretKey))
	hr.Header.Set("Content-Type", "application/json")
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(hr)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestWebhooks(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]byte{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], '\n')
		got[r.URL.Path] = append(got[r.URL.Path], b...)
		mu.Unlock()
	}))
	defer hook.Close()
	e := start(t, func(c *sandbox.Config) {
		c.Shops[0].PaymentWebhookURL = hook.URL + "/payment"
		c.Shops[0].AuthenticationWebhookURL = hook.URL + "/auth"
	})
	c, _ := e.buy(shopA, sandbox.OKMemberPhone, payment(100))
	tok := c.AuthenticationToken
	ng := e.create(tok, payment(60_000)).tx(t)
	_ = e.sb.Close() // waits for deliveries

	t.Run("payment webhook carries the transaction object, OK and NG", func(t *testing.T) {
		lines := strings.Split(strings.TrimSpace(string(got["/payment"])), "\n")
		if len(lines) != 2 {
			t.Fatalf("payment webhooks: %q", lines)
		}
		// Deliveries run concurrently, like atone's; their order is not part of the contract.
		results := map[string]int{}
		for _, l := range lines {
			var tx wire.Transaction
			_ = json.Unmarshal([]byte(l), &tx)
			results[tx.ID] = tx.AuthorizationResult
		}
		if results[c.Result.ID] != wire.AuthorizationOK || results[ng.ID] != wire.AuthorizationNG {
			t.Fatalf("bodies %s", got["/payment"])
		}
	})
	t.Run("authentication webhook carries the token", func(t *testing.T) {
		var ev sandbox.AuthenticationEvent
		_ = json.Unmarshal([]byte(strings.TrimSpace(string(got["/auth"]))), &ev)
		if ev.AuthenticationToken != tok || ev.UserNo != "100000001" {
			t.Fatalf("auth webhook %s", got["/auth"])
		}
	})
	t.Run("deliveries are recorded", func(t *testing.T) {
		if d := e.sb.Deliveries(); len(d) != 3 || d[0].Status != 200 || d[1].Status != 200 || d[2].Status != 200 {
			t.Fatalf("deliveries %+v", d)
		}
	})
}

// A connection dropped after commit must really be closed without any status line.
func TestDropAfterCommitSendsNothing(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	_ = e.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultDropAfterCommit, Times: 1})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := payment(100)
	p["authentication_token"] = tok
	b, _ := json.Marshal(p)
	hr, _ := http.NewRequest("POST", e.url+"/v1/transactions", strings.NewReader(string(b)))
	hr.Header.Set("Authorization", basic(shopA.SecretKey))
	if err := hr.Write(conn); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(conn).ReadString('\n'); err == nil || line != "" {
		t.Fatalf("read %q, %v; want EOF with nothing", line, err)
	}
}
