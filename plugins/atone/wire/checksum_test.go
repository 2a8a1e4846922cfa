package wire_test

import (
	"testing"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// The expected values were computed outside Go (SHA-256 + Base64 of the input string), so
// the test checks the rule, not the implementation against itself.
var checksumVectors = []struct {
	name, secret, payment, input, sum string
}{
	{
		name:    "reference vector",
		secret:  "test-secret-key",
		payment: `{"amount":10,"shop_transaction_no":"shop-tran-no-123456789","sales_settled":false,"description_trans":"備考です。","customer":{"customer_name":"接続テスト"},"items":[{"shop_item_id":"1","item_name":"１０円チョコ","item_price":10,"item_count":1,"item_url":"https://atone.be/items/1"}]}`,
		input:   "test-secret-key,10接続テスト備考です。1１０円チョコ10https://atone.be/items/11false",
		sum:     "/BbcSFQap2ibY5xNPh1j8VlyoRDYYgWHTQKIJ/BYOfg=",
	},
	{
		name:   "nested arrays, negative price, excluded keys, non-ASCII secret",
		secret: "sk_あいう",
		payment: `{"shop_transaction_no":"ord-1","checksum":"ignored","transaction_options":[1],"amount":12460,"sales_settled":true,
			"customer":{"phone_number":"090-1111-1111","customer_name_kana":"ちゅうもんたろう","customer_name":"注文太郎","past_merchandise_category":[["大阪府","東京都"],["0-0"]]},
			"dest_customers":[{"dest_zip_code":"123-1234","dest_customer_name":"銀座太郎","dest_customer_name_kana":"ぎんざたろう"}],
			"items":[{"shop_item_id":"A-1","item_name":"商品A","item_price":1500,"item_count":1},{"shop_item_id":"P","item_name":"ポイント利用","item_price":-100,"item_count":1}]}`,
		input: "sk_あいう,12460注文太郎ちゅうもんたろう大阪府東京都0-0090-1111-1111銀座太郎ぎんざたろう123-12341商品A1500A-11ポイント利用-100Ptrue",
		sum:   "QuhG9A3hxIqM1+BiWG615i1aAp1SlY9fzm7FxN9mTJI=",
	},
	{
		name:    "numeric string, null, emoji and ideographic space",
		secret:  "k",
		payment: `{"amount":"10","sales_settled":false,"customer":{"customer_name":"注文😀　様","email":null}}`,
		input:   "k,10注文😀　様false",
		sum:     "uJmC0bda9DkfHiddD8luDF3wJJE0iF2ufBoTXerIr1c=",
	},
	{
		name:    "nothing but excluded keys",
		secret:  "s",
		payment: `{"shop_transaction_no":"x","checksum":"y","transaction_options":[3]}`,
		input:   "s,",
		sum:     "J1ADz2V/V+UuJW77ilvYrvKm3m9q+HRfklnObSahppc=",
	},
}

func TestChecksumVectors(t *testing.T) {
	for _, v := range checksumVectors {
		t.Run(v.name, func(t *testing.T) {
			in, err := wire.ChecksumInput(v.secret, []byte(v.payment))
			if err != nil {
				t.Fatal(err)
			}
			if in != v.input {
				t.Errorf("input\n got %q\nwant %q", in, v.input)
			}
			sum, err := wire.Checksum(v.secret, []byte(v.payment))
			if err != nil {
				t.Fatal(err)
			}
			if sum != v.sum {
				t.Errorf("checksum = %s, want %s", sum, v.sum)
			}
		})
	}
}

func TestChecksumOfTypedPaymentMatchesItsJSON(t *testing.T) {
	settled := false
	p := wire.Payment{
		Amount: 10, ShopTransactionNo: "shop-tran-no-123456789", SalesSettled: &settled,
		DescriptionTrans: "備考です。",
		Customer:         wire.Customer{CustomerName: "接続テスト"},
		Items: []wire.Item{{ShopItemID: "1", ItemName: "１０円チョコ", ItemPrice: 10, ItemCount: 1,
			ItemURL: "https://atone.be/items/1"}},
		TransactionOptions: []int{wire.OptionRecurring},
	}
	if err := p.Sign("test-secret-key"); err != nil {
		t.Fatal(err)
	}
	if p.Checksum != checksumVectors[0].sum {
		t.Fatalf("Sign = %s, want %s", p.Checksum, checksumVectors[0].sum)
	}
	ok, err := wire.VerifyChecksum("test-secret-key", p)
	if err != nil || !ok {
		t.Fatalf("VerifyChecksum = %v, %v; want true", ok, err)
	}
	if ok, _ := wire.VerifyChecksum("other-key", p); ok {
		t.Fatal("a checksum verified under another secret")
	}
}

func TestChecksumRejectsNonObjects(t *testing.T) {
	for _, in := range []string{`[]`, `"x"`, `{`, ``, `{} {}`} {
		if _, err := wire.Checksum("s", []byte(in)); err == nil {
			t.Errorf("Checksum(%q) succeeded", in)
		}
	}
}

func FuzzChecksum(f *testing.F) {
	for _, v := range checksumVectors {
		f.Add(v.secret, []byte(v.payment))
	}
	f.Fuzz(func(t *testing.T, secret string, payment []byte) {
		sum, err := wire.Checksum(secret, payment)
		if err != nil {
			return
		}
		if len(sum) != 44 {
			t.Fatalf("checksum %q is not 32 bytes in Base64", sum)
		}
		// Whatever the payment, the hashed string starts with the secret and a comma.
		in, _ := wire.ChecksumInput(secret, payment)
		if len(in) < len(secret)+1 || in[:len(secret)+1] != secret+"," {
			t.Fatalf("input %q does not start with the secret", in)
		}
	})
}
