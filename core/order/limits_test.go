package order_test

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/migrations"
)

// column is a column as the migrations declare it.
type column struct {
	typ  string // VARCHAR, LONGTEXT, BIGINT, …
	size int64  // VARCHAR(n): n characters; TEXT types: their size in bytes; 0 otherwise
}

var textSizes = map[string]int64{"TINYTEXT": 255, "TEXT": 65535, "MEDIUMTEXT": 16777215, "LONGTEXT": 4294967295}

var (
	createRe = regexp.MustCompile("(?is)^\\s*CREATE\\s+TABLE\\s+`?(\\w+)`?\\s*\\((.*)\\)[^)]*$")
	alterRe  = regexp.MustCompile("(?is)^\\s*ALTER\\s+TABLE\\s+`?(\\w+)`?\\s+(.*)$")
	defRe    = regexp.MustCompile("(?is)^`?(\\w+)`?\\s+(\\w+)(?:\\s*\\(\\s*(\\d+)\\s*(?:,\\s*\\d+\\s*)?\\))?")
)

// schema reads a table's columns from the MySQL migrations in order: its CREATE TABLE and
// every later ALTER TABLE. An ALTER it cannot read fails the test rather than being skipped.
func schema(t *testing.T, files fs.FS, table string) map[string]column {
	t.Helper()
	names, err := fs.Glob(files, "mysql/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	cols := map[string]column{}
	for _, name := range names {
		raw, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		stmt := strings.TrimSuffix(strings.TrimSpace(string(raw)), ";")
		if m := createRe.FindStringSubmatch(stmt); m != nil && strings.EqualFold(m[1], table) {
			for _, line := range strings.Split(m[2], "\n") {
				line = strings.TrimSuffix(strings.TrimSpace(line), ",")
				if line == "" || isConstraint(line) {
					continue
				}
				n, c := define(t, name, line)
				cols[n] = c
			}
			continue
		}
		m := alterRe.FindStringSubmatch(stmt)
		if m == nil || !strings.EqualFold(m[1], table) {
			continue
		}
		for _, action := range splitTop(m[2]) {
			words := strings.Fields(action)
			verb := strings.ToUpper(words[0])
			rest := strings.TrimSpace(action[len(words[0]):])
			if len(words) > 1 && strings.EqualFold(words[1], "COLUMN") {
				rest = strings.TrimSpace(rest[len(words[1]):])
			}
			switch {
			case strings.HasPrefix(strings.ToUpper(action), "AUTO_INCREMENT"):
			case verb == "ADD" && isConstraint(rest):
			case verb == "ADD" || verb == "MODIFY":
				n, c := define(t, name, rest)
				cols[n] = c
			case verb == "CHANGE":
				old := strings.Trim(strings.Fields(rest)[0], "`")
				delete(cols, old)
				n, c := define(t, name, strings.TrimSpace(rest[len(strings.Fields(rest)[0]):]))
				cols[n] = c
			case verb == "DROP" && !isConstraint(rest):
				delete(cols, strings.Trim(strings.Fields(rest)[0], "`"))
			case verb == "RENAME" && len(words) == 5 && strings.EqualFold(words[1], "COLUMN"):
				from, to := strings.Trim(words[2], "`"), strings.Trim(words[4], "`")
				cols[to] = cols[from]
				delete(cols, from)
			default:
				t.Fatalf("%s: cannot read %q; teach this test the form", name, action)
			}
		}
	}
	if len(cols) == 0 {
		t.Fatalf("no table %s in the migrations", table)
	}
	return cols
}

func isConstraint(s string) bool {
	w := strings.ToUpper(strings.Fields(s)[0])
	switch w {
	case "CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FOREIGN", "CHECK", "FULLTEXT":
		return true
	}
	return false
}

func define(t *testing.T, file, def string) (string, column) {
	t.Helper()
	m := defRe.FindStringSubmatch(def)
	if m == nil {
		t.Fatalf("%s: cannot read the column %q", file, def)
	}
	c := column{typ: strings.ToUpper(m[2])}
	if m[3] != "" {
		c.size, _ = strconv.ParseInt(m[3], 10, 64)
	}
	if n, ok := textSizes[c.typ]; ok {
		c.size = n
	}
	return m[1], c
}

// splitTop splits an ALTER's actions on the commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func isText(typ string) bool { _, ok := textSizes[typ]; return ok || typ == "VARCHAR" || typ == "CHAR" }

func isInteger(typ string) bool {
	switch typ {
	case "BIGINT", "INT", "INTEGER", "MEDIUMINT", "SMALLINT", "TINYINT":
		return true
	}
	return false
}

// unbounded are the orders columns no input is stored in unchecked: ids kessai assigns, the
// member number (any BIGINT ≥ 0 fits), Welcart's order ID (any BIGINT ≥ 1 fits) and times.
var unbounded = map[string]bool{"id": true, "shop_id": true, "mem_id": true, "welcart_order_id": true,
	"order_date": true, "order_modified": true, "created_at": true, "updated_at": true}

// disagreements lists where the limits and amounts tables and the columns differ.
func disagreements(cols map[string]column, limits []order.Limit, amounts []order.Amount) []string {
	var out []string
	money := map[string]bool{}
	for _, a := range amounts {
		money[a.Column] = true
		if c, ok := cols[a.Column]; !ok || !isInteger(c.typ) {
			out = append(out, fmt.Sprintf("%s: %s is not an integer column in the migrations", a.Field, a.Column))
		}
		if a.Min < -order.MaxAmount || a.Max > order.MaxAmount || a.Min > a.Max {
			out = append(out, fmt.Sprintf("%s: bounds %d..%d", a.Field, a.Min, a.Max))
		}
	}
	byColumn := map[string]order.Limit{}
	for _, l := range limits {
		if l.Type == order.InJSON {
			continue
		}
		byColumn[l.Column] = l
		c, ok := cols[l.Column]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: no column %s in the migrations", l.Field, l.Column))
		case c.typ != l.Type || c.size != l.Max:
			out = append(out, fmt.Sprintf("%s: the table says %s(%d), the migrations %s(%d)", l.Column, l.Type, l.Max, c.typ, c.size))
		}
	}
	for _, l := range limits {
		if l.Type == order.InJSON {
			if j, ok := byColumn[l.Column]; !ok || j.Type != order.LongText {
				out = append(out, fmt.Sprintf("%s: %s is not a JSON column of the table", l.Field, l.Column))
			}
		}
	}
	for name, c := range cols {
		_, limited := byColumn[name]
		switch {
		case limited || money[name] || unbounded[name]:
		case isText(c.typ):
			out = append(out, fmt.Sprintf("%s %s(%d) has no limit in the table", name, c.typ, c.size))
		case isInteger(c.typ):
			out = append(out, fmt.Sprintf("%s %s has no bounds in the amounts table", name, c.typ))
		default:
			out = append(out, fmt.Sprintf("%s %s is neither in the limits nor in the amounts table", name, c.typ))
		}
	}
	return out
}

