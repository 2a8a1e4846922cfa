package storetest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/core/store/storetest/internal/planted"
)

// recorder is a test that keeps what it is told to report instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestOwnersCheckFailsAForeignWrite plants writes of shops (core/shop's) in a package that owns
// nothing and expects each way of writing to be reported once per place, naming the writer, the
// table, the owner and the line; reads and this test's own fixtures are not reported.
func TestOwnersCheckFailsAForeignWrite(t *testing.T) {
	for name, open := range map[string]func(testing.TB, ...storetest.Option) *store.Store{"mysql": storetest.MySQL, "sqlite": storetest.SQLite} {
		t.Run(name, func(t *testing.T) { plantForeignWrites(t, open) })
	}
}

func plantForeignWrites(t *testing.T, open func(testing.TB, ...storetest.Option) *store.Store) {
	r := &recorder{TB: t}
	s := open(r)
	const who = "core/store/storetest/internal/planted writes shops, which core/shop owns"
	if err := planted.CreateShop(s.DB, "owner test"); err != nil {
		t.Fatal(err)
	}
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], who) || !strings.Contains(r.errs[0], "planted.go:") {
		t.Fatalf("a GORM Create of shops: reports %q", r.errs)
	}
	if err := planted.RenameShop(s.DB, "owner test", "renamed"); err != nil { // one line, two writes: one report
		t.Fatal(err)
	}
	if err := planted.RenameShopAliased(s.DB, "renamed", "again"); err != nil {
		t.Fatal(err)
	}
	if err := planted.DeleteShop(s.DB, "again"); err != nil {
		t.Fatal(err)
	}
	if len(r.errs) != 4 {
		t.Fatalf("a raw UPDATE (twice), an aliased Update and a raw DELETE: want 3 more reports, got %q", r.errs)
	}
	for _, e := range r.errs[1:] {
		if !strings.Contains(e, who) {
			t.Errorf("report %q names the wrong writer, table or owner", e)
		}
	}
	var n int64
	if err := s.DB.Table("shops").Count(&n).Error; err != nil || len(r.errs) != 4 {
		t.Fatalf("a test's own read is not a violation: %v, %q", err, r.errs)
	}
	if err := s.DB.Exec("INSERT INTO shops (name, created_at) VALUES ('fixture', CURRENT_TIMESTAMP)").Error; err != nil || len(r.errs) != 4 {
		t.Fatalf("a test's own fixture is not a violation: %v, %q", err, r.errs)
	}
	if err := s.DB.Exec("CREATE TABLE notes (id INTEGER PRIMARY KEY)").Error; err != nil {
		t.Fatal(err)
	}
	if err := planted.WriteNotes(s.DB); err != nil {
		t.Fatal(err)
	}
	if len(r.errs) != 5 || !strings.Contains(r.errs[4], "writes notes, a table store.Owners does not know") {
		t.Fatalf("a table without an owner: reports %q", r.errs)
	}
}

// TestOwnersCheckFailsAForeignRead plants reads of shops (core/shop's) in a package that owns
// nothing and expects each way of reading to be reported once per place: a plain SELECT, a
// JOIN, a subquery, a raw SELECT's comma-separated FROM list and a subquery inside a write.
// Tables nobody owns (notes, made by the test) are not reported as reads.
func TestOwnersCheckFailsAForeignRead(t *testing.T) {
	for name, open := range map[string]func(testing.TB, ...storetest.Option) *store.Store{"mysql": storetest.MySQL, "sqlite": storetest.SQLite} {
		t.Run(name, func(t *testing.T) { plantForeignReads(t, open) })
	}
}

