package hook

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/secret"
)

// SecretPrefix starts every endpoint secret, so a leaked one is recognisable in a scan.
const SecretPrefix = "whsec_"

// MaxEndpoints bounds a shop's endpoints: each event is one delivery per endpoint.
const MaxEndpoints = 16

// maxURL keeps URLs inside the column and out of abuse.
const maxURL = 2048

// Endpoint is a URL a shop receives events at.
type Endpoint struct {
	ID     int64 `gorm:"primaryKey"`
	ShopID int64
	URL    string `gorm:"column:url"`
	// Events is the comma-separated list of subscribed types, or "*".
	Events    string
	Secret    []byte // sealed; see secretContext
	CreatedAt time.Time
	DeletedAt *time.Time
}

// TableName is the webhook_endpoints table.
func (Endpoint) TableName() string { return "webhook_endpoints" }

// Types returns the subscribed event types.
func (e *Endpoint) Types() []Type {
	var out []Type
	for _, s := range strings.Split(e.Events, ",") {
		if s != "" {
			out = append(out, Type(s))
		}
	}
	return out
}

func (e *Endpoint) subscribed(t Type) bool {
	for _, s := range e.Types() {
		if s == t || s == AllTypes {
			return true
		}
	}
	return false
}

// secretContext binds a sealed secret to its row, so a sealed value copied into another
// shop's endpoint does not open there.
func secretContext(e *Endpoint) string {
	return "webhook_endpoint:" + strconv.FormatInt(e.ShopID, 10) + ":" + strconv.FormatInt(e.ID, 10) + ":secret"
}

// Errors callers branch on. Bad input is a copy of ErrInvalid naming its field and rule.
var (
	ErrNotFound = fault.Sentinel("hook: no such webhook endpoint", fault.NotFound,
		"not_found", "Webhookの送信先が見つかりません。").WithField("id")
	ErrInvalid = fault.Sentinel("hook: invalid webhook endpoint", fault.Invalid,
		"invalid", "Webhookの送信先の指定が正しくありません。")
	ErrTooMany = fault.Sentinel(fmt.Sprintf("hook: a shop may have at most %d webhook endpoints", MaxEndpoints), fault.Conflict,
		"too_many_endpoints", fmt.Sprintf("Webhookの送信先は1ショップにつき%d件まで登録できます。不要な送信先を削除してから登録してください。", MaxEndpoints))
)

// invalid refuses field's input with msg, which names the field.
func invalid(field, msg string) error { return ErrInvalid.WithField(field).WithMessage(msg) }

// Endpoints is the endpoint registry over the database.
type Endpoints struct {
	db     *gorm.DB
	box    *secret.Box
	policy Policy
}

// NewEndpoints returns the registry; box seals the signing secrets, and p says which URLs may
// be registered and, through NewSender, dialed. The zero Policy is production's.
func NewEndpoints(db *gorm.DB, box *secret.Box, p Policy) *Endpoints {
	return &Endpoints{db: db, box: box, policy: p}
}

// Create registers an endpoint for a shop and returns it with its signing secret in plain
// text: the only time the secret is ever visible.
func (s *Endpoints) Create(ctx context.Context, shopID int64, rawURL string, types []Type) (*Endpoint, string, error) {
	u, err := s.policy.CheckURL(ctx, rawURL)
	if err != nil {
		return nil, "", err
	}
	events, err := checkTypes(types)
	if err != nil {
		return nil, "", err
	}
	plain := newSecret()
	ep := &Endpoint{ShopID: shopID, URL: u, Events: events, Secret: []byte{}}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Endpoint{}).Where("shop_id = ? AND deleted_at IS NULL", shopID).Count(&n).Error; err != nil {
			return err
		}
		if n >= MaxEndpoints {
			return ErrTooMany
		}
		// The row id is part of the seal's context, so the secret is written once the id is known.
		if err := tx.Create(ep).Error; err != nil {
			return err
		}
		ep.Secret = s.box.SealString(plain, secretContext(ep))
		return tx.Model(ep).Update("secret", ep.Secret).Error
	})
	if err != nil {
		return nil, "", fmt.Errorf("create webhook endpoint for shop %d: %w", shopID, err)
	}
	return ep, plain, nil
}

