package idempotency

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

// onceWork is the work a route under Once guards: a row whose number is unique, as an order's.
type onceWork struct {
	ID     int64  `gorm:"primaryKey"`
	Number string `gorm:"size:64;uniqueIndex"`
}

// onceRoute is POST /work under Once: it writes a work row and its answer in one transaction.
// A number "" is refused before any work; "boom" fails after Save, so the transaction rolls
// back; hold, when set, runs inside the transaction after the work row.
func onceRoute(t *testing.T, s *store.Store, hold func()) *gin.Engine {
	if err := s.DB.AutoMigrate(&onceWork{}); err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	e.Use(httpapi.Recover(slog.New(slog.DiscardHandler)), httpapi.LimitBody(1<<20))
	mw := Once(s.DB, func(*gin.Context) int64 { return shop }, Options{Clock: clockwork.NewRealClock(), Log: slog.New(slog.DiscardHandler)})
	e.POST("/work", mw, func(c *gin.Context) {
		var in struct{ Number string }
		if err := json.NewDecoder(c.Request.Body).Decode(&in); err != nil || in.Number == "" {
			httpapi.Fail(c, http.StatusUnprocessableEntity, "invalid", "number is required", "number")
			return
		}
		var body []byte
		err := s.DB.WithContext(c.Request.Context()).Transaction(func(tx *gorm.DB) error {
			w := onceWork{Number: in.Number}
			if err := tx.Create(&w).Error; err != nil {
				return err
			}
			if hold != nil {
				hold()
			}
			body = fmt.Appendf(nil, `{"id":%d}`, w.ID)
			if err := Save(c, tx, http.StatusCreated, body); err != nil {
				return err
			}
			if in.Number == "boom" {
				return errors.New("boom")
			}
			return nil
		})
		if (store.IsDuplicate(err) || errors.Is(err, ErrSeen)) && Repeat(c) {
			return
		}
		switch {
		case store.IsDuplicate(err):
			httpapi.Fail(c, http.StatusConflict, "duplicate", "number used", "number")
		case err != nil:
			httpapi.Fail(c, http.StatusInternalServerError, "internal", err.Error(), "")
		default:
			c.Data(http.StatusCreated, "application/json; charset=utf-8", body)
		}
	})
	return e
}

func postWork(e *gin.Engine, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/work", strings.NewReader(body))
	if key != "" {
		req.Header.Set(Header, key)
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	return w
}

func works(t *testing.T, s *store.Store, number string) int64 {
	t.Helper()
	var n int64
	if err := s.DB.Model(&onceWork{}).Where("number = ?", number).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := &fixture{t: t, db: s.DB}
		e := onceRoute(t, s, nil)

		t.Run("the work and its answer commit together; a repeat gets the answer and no second work", func(t *testing.T) {
			w := postWork(e, "o-first", `{"number":"n1"}`)
			expect(t, w, http.StatusCreated, "")
			k := f.row("o-first")
			if k.State != Done || k.StatusCode != http.StatusCreated || string(k.Response) != w.Body.String() || k.LockedUntil != nil {
				t.Fatalf("stored %+v, want done 201 %s with no lease", k, w.Body)
			}
			expectReplay(t, postWork(e, "o-first", `{"number":"n1"}`), http.StatusCreated, w.Body.String())
			if n := works(t, s, "n1"); n != 1 {
				t.Fatalf("%d works", n)
			}
		})

		t.Run("another body with the same key is refused and its work rolled back", func(t *testing.T) {
			expect(t, postWork(e, "o-body", `{"number":"n2"}`), http.StatusCreated, "")
			expect(t, postWork(e, "o-body", `{"number":"n3"}`), http.StatusConflict, "idempotency_key_reused")
			if n := works(t, s, "n3"); n != 0 {
				t.Fatalf("the refused request's work stayed: %d", n)
			}
		})

		t.Run("the work's own refusal is answered, and stored like any final answer", func(t *testing.T) {
			w := postWork(e, "o-dup", `{"number":"n1"}`)
			expect(t, w, http.StatusConflict, "duplicate")
			expectReplay(t, postWork(e, "o-dup", `{"number":"n1"}`), http.StatusConflict, w.Body.String())
		})

		t.Run("a refusal before the work is stored and replayed", func(t *testing.T) {
			w := postWork(e, "o-invalid", `{}`)
			expect(t, w, http.StatusUnprocessableEntity, "invalid")
			expectReplay(t, postWork(e, "o-invalid", `{}`), http.StatusUnprocessableEntity, w.Body.String())
		})

		t.Run("work that fails leaves neither work nor key", func(t *testing.T) {
			expect(t, postWork(e, "o-boom", `{"number":"boom"}`), http.StatusInternalServerError, "internal")
			f.gone("o-boom")
			if n := works(t, s, "boom"); n != 0 {
				t.Fatalf("%d works", n)
			}
		})

		t.Run("without a key the route runs as it is", func(t *testing.T) {
			expect(t, postWork(e, "", `{"number":"n4"}`), http.StatusCreated, "")
			expect(t, postWork(e, "", `{"number":"n4"}`), http.StatusConflict, "duplicate")
		})

		t.Run("a repeat while the first runs waits for it and gets its answer", func(t *testing.T) {
			g := newGate()
			held := onceRoute(t, s, func() { g.hold() })
			first := make(chan *httptest.ResponseRecorder, 1)
			go func() { first <- postWork(held, "o-busy", `{"number":"n5"}`) }()
			recv(t, g.entered, "first request in its transaction")
			second := make(chan *httptest.ResponseRecorder, 1)
			// The second is held only if its work got as far as the first's; it waits on
			// the unique key (MySQL) or the one connection (SQLite) until the first commits.
			go func() { second <- postWork(held, "o-busy", `{"number":"n5"}`) }()
			close(g.release)
			w := recv(t, first, "first answer")
			expect(t, w, http.StatusCreated, "")
			expectReplay(t, recv(t, second, "second answer"), http.StatusCreated, w.Body.String())
			if n := works(t, s, "n5"); n != 1 {
				t.Fatalf("%d works", n)
			}
		})
	})
}