func plantForeignReads(t *testing.T, open func(testing.TB, ...storetest.Option) *store.Store) {
	r := &recorder{TB: t}
	s := open(r)
	const who = "core/store/storetest/internal/planted reads shops, which core/shop owns: ask core/shop for it, at "
	if err := s.DB.Exec("CREATE TABLE notes (id INTEGER PRIMARY KEY)").Error; err != nil {
		t.Fatal(err)
	}
	reads := []struct {
		name string
		read func() error
		at   string
	}{
		{"a SELECT", func() error { _, err := planted.CountShops(s.DB); return err }, "planted.CountShops"},
		{"a JOIN", func() error { _, err := planted.NotesOfShops(s.DB); return err }, "planted.NotesOfShops"},
		{"a subquery", func() error { _, err := planted.NotesOfShopsIn(s.DB); return err }, "planted.NotesOfShopsIn"},
		{"a raw SELECT", func() error { _, err := planted.ShopNames(s.DB); return err }, "planted.ShopNames"},
	}
	for i, c := range reads {
		for range 2 { // one place, one report
			if err := c.read(); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if len(r.errs) != i+1 || !strings.HasPrefix(r.errs[i], who) || !strings.Contains(r.errs[i], c.at) {
			t.Fatalf("%s of shops: reports %q", c.name, r.errs)
		}
	}
	n := len(r.errs)
	if _, err := planted.NotesIn(s.DB, planted.ShopIDs(s.DB)); err != nil {
		t.Fatal(err)
	}
	if len(r.errs) != n+1 || !strings.HasPrefix(r.errs[n], who) || !strings.Contains(r.errs[n], "planted.ShopIDs") {
		t.Fatalf("a handed subquery is its author's read: reports %q", r.errs[n:])
	}
	// This test reads shops as it likes; planted, which runs the statement, only embeds it.
	if _, err := planted.NotesIn(s.DB, store.Subquery(s.DB.Table("shops").Select("id"))); err != nil || len(r.errs) != n+1 {
		t.Fatalf("a handed subquery is not the embedding package's read: %v, %q", err, r.errs[n:])
	}
	if err := planted.TouchNotesOfShops(s.DB); err != nil {
		t.Fatal(err)
	}
	var inWrite []string
	for _, e := range r.errs[n+1:] {
		if strings.HasPrefix(e, who) && strings.Contains(e, "planted.TouchNotesOfShops") {
			inWrite = append(inWrite, e)
		} else if !strings.Contains(e, "writes notes, a table store.Owners does not know") {
			t.Errorf("a write of notes reading shops: unexpected report %q", e)
		}
	}
	if len(inWrite) != 1 {
		t.Errorf("a subquery in a write: %d reports of its read of shops in %q", len(inWrite), r.errs)
	}
}

func TestReadTables(t *testing.T) {
	for _, c := range []struct{ sql, want string }{
		{"SELECT * FROM `orders` WHERE id = ?", "orders"},
		{`SELECT o.* FROM "orders" AS o JOIN "shops" s ON s.id = o.shop_id`, "orders shops"},
		{"SELECT * FROM orders o LEFT JOIN settlements AS s ON s.order_id = o.id INNER JOIN shops ON 1=1", "orders settlements shops"},
		{"SELECT count(*) FROM `continuations` WHERE `order_id` IN (SELECT `id` FROM `orders` WHERE shop_id = ?)", "continuations orders"},
		{"SELECT * FROM orders, shops s, `modules` WHERE 1", "orders shops modules"},
		{"SELECT * FROM (SELECT id FROM kessai.orders) AS t", "orders"},
		{"SELECT * FROM audit_log WHERE action = 'read from shops' AND from_id = 1", "audit_log"},
		{"UPDATE settlements SET x = 1 WHERE order_id IN (SELECT id FROM orders)", "orders"},
		{"DELETE FROM outbox WHERE id = ?", "outbox"},
		{"SELECT 1", ""},
	} {
		if got := strings.Join(storetest.ReadTables(c.sql), " "); got != c.want {
			t.Errorf("ReadTables(%s) = %q, want %q", c.sql, got, c.want)
		}
	}
}

func TestReadViolation(t *testing.T) {
	store.Joins["core/planted"] = map[string]string{"orders": "a join the test declares"}
	store.Joins["core/sown/one.go"] = map[string]string{"orders": "a join one file declares"}
	t.Cleanup(func() { delete(store.Joins, "core/planted"); delete(store.Joins, "core/sown/one.go") })
	for _, c := range []struct{ pkg, file, table, want string }{
		{"core/order", "store.go", "orders", ""},
		{"core/admin", "orders.go", "settlements", "core/admin reads settlements, which core/settlement owns: ask core/settlement for it"},
		{"core/planted", "any.go", "orders", ""},
		{"core/planted", "any.go", "shops", "core/planted reads shops, which core/shop owns"},
		{"core/sown", "one.go", "orders", ""},
		{"core/sown", "other.go", "orders", "core/sown reads orders, which core/order owns"},
		{"core/order", "store.go", "sqlite_master", ""},
	} {
		if got := storetest.ReadViolation(c.pkg, c.file, c.table); !strings.HasPrefix(got, c.want) || (c.want == "") != (got == "") {
			t.Errorf("ReadViolation(%s, %s, %s) = %q, want %q", c.pkg, c.file, c.table, got, c.want)
		}
	}
}

func TestViolation(t *testing.T) {
	for _, c := range []struct{ pkg, table, want string }{
		{"core/order", "orders", ""},
		{"core/module", "payment_methods", "core/module writes payment_methods, which core/paymethod owns"},
		{"core/admin", "continuations", "core/admin writes continuations, which core/continuation owns"},
		{"core/order", "nothing", "core/order writes nothing, a table store.Owners does not know"},
	} {
		if got := storetest.Violation(c.pkg, c.table); !strings.HasPrefix(got, c.want) || (c.want == "") != (got == "") {
			t.Errorf("Violation(%s, %s) = %q, want %q", c.pkg, c.table, got, c.want)
		}
	}
}
