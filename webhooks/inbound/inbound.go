// Package inbound takes payment providers' notifications in (atone's 決済Webhook and
// 認証Webhook). A notification is only a hint: atone signs nothing, so nothing moves until the
// provider has been asked through the adapter. Each body is recorded once, so a repeated
// delivery has no second effect, and answered 200 whenever kessai has done all it can, so the
// provider does not retry forever.
package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
)

// Adapters is what inbound needs of the module host.
type Adapters interface {
	Get(ctx context.Context, slug string) (plugins.Adapter, error)
}

// Deps are the notification handler's dependencies.
type Deps struct {
	Store       *store.Store
	Adapters    Adapters
	Settlements *settlement.Service
	Orders      *order.Orders
	Log         *slog.Logger
	// Timeout bounds the work for one notification (parse, reference, record); zero means
	// 20 s. atone publishes no timeout of its own, so this stays well under common defaults.
	Timeout time.Duration
	// Rate and Burst bound what one source address may send: Burst notifications at once,
	// then Rate a second; more is answered 429. Zero means DefaultRate and DefaultBurst. atone
	// signs nothing, so anyone can post, and each distinct body costs a row and a provider call.
	Rate  float64
	Burst int
}

// Handler receives notifications for one daemon.
type Handler struct {
	d Deps
}

// Mount adds POST /webhooks/atone to r (the engine's root). Each provider gets a route of its
// own rather than /webhooks/:module, so that no test or mock module is reachable from outside.
func Mount(r gin.IRouter, d Deps) *Handler {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Timeout == 0 {
		d.Timeout = 20 * time.Second
	}
	if d.Rate <= 0 {
		d.Rate = DefaultRate
	}
	if d.Burst <= 0 {
		d.Burst = DefaultBurst
	}
	h := &Handler{d: d}
	// One limiter for every provider route: a source's budget is for notifications, whichever
	// provider it claims to be.
	lim := newLimiter(d.Rate, d.Burst, time.Now)
	r.POST("/webhooks/atone", lim.handler, h.Serve("atone"))
	return h
}

// Event is one notification received, kept so that the same body delivered again is
// recognised and has no second effect. A row of Kind kindReport is no notification but the
// mark that an unknown transaction went to the error log.
type Event struct {
	ID       int64 `gorm:"primaryKey"`
	Provider string
	// EventKey is the SHA-256 of the canonical body: atone sends no event id, so the body
	// itself is the event's identity.
	EventKey     string
	Kind         string
	ProviderID   string
	Attempt      string
	SettlementID *int64
	Result       Result
	CreatedAt    time.Time
	UpdatedAt    time.Time

	recorded bool // the result was written with the effect it describes
}

// TableName is the webhook_events table.
func (Event) TableName() string { return "webhook_events" }

// Result is what a notification led to.
type Result string

// Results.
const (
	// Processing: a claim in progress. A claim older than claimLease is taken over by the next
	// delivery, so that a crash mid-way does not turn the event into a duplicate for ever.
	Processing Result = "processing"
	// Confirmed: a pending settlement whose widget result never came was confirmed with the
	// provider (仮売上, 売上計上 or 決済エラー, as the provider says).
	Confirmed Result = "confirmed"
	// Referenced: a known settlement was referenced; it moved only if it was unknown.
	Referenced Result = "referenced"
	// Unknown: the provider holds a transaction kessai has none for; written to the error log
	// once per transaction, by the first notification that names it.
	Unknown Result = "unknown"
	// NotAtProvider: neither kessai nor the provider knows the transaction (a forged or
	// mistyped notification); nothing is written but this row.
	NotAtProvider Result = "not_at_provider"
	// Ignored: nothing to do (an authentication notification, a stale attempt, an operation in
	// flight that will record its own answer).
	Ignored Result = "ignored"
)

const claimLease = 2 * time.Minute

// The receiver's answers to a notification it did not process.
var (
	// errNotProcessed: nothing was recorded, the provider delivers again later.
	errNotProcessed = fault.New(fault.Unavailable, "unavailable", "notification not processed; retry later")
	// errTooLarge: no notification is this large.
	errTooLarge = fault.New(fault.TooLarge, "body_too_large", "notification body too large")
)

