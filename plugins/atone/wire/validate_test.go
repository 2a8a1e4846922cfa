package wire_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kessai/kessai/plugins/atone/wire"
	"github.com/kessai/kessai/plugins/atone/wire/wiretest"
)

func codes(details []wire.ErrorDetail) []string {
	var out []string
	for _, d := range details {
		out = append(out, d.Code+":"+strings.Join(d.Params, ","))
	}
	return out
}

func TestValidate(t *testing.T) {
	for _, ch := range []wire.Channel{wire.Server, wire.Widget} {
		for _, tc := range wiretest.ValidationCases {
			t.Run(ch.String()+"/"+tc.Name, func(t *testing.T) {
				p := wiretest.ValidPayment()
				tc.Mutate(p)
				body, _ := json.Marshal(p)
				want := tc.Server
				if ch == wire.Widget {
					want = tc.Widget
				}
				_, got, err := wire.ParsePayment(body, ch)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(codes(got), want) {
					t.Fatalf("errors = %v, want %v", codes(got), want)
				}
				for _, d := range got {
					row := wire.Lookup(d.Code)
					if row.Status != 400 || row.Type != wire.TypeInvalidRequest || d.Messages[0] != row.Message {
						t.Errorf("%s answered as %d %s %q", d.Code, row.Status, row.Type, d.Messages)
					}
				}
			})
		}
	}
}

func TestValidPaymentPasses(t *testing.T) {
	body, _ := json.Marshal(wiretest.ValidPayment())
	p, details, err := wire.ParsePayment(body, wire.Server)
	if err != nil || details != nil {
		t.Fatalf("ParsePayment = %v, %v", codes(details), err)
	}
	if p.Amount != 12460 || p.ItemTotal() != 12460 || p.Customer.CustomerName != "注文太郎" {
		t.Fatalf("decoded %+v", p)
	}
	if again := p.Validate(wire.Server); again != nil {
		t.Fatalf("typed Validate = %v", codes(again))
	}
}

func TestParsePaymentLenientForms(t *testing.T) {
	body := `{"amount":"1400","shop_transaction_no":"n-1","sales_settled":"true","authentication_token":"tk_x",
		"customer":{"customer_name":"注文太郎","sex_division":2,"total_purchase_count":"3"},
		"items":[{"shop_item_id":"A","item_name":"商品","item_price":"1500","item_count":"1"},
		         {"shop_item_id":"P","item_name":"値引","item_price":"-100","item_count":1}]}`
	p, details, err := wire.ParsePayment([]byte(body), wire.Server)
	if err != nil || details != nil {
		t.Fatalf("ParsePayment = %v, %v", codes(details), err)
	}
	if p.Amount != 1400 || p.SalesSettled == nil || !*p.SalesSettled || p.Items[1].ItemPrice != -100 ||
		p.Customer.SexDivision != "2" || *p.Customer.TotalPurchaseCount != 3 {
		t.Fatalf("decoded %+v", p)
	}
}

func TestParsePaymentNotJSON(t *testing.T) {
	for _, in := range []string{``, `{`, `[1]`, `null`} {
		if _, _, err := wire.ParsePayment([]byte(in), wire.Server); err == nil {
			t.Errorf("ParsePayment(%q) gave no error", in)
		}
	}
}

func FuzzValidate(f *testing.F) {
	seed, _ := json.Marshal(wiretest.ValidPayment())
	f.Add(seed, false)
	f.Add([]byte(`{"amount":"10","items":[{"item_price":-1}]}`), true)
	f.Add([]byte(`{"customer":[],"dest_customers":{},"items":"x"}`), false)
	f.Fuzz(func(t *testing.T, body []byte, widget bool) {
		ch := wire.Server
		if widget {
			ch = wire.Widget
		}
		p, details, err := wire.ParsePayment(body, ch)
		if err != nil {
			return
		}
		for _, d := range details {
			if !wire.Known(d.Code) || len(d.Messages) != 1 {
				t.Fatalf("unknown or messageless error %+v", d)
			}
		}
		if details != nil {
			return
		}
		// What atone accepts once must be accepted again after a round trip through Go types.
		if again := p.Validate(ch); again != nil {
			t.Fatalf("accepted payment %s fails typed validation: %v", body, codes(again))
		}
		if p.Amount != p.ItemTotal() {
			t.Fatalf("accepted amount %d with item total %d", p.Amount, p.ItemTotal())
		}
	})
}