// List returns a shop's active endpoints, oldest first.
func (s *Endpoints) List(ctx context.Context, shopID int64) ([]Endpoint, error) {
	eps, err := active(ctx, s.db, shopID)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints of shop %d: %w", shopID, err)
	}
	return eps, nil
}

func active(ctx context.Context, db *gorm.DB, shopID int64) ([]Endpoint, error) {
	var eps []Endpoint
	err := db.WithContext(ctx).Where("shop_id = ? AND deleted_at IS NULL", shopID).Order("id").Find(&eps).Error
	return eps, err
}

// Get returns one active endpoint of a shop, or ErrNotFound (also for another shop's id).
func (s *Endpoints) Get(ctx context.Context, shopID, id int64) (*Endpoint, error) {
	var ep Endpoint
	err := s.db.WithContext(ctx).Where("id = ? AND shop_id = ? AND deleted_at IS NULL", id, shopID).First(&ep).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("webhook endpoint %d: %w", id, err)
	}
	return &ep, nil
}

// Delete deactivates an endpoint. The row stays, so its delivery log stays readable and
// messages already queued for it die at their next attempt instead of going out.
func (s *Endpoints) Delete(ctx context.Context, shopID, id int64) error {
	res := s.db.WithContext(ctx).Model(&Endpoint{}).
		Where("id = ? AND shop_id = ? AND deleted_at IS NULL", id, shopID).
		Update("deleted_at", s.db.NowFunc())
	if res.Error != nil {
		return fmt.Errorf("delete webhook endpoint %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// Secret opens an endpoint's signing secret.
func (s *Endpoints) Secret(ep *Endpoint) (string, error) {
	plain, err := s.box.OpenString(ep.Secret, secretContext(ep))
	if err != nil {
		return "", fmt.Errorf("webhook endpoint %d secret: %w", ep.ID, err)
	}
	return plain, nil
}

// MaskedSecret shows that a secret is set and which one, without showing it.
func (s *Endpoints) MaskedSecret(ep *Endpoint) string {
	plain, err := s.Secret(ep)
	if err != nil {
		return "(unreadable)"
	}
	return secret.Mask(plain)
}

// Deliveries returns an endpoint's delivery log, newest attempt first.
func (s *Endpoints) Deliveries(ctx context.Context, shopID, id int64, limit int) ([]outbox.Delivery, error) {
	if _, err := s.getAny(ctx, shopID, id); err != nil {
		return nil, err
	}
	ds, err := outbox.Deliveries(ctx, s.db, outbox.Filter{Kind: Kind, Target: strconv.FormatInt(id, 10), ShopID: shopID, Limit: limit})
	if err != nil {
		return nil, err
	}
	for i := range ds {
		ds[i].EventID = eventIDOf(ds[i].EventID)
	}
	return ds, nil
}

// getAny finds an endpoint of the shop, deleted or not.
func (s *Endpoints) getAny(ctx context.Context, shopID, id int64) (*Endpoint, error) {
	var ep Endpoint
	err := s.db.WithContext(ctx).Where("id = ? AND shop_id = ?", id, shopID).First(&ep).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("webhook endpoint %d: %w", id, err)
	}
	return &ep, nil
}

func checkTypes(types []Type) (string, error) {
	if len(types) == 0 {
		return "", invalid("events", `events must list at least one event type, or "*" for all`)
	}
	seen := map[Type]bool{}
	var out []string
	for i, t := range types {
		if t != AllTypes && !t.Known() {
			field := "events[" + strconv.Itoa(i) + "]"
			return "", invalid(field, fmt.Sprintf("%s: %q is not an event type kessai sends (see the list of event types)", field, t))
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, string(t))
		}
	}
	if seen[AllTypes] {
		return string(AllTypes), nil
	}
	return strings.Join(out, ","), nil
}

func newSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return SecretPrefix + lowerBase32.EncodeToString(b[:])
}