// Answer is the JSON body sent back to the provider; it is for people reading delivery logs.
type Answer struct {
	Result    Result `json:"result"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Serve handles the notifications of the module slug.
func (h *Handler) Serve(slug string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), h.d.Timeout)
		defer cancel()
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			if httpapi.IsBodyTooLarge(err) {
				httpapi.Error(c, errTooLarge)
				return
			}
			// A sender that cannot send its body: the provider's own 400, no error of ours.
			httpapi.Fail(c, http.StatusBadRequest, "bad_body", "cannot read the notification body", "")
			return
		}
		res, dup, err := h.Handle(ctx, slug, plugins.WebhookRequest{Headers: c.Request.Header.Clone(), Body: body})
		switch {
		case errors.Is(err, plugins.ErrInvalidRequest):
			// 400 tells the sender not to deliver this body again; the adapter contract's
			// sentinel cannot describe itself (plugins does not import core), and no kind
			// answers 400.
			httpapi.Fail(c, http.StatusBadRequest, "not_a_notification", err.Error(), "")
		case err != nil:
			// The event's claim was released: a later delivery (if the provider retries) gets
			// another chance. Whatever the failure, the provider is told to retry later; its
			// cause goes to the request log under the request id, not to the caller.
			httpapi.Error(c, fmt.Errorf("webhook %s: %w", slug, errNotProcessed.Because(err)))
		default:
			c.JSON(http.StatusOK, Answer{Result: res, Duplicate: dup})
		}
	}
}

// Handle processes one notification for module slug: it parses it through the adapter,
// claims its event key, and reconciles. It reports whether the event had been seen already.
// An error wrapping plugins.ErrInvalidRequest means the body is not a notification at all;
// any other error means nothing was recorded and the delivery may be repeated.
func (h *Handler) Handle(ctx context.Context, slug string, req plugins.WebhookRequest) (Result, bool, error) {
	key, err := eventKey(req.Body)
	if err != nil {
		return "", false, err
	}
	ad, err := h.d.Adapters.Get(ctx, slug)
	if err != nil {
		return "", false, fmt.Errorf("webhook %s: module: %w", slug, err)
	}
	// An adapter that did not announce webhooks is not asked to parse one.
	if d, err := ad.Describe(ctx); err != nil {
		return "", false, fmt.Errorf("webhook %s: module: %w", slug, err)
	} else if !d.Can(plugins.CanWebhook) {
		return "", false, fmt.Errorf("webhook %s: the module takes no notifications: %w", slug, plugins.ErrInvalidRequest)
	}
	ev, err := ad.ParseWebhook(ctx, req)
	if err != nil {
		return "", false, fmt.Errorf("webhook %s: %w", slug, err)
	}
	e := &Event{Provider: slug, EventKey: key, Kind: string(ev.Kind), ProviderID: ev.ProviderID, Attempt: ev.Attempt, Result: Processing}
	seen, err := h.claim(ctx, e)
	if err != nil || seen != "" {
		return seen, seen != "", err
	}
	if err := h.reconcile(ctx, slug, ad, ev, e); err != nil {
		// Let the next delivery try again from the start.
		if derr := h.d.Store.DB.WithContext(context.WithoutCancel(ctx)).Delete(&Event{}, e.ID).Error; derr != nil {
			h.d.Log.Error("webhook claim not released", "id", e.ID, "err", derr)
		}
		return "", false, err
	}
	if !e.recorded {
		if err := record(ctx, h.d.Store.DB, e); err != nil {
			return "", false, fmt.Errorf("webhook %s: %w", slug, err)
		}
	}
	return e.Result, false, nil
}

// record writes the event's result.
func record(ctx context.Context, tx *gorm.DB, e *Event) error {
	err := tx.WithContext(ctx).Model(&Event{}).Where("id = ?", e.ID).
		Updates(map[string]any{"result": e.Result, "settlement_id": e.SettlementID, "updated_at": tx.NowFunc()}).Error
	if err != nil {
		return fmt.Errorf("record event %d: %w", e.ID, err)
	}
	e.recorded = true
	return nil
}

// eventKey is the SHA-256 of the body re-encoded with sorted keys and no spacing, so that a
// redelivery that formats the same JSON differently is still the same event.
func eventKey(body []byte) (string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("webhook body is not JSON: %v: %w", err, plugins.ErrInvalidRequest)
	}
	if _, ok := v.(map[string]any); !ok {
		return "", fmt.Errorf("webhook body is not a JSON object: %w", plugins.ErrInvalidRequest)
	}
	canon, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("webhook body: %w", err)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// claim inserts the event; the unique key on (provider, event_key) makes a second delivery
// fail the insert. It returns the earlier result for a duplicate, "" when this delivery owns
// the event now.
func (h *Handler) claim(ctx context.Context, e *Event) (Result, error) {
	db := h.d.Store.DB.WithContext(ctx)
	now := db.NowFunc()
	e.CreatedAt, e.UpdatedAt = now, now
	err := db.Create(e).Error
	if err == nil {
		return "", nil
	}
	if !store.IsDuplicate(err) {
		return "", fmt.Errorf("webhook %s: claim: %w", e.Provider, err)
	}
	var prev Event
	if err := db.Where("provider = ? AND event_key = ?", e.Provider, e.EventKey).First(&prev).Error; err != nil {
		return "", fmt.Errorf("webhook %s: claim: %w", e.Provider, err)
	}
	if prev.Result != Processing || prev.UpdatedAt.After(now.Add(-claimLease)) {
		return prev.Result, nil
	}
	// A claim abandoned by a crash: take it over, guarded so only one delivery does.
	res := db.Model(&Event{}).Where("id = ? AND result = ? AND updated_at = ?", prev.ID, Processing, prev.UpdatedAt).
		Update("updated_at", now)
	if res.Error != nil {
		return "", fmt.Errorf("webhook %s: take over claim: %w", e.Provider, res.Error)
	}
	if res.RowsAffected != 1 {
		return Processing, nil
	}
	e.ID = prev.ID
	return "", nil
}

// actor is how webhook-caused history rows name their cause.
func actor(slug string) string { return "webhook:" + slug }

// reconcile acts on a parsed notification. Nothing in the body is believed: a known settlement
// is referenced (Reference resolves it only if it was pending or unknown), a pending checkout
// is confirmed the way the widget result would have confirmed it (the adapter references the
// transaction and checks it belongs to this attempt and amount), and a transaction kessai does
// not hold goes to the error log once the provider says it exists.
func (h *Handler) reconcile(ctx context.Context, slug string, ad plugins.Adapter, ev plugins.WebhookEvent, e *Event) error {
	if ev.Kind != plugins.EventPayment {
		// An authentication notification carries a buyer token that kessai receives with the
		// transaction itself (Confirm) when it needs one; there is nothing to reconcile.
		e.Result = Ignored
		return nil
	}
	s, err := h.find(ctx, slug, ev)
	if err != nil {
		return err
	}
	if s == nil {
		return h.unknown(ctx, slug, ad, ev, e)
	}
	e.SettlementID = &s.ID
	switch {
	case s.WcTransID == ev.ProviderID:
		_, err := h.d.Settlements.Reference(ctx, 0, s.ID, actor(slug))
		if err != nil && !errors.Is(err, settlement.ErrUnresolved) {
			return fmt.Errorf("webhook %s: reference %s: %w", slug, s.TransID, err)
		}
		e.Result = Referenced
		return nil
	case h.openAttempt(ctx, s, ev) != nil:
		// A call kessai made whose answer was lost (a 取引修正, a continuation charge, a widget
		// result): the notification names its transaction. The id is only a hint; Resolve
		// references it and believes it only under the attempt's own merchant reference.
		a := h.openAttempt(ctx, s, ev)
		if err := settlement.NoteProviderID(ctx, h.d.Store.DB, a.ID, ev.ProviderID); err != nil {
			return fmt.Errorf("webhook %s: %w", slug, err)
		}
		if _, err := h.d.Settlements.Resolve(ctx, s.ID, actor(slug)); err != nil && !errors.Is(err, settlement.ErrUnresolved) {
			return fmt.Errorf("webhook %s: resolve %s: %w", slug, s.TransID, err)
		}
		e.Result = Referenced
		return nil
	case s.Attempt == ev.Attempt && (s.Status == settlement.Pending || s.Status == settlement.Abandoned) && s.WcTransID == "" && s.ContinuationChargeID == nil:
		o, err := h.d.Orders.Get(ctx, 0, s.OrderID)
		if err != nil {
			return fmt.Errorf("webhook %s: order of %s: %w", slug, s.TransID, err)
		}
		// Only the id is passed on: the adapter references it and compares the transaction
		// with the order, so a forged amount or state in the body has no say.
		payload, err := json.Marshal(map[string]string{"id": ev.ProviderID})
		if err != nil {
			return fmt.Errorf("webhook %s: %w", slug, err)
		}
		r, err := h.d.Settlements.Confirm(ctx, s.ID, payload, o.Plugin(s.Attempt), actor(slug))
		switch {
		case errors.Is(err, settlement.ErrConflict):
			// The widget result was recorded at the same moment: it did the work.
			e.Result = Referenced
		case err != nil:
			return fmt.Errorf("webhook %s: confirm %s: %w", slug, s.TransID, err)
		case r.Settlement != nil && r.Settlement.Status != settlement.Pending:
			e.Result = Confirmed
		default:
			// The provider's transaction is not this order's (the adapter said why; the
			// settlement service logged it): the checkout stays open.
			e.Result = Referenced
		}
		return nil
	}
	// Another attempt of a known settlement: a stale one (the buyer retried after NG) or the
	// new transaction of a 取引修正 still in flight, whose own answer records it.
	h.d.Log.Info("webhook for another attempt ignored", "provider", slug, "settlement", s.TransID,
		"attempt", ev.Attempt, "current", s.Attempt, "status", s.Status)
	e.Result = Ignored
	return nil
}

// openAttempt is the settlement's attempt that sent ev's merchant reference and still waits
// for its answer, or nil.
func (h *Handler) openAttempt(ctx context.Context, s *settlement.Settlement, ev plugins.WebhookEvent) *settlement.Attempt {
	if ev.Attempt == "" || ev.ProviderID == "" {
		return nil
	}
	a, err := settlement.AttemptByNo(ctx, h.d.Store.DB, ev.Attempt)
	if err != nil || a.SettlementID != s.ID || a.State != settlement.AttemptOpen {
		return nil
	}
	return a
}

// find looks the settlement up by the provider's transaction id, then by the attempt
// (shop_transaction_no). Attempts are "<trans_id>-<n>", so the link key's unique index finds
// them without an index on attempt.
func (h *Handler) find(ctx context.Context, slug string, ev plugins.WebhookEvent) (*settlement.Settlement, error) {
	db := h.d.Store.DB
	if ev.ProviderID != "" {
		s, err := settlement.OfTransaction(ctx, db, slug, ev.ProviderID)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, settlement.ErrNotFound) {
			return nil, fmt.Errorf("webhook %s: find %s: %w", slug, ev.ProviderID, err)
		}
	}
	i := strings.LastIndexByte(ev.Attempt, '-')
	if i <= 0 {
		return nil, nil
	}
	s, err := settlement.OfLinkKey(ctx, db, slug, ev.Attempt[:i])
	if errors.Is(err, settlement.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook %s: find attempt %s: %w", slug, ev.Attempt, err)
	}
	return s, nil
}

// Messages written to the error log, for the admin who reads it.
const (
	msgUnknown = "kessaiに該当する決済がない取引の通知を受け取りました。atoneの加盟店管理システムで取引を確認し、不要な取引であれば全額課金払戻してください。"
)

// kindReport marks the row that says a transaction unknown to kessai was written to the error
// log. It lives beside the notifications, under a key no body hashes to (reportKey), so that
// the unique (provider, event_key) makes the report happen once, however many differently
// worded bodies name the transaction and however many arrive at the same moment.
const kindReport = "unknown_reported"

// reportKey is the event key of the report of the provider's transaction id: a hash like a
// body's, of a text that is never a JSON body.
func reportKey(providerID string) string {
	sum := sha256.Sum256([]byte("unknown transaction reported\x00" + providerID))
	return hex.EncodeToString(sum[:])
}

// errReported ends the error-log transaction when another delivery reported the transaction.
var errReported = errors.New("inbound: unknown transaction reported already")

// unknown handles a transaction kessai has no settlement for. atone asks merchants to refund
// such transactions; a person decides, so it goes to the error log, but only once atone
// confirms the transaction exists, so that forged notifications cannot fill the log, and only
// once per transaction, so that bodies varied around one real id cannot either. Nothing the
// body says is written: the merchant reference is the one atone holds, quoted if it holds
// anything that is not plain text.
func (h *Handler) unknown(ctx context.Context, slug string, ad plugins.Adapter, ev plugins.WebhookEvent, e *Event) error {
	if ev.ProviderID == "" {
		e.Result = Ignored
		return nil
	}
	db := h.d.Store.DB.WithContext(ctx)
	report := &Event{Provider: slug, EventKey: reportKey(ev.ProviderID), Kind: kindReport, ProviderID: ev.ProviderID, Result: Unknown}
	var n int64
	if err := db.Model(&Event{}).Where("provider = ? AND event_key = ?", slug, report.EventKey).Count(&n).Error; err != nil {
		return fmt.Errorf("webhook %s: report of %s: %w", slug, ev.ProviderID, err)
	}
	if n > 0 {
		// Reported already: neither the provider nor the error log hears of it again.
		e.Result = Unknown
		return nil
	}
	ref, err := ad.Reference(ctx, plugins.ReferenceRequest{ProviderID: ev.ProviderID, Attempt: ev.Attempt})
	if err != nil {
		return fmt.Errorf("webhook %s: reference unknown %s: %w", slug, ev.ProviderID, err)
	}
	switch ref.Outcome {
	case plugins.Processed:
	case plugins.Declined:
		h.d.Log.Warn("webhook for a transaction the provider does not know", "provider", slug, "id", ev.ProviderID, "code", ref.Code)
		e.Result = NotAtProvider
		return nil
	default:
		return fmt.Errorf("webhook %s: reference unknown %s: outcome %s", slug, ev.ProviderID, ref.Outcome)
	}
	data := map[string]any{
		"provider_id": plain(ev.ProviderID), "shop_transaction_no": plain(ref.Attempt), "state": ref.State.String(),
		"amount": ref.Amount, "notified_amount": ev.Amount, "message": msgUnknown,
	}
	result := strings.ToUpper(slug) + " WEBHOOK UNKNOWN"
	e.Result = Unknown
	now := db.NowFunc()
	report.CreatedAt, report.UpdatedAt = now, now
	// The report, the row and the event's result together: a crash between them would let a
	// redelivery write the row twice, or never.
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(report).Error; err != nil {
			if store.IsDuplicate(err) {
				return errReported
			}
			return err
		}
		if err := errlog.Write(ctx, tx, plain(ev.ProviderID), slug, result, data, nil); err != nil {
			return err
		}
		return record(ctx, tx, e)
	})
	if errors.Is(err, errReported) {
		return nil // the result is recorded by Handle
	}
	if err != nil {
		e.recorded = false
		return fmt.Errorf("webhook %s: error log: %w", slug, err)
	}
	return nil
}

// maxPlain bounds a provider-held text written to the error log.
const maxPlain = 128

// plain is s as the error log may show it: cut to maxPlain bytes, and quoted Go-style (\r,
// \n, \x1b) when it holds a control or other non-graphic character, so that it reads as one
// value wherever the row is shown.
func plain(s string) string {
	if len(s) > maxPlain {
		s = s[:maxPlain]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	for _, r := range s {
		if !unicode.IsGraphic(r) {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}
