package storetest_test

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

// TestWireCountsWhatTheDriverSends pins the counting rules on a real server: on kessai's DSN,
// which interpolates arguments, a statement is one COM_QUERY; without interpolation a statement
// with arguments is a prepare, an execute and an unanswered close; a transaction adds its
// BEGIN and COMMIT; a write outside one commits by itself.
func TestWireCountsWhatTheDriverSends(t *testing.T) {
	w := storetest.NewWire()
	ctx := context.Background()
	st, err := store.Open(ctx, w.MySQL(t), store.Options{Logger: slog.New(slog.DiscardHandler), MaxOpenConns: 2}) // one idle connection, reused by every step
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.DB.Exec("CREATE TABLE notes (id BIGINT PRIMARY KEY AUTO_INCREMENT, body VARCHAR(64))").Error; err != nil {
		t.Fatal(err)
	}
	if c := w.Count(); c.Connections == 0 || c.AutocommitWrites != 0 {
		t.Fatalf("after connecting: %+v", c)
	}
	step := func(name string, f func() error, want storetest.WireCount) {
		t.Helper()
		before := w.Count()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if got := w.Count().Sub(before); got != want {
			t.Errorf("%s: got %+v\nwant %+v", name, got, want)
		}
	}
	step("a write with an argument, on its own", func() error {
		return st.DB.Exec("INSERT INTO notes (body) VALUES (?)", "一").Error
	}, storetest.WireCount{Commands: 1, RoundTrips: 1, Statements: 1, AutocommitWrites: 1})
	step("a read with an argument", func() error {
		var n int64
		return st.DB.Raw("SELECT COUNT(*) FROM notes WHERE body = ?", "一").Scan(&n).Error
	}, storetest.WireCount{Commands: 1, RoundTrips: 1, Statements: 1})
	step("a write without arguments is one COM_QUERY", func() error {
		return st.DB.Exec("UPDATE notes SET body = 'に'").Error
	}, storetest.WireCount{Commands: 1, RoundTrips: 1, Statements: 1, AutocommitWrites: 1})
	step("two writes in a transaction", func() error {
		return st.DB.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("INSERT INTO notes (body) VALUES (?)", "三").Error; err != nil {
				return err
			}
			return tx.Exec("DELETE FROM notes WHERE body = ?", "に").Error
		})
	}, storetest.WireCount{Commands: 4, RoundTrips: 4, Statements: 4, Begins: 1, Commits: 1})
	step("a transaction rolled back", func() error {
		_ = st.DB.Transaction(func(tx *gorm.DB) error {
			return tx.Exec("INSERT INTO notes (id, body) VALUES (?, ?)", 2, "dup").Error // id 2 is 三
		})
		return nil
	}, storetest.WireCount{Commands: 3, RoundTrips: 3, Statements: 3, Begins: 1, Rollbacks: 1})

	// The driver's own default, which kessai's DSN overrides.
	cfg := st.DSN().MySQL.Clone()
	cfg.InterpolateParams = false
	raw, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxIdleConns(1)
	if err := raw.Ping(); err != nil {
		t.Fatal(err)
	}
	step("without interpolation, a statement with an argument is prepared", func() error {
		_, err := raw.Exec("INSERT INTO notes (body) VALUES (?)", "四")
		return err
	}, storetest.WireCount{Commands: 3, RoundTrips: 2, Prepares: 1, Statements: 1, AutocommitWrites: 1})
}
