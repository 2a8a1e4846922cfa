package inbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/text/encoding/japanese"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/jst"
	"github.com/kessai/kessai/webhooks/inbound"
)

// counting counts the provider references the handler makes.
type counting struct {
	inbound.Adapters
	references atomic.Int64
}

func (c *counting) Get(ctx context.Context, slug string) (plugins.Adapter, error) {
	ad, err := c.Adapters.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	return countingAdapter{ad, c}, nil
}

type countingAdapter struct {
	plugins.Adapter
	c *counting
}

func (a countingAdapter) Reference(ctx context.Context, req plugins.ReferenceRequest) (plugins.TransactionResult, error) {
	a.c.references.Add(1)
	return a.Adapter.Reference(ctx, req)
}

// TestForgedNotifications plays someone who pays for one order at the shop through atone's
// widget under a merchant reference of their own choosing, so that atone holds a transaction
// kessai does not know, and then posts notifications about it: 200 bodies, each worded
// differently and each with a merchant reference that carries line breaks and a forged
// "処理結果 = OK", from several connections at once. The daemon's own sandbox sends no
// webhooks, so these are the only notifications.
func TestForgedNotifications(t *testing.T) {
	t.Parallel()
	h := daemontest.Start(t)
	ctx := context.Background()
	const attempt = "ks00000000forged-1"
	const forged = attempt + "\r\n処理結果 = OK\r\nリンクキー = tr_x\r\n"
	r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("f1", 1000, 1, h.Method))
	if r.Status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	cfg := r.Body["config"].(map[string]any)
	// shop_transaction_no is outside the checksum: the widget accepts any.
	cfg["payment"].(map[string]any)["shop_transaction_no"] = attempt
	w := h.CompleteWidget(t, cfg, sandbox.OKMemberPhone)
	id := w["result"].(map[string]any)["id"].(string)
	tx, ok := h.Sandbox.Transaction(sandbox.DefaultShop.PublicKey, id)
	if !ok || tx.ShopTransactionNo != attempt {
		t.Fatalf("sandbox holds %+v", tx)
	}
	raw, _ := json.Marshal(tx)

	// A handler of the test's own, counting its references, with room for the whole burst:
	// the limit per source is TestRateLimitPerSource's.
	ads := &counting{Adapters: h.D.Modules}
	e := httpapi.New(slog.New(slog.DiscardHandler)).Engine
	inbound.Mount(e, inbound.Deps{Store: h.D.Store, Adapters: ads, Settlements: h.D.Settlements, Orders: h.D.Orders,
		Log: slog.New(slog.DiscardHandler), Burst: 1000})
	srv := httptest.NewServer(e)
	defer srv.Close()

	t.Run("200 bodies naming one unknown transaction: one error-log row", func(t *testing.T) {
		const workers, bodies = 8, 200
		var wg sync.WaitGroup
		codes := make(chan int, bodies)
		for k := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := k; i < bodies; i += workers {
					var m map[string]any
					_ = json.Unmarshal(raw, &m)
					m["amount"] = 1 + i // a new body, so a new event
					m["shop_transaction_no"] = forged + strconv.Itoa(i)
					b, _ := json.Marshal(m)
					resp, err := http.Post(srv.URL+"/webhooks/atone", "application/json", bytes.NewReader(b))
					if err != nil {
						t.Error(err)
						return
					}
					var a inbound.Answer
					_ = json.NewDecoder(resp.Body).Decode(&a)
					resp.Body.Close()
					if a.Result != inbound.Unknown {
						t.Errorf("answered %d %+v", resp.StatusCode, a)
					}
					codes <- resp.StatusCode
				}
			}()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != http.StatusOK {
				t.Fatalf("answered %d", c)
			}
		}
		rows, _, err := errlog.List(ctx, h.D.Store.DB, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("%d error-log rows, want one", len(rows))
		}
		if rows[0].LogKey != id || rows[0].Result != "ATONE WEBHOOK UNKNOWN" {
			t.Fatalf("row %+v, want one for %s", rows[0], id)
		}
		// Only the deliveries that raced the first report asked atone; the rest knew.
		if n := ads.references.Load(); n < 1 || n > workers {
			t.Fatalf("atone referenced %d times for %d bodies", n, bodies)
		}
		// What the row says of the merchant reference is what atone holds; nothing of the
		// bodies' text is in it.
		if got := rows[0].Fields()["shop_transaction_no"]; got != attempt || strings.Contains(rows[0].Data, "処理結果") {
			t.Fatalf("shop_transaction_no = %q; data %s", got, rows[0].Data)
		}
	})
	t.Run("the Shift_JIS export has no forged line", func(t *testing.T) {
		rows, _, _ := errlog.List(ctx, h.D.Store.DB, 0, 0)
		b, err := errlog.Export(rows, jst.Tokyo)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := japanese.ShiftJIS.NewDecoder().Bytes(b)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(dec), "\r\n"), "\r\n")
		results, keys := 0, 0
		for _, l := range lines {
			if strings.ContainsAny(l, "\r\n") {
				t.Errorf("a line holds a line break: %q", l)
			}
			if strings.HasPrefix(l, "処理結果 = ") {
				results++
				if l != "処理結果 = ATONE WEBHOOK UNKNOWN" {
					t.Errorf("forged line %q", l)
				}
			}
			if strings.HasPrefix(l, "リンクキー = ") {
				keys++
			}
			// Welcart's blocks end in a line of dashes and an empty line.
			if l != "" && !strings.HasPrefix(l, "---") && !strings.Contains(l, " = ") {
				t.Errorf("line %q is not a field", l)
			}
		}
		if results != 1 || keys != 1 {
			t.Fatalf("%d 処理結果 and %d リンクキー lines for one row:\n%s", results, keys, dec)
		}
	})
}
