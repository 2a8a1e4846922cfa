package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
)

// TestDataSurvivesRestart is the demo's restart: a sandbox on a data file is stopped and a new
// one started on the same file, and every order taken before goes on as if nothing happened.
func TestDataSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "atone-sandbox.db")
	onFile := func(c *sandbox.Config) { c.DataPath = path }
	first := start(t, onFile)
	tok := first.token(sandbox.OKMemberPhone)
	authorized := first.create(tok, payment(3000)).tx(t)
	settled := first.create(tok, payment(2000)).tx(t)
	first.do(req{method: "PATCH", path: "/v1/transactions/" + settled.ID + "/settle"}).tx(t)
	revoked := first.token(sandbox.OKMemberPhone)
	other, _ := first.buy(shopA, sandbox.NGMemberPhone, payment(100))
	first.do(req{method: "POST", path: "/sandbox/v1/tokens/revoke", auth: "-",
		body: map[string]string{"authentication_token": other.AuthenticationToken}})
	before := first.sb.Ledger()
	if err := first.sb.Close(); err != nil {
		t.Fatal(err)
	}
	if a := first.do(req{method: "GET", path: "/v1/transactions/" + authorized.ID}); a.status != http.StatusInternalServerError {
		t.Fatalf("a closed sandbox answered %d %s", a.status, a.raw)
	}

	again := start(t, onFile)
	t.Run("the ledger is the same", func(t *testing.T) {
		if got, want := fmt.Sprint(again.sb.Ledger()), fmt.Sprint(before); got != want {
			t.Fatalf("ledger after restart:\n%s\nbefore:\n%s", got, want)
		}
	})
	t.Run("an authorization made before is settled after", func(t *testing.T) {
		ref := again.do(req{method: "GET", path: "/v1/transactions/" + authorized.ID}).tx(t)
		if ref.Amount != 3000 || ref.Settled() || ref.Customer == nil || ref.Customer.CustomerName != "注文太郎" || len(ref.Items) != 1 {
			t.Fatalf("reference after restart: %+v", ref)
		}
		if got := again.do(req{method: "PATCH", path: "/v1/transactions/" + authorized.ID + "/settle"}).tx(t); !got.Settled() {
			t.Fatalf("settle after restart: %+v", got)
		}
	})
	t.Run("a settlement made before is refused twice and refunded", func(t *testing.T) {
		again.do(req{method: "PATCH", path: "/v1/transactions/" + settled.ID + "/settle"}).wantError(t, wire.CodeAlreadySettled)
		amt := int64(500)
		r := again.do(req{method: "PATCH", path: "/v1/transactions/" + settled.ID + "/refund", body: map[string]any{"amount_refund": amt}}).tx(t)
		if r.AmountRefundTotal != 500 || len(r.Refunds) != 1 {
			t.Fatalf("refund after restart: %+v", r)
		}
	})
	t.Run("the buyer's token still works, and a revoked one stays revoked", func(t *testing.T) {
		if tok != revoked {
			t.Fatalf("the member got a second live token %s besides %s", revoked, tok)
		}
		if got := again.token(sandbox.OKMemberPhone); got != tok {
			t.Fatalf("a new login after restart gave %s, not the live token %s", got, tok)
		}
		p := payment(1000)
		p["related_transaction"] = authorized.ID
		if got := again.create(tok, p).tx(t); got.RelatedTransaction == nil || *got.RelatedTransaction != authorized.ID {
			t.Fatalf("recurring charge after restart: %+v", got)
		}
		again.create(other.AuthenticationToken, payment(100)).wantError(t, wire.CodeTokenRevoked)
	})
	t.Run("shop_transaction_no stays taken and 取引修正 replaces an earlier transaction", func(t *testing.T) {
		dup := payment(100)
		dup["shop_transaction_no"] = authorized.ShopTransactionNo
		again.create(tok, dup).wantError(t, wire.CodeDuplicateShopNo)
		fresh := first.create(tok, payment(4000)) // first is closed
		if fresh.status != http.StatusInternalServerError {
			t.Fatalf("closed sandbox: %d", fresh.status)
		}
		old := again.create(tok, payment(4000)).tx(t)
		mod := payment(3500)
		mod["shop_transaction_no"] = old.ShopTransactionNo
		mod["updated_transactions"] = []string{old.ID}
		repl := again.create(tok, mod).tx(t)
		var entry sandbox.LedgerEntry
		for _, e := range again.sb.Ledger() {
			if e.ID == old.ID {
				entry = e
			}
		}
		if entry.ReplacedBy != repl.ID || !entry.Refunded {
			t.Fatalf("replaced transaction in the ledger: %+v", entry)
		}
	})
	want := again.sb.Transactions(shopA.PublicKey)
	if err := again.sb.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("a third start sees the second's work", func(t *testing.T) {
		third := start(t, onFile)
		ref, ok := third.sb.Transaction(shopA.PublicKey, settled.ID)
		if !ok || ref.AmountRefundTotal != 500 {
			t.Fatalf("%v %+v", ok, ref)
		}
		got, _ := json.Marshal(third.sb.Transactions(shopA.PublicKey))
		if w, _ := json.Marshal(want); !bytes.Equal(got, w) {
			t.Fatalf("transactions after the third start:\n%s\nwant:\n%s", got, w)
		}
	})
}

