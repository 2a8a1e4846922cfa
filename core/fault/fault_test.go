package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kessai/kessai/core/fault"
)

var errGone = fault.New(fault.NotFound, "not_found", "受注が見つかりません。")

type ruleError struct{ field string }

func (e *ruleError) Error() string { return "rule broken at " + e.field }
func (e *ruleError) Fault() fault.Detail {
	return fault.Detail{Kind: fault.Invalid, Code: "rule", Message: "規則に反しています。", Field: e.field}
}

func TestOf(t *testing.T) {
	t.Run("a wrapped sentinel keeps its kind and identity", func(t *testing.T) {
		err := fmt.Errorf("load order 7: %w", errGone)
		if !errors.Is(err, errGone) || fault.KindOf(err) != fault.NotFound {
			t.Fatalf("got %v kind %v", err, fault.KindOf(err))
		}
	})
	t.Run("a copy with a field is still the sentinel", func(t *testing.T) {
		err := fmt.Errorf("edit: %w", errGone.WithField("order_id"))
		d := fault.Of(err)
		if !errors.Is(err, errGone) || d.Field != "order_id" || d.Message != errGone.Message {
			t.Fatalf("got %+v, is=%v", d, errors.Is(err, errGone))
		}
		if errGone.Field != "" {
			t.Fatal("the sentinel itself changed")
		}
	})
	t.Run("a domain type describes itself", func(t *testing.T) {
		d := fault.Of(fmt.Errorf("save: %w", &ruleError{field: "name"}))
		if d.Kind != fault.Invalid || d.Field != "name" {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("an undescribed error is internal and says nothing of its cause", func(t *testing.T) {
		d := fault.Of(errors.New("dial tcp 127.0.0.1:3306: connection refused"))
		if d.Kind != fault.Internal || d.Message != "" {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("a cause stays reachable", func(t *testing.T) {
		cause := errors.New("deadline")
		err := fault.New(fault.Unavailable, "unavailable", "利用できません。").Because(cause)
		if !errors.Is(err, cause) {
			t.Fatal("cause lost")
		}
	})
}

var errMissing = fault.Sentinel("order: no such order", fault.NotFound, "not_found", "受注が見つかりません。")

func TestSentinel(t *testing.T) {
	t.Run("its Go text stays what logs showed", func(t *testing.T) {
		err := fmt.Errorf("load 7: %w", errMissing)
		if err.Error() != "load 7: order: no such order" || fault.Of(err).Message != "受注が見つかりません。" {
			t.Fatalf("got %q, %+v", err, fault.Of(err))
		}
	})
	t.Run("a copy with a message of its own says it in its text too", func(t *testing.T) {
		err := errMissing.WithField("id").WithMessage("契約が見つかりません。")
		if !errors.Is(err, errMissing) || err.Error() != "order: no such order: 契約が見つかりません。" {
			t.Fatalf("got %q, is=%v", err, errors.Is(err, errMissing))
		}
	})
}

func TestFields(t *testing.T) {
	fs := fault.Fields{
		{Field: "price", Code: "invalid", Message: "決済金額は1円以上で指定してください。"},
		{Field: "status", Code: "invalid", Message: "契約の状態が不正です。"},
	}
	t.Run("several broken rules are invalid input, the first one first", func(t *testing.T) {
		d := fault.Of(fmt.Errorf("update: %w", fs))
		if d.Kind != fault.Invalid || d.Field != "price" || d.Code != "invalid" || len(d.Fields) != 2 || d.Fields[1].Field != "status" {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("told as a conflict they keep their fields and stay reachable", func(t *testing.T) {
		err := fmt.Errorf("retry: %w", fs[1:].WithKind(fault.Conflict))
		d := fault.Of(err)
		var got fault.Fields
		if d.Kind != fault.Conflict || d.Field != "status" || len(d.Fields) != 1 || !errors.As(err, &got) || got[0].Field != "status" {
			t.Fatalf("got %+v, as %v", d, got)
		}
	})
	t.Run("no fields is still invalid input", func(t *testing.T) {
		if d := fault.Of(fault.Fields(nil)); d.Kind != fault.Invalid || d.Code != "invalid" {
			t.Fatalf("got %+v", d)
		}
	})
}

func TestCopyOfACopy(t *testing.T) {
	errTaken := errMissing.WithField("order_number") // a sentinel that names its field
	err := fmt.Errorf("create: %w", errTaken.WithMessage("別の受注が使っています。"))
	if !errors.Is(err, errTaken) || !errors.Is(err, errMissing) || fault.Of(err).Field != "order_number" {
		t.Fatalf("got %v %+v", err, fault.Of(err))
	}
	if errors.Is(errMissing, errTaken) {
		t.Fatal("the sentinel matched its copy")
	}
}
