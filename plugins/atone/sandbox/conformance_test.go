package sandbox_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
	"github.com/kessai/kessai/plugins/atone/wire/wiretest"
)

func details(t *testing.T, a answer) []string {
	t.Helper()
	if a.status == 200 {
		return nil
	}
	eb := a.errBody(t)
	var out []string
	for _, d := range eb.Errors {
		row := wire.Lookup(d.Code)
		if a.status != eb.Status() || eb.Name != row.Type || len(d.Messages) != 1 || d.Messages[0] != row.Message {
			t.Errorf("%s answered %d %s %q, table says %d %s %q", d.Code, a.status, eb.Name, d.Messages, row.Status, row.Type, row.Message)
		}
		out = append(out, d.Code+":"+strings.Join(d.Params, ","))
	}
	return out
}

// Every validation of atone's tables, over HTTP, on the server API (EATN01xx/11xx) and in the
// widget (EATN03xx), from the same table the wire package is tested with.
func TestConformanceValidation(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	for _, tc := range wiretest.ValidationCases {
		t.Run("server/"+tc.Name, func(t *testing.T) {
			p := wiretest.ValidPayment()
			p["shop_transaction_no"] = "conf-" + strings.ReplaceAll(tc.Name, " ", "-")
			p["authentication_token"] = tok
			tc.Mutate(p)
			a := e.do(req{method: "POST", path: "/v1/transactions", body: p})
			if got := details(t, a); !reflect.DeepEqual(got, tc.Server) {
				t.Fatalf("errors = %v, want %v (%d %s)", got, tc.Server, a.status, a.raw)
			}
			if tc.Server == nil && a.tx(t).AuthorizationResult != wire.AuthorizationOK {
				t.Fatalf("not authorized: %s", a.raw)
			}
		})
		t.Run("widget/"+tc.Name, func(t *testing.T) {
			p := wiretest.ValidPayment()
			p["shop_transaction_no"] = "confw-" + strings.ReplaceAll(tc.Name, " ", "-")
			delete(p, "authentication_token")
			tc.Mutate(p)
			_, a := e.buy(shopA, sandbox.OKMemberPhone, p)
			if got := details(t, a); !reflect.DeepEqual(got, tc.Widget) {
				t.Fatalf("errors = %v, want %v (%d %s)", got, tc.Widget, a.status, a.raw)
			}
		})
	}
}

func TestConformanceErrors(t *testing.T) {
	e := start(t)
	tok := e.token(sandbox.OKMemberPhone)
	okTx := e.create(tok, payment(1000)).tx(t)

	t.Run("401 EATN0129", func(t *testing.T) {
		for name, auth := range map[string]string{
			"unknown key":    basic("sk_nope"),
			"no header":      "-",
			"public key":     basic(shopA.PublicKey),
			"bearer":         "Bearer " + shopA.SecretKey,
			"broken base64":  "Basic !!!",
			"password given": basic("other:" + shopA.SecretKey),
		} {
			t.Run(name, func(t *testing.T) {
				e.do(req{method: "GET", path: "/v1/transactions/" + okTx.ID, auth: auth}).wantError(t, wire.CodeUnauthorized)
			})
		}
	})
	t.Run("404 EATN0133 unknown id", func(t *testing.T) {
		e.do(req{method: "GET", path: "/v1/transactions/tr_0000000000000000"}).wantError(t, wire.CodeNotFound)
		e.do(req{method: "PATCH", path: "/v1/transactions/tr_0000000000000000/settle"}).wantError(t, wire.CodeNotFound)
		e.do(req{method: "PATCH", path: "/v1/transactions/tr_0000000000000000/refund"}).wantError(t, wire.CodeNotFound)
	})
	t.Run("404 EATN0133 another shop's transaction", func(t *testing.T) {
		e.do(req{method: "GET", path: "/v1/transactions/" + okTx.ID, auth: basic(shopB.SecretKey)}).wantError(t, wire.CodeNotFound)
	})
	t.Run("404 EATN0126 wrong path or method", func(t *testing.T) {
		e.do(req{method: "GET", path: "/v1/nothing"}).wantError(t, wire.CodeBadRequest)
		e.do(req{method: "DELETE", path: "/v1/transactions/" + okTx.ID}).wantError(t, wire.CodeBadRequest)
		e.do(req{method: "PATCH", path: "/v1/transactions/" + okTx.ID + "/void"}).wantError(t, wire.CodeBadRequest)
	})
	t.Run("EATN1101 shop_transaction_no of an OK transaction", func(t *testing.T) {
		p := payment(500)
		p["shop_transaction_no"] = okTx.ShopTransactionNo
		e.create(tok, p).wantError(t, wire.CodeDuplicateShopNo)
	})
	t.Run("the number of an NG transaction may be reused", func(t *testing.T) {
		p := payment(60_000) // above the OK member's limit
		ng := e.create(tok, p).tx(t)
		if ng.AuthorizationResult != wire.AuthorizationNG || *ng.AuthorizationResultNGReason != wire.NGReasonAmountExceeded {
			t.Fatalf("want NG 1, got %+v", ng)
		}
		again := payment(1000)
		again["shop_transaction_no"] = ng.ShopTransactionNo
		if tx := e.create(tok, again).tx(t); tx.AuthorizationResult != wire.AuthorizationOK {
			t.Fatalf("reuse gave %+v", tx)
		}
	})
	t.Run("EATN1102 amount is not the item total", func(t *testing.T) {
		p := payment(500)
		p["amount"] = 501
		e.create(tok, p).wantError(t, wire.CodeAmountMismatch, []string(nil)...)
	})
	t.Run("EATN0103 unknown and other shop's token", func(t *testing.T) {
		e.create("tk_unknownunknownunknown", payment(100)).wantError(t, wire.CodeTokenInvalid)
		p := payment(100)
		p["authentication_token"] = tok
		e.do(req{method: "POST", path: "/v1/transactions", body: p, auth: basic(shopB.SecretKey)}).wantError(t, wire.CodeTokenInvalid)
	})
	t.Run("broken JSON", func(t *testing.T) {
		e.do(req{method: "POST", path: "/v1/transactions", body: "{"}).wantError(t, wire.CodeWidgetJSON)
	})
	t.Run("error body shape", func(t *testing.T) {
		a := e.do(req{method: "GET", path: "/v1/transactions/tr_x"})
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(a.raw, &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"name", "message", "errors"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("error body lacks %q: %s", k, a.raw)
			}
		}
		var errs []map[string]json.RawMessage
		_ = json.Unmarshal(raw["errors"], &errs)
		for _, k := range []string{"code", "messages", "params"} {
			if _, ok := errs[0][k]; !ok {
				t.Errorf("error lacks %q: %s", k, a.raw)
			}
		}
	})
}

