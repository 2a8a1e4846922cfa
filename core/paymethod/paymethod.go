// Package paymethod owns the shop's payment methods (基本設定 > 支払方法): name, explanation,
// settlement code, module, storefront order and 使用/停止, with Welcart's rules. Orders refer
// to a payment method by its name, as Welcart's do.
package paymethod

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/store"
)

// Use values, as Welcart stores them.
const (
	Activate   = "activate"   // 使用
	Deactivate = "deactivate" // 停止
)

// BaseCodes are Welcart's own settlement codes (usces_payment_structure's defaults), allowed
// whatever modules are in use. acting, 代行業者決済, is Welcart's generic code of a settlement
// module named in the method's module field (its older form, e.g. "paypal.php").
var BaseCodes = map[string]string{
	"acting":           "代行業者決済",
	"transferAdvance":  "振込み（前払い）",
	"transferDeferred": "振込み（後払い）",
	"COD":              "代金引換",
}

// BaseOrder is the order of BaseCodes in Welcart's 決済種別 list.
var BaseOrder = []string{"acting", "transferAdvance", "transferDeferred", "COD"}

// Acting is Welcart's generic code of a settlement module (代行業者決済).
const Acting = "acting"

// Method is one payment method.
type Method struct {
	ID          int64     `gorm:"primaryKey" json:"id"`
	Name        string    `json:"name"`
	Explanation string    `json:"explanation"`
	Settlement  string    `json:"settlement"`
	Module      string    `json:"module"`
	Sort        int       `json:"sort"`
	Use         string    `gorm:"column:use" json:"use"`
	CreatedAt   time.Time `json:"-"`
	UpdatedAt   time.Time `json:"-"`
}

// TableName is the payment_methods table.
func (Method) TableName() string { return "payment_methods" }

// Active reports 使用.
func (m Method) Active() bool { return m.Use == Activate }

// Errors; *RuleError carries the Japanese message shown to the admin.
var (
	ErrNotFound = fault.Sentinel("paymethod: no such payment method", fault.NotFound, "not_found", "支払方法が見つかりません。")
	ErrRule     = errors.New("paymethod: refused by a payment method rule")
)

// RuleError is a refusal with the field at fault and the message to show.
type RuleError struct {
	Field   string
	Message string
	// InUse: what refuses is the orders bought with the method, not the input (a delete
	// refused; 停止 is the way).
	InUse bool
}

func (e *RuleError) Error() string { return e.Message }

// Fault implements fault.Describer: invalid input (payment_method_rule), or a conflict with
// the orders that use the method (payment_method_in_use).
func (e *RuleError) Fault() fault.Detail {
	if e.InUse {
		return fault.Detail{Kind: fault.Conflict, Code: "payment_method_in_use", Message: e.Message, Field: e.Field}
	}
	return fault.Detail{Kind: fault.Invalid, Code: "payment_method_rule", Message: e.Message, Field: e.Field}
}

// Unwrap makes errors.Is(err, ErrRule) hold.
func (e *RuleError) Unwrap() error { return ErrRule }

// Messages shown on refusal.
const (
	msgNameRequired = "支払方法名を入力してください。"
	msgNameTaken    = "同じ支払方法名がすでに登録されています。"
	msgCodeUnknown  = "決済種別が正しくありません。利用中のクレジット決済モジュールの決済種別を選択してください。"
	msgInUse        = "この支払方法で購入された受注があるため削除できません。削除すると受注の支払方法が分からなくなります。削除せずに「停止」で更新してください。"
	msgUse          = "使用または停止を選択してください。"
	msgActingModule = "代行業者決済の支払方法には決済モジュールを入力してください。"
)

// Codes answers which settlement codes may be used now: those of modules in use, plus the base
// codes. The module host implements it.
type Codes interface {
	SettlementCodes(ctx context.Context) (map[string]string, error) // code → module slug
}

