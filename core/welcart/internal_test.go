package welcart_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/httpapi/httpapitest"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/core/welcart"
)

// oneShop lets every key in as shop 1: what fails here is the database, not the credential.
type oneShop struct{}

func (oneShop) Authenticate(context.Context, string) (*shop.Shop, error) {
	return &shop.Shop{ID: 1}, nil
}

// A failure of kessai's own (here the database is gone) is no refusal: Welcart's bridge is
// told NG with a 500 and the request id to quote, never the cause, and the request log's line
// under that id carries the cause.
func TestInternalFailureQuotesTheRequestID(t *testing.T) {
	st := storetest.SQLite(t)
	var logs httpapitest.Logs
	s := httpapi.New(logs.Logger())
	welcart.Mount(s.Engine, welcart.Deps{Store: st, Shops: oneShop{}, Methods: paymethod.New(st.DB, nil),
		Orders: order.New(st.DB), Settlements: settlement.NewService(st, nil, slog.New(slog.DiscardHandler))})
	srv := httptest.NewServer(s)
	defer srv.Close()
	sqlDB, err := st.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, id, form string }{
		{"the 決済情報 dialog", "req-welcart-dialog", "action=usces_admin_ajax&mode=get_atone&order_id=1000&trans_id=4120000001"},
		{"the 決済エラーログ list", "req-welcart-errlog", "action=order_item_ajax&mode=get_settlement_error_log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL+welcart.Path, strings.NewReader(tc.form))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+shop.KeyPrefix+"test")
			req.Header.Set(httpapi.HeaderRequestID, tc.id)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var a welcart.Answer
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatalf("%d %s: %v", resp.StatusCode, raw, err)
			}
			if resp.StatusCode != http.StatusInternalServerError || a.Status != "NG" || !strings.Contains(string(a.Result), tc.id) ||
				strings.Contains(string(a.Result), "closed") {
				t.Fatalf("answer %d %s", resp.StatusCode, raw)
			}
			line := logs.Request(tc.id)
			if line == nil || line["level"] != "ERROR" || !strings.Contains(fmt.Sprint(line["error"]), "database is closed") {
				t.Fatalf("log line for %s: %v\nlogs:\n%s", tc.id, line, logs.String())
			}
		})
	}
}
