package store_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

// syncBuffer is a log destination safe for the pool's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSQLLogsCarryNoBuyerData(t *testing.T) {
	t.Parallel()
	const name, phone = "山田花子", "090-1234-5678"
	for dialect, dsn := range map[string]func() string{
		"mysql":  func() string { return storetest.NewMySQLDatabase(t) },
		"sqlite": func() string { return "sqlite://" + filepath.Join(t.TempDir(), "k.db") },
	} {
		t.Run(dialect, func(t *testing.T) {
			var logged syncBuffer
			// The most talkative level: failing statements at debug, every statement below it.
			log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
			st, err := store.Open(context.Background(), dsn(), store.Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.DB.Exec("CREATE TABLE buyers (id INTEGER PRIMARY KEY, name VARCHAR(100), phone VARCHAR(20), age INTEGER, born DATE)").Error; err != nil {
				t.Fatal(err)
			}
			if err := st.DB.Exec("INSERT INTO buyers (id, name, phone, age) VALUES (?, ?, ?, ?)", 1, name, phone, 30).Error; err != nil {
				t.Fatal(err)
			}
			failing := map[string]error{
				"exec on a missing table": st.DB.Exec("INSERT INTO no_such_table (name, phone) VALUES (?, ?)", name, phone).Error,
				"a duplicate key":         st.DB.Exec("INSERT INTO buyers (id, name, phone) VALUES (?, ?, ?)", 1, name, phone).Error,
				"raw scan":                st.DB.Raw("SELECT no_such_column FROM buyers WHERE name = ? AND phone = ?", name, phone).Scan(&[]map[string]any{}).Error,
				"find":                    st.DB.Table("buyers").Where("name = ? AND no_such_column = ?", name, phone).Find(&[]map[string]any{}).Error,
			}
			if st.Dialect == store.MySQL {
				failing["a value MySQL quotes back"] = st.DB.Exec("UPDATE buyers SET born = ? WHERE name = ?", phone, name).Error
			}
			for what, err := range failing {
				if err == nil {
					t.Fatalf("%s did not fail", what)
				}
			}
			out := logged.String()
			if !strings.Contains(out, "no_such_table") || !strings.Contains(out, "db error") {
				t.Fatalf("the failing SQL was not logged at debug:\n%s", out)
			}
			for _, v := range []string{name, phone} {
				if strings.Contains(out, v) {
					t.Errorf("the log carries %q:\n%s", v, out)
				}
			}
		})
	}
}