// CacheTTL is how long List and ByName trust what they read: every checkout names its payment
// method, and the storefront lists them on every page, while they change a few times a year.
// A change made through these Methods is seen at once; one made elsewhere (another replica)
// within CacheTTL.
const CacheTTL = 2 * time.Second

// Methods is the payment method registry.
type Methods struct {
	db    *gorm.DB
	codes Codes
	// Clock tells when the remembered methods are too old to trust; tests set a fake one.
	Clock clockwork.Clock

	mu   sync.Mutex
	gen  uint64 // raised by every change made here
	all  []Method
	read time.Time // when all was read; zero when nothing is remembered
}

// New returns the registry; codes may be nil until a module host exists (only base codes).
func New(db *gorm.DB, codes Codes) *Methods {
	return &Methods{db: db, codes: codes, Clock: clockwork.NewRealClock()}
}

// changed forgets the remembered methods after a change here.
func (m *Methods) changed() {
	m.mu.Lock()
	m.gen++
	m.all, m.read = nil, time.Time{}
	m.mu.Unlock()
}

// every returns all methods in storefront order, as read at most CacheTTL ago. The slice is
// shared: callers copy what they hand out.
func (m *Methods) every(ctx context.Context) ([]Method, error) {
	now := m.Clock.Now()
	m.mu.Lock()
	all, read, gen := m.all, m.read, m.gen
	m.mu.Unlock()
	if !read.IsZero() && now.Sub(read) < CacheTTL {
		return all, nil
	}
	if err := m.db.WithContext(ctx).Order("sort, id").Find(&all).Error; err != nil {
		return nil, fmt.Errorf("list payment methods: %w", err)
	}
	m.mu.Lock()
	if m.gen == gen { // nothing changed here since the read began
		m.all, m.read = all, now
	}
	m.mu.Unlock()
	return all, nil
}

// List returns the methods in storefront order; activeOnly keeps the 使用 ones.
func (m *Methods) List(ctx context.Context, activeOnly bool) ([]Method, error) {
	all, err := m.every(ctx)
	if err != nil {
		return nil, err
	}
	var out []Method
	for _, pm := range all {
		if !activeOnly || pm.Active() {
			out = append(out, pm)
		}
	}
	return out, nil
}

// Get returns a method by id.
func (m *Methods) Get(ctx context.Context, id int64) (*Method, error) {
	var pm Method
	err := m.db.WithContext(ctx).First(&pm, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("payment method %d: %w", id, err)
	}
	return &pm, nil
}

// ByName returns the method orders of that name refer to.
func (m *Methods) ByName(ctx context.Context, name string) (*Method, error) {
	all, err := m.every(ctx)
	if err != nil {
		return nil, err
	}
	for _, pm := range all {
		if pm.Name == name {
			return &pm, nil
		}
	}
	return nil, ErrNotFound
}

// Allowed returns the settlement codes a method may use now (code → module slug, "" for base).
func (m *Methods) Allowed(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for c := range BaseCodes {
		out[c] = ""
	}
	if m.codes != nil {
		codes, err := m.codes.SettlementCodes(ctx)
		if err != nil {
			return nil, err
		}
		for c, mod := range codes {
			out[c] = mod
		}
	}
	return out, nil
}

// Limit is one payment_methods column a method's input is stored in, and what fits there.
type Limit struct {
	Field string     // the JSON field and the column
	Type  string     // as the migration declares it: order.VarChar or order.LongText
	Max   int64      // characters (VARCHAR) or bytes (LONGTEXT)
	Text  order.Text // the characters it accepts
	Label string

	get func(*Method) string
}

