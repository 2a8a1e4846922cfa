// Package errlog is the 決済エラーログ: one row per settlement failure an admin must look at
// (declined charges, results that do not match, notifications for unknown transactions), the
// notice shown on the order list while any row remains, and Welcart's Shift_JIS export.
package errlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/option"

	"github.com/kessai/kessai/core/fault"
)

// Entry is one error-log row, in Welcart's shape (datetime, log_key, acting, result, data).
type Entry struct {
	ID       int64     `gorm:"primaryKey" json:"id"`
	Datetime time.Time `json:"datetime"`
	// LogKey is the リンクキー: the settlement's trans_id, or the provider id when kessai has no
	// settlement for it.
	LogKey string `json:"log_key"`
	// Acting is the 決済種別 (module and operation, e.g. "atone").
	Acting string `json:"acting"`
	// Result is the ステータス, e.g. "ATONE AUTHORIZE NG".
	Result  string `json:"result"`
	Data    string `json:"-"` // JSON object of details
	OrderID *int64 `json:"order_id,omitempty"`
}

// TableName is the error_logs table.
func (Entry) TableName() string { return "error_logs" }

// Fields decodes Data into key/value pairs, for the 詳細 dialog and the export.
// Numbers keep their text (json.Number): an amount of 1000000 reads 1000000, not 1e+06.
func (e Entry) Fields() map[string]any {
	m := map[string]any{}
	d := json.NewDecoder(strings.NewReader(e.Data))
	d.UseNumber()
	_ = d.Decode(&m)
	return m
}

// noticeOption holds the time of the last error while the notice is up (Welcart's
// usces_settlement_notice).
const noticeOption = "settlement_notice"

// ErrNotFound is returned for an unknown row id. It is declared an error, not a *fault.Error,
// so that `err := errlog.ErrNotFound` starts a variable any error may be assigned to.
var ErrNotFound error = fault.Sentinel("errlog: no such row", fault.NotFound, "not_found", "決済エラーログが見つかりません。")

// Write appends a row in the caller's transaction and raises the notice.
func Write(ctx context.Context, tx *gorm.DB, key, acting, result string, data map[string]any, orderID *int64) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("error log %s: %w", key, err)
	}
	now := tx.NowFunc()
	e := Entry{Datetime: now, LogKey: key, Acting: acting, Result: result, Data: string(b), OrderID: orderID}
	if err := tx.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("error log %s: %w", key, err)
	}
	if err := option.Set(ctx, tx, option.Value{Name: noticeOption, Value: now.Format(time.RFC3339Nano)}); err != nil {
		return fmt.Errorf("error log notice: %w", err)
	}
	return nil
}

// Notice returns the time of the last error while rows remain; zero when there is nothing to
// show. Deleting the last row clears it.
func Notice(ctx context.Context, db *gorm.DB) (time.Time, error) {
	var n int64
	if err := db.WithContext(ctx).Model(&Entry{}).Count(&n).Error; err != nil {
		return time.Time{}, err
	}
	if n == 0 {
		return time.Time{}, nil
	}
	opts, err := option.Get(ctx, db, noticeOption)
	if err != nil {
		return time.Time{}, err
	}
	at, ok := opts[noticeOption]
	if !ok {
		var last Entry
		if err := db.WithContext(ctx).Order("id DESC").First(&last).Error; err != nil {
			return time.Time{}, err
		}
		return last.Datetime, nil
	}
	return time.Parse(time.RFC3339Nano, at)
}

// List returns rows newest first.
func List(ctx context.Context, db *gorm.DB, limit, offset int) ([]Entry, int64, error) {
	var total int64
	if err := db.WithContext(ctx).Model(&Entry{}).Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []Entry
	q := db.WithContext(ctx).Order("id DESC")
	if limit > 0 {
		q = q.Limit(limit).Offset(offset)
	}
	if err := q.Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("list error log: %w", err)
	}
	return out, total, nil
}

// Get returns one row.
func Get(ctx context.Context, db *gorm.DB, id int64) (*Entry, error) {
	var e Entry
	err := db.WithContext(ctx).First(&e, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &e, err
}

// Delete removes the given rows (all rows when ids is nil) and clears the notice when none
// remain, as Welcart's reset_settlement_notice does.
func Delete(ctx context.Context, db *gorm.DB, ids []int64) (int64, error) {
	return DeleteFor(ctx, db, nil, ids)
}

// Field is one detail of a row, nested keys joined Welcart's way ("errors:0:code").
type Field struct{ Key, Value string }

// Flat lists the row's details in key order, nested objects and arrays flattened, as Welcart's
// 詳細 dialog and ログ出力 show them.
func (e Entry) Flat() []Field {
	var out []Field
	flatten("", e.Fields(), &out)
	return out
}

func flatten(prefix string, v any, out *[]Field) {
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + ":" + k
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			flatten(key(k), x[k], out)
		}
	case []any:
		for i, vv := range x {
			flatten(key(strconv.Itoa(i)), vv, out)
		}
	default:
		*out = append(*out, Field{Key: prefix, Value: fmt.Sprint(v)})
	}
}