func TestDataFileThatIsNotTheSandboxs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.db")
	if err := os.WriteFile(path, []byte("not a database, just notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sandbox.Open(sandbox.Config{DataPath: path})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open on a text file: %v", err)
	}
}

// TestMemoryStaysFlat registers transactions through the server API on a data file and
// reports the Go heap and the process's resident memory along the way: nothing grows with the
// number of transactions, which live in SQLite. KESSAI_SANDBOX_TRANSACTIONS sets the count
// (200000 for the size of a large billing run); no time is asserted.
func TestMemoryStaysFlat(t *testing.T) {
	n := 2_000
	if v := os.Getenv("KESSAI_SANDBOX_TRANSACTIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			t.Fatalf("KESSAI_SANDBOX_TRANSACTIONS=%q: want a count of at least 10", v)
		}
	}
	e := start(t, func(c *sandbox.Config) { c.DataPath = filepath.Join(t.TempDir(), "atone-sandbox.db") })
	tok := e.token(sandbox.OKMemberPhone)
	auth := basic(shopA.SecretKey)
	create := func(i int) {
		p := payment(1000)
		p["shop_transaction_no"] = fmt.Sprintf("bill-%d", i)
		p["authentication_token"] = tok
		body, _ := json.Marshal(p)
		r := httptest.NewRequest("POST", "/v1/transactions", bytes.NewReader(body))
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		e.sb.ServeHTTP(w, r) // in process: the network is not what is measured
		if w.Code != http.StatusOK {
			t.Fatalf("transaction %d: %d %s", i, w.Code, w.Body)
		}
	}
	heap := func() (heapMB, rssMB float64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapInuse) / (1 << 20), rss()
	}
	warm := n / 10
	for i := range warm {
		create(i)
	}
	h0, r0 := heap()
	t.Logf("after %d transactions: heap in use %.1f MB, resident %.1f MB", warm, h0, r0)
	for i := warm; i < n; i++ {
		create(i)
	}
	h1, r1 := heap()
	t.Logf("after %d transactions: heap in use %.1f MB, resident %.1f MB", n, h1, r1)
	if got := len(e.sb.Transactions(shopA.PublicKey)); got != n+1 {
		t.Fatalf("%d transactions stored, want %d", got, n+1)
	}
	// The old in-memory sandbox grew by about 3 KB a transaction; a few MB of slack covers
	// the garbage collector's pacing and SQLite's page cache.
	if grew := h1 - h0; grew > 16 {
		t.Fatalf("heap grew by %.1f MB from %d to %d transactions", grew, warm, n)
	}
}

// rss is the process's resident memory in MB from /proc, 0 where there is none.
func rss() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
