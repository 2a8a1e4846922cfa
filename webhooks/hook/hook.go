// Package hook owns kessai's outbound webhooks to shops: the endpoints a shop registers (URL,
// event types, signing secret), the events published to them (settlement.captured, …), the
// signed POST that carries each event, and Verify, which receivers use to check it.
//
// Publish runs inside the caller's transaction and enqueues one outbox row per subscribed
// endpoint, so an event goes out if and only if the change it describes committed; the outbox
// dispatcher retries and logs the deliveries. Delivery is at least once: receivers deduplicate
// on the event id (body "id", header Kessai-Event-Id), which is the same for every endpoint and
// every retry.
package hook

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/outbox"
)

// Kind is the outbox kind of a shop webhook delivery.
const Kind = "shop_webhook"

// Type names an event.
type Type string

// The events a shop can subscribe to.
const (
	SettlementAuthorized Type = "settlement.authorized"
	SettlementCaptured   Type = "settlement.captured"
	SettlementCancelled  Type = "settlement.cancelled"
	SettlementModified   Type = "settlement.modified"
	SettlementError      Type = "settlement.error"
	ContinuationCharged  Type = "continuation.charged"
	ContinuationFailed   Type = "continuation.failed"
)

// AllTypes subscribes an endpoint to every event, including those added later.
const AllTypes Type = "*"

// Types lists every event type, in the order shown to shops.
var Types = []Type{
	SettlementAuthorized, SettlementCaptured, SettlementCancelled, SettlementModified, SettlementError,
	ContinuationCharged, ContinuationFailed,
}

// Known reports whether t is an event type kessai publishes.
func (t Type) Known() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Event is the JSON body of every webhook: {id, type, created, data}.
type Event struct {
	ID      string          `json:"id"`
	Type    Type            `json:"type"`
	Created int64           `json:"created"` // Unix seconds
	Data    json.RawMessage `json:"data"`
}

// ErrType is returned by Publish for an event type kessai does not define.
var ErrType = fault.Sentinel("hook: unknown event type", fault.Invalid, "unknown_event_type", "kessaiが送信しないイベントの種類です。")

// Publish records an event for shopID inside tx and enqueues its delivery to every active
// endpoint of the shop subscribed to typ. With no such endpoint nothing is enqueued; the
// event is still returned, so callers can log its id.
func Publish(ctx context.Context, tx *gorm.DB, shopID int64, typ Type, data any) (Event, error) {
	if !typ.Known() {
		return Event{}, fmt.Errorf("publish %q: %w", typ, ErrType)
	}
	eps, err := active(ctx, tx, shopID)
	if err != nil {
		return Event{}, fmt.Errorf("publish %s: %w", typ, err)
	}
	return PublishTo(ctx, tx, eps, shopID, typ, data)
}

// Active returns a shop's active endpoints, for PublishTo.
func Active(ctx context.Context, db *gorm.DB, shopID int64) ([]Endpoint, error) {
	eps, err := active(ctx, db, shopID)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints of shop %d: %w", shopID, err)
	}
	return eps, nil
}

// PublishTo is Publish to endpoints the caller read with Active: a caller that publishes many
// events in a row (the continuation run) reads the shop's endpoints once.
func PublishTo(ctx context.Context, tx *gorm.DB, eps []Endpoint, shopID int64, typ Type, data any) (Event, error) {
	if !typ.Known() {
		return Event{}, fmt.Errorf("publish %q: %w", typ, ErrType)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("publish %s: encode data: %w", typ, err)
	}
	ev := Event{ID: newEventID(), Type: typ, Created: tx.NowFunc().Unix(), Data: raw}
	// The body is encoded once here and stored as is: the bytes signed at each retry are the
	// bytes the shop saw on the first attempt.
	body, err := json.Marshal(ev)
	if err != nil {
		return Event{}, fmt.Errorf("publish %s: encode: %w", typ, err)
	}
	for _, ep := range eps {
		if !ep.subscribed(typ) {
			continue
		}
		target := strconv.FormatInt(ep.ID, 10)
		_, err := outbox.Enqueue(ctx, tx, outbox.Message{
			Kind: Kind, ShopID: shopID, Target: target,
			// The outbox wants an id per row; the event id is per event, so each endpoint's
			// row is the event id qualified by the endpoint.
			EventID: ev.ID + "/" + target,
			Payload: body,
		})
		if err != nil {
			return Event{}, fmt.Errorf("publish %s to endpoint %d: %w", typ, ep.ID, err)
		}
	}
	return ev, nil
}

// eventIDOf undoes the qualification Publish puts on outbox event ids.
func eventIDOf(outboxEventID string) string {
	id, _, _ := strings.Cut(outboxEventID, "/")
	return id
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newEventID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return "evt_" + lowerBase32.EncodeToString(b[:])
}
