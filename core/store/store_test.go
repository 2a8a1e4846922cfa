package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

func TestParseDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		dialect store.Dialect
		wantErr bool
	}{
		{"sqlite://./var/kessai.db", store.SQLite, false},
		{"sqlite:///tmp/x.db?mode=rwc", store.SQLite, false},
		{"mysql://root@tcp(127.0.0.1:3306)/kessai", store.MySQL, false},
		{"mysql://u:p@tcp(db:3306)/k?timeout=5s", store.MySQL, false},
		{"mysql://root@tcp(127.0.0.1:3306)/", "", true},
		{"sqlite://", "", true},
		{"nonsense", "", true},
		{"postgres://x", "", true},
	} {
		d, err := store.ParseDSN(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseDSN(%q) err = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && d.Dialect != tc.dialect {
			t.Errorf("ParseDSN(%q) dialect = %s, want %s", tc.in, d.Dialect, tc.dialect)
		}
	}
	d, _ := store.ParseDSN("mysql://u:secret@tcp(db:3306)/k")
	if got := d.String(); got != "mysql://u@tcp(db:3306)/k" {
		t.Errorf("String() = %q leaks or mangles the DSN", got)
	}
	if !d.MySQL.ParseTime || d.MySQL.Params["time_zone"] != "'+00:00'" {
		t.Errorf("mysql defaults not applied: %+v", d.MySQL.Params)
	}
	t.Run("arguments are interpolated on a utf8mb4 connection, whatever the DSN asks", func(t *testing.T) {
		d, err := store.ParseDSN("mysql://u@tcp(db:3306)/k?charset=sjis&interpolateParams=false")
		if err != nil {
			t.Fatal(err)
		}
		f := d.MySQL.FormatDSN()
		if !d.MySQL.InterpolateParams || !strings.Contains(f, "charset=utf8mb4") || strings.Contains(f, "sjis") {
			t.Errorf("DSN = %s", f)
		}
	})
}

func TestStepsBothDialectsAgree(t *testing.T) {
	t.Parallel()
	my, err := store.Steps(store.MySQL)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := store.Steps(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if len(my) != len(lite) {
		t.Fatalf("mysql has %d steps, sqlite %d: every step needs both dialects", len(my), len(lite))
	}
	for i := range my {
		if my[i].Name != lite[i].Name {
			t.Errorf("step %d: mysql %q, sqlite %q", i+1, my[i].Name, lite[i].Name)
		}
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		t.Run("a second run applies nothing", func(t *testing.T) {
			done, err := s.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(done) != 0 {
				t.Fatalf("second migrate applied %d steps", len(done))
			}
			n, err := s.Pending(ctx)
			if err != nil || n != 0 {
				t.Fatalf("pending = %d, %v", n, err)
			}
		})
		t.Run("orders are numbered from 1000", func(t *testing.T) {
			if err := s.DB.Exec("INSERT INTO shops (name, created_at) VALUES ('s', CURRENT_TIMESTAMP)").Error; err != nil {
				t.Fatal(err)
			}
			if err := s.DB.Exec("INSERT INTO orders (shop_id, order_number, order_date, created_at, updated_at) VALUES (1, 'n1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)").Error; err != nil {
				t.Fatal(err)
			}
			var id int64
			if err := s.DB.Raw("SELECT id FROM orders WHERE order_number = 'n1'").Scan(&id).Error; err != nil {
				t.Fatal(err)
			}
			if id != 1000 {
				t.Fatalf("first order id = %d, want 1000", id)
			}
		})
		t.Run("duplicates are recognised", func(t *testing.T) {
			err := s.DB.Exec("INSERT INTO orders (shop_id, order_number, order_date, created_at, updated_at) VALUES (1, 'n1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)").Error
			if !store.IsDuplicate(err) {
				t.Fatalf("second order n1: err = %v, want a duplicate", err)
			}
		})
	})
}

func TestMigrateConcurrentMySQL(t *testing.T) {
	t.Parallel()
	dsn := storetest.NewMySQLDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	applied := make([]int, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := store.Open(ctx, dsn, store.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			done, err := s.Migrate(ctx)
			errs[i], applied[i] = err, len(done)
		}(i)
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
		total += applied[i]
	}
	steps, _ := store.Steps(store.MySQL)
	if total != len(steps) {
		t.Fatalf("four concurrent migrators applied %d steps in all, want exactly %d", total, len(steps))
	}
}

// TestClockStampsRows: the store's clock is the time GORM writes into created_at and
// updated_at and the time of the migrations, so a test moves every row's time by advancing it.
func TestClockStampsRows(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 10, 1, 2, 3, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(at)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		var applied time.Time
		if err := s.DB.Raw("SELECT MAX(applied_at) FROM schema_migrations").Row().Scan(&applied); err != nil {
			// SQLite hands DATETIME back as text.
			var text string
			if err := s.DB.Raw("SELECT MAX(applied_at) FROM schema_migrations").Row().Scan(&text); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(text, "2024-05-10") {
				t.Errorf("migrations applied at %s, want the store's clock's %s", text, at)
			}
		} else if !applied.Equal(at) {
			t.Errorf("migrations applied at %s, want the store's clock's %s", applied, at)
		}
		if got := s.DB.NowFunc(); !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("NowFunc() = %s, want %s in UTC", got, at)
		}
		type stamped struct {
			ID        int64
			CreatedAt time.Time
		}
		typ := "DATETIME(6)"
		if s.Dialect == store.SQLite {
			typ = "DATETIME"
		}
		if err := s.DB.Exec("CREATE TABLE stampeds (id INTEGER PRIMARY KEY, created_at " + typ + " NOT NULL)").Error; err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
		row := stamped{ID: 1}
		if err := s.DB.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
		var got stamped
		if err := s.DB.First(&got, 1).Error; err != nil {
			t.Fatal(err)
		}
		if want := at.Add(time.Hour); !got.CreatedAt.Equal(want) {
			t.Errorf("created_at = %s, want the advanced clock's %s", got.CreatedAt, want)
		}
		clock.Advance(-time.Hour) // the sqlite subtest starts where mysql did
	}, storetest.Clock(clock))
}