// limits are checked in this order. The name is also what orders store in
// order_payment_name, so it follows the order's rule for that column.
var limits = []Limit{
	{Field: "name", Type: order.VarChar, Max: 191, Text: order.OneLine, Label: "支払方法名", get: func(m *Method) string { return m.Name }},
	{Field: "explanation", Type: order.LongText, Max: 1<<32 - 1, Text: order.FreeText, Label: "説明", get: func(m *Method) string { return m.Explanation }},
	{Field: "settlement", Type: order.VarChar, Max: 64, Text: order.OneLine, Label: "決済種別", get: func(m *Method) string { return m.Settlement }},
	{Field: "module", Type: order.VarChar, Max: 191, Text: order.OneLine, Label: "決済モジュール", get: func(m *Method) string { return m.Module }},
	{Field: "use", Type: order.VarChar, Max: 16, Text: order.OneLine, Label: "使用/停止", get: func(m *Method) string { return m.Use }},
}

// Limits returns the stored fields of a method and their limits.
func Limits() []Limit { return slices.Clone(limits) }

func (m *Methods) check(ctx context.Context, pm *Method) error {
	pm.Name = strings.TrimSpace(pm.Name)
	if pm.Name == "" {
		return &RuleError{Field: "name", Message: msgNameRequired}
	}
	if pm.Use == "" {
		pm.Use = Activate
	}
	for _, l := range limits {
		v := l.get(pm)
		if r, bad := l.Text.Refused(v); bad {
			return &RuleError{Field: l.Field, Message: fmt.Sprintf("%sに使用できない文字（%s）が含まれています。", l.Label, order.Describe(r))}
		}
		if l.Type == order.LongText && int64(len(v)) > l.Max {
			return &RuleError{Field: l.Field, Message: fmt.Sprintf("%sが長すぎます（%dバイトまで）。", l.Label, l.Max)}
		}
		if l.Type != order.LongText && int64(utf8.RuneCountInString(v)) > l.Max {
			return &RuleError{Field: l.Field, Message: fmt.Sprintf("%sは%d文字以内で入力してください。", l.Label, l.Max)}
		}
	}
	if pm.Use != Activate && pm.Use != Deactivate {
		return &RuleError{Field: "use", Message: msgUse}
	}
	allowed, err := m.Allowed(ctx)
	if err != nil {
		return err
	}
	mod, ok := allowed[pm.Settlement]
	if !ok {
		return &RuleError{Field: "settlement", Message: msgCodeUnknown}
	}
	if pm.Module == "" {
		pm.Module = mod
	}
	if pm.Settlement == Acting && pm.Module == "" {
		// Welcart's form asks for it too: acting names its module there.
		return &RuleError{Field: "module", Message: msgActingModule}
	}
	return nil
}

// Add appends a method at the end of the storefront order, audited as actor's.
func (m *Methods) Add(ctx context.Context, pm Method, actor string) (*Method, error) {
	defer m.changed()
	if err := m.check(ctx, &pm); err != nil {
		return nil, err
	}
	err := m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var max struct{ N *int }
		if err := tx.Model(&Method{}).Select("MAX(sort) AS n").Scan(&max).Error; err != nil {
			return err
		}
		pm.ID, pm.Sort = 0, 0
		if max.N != nil {
			pm.Sort = *max.N + 1
		}
		if err := tx.Create(&pm).Error; err != nil {
			return err
		}
		return recordChange(ctx, tx, actor, "paymethod.add", pm.ID, describe(pm))
	})
	if store.IsDuplicate(err) {
		return nil, &RuleError{Field: "name", Message: msgNameTaken}
	}
	if err != nil {
		return nil, fmt.Errorf("add payment method %q: %w", pm.Name, err)
	}
	return &pm, nil
}

