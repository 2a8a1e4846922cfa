package idempotency

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

const (
	shop  = 7
	lease = 30 * time.Second
	// wait bounds every wait for another goroutine; the fake clock never needs it.
	wait = 10 * time.Second
)

// fixture is a shop API of one route, POST /pay, behind the middleware, with a fake clock and
// a handler each story sets before its first request.
type fixture struct {
	t      *testing.T
	db     *gorm.DB
	clock  *clockwork.FakeClock
	engine *gin.Engine
	calls  atomic.Int32
	handle gin.HandlerFunc
}

func newFixture(t *testing.T, s *store.Store, handle gin.HandlerFunc) *fixture {
	// Near the real time, as rows written by a real clock would be, with nanoseconds the
	// databases cannot store, so a lease must survive the round trip.
	start := time.Now().UTC().Truncate(time.Second).Add(123456789)
	f := &fixture{t: t, db: s.DB, clock: clockwork.NewFakeClockAt(start), handle: handle}
	f.engine = gin.New()
	f.engine.Use(httpapi.Recover(slog.New(slog.DiscardHandler)), httpapi.LimitBody(1<<20))
	mw := Middleware(s.DB, func(*gin.Context) int64 { return shop }, Options{Clock: f.clock, Lease: lease, Log: slog.New(slog.DiscardHandler)})
	f.engine.POST("/pay", mw, func(c *gin.Context) {
		f.calls.Add(1)
		f.handle(c)
	})
	return f
}

func (f *fixture) request(ctx context.Context, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/pay", strings.NewReader(body))
	req.Header.Set(Header, key)
	w := httptest.NewRecorder()
	f.engine.ServeHTTP(w, req)
	return w
}

func (f *fixture) post(key, body string) *httptest.ResponseRecorder {
	return f.request(context.Background(), key, body)
}

// start sends a request that the handler may hold; its answer arrives on the channel.
func (f *fixture) start(key, body string) <-chan *httptest.ResponseRecorder {
	ch := make(chan *httptest.ResponseRecorder, 1)
	go func() { ch <- f.post(key, body) }()
	return ch
}

func (f *fixture) row(key string) Key {
	f.t.Helper()
	var k Key
	if err := f.db.Where("shop_id = ? AND idem_key = ?", shop, key).First(&k).Error; err != nil {
		f.t.Fatalf("key %s: %v", key, err)
	}
	return k
}

func (f *fixture) gone(key string) {
	f.t.Helper()
	var n int64
	if err := f.db.Model(&Key{}).Where("shop_id = ? AND idem_key = ?", shop, key).Count(&n).Error; err != nil {
		f.t.Fatal(err)
	}
	if n != 0 {
		f.t.Fatalf("key %s is still stored: %+v", key, f.row(key))
	}
}

// dead stores key as a request left it when its process died: running, lease over.
func (f *fixture) dead(key, body string, lockedUntil *time.Time, created time.Time) {
	f.t.Helper()
	k := Key{ShopID: shop, IdemKey: key, Method: http.MethodPost, Path: "/pay", BodyHash: bodyHash(http.MethodPost, "/pay", []byte(body)),
		State: Running, CreatedAt: created, ExpiresAt: created.Add(TTL), LockedUntil: lockedUntil}
	if err := f.db.Create(&k).Error; err != nil {
		f.t.Fatal(err)
	}
}

// gate holds the handler until released, so a story can act while a request runs.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 8), release: make(chan struct{})}
}

func (g *gate) hold() {
	g.entered <- struct{}{}
	<-g.release
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("no %s after %s", what, wait)
		panic("unreachable")
	}
}

func answer(body string) gin.HandlerFunc {
	return func(c *gin.Context) { c.Data(http.StatusCreated, "application/json; charset=utf-8", []byte(body)) }
}

func expect(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if code == "" {
		return
	}
	var e httpapi.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code != code {
		t.Fatalf("error code of %s, want %s", w.Body, code)
	}
}

func expectReplay(t *testing.T, w *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if w.Code != status || w.Body.String() != body || w.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("want a replay of %d %s, got %d %s (Idempotent-Replayed: %q)", status, body, w.Code, w.Body, w.Header().Get("Idempotent-Replayed"))
	}
}

