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
		t.Fatalf("a read is nobody's violation: %v, %q", err, r.errs)
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
