// Package idempotency makes a retried POST safe: the first request with an Idempotency-Key
// runs; a repeat with the same body gets the first answer again; a repeat with another body,
// or one that arrives while the first still runs, is refused with 409. Keys live in the
// database, so the guarantee holds across restarts and replicas.
//
// Two ways of keeping a key fit two kinds of work. Work that is one database transaction (a
// new order) writes its key, with its answer, in that transaction (Once and Save): one commit,
// no lease, and a repeat is told apart by the unique keys, the key's own or the work's. Work
// that calls a provider cannot share a transaction with the call, so its key is held while it
// runs (Middleware): a running key is held by a lease that its request renews while the handler
// works. When the process that held it dies (a crash, a kill, a database outage that outlasts
// the lease), the lease runs out and the next retry takes the key over and runs the request
// again. Running it again is safe because the settlement engine refuses or replays an operation
// that already happened; what the key guarantees is one stored answer, not one execution.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/store"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// TTL is how long a key is remembered.
const TTL = 24 * time.Hour

// DefaultLease is how long a running key stays held without renewal. It is short because it
// is how long a client waits after the holder died; a live holder renews it every third of it,
// so a slow provider call keeps its key however long it takes.
const DefaultLease = 30 * time.Second

// StatusClientClosed is the status the shop API answers when the client hung up (nginx's 499).
const StatusClientClosed = 499

// State is where a key is in its life.
type State string

// States of a key. A Running key whose lease has run out belongs to nobody: the next retry
// takes it over.
const (
	Running State = "running"
	Done    State = "done"
)

// Key is one remembered request.
type Key struct {
	ShopID     int64  `gorm:"primaryKey"`
	IdemKey    string `gorm:"primaryKey;column:idem_key"`
	Method     string
	Path       string
	BodyHash   string
	State      State
	StatusCode int
	Response   []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
	// LockedUntil is the end of a Running key's lease; nil once Done. A Running key without
	// one was taken before leases existed and counts as held until CreatedAt plus the lease.
	// The value also fences the holder: every write of a running request requires the value
	// it last wrote, so a holder that lost its key to a retry cannot overwrite that retry.
	LockedUntil *time.Time
}

// TableName is the idempotency_keys table.
func (Key) TableName() string { return "idempotency_keys" }

// Options tune Middleware; the zero value is production's.
type Options struct {
	// Clock drives leases and expiry; tests pass a fake one.
	Clock clockwork.Clock
	// Lease is how long a running key is held without renewal; zero means DefaultLease.
	Lease time.Duration
	// Log receives takeovers and answers that could not be stored; nil means slog.Default().
	Log *slog.Logger
}

// Final reports whether an answer with status may be stored and replayed. A 5xx changed
// nothing or is unknown and resolved elsewhere, and a 499 only says the client left before the
// answer existed: the provider may have settled meanwhile, so the retry must ask again.
func Final(status int) bool {
	return status != StatusClientClosed && status < 500
}

type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}

// Middleware applies to POST and PATCH requests that carry the header. shopID names the
// caller, so two shops may use the same key.
func Middleware(db *gorm.DB, shopID func(*gin.Context) int64, opt Options) gin.HandlerFunc {
	m := newMiddleware(db, opt)
	return func(c *gin.Context) {
		if key, hash, ok := keyed(c); ok {
			m.serve(c, shopID(c), key, hash)
		}
	}
}