func (f *fixture) expectCalls(n int32) {
	f.t.Helper()
	if got := f.calls.Load(); got != n {
		f.t.Fatalf("handler ran %d times, want %d", got, n)
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Run("the first request runs, a repeat gets its answer again", func(t *testing.T) {
			f := newFixture(t, s, answer(`{"id":1}`))
			w := f.post("k-replay", `{"amount":1000}`)
			expect(t, w, http.StatusCreated, "")
			if w.Header().Get("Idempotent-Replayed") != "" {
				t.Fatal("a first answer is marked replayed")
			}
			k := f.row("k-replay")
			if k.State != Done || k.StatusCode != http.StatusCreated || string(k.Response) != `{"id":1}` || k.LockedUntil != nil {
				t.Fatalf("stored %+v, want done 201 with no lease", k)
			}
			expectReplay(t, f.post("k-replay", `{"amount":1000}`), http.StatusCreated, `{"id":1}`)
			f.expectCalls(1)
		})

		t.Run("another body with the same key is refused", func(t *testing.T) {
			f := newFixture(t, s, answer(`{"id":2}`))
			expect(t, f.post("k-body", `{"amount":1000}`), http.StatusCreated, "")
			expect(t, f.post("k-body", `{"amount":2000}`), http.StatusConflict, "idempotency_key_reused")
			f.expectCalls(1)
		})

		t.Run("a repeat while the first runs is refused; the first holds a lease", func(t *testing.T) {
			g := newGate()
			f := newFixture(t, s, func(c *gin.Context) { g.hold(); answer(`{"id":3}`)(c) })
			first := f.start("k-busy", `{}`)
			recv(t, g.entered, "first request in the handler")
			k := f.row("k-busy")
			if want := stamp(f.clock.Now()).Add(lease); k.State != Running || k.LockedUntil == nil || !k.LockedUntil.Equal(want) {
				t.Fatalf("running key %+v, want a lease until %s", k, want)
			}
			expect(t, f.post("k-busy", `{}`), http.StatusConflict, "request_in_progress")
			close(g.release)
			expect(t, recv(t, first, "first answer"), http.StatusCreated, "")
			expectReplay(t, f.post("k-busy", `{}`), http.StatusCreated, `{"id":3}`)
			f.expectCalls(1)
		})

		t.Run("a key whose holder died is taken over by the retry", func(t *testing.T) {
			f := newFixture(t, s, answer(`{"id":4}`))
			now := stamp(f.clock.Now())
			past := now.Add(-time.Second)
			f.dead("k-dead", `{}`, &past, now.Add(-time.Minute))
			// Written before leases existed: held for one lease from its creation.
			f.dead("k-old", `{}`, nil, now.Add(-lease-time.Second))
			f.dead("k-new", `{}`, nil, now.Add(-lease+time.Second))
			expect(t, f.post("k-new", `{}`), http.StatusConflict, "request_in_progress")
			for _, key := range []string{"k-dead", "k-old"} {
				expect(t, f.post(key, `{}`), http.StatusCreated, "")
				if k := f.row(key); k.State != Done || string(k.Response) != `{"id":4}` {
					t.Fatalf("%s after the takeover: %+v", key, k)
				}
				expectReplay(t, f.post(key, `{}`), http.StatusCreated, `{"id":4}`)
			}
			f.expectCalls(2)
			expect(t, f.post("k-dead", `{"other":true}`), http.StatusConflict, "idempotency_key_reused")
		})

		t.Run("of two retries of a dead key, one runs", func(t *testing.T) {
			g := newGate()
			f := newFixture(t, s, func(c *gin.Context) { g.hold(); answer(`{"id":5}`)(c) })
			now := stamp(f.clock.Now())
			past := now.Add(-time.Second)
			f.dead("k-race", `{}`, &past, now.Add(-time.Minute))
			a, b := f.start("k-race", `{}`), f.start("k-race", `{}`)
			recv(t, g.entered, "a retry in the handler")
			var winner <-chan *httptest.ResponseRecorder
			select {
			case w := <-a:
				expect(t, w, http.StatusConflict, "request_in_progress")
				winner = b
			case w := <-b:
				expect(t, w, http.StatusConflict, "request_in_progress")
				winner = a
			case <-time.After(wait):
				t.Fatal("neither retry was refused while the other ran")
			}
			close(g.release)
			expect(t, recv(t, winner, "winning retry's answer"), http.StatusCreated, "")
			f.expectCalls(1)
			expectReplay(t, f.post("k-race", `{}`), http.StatusCreated, `{"id":5}`)

			// The same race with both retries past their look at the row, which the HTTP
			// requests above rarely are: only the first update takes the key.
			f.dead("k-race2", `{}`, &past, now.Add(-time.Minute))
			m := newMiddleware(s.DB, Options{Clock: f.clock, Lease: lease})
			hash := bodyHash(http.MethodPost, "/pay", []byte(`{}`))
			for i, want := range []bool{true, false} {
				at := now.Add(time.Duration(i) * time.Millisecond) // the second a little later
				got, err := m.claim(context.Background(), shop, "k-race2", hash, at, at.Add(lease))
				if err != nil || got != want {
					t.Fatalf("claim %d = %v, %v; want %v", i+1, got, err, want)
				}
			}
		})

		t.Run("a holder that lost its key does not overwrite the retry that took it", func(t *testing.T) {
			g := newGate()
			var n atomic.Int32
			f := newFixture(t, s, func(c *gin.Context) {
				if n.Add(1) == 1 {
					g.hold()
					answer(`{"by":"first"}`)(c)
					return
				}
				answer(`{"by":"retry"}`)(c)
			})
			first := f.start("k-zombie", `{}`)
			recv(t, g.entered, "first request in the handler")
			// Its renewals never reached the database (an outage), so the lease ran out.
			past := stamp(f.clock.Now()).Add(-time.Second)
			if err := f.db.Model(&Key{}).Where("shop_id = ? AND idem_key = ?", shop, "k-zombie").Update("locked_until", past).Error; err != nil {
				t.Fatal(err)
			}
			expect(t, f.post("k-zombie", `{}`), http.StatusCreated, "")
			close(g.release)
			expect(t, recv(t, first, "first answer"), http.StatusCreated, "")
			expectReplay(t, f.post("k-zombie", `{}`), http.StatusCreated, `{"by":"retry"}`)
		})

		t.Run("an answer that is not final gives the key back", func(t *testing.T) {
			for _, tc := range []struct {
				key    string
				handle func(c *gin.Context, hangUp context.CancelFunc)
			}{
				{"k-499", func(c *gin.Context, hangUp context.CancelFunc) {
					// The client hangs up mid-request; the shop API answers as it does then.
					hangUp()
					<-c.Request.Context().Done()
					httpapi.Fail(c, StatusClientClosed, "canceled", "request canceled", "")
				}},
				{"k-500", func(c *gin.Context, _ context.CancelFunc) {
					httpapi.Fail(c, http.StatusInternalServerError, "internal", "internal error", "")
				}},
				{"k-503", func(c *gin.Context, _ context.CancelFunc) {
					httpapi.Fail(c, http.StatusServiceUnavailable, "payment_module_unavailable", "unavailable", "")
				}},
				{"k-panic", func(*gin.Context, context.CancelFunc) { panic("handler bug") }},
			} {
				t.Run(tc.key, func(t *testing.T) {
					ctx, hangUp := context.WithCancel(context.Background())
					defer hangUp()
					var n atomic.Int32
					f := newFixture(t, s, func(c *gin.Context) {
						if n.Add(1) == 1 {
							tc.handle(c, hangUp)
							return
						}
						answer(`{"id":6}`)(c)
					})
					if w := f.request(ctx, tc.key, `{}`); w.Code != StatusClientClosed && w.Code < 500 {
						t.Fatalf("status %d", w.Code)
					}
					f.gone(tc.key)
					expect(t, f.post(tc.key, `{}`), http.StatusCreated, "")
					expectReplay(t, f.post(tc.key, `{}`), http.StatusCreated, `{"id":6}`)
					f.expectCalls(2)
				})
			}
		})

		t.Run("a long request renews its lease and keeps its key", func(t *testing.T) {
			g := newGate()
			f := newFixture(t, s, func(c *gin.Context) { g.hold(); answer(`{"id":7}`)(c) })
			first := f.start("k-long", `{}`)
			recv(t, g.entered, "first request in the handler")
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if err := f.clock.BlockUntilContext(ctx, 1); err != nil {
				t.Fatal("the request renews nothing: ", err)
			}
			taken := stamp(f.clock.Now())
			for range 4 {
				f.clock.Advance(lease / 3)
				want := stamp(f.clock.Now()).Add(lease)
				for k := f.row("k-long"); k.LockedUntil == nil || !k.LockedUntil.Equal(want); k = f.row("k-long") {
					if ctx.Err() != nil {
						t.Fatalf("lease %v, want it renewed to %s", k.LockedUntil, want)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			if !f.clock.Now().After(taken.Add(lease)) {
				t.Fatal("the story must outlast the first lease")
			}
			expect(t, f.post("k-long", `{}`), http.StatusConflict, "request_in_progress")
			close(g.release)
			expect(t, recv(t, first, "first answer"), http.StatusCreated, "")
			expectReplay(t, f.post("k-long", `{}`), http.StatusCreated, `{"id":7}`)
			f.expectCalls(1)
		})

		t.Run("today's refusals stay", func(t *testing.T) {
			f := newFixture(t, s, answer(`{"id":8}`))
			expect(t, f.post(strings.Repeat("k", 192), `{}`), http.StatusBadRequest, "invalid_idempotency_key")
			// A body without a declared length, so the middleware's read is what finds it too big.
			big := httptest.NewRequest(http.MethodPost, "/pay", strings.NewReader(strings.Repeat(" ", 1<<20+1)))
			big.ContentLength = -1
			big.Header.Set(Header, "k-big")
			w := httptest.NewRecorder()
			f.engine.ServeHTTP(w, big)
			expect(t, w, http.StatusRequestEntityTooLarge, "body_too_large")
			expect(t, f.post("k-ttl", `{}`), http.StatusCreated, "")
			f.clock.Advance(TTL + time.Second)
			expect(t, f.post("k-ttl", `{}`), http.StatusConflict, "idempotency_key_expired")
			expect(t, f.post("k-ttl", `{}`), http.StatusCreated, "")
			f.expectCalls(2)
		})
	})
}