func TestConformanceWidgetErrors(t *testing.T) {
	e := start(t)
	complete := func(body map[string]any) answer {
		return e.do(req{method: "POST", path: "/sandbox/v1/widget/complete", auth: "-", body: body})
	}
	t.Run("EATN0304 unknown public key", func(t *testing.T) {
		complete(map[string]any{"pub_key": "pk_nope", "payment": signed(t, shopA, payment(100))}).wantError(t, wire.CodeWidgetPublicKey)
	})
	t.Run("EATN0351 checksum of another secret", func(t *testing.T) {
		complete(map[string]any{"pub_key": shopA.PublicKey, "payment": signed(t, shopB, payment(100)),
			"phone_number": sandbox.OKMemberPhone, "password": sandbox.TestPassword}).wantError(t, wire.CodeWidgetChecksum)
	})
	t.Run("EATN0351 payment changed after signing", func(t *testing.T) {
		p := signed(t, shopA, payment(100))
		p["description_trans"] = "後から追加"
		complete(map[string]any{"pub_key": shopA.PublicKey, "payment": p}).wantError(t, wire.CodeWidgetChecksum)
	})
	t.Run("shop_transaction_no and transaction_options are outside the checksum", func(t *testing.T) {
		p := signed(t, shopA, payment(100))
		p["shop_transaction_no"] = "changed-after-signing"
		p["transaction_options"] = []int{1}
		complete(map[string]any{"pub_key": shopA.PublicKey, "payment": p,
			"phone_number": sandbox.OKMemberPhone, "password": sandbox.TestPassword}).tx(t)
	})
	t.Run("EATN0306 wrong password", func(t *testing.T) {
		complete(map[string]any{"pub_key": shopA.PublicKey, "payment": signed(t, shopA, payment(100)),
			"phone_number": sandbox.OKMemberPhone, "password": "wrong"}).wantError(t, wire.CodeWidgetAuthFailed)
	})
	t.Run("EATN0301 neither login nor pre_token", func(t *testing.T) {
		complete(map[string]any{"pub_key": shopA.PublicKey, "payment": signed(t, shopA, payment(100))}).wantError(t, wire.CodeWidgetNoToken)
	})
	t.Run("EATN0303 revoked pre_token", func(t *testing.T) {
		tok := e.token(sandbox.OKMemberPhone)
		if !e.sb.RevokeToken(tok) {
			t.Fatal("token not found")
		}
		complete(map[string]any{"pub_key": shopA.PublicKey, "pre_token": tok, "payment": signed(t, shopA, payment(100))}).wantError(t, wire.CodeWidgetTokenInvalid)
	})
	t.Run("NG member: failed payload", func(t *testing.T) {
		c, a := e.buy(shopA, sandbox.NGMemberPhone, payment(100))
		if a.status != http.StatusOK || c.Result.AuthorizationResult != wire.AuthorizationNG ||
			*c.Result.AuthorizationResultNGReason != wire.NGReasonOther || !strings.HasPrefix(c.Result.ID, "tr_") {
			t.Fatalf("got %d %s", a.status, a.raw)
		}
	})
}