func TestLimitsAgreeWithTheMigrations(t *testing.T) {
	t.Parallel()
	cols := schema(t, migrations.FS, "orders")
	for _, d := range disagreements(cols, order.Limits(), order.Amounts()) {
		t.Error(d)
	}
	t.Run("a column changed by a later migration is a disagreement", func(t *testing.T) {
		changed := map[string]column{}
		for k, v := range cols {
			changed[k] = v
		}
		changed["order_pref"] = column{"VARCHAR", 64}
		changed["order_memo"] = column{"VARCHAR", 100}
		changed["order_deposit"] = column{"BIGINT", 0}
		delete(changed, "order_fax")
		delete(changed, "order_tax")
		got := strings.Join(disagreements(changed, order.Limits(), order.Amounts()), "\n")
		for _, want := range []string{"order_pref", "order_memo", "order_fax", "order_deposit", "order_tax"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s is not reported:\n%s", want, got)
			}
		}
	})
	t.Run("ALTERs are read", func(t *testing.T) {
		files := fstest.MapFS{
			"mysql/0001_create.sql": {Data: []byte("CREATE TABLE orders (\n  id BIGINT NOT NULL,\n  order_pref VARCHAR(32) NOT NULL DEFAULT '',\n  CONSTRAINT x UNIQUE (id)\n) ENGINE=InnoDB;")},
			"mysql/0002_alter.sql":  {Data: []byte("ALTER TABLE orders MODIFY COLUMN order_pref VARCHAR(40) NOT NULL, ADD order_fax VARCHAR(20) NULL;")},
			"mysql/0003_other.sql":  {Data: []byte("ALTER TABLE shops ADD COLUMN x TEXT;")},
		}
		got := schema(t, files, "orders")
		if got["order_pref"] != (column{"VARCHAR", 40}) || got["order_fax"] != (column{"VARCHAR", 20}) || len(got) != 3 {
			t.Fatalf("%v", got)
		}
	})
}

