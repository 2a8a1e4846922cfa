package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
)

func TestLedger(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	entry := func(t *testing.T, id string) sandbox.LedgerEntry {
		t.Helper()
		for _, x := range e.sb.Ledger() {
			if x.ID == id {
				return x
			}
		}
		t.Fatalf("%s is not in the ledger", id)
		return sandbox.LedgerEntry{}
	}
	settle := func(id string) answer { return e.do(req{method: "PATCH", path: "/v1/transactions/" + id + "/settle"}) }

	first := e.create(tok, payment(3000)).tx(t)
	t.Run("an authorization is live, unsettled, with nothing counted", func(t *testing.T) {
		got := entry(t, first.ID)
		if !got.OK() || !got.Live() || got.Settled || got.SettledAt != "" || got.Refunded || got.ReplacedBy != "" ||
			got.SettleCount != 0 || got.RefundCount != 0 || got.Amount != 3000 || got.Shop != shopA.PublicKey ||
			got.ShopTransactionNo != first.ShopTransactionNo {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("a settle is counted once; the refused second one is not", func(t *testing.T) {
		settle(first.ID).tx(t)
		settle(first.ID).wantError(t, wire.CodeAlreadySettled)
		got := entry(t, first.ID)
		if !got.Settled || got.SettledAt == "" || got.SettleCount != 1 || !got.Live() {
			t.Fatalf("%+v", got)
		}
	})

	p := payment(2500)
	p["updated_transactions"] = []string{first.ID}
	repl := e.create(tok, p).tx(t)
	t.Run("a 取引修正 marks the replaced transaction, without counting a refund call", func(t *testing.T) {
		got := entry(t, first.ID)
		if got.ReplacedBy != repl.ID || !got.Refunded || got.RefundCount != 0 || got.Live() {
			t.Fatalf("%+v", got)
		}
		if r := entry(t, repl.ID); !r.Live() || r.Amount != 2500 || r.ReplacedBy != "" {
			t.Fatalf("replacement %+v", r)
		}
	})
	t.Run("a cancel is a counted refund call", func(t *testing.T) {
		e.do(req{method: "PATCH", path: "/v1/transactions/" + repl.ID + "/refund"}).tx(t)
		got := entry(t, repl.ID)
		if !got.Refunded || got.RefundCount != 1 || got.AmountRefunded != 2500 || got.Live() {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("a settle whose answer was dropped is in the ledger all the same", func(t *testing.T) {
		tx := e.create(tok, payment(1200)).tx(t)
		if err := e.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultDropAfterCommit, Path: "*/settle", Times: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := rawPatch(e.url + "/v1/transactions/" + tx.ID + "/settle"); err == nil {
			t.Fatal("the connection was not dropped")
		}
		if got := entry(t, tx.ID); !got.Settled || got.SettleCount != 1 {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("an NG is in the ledger and not live", func(t *testing.T) {
		ng := e.create(tok, payment(80_000)).tx(t)
		if got := entry(t, ng.ID); got.OK() || got.Live() || got.AuthorizationResult != wire.AuthorizationNG {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("every shop's transactions are listed", func(t *testing.T) {
		c, a := e.buy(shopB, sandbox.OKMemberPhone, payment(700))
		if a.status != 200 {
			t.Fatalf("widget at shop B: %s", a.raw)
		}
		if got := entry(t, c.Result.ID); got.Shop != shopB.PublicKey {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("over HTTP, never failed by a fault", func(t *testing.T) {
		if err := e.sb.AddFault(sandbox.Fault{Kind: sandbox.FaultInternalError}); err != nil {
			t.Fatal(err)
		}
		defer e.sb.ClearFaults()
		a := e.do(req{method: "GET", path: "/sandbox/v1/transactions", auth: "-"})
		var body struct {
			Transactions []sandbox.LedgerEntry `json:"transactions"`
		}
		if a.status != 200 || json.Unmarshal(a.raw, &body) != nil {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		if len(body.Transactions) != len(e.sb.Ledger()) {
			t.Fatalf("HTTP lists %d, Ledger %d", len(body.Transactions), len(e.sb.Ledger()))
		}
		for i, x := range e.sb.Ledger() {
			if body.Transactions[i] != x {
				t.Fatalf("entry %d: HTTP %+v, Ledger %+v", i, body.Transactions[i], x)
			}
		}
	})
}

// rawPatch settles or refunds on a fresh connection, so that a dropped connection is seen as
// such and not retried by the transport.
func rawPatch(url string) (*http.Response, error) {
	hr, _ := http.NewRequest("PATCH", url, nil)
	hr.Header.Set("Authorization", basic(shopA.SecretKey))
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(hr)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}
