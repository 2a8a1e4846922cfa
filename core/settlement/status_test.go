package settlement_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kessai/kessai/core/settlement"
)

// allowed is the state machine written out as the full matrix, independently of the table in
// status.go, so that a change to one without the other fails here. Rows are from, columns to,
// in settlement.Statuses order: pending, authorized, captured, cancelled, error, unknown,
// abandoned.
var allowed = map[settlement.Status][7]bool{
	settlement.Pending:    {true, true, true, true, true, true, true},
	settlement.Authorized: {false, true, true, true, false, true, false},
	settlement.Captured:   {false, true, true, true, false, true, false},
	settlement.Cancelled:  {false, true, true, false, false, false, false},
	settlement.Failed:     {true, true, true, true, false, false, false},
	settlement.Unknown:    {true, true, true, true, true, true, false},
	settlement.Abandoned:  {true, true, true, true, true, false, true},
}

func TestTransitionTableEveryPair(t *testing.T) {
	t.Parallel()
	if len(allowed) != len(settlement.Statuses) {
		t.Fatalf("matrix has %d rows for %d statuses", len(allowed), len(settlement.Statuses))
	}
	for _, from := range settlement.Statuses {
		for j, to := range settlement.Statuses {
			want := allowed[from][j]
			verdict := "refused"
			if want {
				verdict = "allowed"
			}
			t.Run(fmt.Sprintf("%s→%s %s", from, to, verdict), func(t *testing.T) {
				if got := settlement.CanTransition(from, to); got != want {
					t.Fatalf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
				}
				err := settlement.Check(from, to)
				if want && err != nil {
					t.Fatalf("Check: %v", err)
				}
				if !want && !errors.Is(err, settlement.ErrTransition) {
					t.Fatalf("Check = %v, want ErrTransition", err)
				}
			})
		}
	}
}

func TestLabels(t *testing.T) {
	t.Parallel()
	for s, want := range map[settlement.Status]string{
		settlement.Authorized: "仮売上", settlement.Captured: "売上計上",
		settlement.Cancelled: "取消済み", settlement.Failed: "決済エラー",
	} {
		if s.Label() != want {
			t.Errorf("%s label = %s, want %s", s, s.Label(), want)
		}
	}
}