func TestValidateLengths(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("都", n) }
	for _, tc := range []struct {
		name   string
		change func(*order.Input)
		field  string // "" when the order is accepted
	}{
		{"pref of 32 characters fits VARCHAR(32)", func(i *order.Input) { i.Customer.Pref = long(32) }, ""},
		{"pref of 33", func(i *order.Input) { i.Customer.Pref = long(33) }, "customer.pref"},
		{"zipcode of 33", func(i *order.Input) { i.Customer.Zipcode = strings.Repeat("1", 33) }, "customer.zipcode"},
		{"tel of 40", func(i *order.Input) { i.Customer.Tel = strings.Repeat("0", 40) }, "customer.tel"},
		{"fax of 200", func(i *order.Input) { i.Customer.Fax = strings.Repeat("0", 200) }, "customer.fax"},
		{"name1 of 192", func(i *order.Input) { i.Customer.Name1 = long(192) }, "customer.name1"},
		{"address1 of 255 fits", func(i *order.Input) { i.Customer.Address1 = long(255) }, ""},
		{"address3 of 256", func(i *order.Input) { i.Customer.Address3 = long(256) }, "customer.address3"},
		{"email of 192", func(i *order.Input) { i.Customer.Email = strings.Repeat("a", 181) + "@example.jp" }, "customer.mailaddress1"},
		{"order number of 64 characters, 192 bytes", func(i *order.Input) { i.OrderNumber = long(64) }, ""},
		{"order number of 65", func(i *order.Input) { i.OrderNumber = long(65) }, "order_number"},
		{"delivery method of 192", func(i *order.Input) { i.Order.DeliveryMethod = long(192) }, "order.delivery_method"},
		{"payment name of 192", func(i *order.Input) { i.Order.PaymentName = long(192) }, "order.payment_name"},
		{"delivery pref of 33", func(i *order.Input) { i.Delivery.Pref = long(33) }, "delivery.pref"},
		{"delivery fax of 33", func(i *order.Input) { i.Delivery.Fax = long(33) }, "delivery.fax"},
		{"delivery country of 33", func(i *order.Input) { i.Delivery.Country = long(33) }, "delivery.country"},
		{"item name of 256", func(i *order.Input) { i.Cart[0].ItemName = long(256) }, "cart[0].item_name"},
		{"sku of 192", func(i *order.Input) { i.Cart[0].SKU = long(192) }, "cart[0].sku"},
		{"option name of 192", func(i *order.Input) { i.Cart[0].Options = map[string]string{long(192): "赤"} }, "cart[0].options"},
		{"option value of 1001", func(i *order.Input) { i.Cart[0].Options = map[string]string{"色": long(1001)} }, "cart[0].options.色"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := parse(t, welcartOrder)
			tc.change(&in)
			err := in.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve order.ValidationError
			if !errors.As(err, &ve) || ve[0].Field != tc.field || ve[0].Code != "too_long" || !strings.Contains(ve[0].Message, "文字以内") {
				t.Fatalf("Validate() = %v, want too_long on %s first", err, tc.field)
			}
		})
	}
}

func TestValidateNamesTheFirstFieldInTableOrder(t *testing.T) {
	t.Parallel()
	in := parse(t, welcartOrder)
	in.Order.DeliveryMethod = strings.Repeat("x", 192)
	in.Customer.Fax = strings.Repeat("0", 200)
	in.Customer.Tel = strings.Repeat("0", 40)
	in.Customer.Pref = strings.Repeat("都", 40)
	want := []string{"customer.pref", "customer.tel", "customer.fax", "order.delivery_method"}
	for range 20 {
		in := in
		var ve order.ValidationError
		if !errors.As(in.Validate(), &ve) {
			t.Fatal("accepted")
		}
		var got []string
		for _, e := range ve {
			got = append(got, e.Field)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("refusals %v, want %v", got, want)
		}
	}
}

