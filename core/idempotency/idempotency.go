// Package idempotency makes a retried POST safe: the first request with an Idempotency-Key
// runs; a repeat with the same body gets the first answer again; a repeat with another body,
// or one that arrives while the first still runs, is refused with 409. Keys live in the
// database, so the guarantee holds across restarts and replicas.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/store"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// TTL is how long a key is remembered.
const TTL = 24 * time.Hour

// Key is one remembered request.
type Key struct {
	ShopID     int64  `gorm:"primaryKey"`
	IdemKey    string `gorm:"primaryKey;column:idem_key"`
	Method     string
	Path       string
	BodyHash   string
	State      string // running, done
	StatusCode int
	Response   []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// TableName is the idempotency_keys table.
func (Key) TableName() string { return "idempotency_keys" }

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
func Middleware(db *gorm.DB, shopID func(*gin.Context) int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader(Header)
		if key == "" || (c.Request.Method != http.MethodPost && c.Request.Method != http.MethodPatch) {
			c.Next()
			return
		}
		if len(key) > 191 {
			httpapi.Fail(c, http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key は191文字以内で指定してください。", Header)
			return
		}
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			if httpapi.IsBodyTooLarge(err) {
				httpapi.Fail(c, http.StatusRequestEntityTooLarge, "body_too_large", "request body is larger than 1 MiB", "")
				return
			}
			httpapi.Fail(c, http.StatusBadRequest, "bad_body", "request body could not be read", "")
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(append([]byte(c.Request.Method+" "+c.Request.URL.Path+"\n"), body...))
		hash := hex.EncodeToString(sum[:])
		ctx := c.Request.Context()
		sid := shopID(c)
		now := time.Now().UTC()
		row := Key{ShopID: sid, IdemKey: key, Method: c.Request.Method, Path: c.Request.URL.Path, BodyHash: hash,
			State: "running", CreatedAt: now, ExpiresAt: now.Add(TTL)}
		err = db.WithContext(ctx).Create(&row).Error
		if store.IsDuplicate(err) {
			var prev Key
			if err := db.WithContext(ctx).Where("shop_id = ? AND idem_key = ?", sid, key).First(&prev).Error; err != nil {
				httpapi.Fail(c, http.StatusInternalServerError, "internal", "idempotency lookup failed", "")
				return
			}
			switch {
			case prev.ExpiresAt.Before(now):
				// An expired key is forgotten and may be used again.
				db.WithContext(ctx).Where("shop_id = ? AND idem_key = ? AND expires_at < ?", sid, key, now).Delete(&Key{})
				httpapi.Fail(c, http.StatusConflict, "idempotency_key_expired", "この Idempotency-Key は期限切れです。もう一度送信してください。", Header)
			case prev.BodyHash != hash:
				httpapi.Fail(c, http.StatusConflict, "idempotency_key_reused", "この Idempotency-Key は別の内容のリクエストで使用済みです。", Header)
			case prev.State != "done":
				httpapi.Fail(c, http.StatusConflict, "request_in_progress", "同じ Idempotency-Key のリクエストを処理中です。完了後に再送してください。", Header)
			default:
				c.Header("Idempotent-Replayed", "true")
				c.Data(prev.StatusCode, "application/json; charset=utf-8", prev.Response)
				c.Abort()
			}
			return
		}
		if err != nil {
			httpapi.Fail(c, http.StatusInternalServerError, "internal", "idempotency record failed", "")
			return
		}
		rec := &recorder{ResponseWriter: c.Writer}
		c.Writer = rec
		c.Next()
		// Finish even if the client went away: the key must not stay "running" for a day.
		fctx := context.WithoutCancel(ctx)
		status := rec.Status()
		if status >= 500 {
			// A server-side failure changed nothing (or is unknown and resolved elsewhere):
			// let the client retry with the same key.
			db.WithContext(fctx).Where("shop_id = ? AND idem_key = ?", sid, key).Delete(&Key{})
			return
		}
		db.WithContext(fctx).Model(&Key{}).Where("shop_id = ? AND idem_key = ?", sid, key).
			Updates(map[string]any{"state": "done", "status_code": status, "response": rec.body.Bytes()})
	}
}
