package daemontest_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/shopapi"
)

// TestOpenAPIDocument: the document is valid OpenAPI 3.1, served as it is embedded, and the
// check every harness applies to the shop API's answers tells a conforming answer from ones
// that are not.
func TestOpenAPIDocument(t *testing.T) {
	h := daemontest.Start(t, daemontest.SQLite())
	resp, err := http.Get(h.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(served, shopapi.OpenAPI) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(served))
	}
	json := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	settlement := `{"id":1,"trans_id":"ks1","wc_trans_id":"","module":"atone","settlement_code":"acting_atone","status":"pending","status_label":"処理中","amount":2000}`
	order := `{"id":1,"order_number":"1","deco_id":"1","member_id":0,"customer":{"mailaddress1":"a@example.jp","name1":"注文","name2":"太郎","zipcode":"1","pref":"東京都","address1":"a","address2":"b","address3":"","tel":"1"},` +
		`"cart":[],"order":{"total_items_price":1,"discount":0,"shipping_charge":0,"cod_fee":0,"tax":0,"usedpoint":0,"getpoint":0,"total_full_price":1,"payment_name":"x","note":"","delivery_method":""},` +
		`"order_status":"","process_status":"新規受付","order_date":"2026-12-02T00:00:00Z","settlement":` + settlement + `}`
	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string
		ok                 bool
	}{
		{"an order", "GET", "/api/v1/orders/1", 200, order, true},
		{"an error", "GET", "/api/v1/orders/1", 404, `{"error":{"code":"not_found","message":"受注が見つかりません。"}}`, true},
		{"an undocumented status with the error shape", "GET", "/api/v1/orders/1", 418, `{"error":{"code":"teapot","message":"x"}}`, true},
		{"a field missing", "GET", "/api/v1/orders/1", 200, strings.Replace(order, `"deco_id":"1",`, "", 1), false},
		{"a field nobody documented", "GET", "/api/v1/orders/1", 200, strings.Replace(order, `"member_id":0,`, `"member_id":0,"secret":"x",`, 1), false},
		{"a status outside the enum", "GET", "/api/v1/orders/1", 200, strings.Replace(order, `"pending"`, `"paid"`, 1), false},
		{"an error without its code", "GET", "/api/v1/orders/1", 404, `{"error":{"message":"x"}}`, false},
		{"an order where an error belongs", "POST", "/api/v1/orders/1/settlement/capture", 409, order, false},
		{"not the shop API", "GET", "/admin/api/modules", 200, `[]`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://kessai.test"+tc.path, nil)
			req.Header.Set("Authorization", "Bearer ksk_test")
			problems := daemontest.CheckAnswer(req, nil, tc.status, json, []byte(tc.body))
			if (problems == nil) != tc.ok {
				t.Fatalf("conforms = %v, want %v: %v", problems == nil, tc.ok, problems)
			}
		})
	}
}