// keyed reads the key and the body of a request the key applies to. It reports false when the
// request has gone on without the key (none given, or not a POST or PATCH) or was answered.
func keyed(c *gin.Context) (key, hash string, ok bool) {
	key = c.GetHeader(Header)
	if key == "" || (c.Request.Method != http.MethodPost && c.Request.Method != http.MethodPatch) {
		c.Next()
		return "", "", false
	}
	if len(key) > 191 {
		httpapi.Fail(c, http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key は191文字以内で指定してください。", Header)
		return "", "", false
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if httpapi.IsBodyTooLarge(err) {
			httpapi.Error(c, errTooLarge)
			return "", "", false
		}
		httpapi.Fail(c, http.StatusBadRequest, "bad_body", "request body could not be read", "")
		return "", "", false
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	return key, bodyHash(c.Request.Method, c.Request.URL.Path, body), true
}

type middleware struct {
	db  *gorm.DB
	opt Options
}

func newMiddleware(db *gorm.DB, opt Options) *middleware {
	if opt.Clock == nil {
		opt.Clock = clockwork.NewRealClock()
	}
	if opt.Lease <= 0 {
		opt.Lease = DefaultLease
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return &middleware{db: db, opt: opt}
}

// bodyHash names a request's content: a key reused for another path or body is refused.
func bodyHash(method, path string, body []byte) string {
	sum := sha256.Sum256(append([]byte(method+" "+path+"\n"), body...))
	return hex.EncodeToString(sum[:])
}

// stamp rounds to what both databases store, so a lease read back equals the one written.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (m *middleware) where(sid int64, key string) *gorm.DB {
	return m.db.Model(&Key{}).Where("shop_id = ? AND idem_key = ?", sid, key)
}

func (m *middleware) serve(c *gin.Context, sid int64, key, hash string) {
	ctx := c.Request.Context()
	now := stamp(m.opt.Clock.Now())
	lease := now.Add(m.opt.Lease)
	row := Key{ShopID: sid, IdemKey: key, Method: c.Request.Method, Path: c.Request.URL.Path, BodyHash: hash,
		State: Running, CreatedAt: now, ExpiresAt: now.Add(TTL), LockedUntil: &lease}
	err := m.db.WithContext(ctx).Create(&row).Error
	if store.IsDuplicate(err) {
		if !m.takeOver(c, sid, key, hash, now, lease) {
			return
		}
	} else if err != nil {
		m.internal(c, "idempotency record failed", sid, key, err)
		return
	}
	m.run(c, sid, key, lease)
}

// takeOver answers a request whose key exists. It reports true when the key was Running with
// an expired lease and this request now holds it with lease, so the caller runs the handler.
func (m *middleware) takeOver(c *gin.Context, sid int64, key, hash string, now, lease time.Time) bool {
	ctx := c.Request.Context()
	var prev Key
	if err := m.where(sid, key).WithContext(ctx).First(&prev).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			// Its holder gave it back (an answer that was not final) after our insert failed:
			// the next try takes it.
			inProgress(c)
			return false
		}
		m.internal(c, "idempotency lookup failed", sid, key, err)
		return false
	}
	if m.repeat(c, prev, hash, now) {
		return false
	}
	if !m.expired(prev, now) {
		inProgress(c)
		return false
	}
	ok, err := m.claim(ctx, sid, key, hash, now, lease)
	if err != nil {
		m.internal(c, "idempotency takeover failed", sid, key, err)
		return false
	}
	if !ok {
		inProgress(c)
		return false
	}
	m.opt.Log.Warn("idempotency: lease expired, running the request again",
		"shop_id", sid, "key", key, "path", prev.Path, "request_id", httpapi.ID(c))
	return true
}

// repeat answers a request whose key is stored as prev, when the key alone decides the
// answer: expired, used for another body, or done (the stored answer, replayed). It reports
// whether it answered; a running key is left to the caller.
func (m *middleware) repeat(c *gin.Context, prev Key, hash string, now time.Time) bool {
	switch {
	case prev.ExpiresAt.Before(now):
		// An expired key is forgotten and may be used again.
		m.where(prev.ShopID, prev.IdemKey).WithContext(c.Request.Context()).Where("expires_at < ?", now).Delete(&Key{})
		httpapi.Error(c, errExpired)
	case prev.BodyHash != hash:
		httpapi.Error(c, errReused)
	case prev.State == Done:
		c.Header("Idempotent-Replayed", "true")
		c.Data(prev.StatusCode, "application/json; charset=utf-8", prev.Response)
		c.Abort()
	default:
		return false
	}
	return true
}

