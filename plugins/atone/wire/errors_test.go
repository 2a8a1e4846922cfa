package wire_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kessai/kessai/plugins/atone/wire"
)

func TestTableIsConsistent(t *testing.T) {
	for _, row := range wire.Table {
		if !strings.HasPrefix(row.Code, "EATN") || len(row.Code) != 8 {
			t.Errorf("%q is not an EATN code", row.Code)
		}
		if row.Message == "" || row.Status == 0 || row.Type == "" {
			t.Errorf("%s is incomplete: %+v", row.Code, row)
		}
		// The Kangxi radicals of the source document must not leak into messages.
		if strings.ContainsAny(row.Message, "⾦⾓⽂⽒⼀⽇⼥⽤⼊") {
			t.Errorf("%s message carries a copy artifact: %s", row.Code, row.Message)
		}
		if row.Source != "C-doc" && row.Source != "I" {
			t.Errorf("%s has source %q", row.Code, row.Source)
		}
	}
}

func TestErrorBodyShape(t *testing.T) {
	body := wire.NewError(wire.CodeDuplicateShopNo)
	b, _ := json.Marshal(body)
	want := `{"name":"InvalidRequest","message":"同じ加盟店取引番号が既に登録されています。","errors":[{"code":"EATN1101","messages":["同じ加盟店取引番号が既に登録されています。"],"params":["shop_transaction_no"]}]}`
	if string(b) != want {
		t.Fatalf("body\n got %s\nwant %s", b, want)
	}
	if body.Status() != 400 {
		t.Fatalf("status %d", body.Status())
	}
	var err error = body
	var eb *wire.ErrorBody
	if !errors.As(err, &eb) || !eb.HasCode("EATN1101") {
		t.Fatal("error body does not answer HasCode")
	}
	nf := wire.NewError(wire.CodeNotFound)
	if nf.Status() != 404 || nf.Name != wire.TypeNotFound || nf.Errors[0].Params != nil {
		t.Fatalf("EATN0133 = %+v", nf)
	}
	if wire.Lookup("EATN0000").Status != 500 {
		t.Fatal("an unknown code must not read as a client error")
	}
}

func TestClassifyPhone(t *testing.T) {
	for in, want := range map[string]string{
		"090-1234-5678": wire.FieldPhoneNumber,
		"０８０１２３４５６７８":   wire.FieldPhoneNumber,
		"07012345678":   wire.FieldPhoneNumber,
		"03-1234-5678":  wire.FieldTel,
		"0120-123-456":  wire.FieldTel,
		"050-1234-5678": wire.FieldTel, // IP phone, not mobile
		"":              wire.FieldTel,
	} {
		if got := wire.ClassifyPhone(in); got != want {
			t.Errorf("ClassifyPhone(%q) = %s, want %s", in, got, want)
		}
	}
	var c wire.Customer
	c.SetPhone("090-1234-5678")
	c.SetPhone("03-1234-5678")
	if c.PhoneNumber != "09012345678" || c.Tel != "0312345678" {
		t.Fatalf("SetPhone gave %+v", c)
	}
}

func ExampleChecksum() {
	sum, _ := wire.Checksum("test-secret-key", []byte(`{"amount":10,"shop_transaction_no":"shop-tran-no-123456789","sales_settled":false,"description_trans":"備考です。","customer":{"customer_name":"接続テスト"},"items":[{"shop_item_id":"1","item_name":"１０円チョコ","item_price":10,"item_count":1,"item_url":"https://atone.be/items/1"}]}`))
	fmt.Println(sum)
	// Output: /BbcSFQap2ibY5xNPh1j8VlyoRDYYgWHTQKIJ/BYOfg=
}