func TestValidateAmounts(t *testing.T) {
	t.Parallel()
	const minInt, maxInt = math.MinInt64, math.MaxInt64
	for _, tc := range []struct {
		name   string
		change func(*order.Input)
		field  string // the first refusal; "" when the order is accepted
		code   string
	}{
		{"a discount of -2^63 with one point used, adding up once int64 wraps", func(i *order.Input) {
			i.Cart[0].Price, i.Order.TotalItemsPrice, i.Order.ShippingCharge = 0, 0, 0
			i.Order.UsedPoint, i.Order.Discount, i.Order.TotalFullPrice = 1, minInt, maxInt
			i.Order.PaymentName = "銀行振込"
		}, "order.discount", "out_of_range"},
		{"a price of 2^63-1", func(i *order.Input) { i.Cart[0].Price = maxInt }, "cart[0].price", "out_of_range"},
		{"a price of -2^63", func(i *order.Input) { i.Cart[0].Price = minInt }, "cart[0].price", "out_of_range"},
		{"a quantity of 2^63-1", func(i *order.Input) { i.Cart[0].Quantity = maxInt }, "cart[0].quantity", "out_of_range"},
		{"a quantity of -2^63", func(i *order.Input) { i.Cart[0].Quantity = minInt }, "cart[0].quantity", "out_of_range"},
		{"price × quantity past 2^63", func(i *order.Input) {
			i.Cart[0].Price, i.Cart[0].Quantity = 1<<32, 1<<31
			i.Order.TotalItemsPrice, i.Order.TotalFullPrice = 0, 500
		}, "cart[0].price", "out_of_range"},
		{"items of 2^63-1", func(i *order.Input) { i.Order.TotalItemsPrice = maxInt }, "order.total_items_price", "out_of_range"},
		{"used points of -2^63", func(i *order.Input) { i.Order.UsedPoint = minInt }, "order.usedpoint", "out_of_range"},
		{"used points of 2^63-1", func(i *order.Input) { i.Order.UsedPoint = maxInt }, "order.usedpoint", "out_of_range"},
		{"a discount of 2^63-1", func(i *order.Input) { i.Order.Discount = maxInt }, "order.discount", "out_of_range"},
		{"shipping of 2^63-1", func(i *order.Input) { i.Order.ShippingCharge = maxInt }, "order.shipping_charge", "out_of_range"},
		{"a fee of -2^63", func(i *order.Input) { i.Order.CODFee = minInt }, "order.cod_fee", "out_of_range"},
		{"tax of 2^63-1", func(i *order.Input) { i.Order.Tax = maxInt }, "order.tax", "out_of_range"},
		{"a total of 2^63-1", func(i *order.Input) { i.Order.TotalFullPrice = maxInt }, "order.total_full_price", "out_of_range"},
		{"a total of -2^63", func(i *order.Input) { i.Order.TotalFullPrice = minInt }, "order.total_full_price", "out_of_range"},
		{"points earned of 2^63-1", func(i *order.Input) { i.Order.GetPoint = maxInt }, "order.getpoint", "out_of_range"},
		{"99,999,999 yen is the most an order may be", func(i *order.Input) {
			i.Cart[0].Price, i.Order.TotalItemsPrice, i.Order.ShippingCharge, i.Order.TotalFullPrice = order.MaxAmount, order.MaxAmount, 0, order.MaxAmount
		}, "", ""},
		{"one yen more is refused", func(i *order.Input) {
			i.Cart[0].Price, i.Order.TotalItemsPrice, i.Order.TotalFullPrice = order.MaxAmount, order.MaxAmount, order.MaxAmount+500
		}, "order.total_full_price", "out_of_range"},
		{"a line over the most an order may be", func(i *order.Input) {
			i.Cart[0].Price = order.MaxAmount + 1
		}, "cart[0].price", "out_of_range"},
		{"9,999 of one item", func(i *order.Input) {
			i.Cart[0].Price, i.Cart[0].Quantity, i.Order.TotalItemsPrice, i.Order.TotalFullPrice = 100, 9999, 999900, 1000400
		}, "", ""},
		{"10,000 of one item", func(i *order.Input) {
			i.Cart[0].Price, i.Cart[0].Quantity, i.Order.TotalItemsPrice, i.Order.TotalFullPrice = 100, 10000, 1000000, 1000500
		}, "cart[0].quantity", "out_of_range"},
		{"a discount of everything but one yen", func(i *order.Input) { i.Order.Discount, i.Order.TotalFullPrice = -1999, 1 }, "", ""},
		{"a discount of more than the order", func(i *order.Input) { i.Order.Discount, i.Order.TotalFullPrice = -2001, 1 }, "order.discount", "exceeds_total"},
		{"more points than the order", func(i *order.Input) { i.Order.UsedPoint, i.Order.TotalFullPrice = 2001, 1 }, "order.usedpoint", "exceeds_total"},
		{"points and a discount of more than the order", func(i *order.Input) {
			i.Order.UsedPoint, i.Order.Discount, i.Order.TotalFullPrice = 1000, -1001, 1
		}, "order.discount", "exceeds_total"},
		{"a total of nothing", func(i *order.Input) { i.Order.Discount, i.Order.TotalFullPrice = -2000, 0 }, "order.total_full_price", "out_of_range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := parse(t, welcartOrder)
			tc.change(&in)
			err := in.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve order.ValidationError
			if !errors.As(err, &ve) || ve[0].Field != tc.field || ve[0].Code != tc.code {
				t.Fatalf("Validate() = %v, want %s on %s first", err, tc.code, tc.field)
			}
		})
	}
}

func TestValidateTooManyLines(t *testing.T) {
	t.Parallel()
	const maxLines = 200
	in := parse(t, welcartOrder)
	line := in.Cart[0]
	line.Price, line.Quantity = order.MaxAmount, order.MaxQuantity
	in.Cart = nil
	for range maxLines + 1 {
		in.Cart = append(in.Cart, line)
	}
	var ve order.ValidationError
	if !errors.As(in.Validate(), &ve) || len(ve) != 1 || ve[0].Field != "cart" || ve[0].Code != "too_many" {
		t.Fatalf("Validate() = %v", ve)
	}
}
