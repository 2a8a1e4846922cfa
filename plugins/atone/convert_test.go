package atone

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone/wire"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func TestAtoneConvertPhone(t *testing.T) {
	for _, tc := range []struct {
		in, phoneNumber, tel string
	}{
		{"090-1234-5678", "09012345678", ""},
		{"08012345678", "08012345678", ""},
		{"０７０－１２３４－５６７８", "07012345678", ""}, // typed full-width
		{"03-1234-5678", "", "0312345678"},
		{"0776-12-3456", "", "0776123456"},
		{"050-1234-5678", "", "05012345678"}, // IP phone: not mobile for atone
		{"0120-123-456", "", "0120123456"},
		{"090-123-456", "", "090123456"}, // too short for mobile; atone judges tel
		{"", "", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			c := buildCustomer(plugins.Customer{FamilyName: "山田", Tel: tc.in})
			if c.PhoneNumber != tc.phoneNumber || c.Tel != tc.tel {
				t.Errorf("phone_number %q tel %q, want %q %q", c.PhoneNumber, c.Tel, tc.phoneNumber, tc.tel)
			}
		})
	}
}

func TestAtoneConvertLines(t *testing.T) {
	type item struct {
		id, name     string
		price, count int64
	}
	for _, tc := range []struct {
		name  string
		lines []plugins.Line
		want  []item
	}{
		{"products keep SKU, name, price and quantity",
			[]plugins.Line{{Kind: plugins.LineItem, SKU: "A-1", Name: "商品A", Price: 1500, Quantity: 2}},
			[]item{{"A-1", "商品A", 1500, 2}}},
		{"discount and points are negative lines of their own",
			[]plugins.Line{
				{Kind: plugins.LineItem, SKU: "A-1", Name: "商品A", Price: 3000, Quantity: 1},
				{Kind: plugins.LineDiscount, Name: "クーポン", Price: -300, Quantity: 1},
				{Kind: plugins.LinePoint, Price: -200, Quantity: 1},
			},
			[]item{{"A-1", "商品A", 3000, 1}, {"discount-2", "クーポン", -300, 1}, {"point-3", "ポイント利用", -200, 1}}},
		{"shipping, fee and tax get default names",
			[]plugins.Line{
				{Kind: plugins.LineShipping, Price: 800, Quantity: 1},
				{Kind: plugins.LineFee, Price: 330, Quantity: 1},
				{Kind: plugins.LineTax, Price: 100, Quantity: 1},
			},
			[]item{{"shipping-1", "送料", 800, 1}, {"fee-2", "決済手数料", 330, 1}, {"tax-3", "消費税", 100, 1}}},
		{"free shipping is left out, a free product is not",
			[]plugins.Line{
				{Kind: plugins.LineItem, SKU: "GIFT", Name: "おまけ", Price: 0, Quantity: 1},
				{Kind: plugins.LineShipping, Name: "送料", Price: 0, Quantity: 1},
			},
			[]item{{"GIFT", "おまけ", 0, 1}}},
		{"a Japanese or missing SKU becomes a positional id",
			[]plugins.Line{
				{Kind: plugins.LineItem, SKU: "ソファ-赤", Name: "ソファ", Price: 100, Quantity: 1},
				{Kind: plugins.LineItem, Name: "ソファ", Price: 100, Quantity: 1},
			},
			[]item{{"item-1", "ソファ", 100, 1}, {"item-2", "ソファ", 100, 1}}},
		{"a long name is cut to atone's 100 characters",
			[]plugins.Line{{Kind: plugins.LineItem, SKU: "L", Name: string(slices.Repeat([]rune("長"), 120)), Price: 1, Quantity: 1}},
			[]item{{"L", string(slices.Repeat([]rune("長"), 100)), 1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := buildItems(tc.lines)
			if len(got) != len(tc.want) {
				t.Fatalf("%d items, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.ShopItemID != w.id || g.ItemName != w.name || g.ItemPrice != w.price || g.ItemCount != w.count {
					t.Errorf("item %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestAtoneConvertAmountIsItemTotal(t *testing.T) {
	o := welcartOrder()
	p := buildPayment(o, paymentOptions{})
	if p.Amount != o.Amount || p.ItemTotal() != o.Amount {
		t.Fatalf("amount %d, item total %d, order %d", p.Amount, p.ItemTotal(), o.Amount)
	}
	if d := p.Validate(wire.Widget); d != nil {
		t.Fatalf("widget validation: %+v", d)
	}
	// A host whose lines do not add up is told in atone's words, not silently corrected.
	o.Amount++
	p = buildPayment(o, paymentOptions{})
	if d := p.Validate(wire.Widget); len(d) != 1 || d[0].Code != wire.CodeAmountMismatch {
		t.Fatalf("validation of a wrong total: %+v", d)
	}
}

func TestAtoneConvertNamesAndAddresses(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   plugins.Customer
		want wire.Customer
	}{
		{"katakana furigana becomes hiragana, zip gets its hyphen",
			plugins.Customer{FamilyName: "山田", GivenName: "太郎", FamilyKana: "ヤマダ", GivenKana: "タロウ", Zip: "1000001",
				Pref: "東京都", Address1: "千代田区千代田", Address2: "1-1", Address3: "皇居ビル3F", Email: " taro@example.jp "},
			wire.Customer{CustomerName: "山田　太郎", CustomerFamilyName: "山田", CustomerGivenName: "太郎",
				CustomerNameKana: "やまだ　たろう", CustomerFamilyNameKana: "やまだ", CustomerGivenNameKana: "たろう",
				ZipCode: "100-0001", Address: "東京都千代田区千代田1-1　皇居ビル3F", Email: "taro@example.jp"}},
		{"half-width katakana and a full-width zip",
			plugins.Customer{FamilyName: "佐藤", FamilyKana: "ｻﾄｳ", Zip: "〒９１０－０００５", Pref: "福井県"},
			wire.Customer{CustomerName: "佐藤", CustomerFamilyName: "佐藤", CustomerNameKana: "さとう", CustomerFamilyNameKana: "さとう",
				ZipCode: "910-0005", Address: "福井県"}},
		{"hiragana stays, the long vowel mark too",
			plugins.Customer{FamilyName: "Welcart", GivenName: "test", FamilyKana: "うえるかーと", GivenKana: "てすと"},
			wire.Customer{CustomerName: "Welcart　test", CustomerFamilyName: "Welcart", CustomerGivenName: "test",
				CustomerNameKana: "うえるかーと　てすと", CustomerFamilyNameKana: "うえるかーと", CustomerGivenNameKana: "てすと"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildCustomer(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestAtoneConvertDestination(t *testing.T) {
	o := welcartOrder()
	t.Run("the delivery address when there is one", func(t *testing.T) {
		p := buildPayment(o, paymentOptions{})
		if len(p.DestCustomers) != 1 || p.DestCustomers[0].DestCustomerName != "山田　花子" || p.DestCustomers[0].DestTel != "0312345678" {
			t.Fatalf("dest %+v", p.DestCustomers)
		}
	})
	t.Run("the buyer otherwise", func(t *testing.T) {
		o := o
		o.Delivery = nil
		p := buildPayment(o, paymentOptions{})
		if len(p.DestCustomers) != 1 || p.DestCustomers[0].DestCustomerName != "山田　太郎" || p.DestCustomers[0].DestZipCode != "100-0001" {
			t.Fatalf("dest %+v", p.DestCustomers)
		}
	})
	t.Run("none for a download order without an address", func(t *testing.T) {
		o := o
		o.Delivery = nil
		o.Customer.Zip, o.Customer.Pref, o.Customer.Address1, o.Customer.Address2, o.Customer.Address3 = "", "", "", "", ""
		if p := buildPayment(o, paymentOptions{}); p.DestCustomers != nil {
			t.Fatalf("dest %+v", p.DestCustomers)
		}
	})
}

func TestAtoneConvertOptions(t *testing.T) {
	o := welcartOrder()
	p := buildPayment(o, paymentOptions{settled: true, token: "tk_x", updated: []string{"tr_old"}, related: "tr_first"})
	if p.ShopTransactionNo != o.Attempt || p.SalesSettled == nil || !*p.SalesSettled || p.UserNo != "1000" ||
		p.AuthenticationToken != "tk_x" || !slices.Equal(p.UpdatedTransactions, []string{"tr_old"}) || p.RelatedTransaction != "tr_first" ||
		p.DescriptionTrans != "注文番号 00001002" || p.TransactionOptions != nil {
		t.Fatalf("payment %+v", p)
	}
	o.Recurring = true
	if p := buildPayment(o, paymentOptions{}); !slices.Equal(p.TransactionOptions, []int{wire.OptionRecurring}) {
		t.Fatalf("recurring options %v", p.TransactionOptions)
	}
}

// TestAtoneConvertGolden pins the whole signed widget payment of a typical Welcart order, so
// that a change of the wire format shows in review (go test -run Golden -update rewrites it).
func TestAtoneConvertGolden(t *testing.T) {
	p := buildPayment(welcartOrder(), paymentOptions{})
	if err := p.Sign("sk_golden"); err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "welcart_order.payment.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("payment differs from %s:\n%s", path, got)
	}
	if ok, err := wire.VerifyChecksum("sk_golden", want); err != nil || !ok {
		t.Errorf("golden payment does not verify: %v", err)
	}
}

// welcartOrder is the order of the Welcart manual's 取引修正 screen: a sofa, shipping, a
// coupon and points, delivered to another person.
func welcartOrder() plugins.Order {
	return plugins.Order{
		ID: 1040, Number: "00001002", Attempt: "00001002-1", Amount: 13824, MemberID: "1000",
		Customer: plugins.Customer{
			FamilyName: "山田", GivenName: "太郎", FamilyKana: "ヤマダ", GivenKana: "タロウ",
			Zip: "100-0001", Pref: "東京都", Address1: "千代田区千代田", Address2: "1-1",
			Tel: "090-1234-5678", Email: "test@welcart.com",
		},
		Delivery: &plugins.Customer{
			FamilyName: "山田", GivenName: "花子", FamilyKana: "ヤマダ", GivenKana: "ハナコ",
			Zip: "910-0005", Pref: "福井県", Address1: "福井市大手", Address2: "3-1-1", Address3: "マンション101",
			Tel: "03-1234-5678",
		},
		Lines: []plugins.Line{
			{Kind: plugins.LineItem, SKU: "wcVL170508", Name: "1人掛けソファ シングル:ブラウン:収納ボックス付き", Price: 12800, Quantity: 1},
			{Kind: plugins.LineShipping, Name: "送料", Price: 1500, Quantity: 1},
			{Kind: plugins.LineFee, Name: "決済手数料", Price: 0, Quantity: 1},
			{Kind: plugins.LineDiscount, Name: "クーポン値引き", Price: -276, Quantity: 1},
			{Kind: plugins.LinePoint, Name: "ポイント利用", Price: -200, Quantity: 1},
		},
	}
}