// Update changes a method's name, explanation, code, module and use. Renaming detaches old
// orders, which keep the name they were bought with; that is Welcart's behaviour too. The
// change is audited as actor's.
func (m *Methods) Update(ctx context.Context, id int64, pm Method, actor string) (*Method, error) {
	defer m.changed()
	cur, err := m.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := m.check(ctx, &pm); err != nil {
		return nil, err
	}
	cur.Name, cur.Explanation, cur.Settlement, cur.Module, cur.Use = pm.Name, pm.Explanation, pm.Settlement, pm.Module, pm.Use
	err = m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Model(&Method{}).Where("id = ?", id).Updates(map[string]any{
			"name": cur.Name, "explanation": cur.Explanation, "settlement": cur.Settlement, "module": cur.Module, "use": cur.Use,
			"updated_at": tx.NowFunc(),
		}).Error
		if err != nil {
			return err
		}
		return recordChange(ctx, tx, actor, "paymethod.update", id, describe(*cur))
	})
	if store.IsDuplicate(err) {
		return nil, &RuleError{Field: "name", Message: msgNameTaken}
	}
	if err != nil {
		return nil, fmt.Errorf("update payment method %d: %w", id, err)
	}
	return cur, nil
}

// SetUse switches a method between 使用 and 停止, audited as actor's.
func (m *Methods) SetUse(ctx context.Context, id int64, use string, actor string) error {
	defer m.changed()
	if use != Activate && use != Deactivate {
		return &RuleError{Field: "use", Message: msgUse}
	}
	return m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Method{}).Where("id = ?", id).Updates(map[string]any{"use": use, "updated_at": tx.NowFunc()})
		if res.Error != nil {
			return fmt.Errorf("payment method %d: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return recordChange(ctx, tx, actor, "paymethod.update", id, map[string]any{"use": use})
	})
}

// Sort sets the storefront order: ids in the order wanted. Every method must be named once.
// The change is audited as actor's.
func (m *Methods) Sort(ctx context.Context, ids []int64, actor string) error {
	defer m.changed()
	return m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var all []int64
		if err := tx.Model(&Method{}).Pluck("id", &all).Error; err != nil {
			return err
		}
		got := slices.Clone(ids)
		slices.Sort(got)
		slices.Sort(all)
		if !slices.Equal(got, all) {
			return &RuleError{Field: "ids", Message: "並び順には全ての支払方法を一度ずつ指定してください。"}
		}
		for i, id := range ids {
			if err := tx.Model(&Method{}).Where("id = ?", id).Update("sort", i).Error; err != nil {
				return err
			}
		}
		return recordChange(ctx, tx, actor, "paymethod.sort", 0, map[string]any{"ids": ids})
	})
}

// Delete removes a method no order uses. A method that past orders were bought with is
// refused, with the manual's advice to use 停止 instead: deleting it would leave those orders
// without a known payment method. The change is audited as actor's.
func (m *Methods) Delete(ctx context.Context, id int64, actor string) error {
	defer m.changed()
	return m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var pm Method
		if err := tx.First(&pm, id).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		n, err := order.PaidWith(ctx, tx, pm.Name)
		if err != nil {
			return err
		}
		if n > 0 {
			return &RuleError{Field: "id", Message: msgInUse, InUse: true}
		}
		if err := tx.Delete(&Method{}, id).Error; err != nil {
			return err
		}
		// Renumber so sort stays 0..n-1, as Welcart does after a delete.
		var rest []Method
		if err := tx.Order("sort, id").Find(&rest).Error; err != nil {
			return err
		}
		for i, r := range rest {
			if r.Sort != i {
				if err := tx.Model(&Method{}).Where("id = ?", r.ID).Update("sort", i).Error; err != nil {
					return err
				}
			}
		}
		return recordChange(ctx, tx, actor, "paymethod.delete", id, map[string]any{"name": pm.Name})
	})
}

// recordChange writes the audit row of a change in the change's transaction: the change and
// its record commit together or not at all.
func recordChange(ctx context.Context, tx *gorm.DB, actor, action string, id int64, detail any) error {
	target := ""
	if id != 0 {
		target = strconv.FormatInt(id, 10)
	}
	return audit.Record(ctx, tx, actor, action, target, detail)
}

// describe is what the audit log keeps of a method.
func describe(pm Method) map[string]any {
	return map[string]any{"name": pm.Name, "settlement": pm.Settlement, "module": pm.Module, "use": pm.Use}
}