// claim takes a running key whose lease has expired and reports whether it did. Of two
// retries that both saw the lease expired, the row lock lets one update the row; the other's
// condition no longer holds when it gets the row, so it updates nothing and is told to wait.
func (m *middleware) claim(ctx context.Context, sid int64, key, hash string, now, lease time.Time) (bool, error) {
	res := m.where(sid, key).WithContext(ctx).
		Where("state = ? AND body_hash = ?", Running, hash).
		Where("(locked_until < ? OR (locked_until IS NULL AND created_at < ?))", now, now.Add(-m.opt.Lease)).
		Update("locked_until", lease)
	if res.Error != nil {
		return false, fmt.Errorf("take over key %s of shop %d: %w", key, sid, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// expired reports whether a running key's holder has stopped renewing it.
func (m *middleware) expired(k Key, now time.Time) bool {
	if k.LockedUntil == nil {
		return k.CreatedAt.Before(now.Add(-m.opt.Lease))
	}
	return k.LockedUntil.Before(now)
}

// internal answers 500 for a database failure; the request log writes its cause with the
// shop and the key under the request id.
func (m *middleware) internal(c *gin.Context, msg string, sid int64, key string, err error) {
	httpapi.Error(c, fmt.Errorf("%s: shop %d key %q: %w", msg, sid, key, err))
}

func inProgress(c *gin.Context) { httpapi.Error(c, errInProgress) }

// The middleware's refusals of a keyed request, each naming the header.
var (
	errExpired = fault.New(fault.Conflict, "idempotency_key_expired",
		"この Idempotency-Key は期限切れです。もう一度送信してください。").WithField(Header)
	errReused = fault.New(fault.Conflict, "idempotency_key_reused",
		"この Idempotency-Key は別の内容のリクエストで使用済みです。").WithField(Header)
	errInProgress = fault.New(fault.Conflict, "request_in_progress", msgInProgress).WithField(Header)
	errTooLarge   = fault.New(fault.TooLarge, "body_too_large", "request body is larger than 1 MiB")
)

const msgInProgress = "同じ Idempotency-Key のリクエストを処理中です。完了後に再送してください。"

// run calls the handler while holding the key and stores its answer if it is final.
func (m *middleware) run(c *gin.Context, sid int64, key string, lease time.Time) {
	// Finish even if the client went away: the answer must be stored or the key given back.
	ctx := context.WithoutCancel(c.Request.Context())
	h := m.hold(ctx, sid, key, lease)
	rec := &recorder{ResponseWriter: c.Writer}
	c.Writer = rec
	returned := false
	defer func() {
		mine := h.stop()
		status := rec.Status()
		lost := func() {
			m.opt.Log.Warn("idempotency: lease lost while running; the retry that took the key over answers for it",
				"shop_id", sid, "key", key, "request_id", httpapi.ID(c), "status", status)
		}
		if mine == nil {
			lost()
			return
		}
		held := m.where(sid, key).WithContext(ctx).Where("state = ? AND locked_until IN ?", Running, mine)
		if !returned || !Final(status) {
			// A panic is answered 500 by the recovery above us; like any other answer that is
			// not final, it gives the key back so the client may retry with it.
			if err := held.Delete(&Key{}).Error; err != nil {
				m.opt.Log.Error("idempotency: give back key; it stays held until its lease ends",
					"shop_id", sid, "key", key, "request_id", httpapi.ID(c), "err", err)
			}
			return
		}
		res := held.Updates(map[string]any{"state": Done, "status_code": status, "response": rec.body.Bytes(), "locked_until": nil})
		switch {
		case res.Error != nil:
			m.opt.Log.Error("idempotency: store answer; the key is run again after its lease ends",
				"shop_id", sid, "key", key, "request_id", httpapi.ID(c), "status", status, "err", res.Error)
		case res.RowsAffected == 0:
			lost()
		}
	}()
	c.Next()
	returned = true
}

// holder renews a running key's lease until stopped.
type holder struct {
	quit chan struct{}
	out  chan []time.Time
}

// hold renews the lease every third of its length. Each renewal requires a value this
// request wrote; a renewal whose result is unknown (an error after the write) adds its value to
// the ones accepted, so the request does not mistake its own write for a takeover.
func (m *middleware) hold(ctx context.Context, sid int64, key string, lease time.Time) *holder {
	h := &holder{quit: make(chan struct{}), out: make(chan []time.Time, 1)}
	t := m.opt.Clock.NewTicker(m.opt.Lease / 3)
	go func() {
		defer t.Stop()
		mine := []time.Time{lease}
		for {
			select {
			case <-h.quit:
				h.out <- mine
				return
			case <-t.Chan():
			}
			next := stamp(m.opt.Clock.Now()).Add(m.opt.Lease)
			res := m.where(sid, key).WithContext(ctx).Where("state = ? AND locked_until IN ?", Running, mine).
				Update("locked_until", next)
			switch {
			case res.Error != nil:
				// The next tick tries again; if the database stays away the lease runs out
				// and a retry may take the key over, which is what a lease is for.
				m.opt.Log.Warn("idempotency: renew lease", "shop_id", sid, "key", key, "err", res.Error)
				mine = append(mine, next)
			case res.RowsAffected == 0:
				m.opt.Log.Warn("idempotency: lease lost to a retry", "shop_id", sid, "key", key)
				<-h.quit
				h.out <- nil
				return
			default:
				mine = []time.Time{next}
			}
		}
	}()
	return h
}

// stop ends the renewals and returns the lease values this request may hold the key by, or
// nil when a retry took the key over.
func (h *holder) stop() []time.Time {
	close(h.quit)
	return <-h.out
}

// Expire forgets the keys whose day is over (expires_at before now): a repeat of one of them is
// a new request. It returns how many it forgot.
func Expire(ctx context.Context, db *gorm.DB, now time.Time) (int64, error) {
	res := db.WithContext(ctx).Where("expires_at < ?", now.UTC()).Delete(&Key{})
	if res.Error != nil {
		return 0, fmt.Errorf("expire idempotency keys: %w", res.Error)
	}
	return res.RowsAffected, nil
}
