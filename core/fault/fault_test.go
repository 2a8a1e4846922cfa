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
