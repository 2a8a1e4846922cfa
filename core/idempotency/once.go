package idempotency

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/store"
)

// ErrSeen is Save's answer when the key is stored already: the caller rolls its transaction
// back and lets Repeat answer.
var ErrSeen = fault.Sentinel("idempotency: the key is stored already", fault.Conflict, "request_in_progress", msgInProgress).WithField(Header)

// onceKey is where Once leaves a request's key for Save and Repeat.
const onceKey = "idempotency.once"

// once is a keyed request under Once.
type once struct {
	m               *middleware
	sid             int64
	key, hash       string
	method, path    string
	saved, answered bool
}

// Once applies to POST and PATCH requests that carry the header, for a handler whose work is
// one database transaction: the handler stores its answer with Save in that transaction, so
// the work and its key commit together or not at all, and nothing is written before the work
// or after it. There is no lease: a request that dies leaves nothing behind, and its retry
// runs as the first one. A repeat runs the handler too, whose work is refused by a unique key
// (the key's own, or the work's, such as an order number); the handler then calls Repeat,
// which answers from the stored key. A repeat that arrives while the first runs waits on the
// unique key until the first commits, and gets its answer.
//
// An answer the handler did not Save (a refusal before the work, such as a 422) is held until
// it is stored, after the handler, when it is final: if its key turns out to be stored
// already, the stored answer is given instead, so that it replays like any other.
func Once(db *gorm.DB, shopID func(*gin.Context) int64, opt Options) gin.HandlerFunc {
	m := newMiddleware(db, opt)
	return func(c *gin.Context) {
		key, hash, ok := keyed(c)
		if !ok {
			return
		}
		o := &once{m: m, sid: shopID(c), key: key, hash: hash, method: c.Request.Method, path: c.Request.URL.Path}
		c.Set(onceKey, o)
		h := &held{ResponseWriter: c.Writer}
		c.Writer = h
		returned := false
		defer func() {
			c.Writer = h.ResponseWriter
			if returned && !o.saved && !o.answered && h.Written() && Final(h.Status()) && o.store(c, h) {
				return
			}
			h.flush()
		}()
		c.Next()
		returned = true
	}
}

// store keeps an answer the handler gave without Save, and reports whether it answered the
// request itself instead: the key was stored meanwhile, by a request with the same key that
// committed first, and that one's answer is the one to give.
func (o *once) store(c *gin.Context, h *held) bool {
	row := o.row(o.m.opt.Clock.Now(), h.Status(), h.body.Bytes())
	err := o.m.db.WithContext(c.Request.Context()).Create(&row).Error
	switch {
	case store.IsDuplicate(err):
		return Repeat(c)
	case err != nil:
		// The answer is given anyway; a retry runs the request again, which refuses it again.
		o.m.opt.Log.Warn("idempotency: store answer", "shop_id", o.sid, "key", o.key, "request_id", httpapi.ID(c), "err", err)
	}
	return false
}

// held keeps a handler's answer until Once knows it is the one to give.
type held struct {
	gin.ResponseWriter
	status int
	body   bytes.Buffer
}

func (h *held) WriteHeader(code int) {
	if code > 0 {
		h.status = code
	}
}

func (h *held) WriteHeaderNow() {}

func (h *held) Write(b []byte) (int, error) { return h.body.Write(b) }

func (h *held) WriteString(s string) (int, error) { return h.body.WriteString(s) }

func (h *held) Status() int {
	if h.status == 0 {
		return http.StatusOK
	}
	return h.status
}

func (h *held) Written() bool { return h.status != 0 || h.body.Len() > 0 }

func (h *held) Size() int {
	if !h.Written() {
		return -1
	}
	return h.body.Len()
}

// flush gives the held answer.
func (h *held) flush() {
	if !h.Written() {
		return
	}
	h.ResponseWriter.WriteHeader(h.Status())
	_, _ = h.ResponseWriter.Write(h.body.Bytes())
}

func (o *once) row(now time.Time, status int, body []byte) Key {
	now = stamp(now)
	return Key{ShopID: o.sid, IdemKey: o.key, Method: o.method, Path: o.path, BodyHash: o.hash, State: Done,
		StatusCode: status, Response: body, CreatedAt: now, ExpiresAt: now.Add(TTL)}
}

func onceOf(c *gin.Context) *once {
	if v, ok := c.Get(onceKey); ok {
		return v.(*once)
	}
	return nil
}

// Save stores, in tx, the answer the handler of a request under Once is about to give: status
// and the body it will write. It returns ErrSeen when the key is stored already (the request
// is a repeat, or the key was used for another request): the caller rolls back and calls
// Repeat. A request without a key, or outside Once, stores nothing.
func Save(c *gin.Context, tx *gorm.DB, status int, body []byte) error {
	o := onceOf(c)
	if o == nil || !Final(status) {
		return nil
	}
	row := o.row(o.m.opt.Clock.Now(), status, body)
	err := tx.WithContext(c.Request.Context()).Create(&row).Error
	if store.IsDuplicate(err) {
		return ErrSeen
	}
	if err != nil {
		return fmt.Errorf("idempotency key %s of shop %d: %w", o.key, o.sid, err)
	}
	o.saved = true
	return nil
}

// Repeat answers a request under Once whose work was refused by a unique key, when its key
// is stored: the stored answer (Idempotent-Replayed), or 409 when the key was used for
// another request or has expired. It reports whether it answered; when it did not, the key is
// not stored and the refusal is the request's own (an order number used before).
func Repeat(c *gin.Context) bool {
	o := onceOf(c)
	if o == nil {
		return false
	}
	m := o.m
	var prev Key
	err := m.where(o.sid, o.key).WithContext(c.Request.Context()).First(&prev).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return false
	case err != nil:
		m.internal(c, "idempotency lookup failed", o.sid, o.key, err)
	case m.repeat(c, prev, o.hash, stamp(m.opt.Clock.Now())):
	default:
		// Running: a request under Middleware holds the key (the route changed ways across
		// a deploy). Its lease settles it; until then the retry waits.
		inProgress(c)
	}
	o.answered = true
	return true
}
