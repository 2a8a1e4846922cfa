package dialog_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/core/dialog"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins"
)

// The badge classes follow Welcart's card-* names.
func TestBadge(t *testing.T) {
	for st, want := range map[settlement.Status]string{
		settlement.Authorized: `<span class="acting-status card-auth">仮売上</span>`,
		settlement.Captured:   `<span class="acting-status card-capture">売上計上</span>`,
		settlement.Cancelled:  `<span class="acting-status card-delete">取消済み</span>`,
		settlement.Failed:     `<span class="acting-status card-error">決済エラー</span>`,
	} {
		got, err := dialog.Badge(st)
		if err != nil || string(got) != want {
			t.Errorf("%s: %s %v", st, got, err)
		}
	}
}

// The operations offered follow the settlement's status and what the module announced, for
// the console and the façade alike.
func TestOperationsOffered(t *testing.T) {
	every := func(settlement.Operation) bool { return true }
	without := func(left settlement.Operation) func(settlement.Operation) bool {
		return func(op settlement.Operation) bool { return op != left }
	}
	charge := int64(7)
	for _, tc := range []struct {
		name   string
		status settlement.Status
		charge *int64
		offers func(settlement.Operation) bool
		want   []settlement.Operation
		// amounts: 売上計上 and 取消 take an amount (the module announced partial amounts).
		amounts bool
	}{
		{"仮売上 offers all three", settlement.Authorized, nil, every, []settlement.Operation{settlement.OpCapture, settlement.OpCancel, settlement.OpModify}, true},
		{"売上計上 no second capture", settlement.Captured, nil, every, []settlement.Operation{settlement.OpCancel, settlement.OpModify}, true},
		{"取消済み nothing", settlement.Cancelled, nil, every, nil, false},
		{"決済エラー nothing", settlement.Failed, nil, every, nil, false},
		{"unknown nothing until resolved", settlement.Unknown, nil, every, nil, false},
		{"a module without 取引修正", settlement.Authorized, nil, without(settlement.OpModify), []settlement.Operation{settlement.OpCapture, settlement.OpCancel}, true},
		{"a module without 売上計上", settlement.Authorized, nil, without(settlement.OpCapture), []settlement.Operation{settlement.OpCancel, settlement.OpModify}, true},
		{"a module without partial amounts", settlement.Authorized, nil, without(settlement.OpRefund), []settlement.Operation{settlement.OpCapture, settlement.OpCancel, settlement.OpModify}, false},
		{"partial amounts but neither 売上計上 nor 取消", settlement.Authorized, nil,
			func(op settlement.Operation) bool { return op == settlement.OpModify || op == settlement.OpRefund }, []settlement.Operation{settlement.OpModify}, false},
		{"a continuation charge is its period's amount", settlement.Authorized, &charge, every, []settlement.Operation{settlement.OpCapture, settlement.OpCancel}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &settlement.Settlement{Module: "atone", TransID: "t1", Status: tc.status, Amount: 1000, ContinuationChargeID: tc.charge}
			d := dialog.Build(s, nil, nil, "", tc.offers)
			if !slices.Equal(d.Ops, tc.want) {
				t.Fatalf("ops %v, want %v", d.Ops, tc.want)
			}
			if d.Amounts != tc.amounts {
				t.Fatalf("amounts %v, want %v", d.Amounts, tc.amounts)
			}
			console, err := d.HTML(dialog.Console)
			if err != nil {
				t.Fatal(err)
			}
			welcart, err := d.HTML(dialog.Welcart)
			if err != nil {
				t.Fatal(err)
			}
			// Welcart's scripts bind these ids; the console never offers 利用額変更 as a button.
			for op, ids := range map[settlement.Operation][2]string{
				settlement.OpCapture: {`id="capture-settlement"`, `id="capture-settlement"`},
				settlement.OpCancel:  {`id="cancel-settlement"`, `id="delete-settlement"`},
				settlement.OpModify:  {"", `id="change-settlement"`},
			} {
				want := slices.Contains(tc.want, op)
				if ids[0] != "" && strings.Contains(string(console), ids[0]) != want {
					t.Errorf("console %s: shown=%v, offered=%v", op, !want, want)
				}
				if strings.Contains(string(welcart), ids[1]) != want {
					t.Errorf("welcart %s: shown=%v, offered=%v", op, !want, want)
				}
			}
			if strings.Contains(string(console), `id="change-settlement"`) || strings.Contains(string(console), "amount_change") {
				t.Error("the console's dialog has Welcart's 利用額変更")
			}
			if !strings.Contains(string(welcart), `id="amount_change"`) || !strings.Contains(string(welcart), `id="amount"`) {
				t.Error("Welcart's dialog lacks #amount_change and #amount")
			}
			// The console's amount for 売上計上 and 取消; Welcart's buttons are for the whole.
			if got := strings.Contains(string(console), `id="settlement-amount"`); got != tc.amounts {
				t.Errorf("console's amount field shown=%v, want %v", got, tc.amounts)
			}
			if strings.Contains(string(welcart), `id="settlement-amount"`) {
				t.Error("Welcart's dialog has the console's amount field")
			}
		})
	}
}

// The provider's answer shows over kessai's record, and a disagreement says so.
func TestReferenceOverRecord(t *testing.T) {
	s := &settlement.Settlement{Module: "atone", TransID: "t1", WcTransID: "tr_old", Status: settlement.Authorized, Amount: 1000}
	settled := time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC) // 4月1日 in Tokyo
	ref := &plugins.TransactionResult{Result: plugins.Result{Outcome: plugins.Processed}, ProviderID: "tr_new",
		State: plugins.StateCaptured, Amount: 900, SettledAt: settled}
	d := dialog.Build(s, nil, ref, "", nil)
	if d.ProviderID != "tr_new" || d.Amount != 900 || d.State != settlement.Captured || d.CapturedOn != "2026-04-01" {
		t.Fatalf("%+v", d)
	}
	if !strings.Contains(d.Notice, "売上計上") || !strings.Contains(d.Notice, "仮売上") {
		t.Fatalf("notice %q", d.Notice)
	}
	if d := dialog.Build(s, nil, ref, "先の通知", nil); d.Notice != "先の通知" {
		t.Fatalf("a given notice is kept: %q", d.Notice)
	}
}

func TestHistoryInWords(t *testing.T) {
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	ok := plugins.Processed.String()
	hs := []settlement.History{
		{Operation: settlement.OpCheckout, StatusFrom: settlement.Pending, StatusTo: settlement.Pending, Outcome: ok, CreatedAt: at},
		{Operation: settlement.OpConfirm, StatusFrom: settlement.Pending, StatusTo: settlement.Authorized, Outcome: ok, Amount: 1000, CreatedAt: at},
		{Operation: settlement.OpReference, StatusFrom: settlement.Authorized, StatusTo: settlement.Authorized, Outcome: ok, CreatedAt: at},
		{Operation: settlement.OpCapture, StatusFrom: settlement.Authorized, StatusTo: settlement.Authorized, Outcome: plugins.Declined.String(), CreatedAt: at},
		{Operation: settlement.OpCapture, StatusFrom: settlement.Authorized, StatusTo: settlement.Captured, Outcome: ok, Amount: 800, CreatedAt: at},
		{Operation: settlement.OpRefund, StatusFrom: settlement.Captured, StatusTo: settlement.Captured, Outcome: plugins.Declined.String(), Amount: 800, CreatedAt: at},
		{Operation: settlement.OpRefund, StatusFrom: settlement.Captured, StatusTo: settlement.Captured, Outcome: ok, Amount: 500, CreatedAt: at},
	}
	d := dialog.Build(&settlement.Settlement{Status: settlement.Captured}, hs, nil, "", nil)
	var got []string
	for _, r := range d.History {
		got = append(got, fmt.Sprintf("%s %d %s", r.Label, r.Amount, r.At))
	}
	// A 一部取消 keeps the status but is shown: the amount changed.
	want := []string{"仮売上 1000 2026-04-01 09:00:00", "売上計上 800 2026-04-01 09:00:00", "一部取消 500 2026-04-01 09:00:00"}
	if !slices.Equal(got, want) {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestProviderMessage(t *testing.T) {
	for _, tc := range []struct {
		r    plugins.Result
		want string
	}{
		{plugins.Result{Messages: []string{"利用できません"}, Code: "EATN0115"}, "利用できません（EATN0115）"},
		{plugins.Result{Messages: []string{"金額超過"}, Code: "KESSAI_NG"}, "金額超過"},
		{plugins.Result{Messages: []string{"a", "b"}}, "a / b"},
		{plugins.Result{}, dialog.MsgDeclined},
	} {
		if got := dialog.ProviderMessage(tc.r); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}

// A refusal is whatever describes itself, told in its own words; kessai's own failures are
// not refusals, and their text never reaches the dialog.
func TestRefusal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		msg   string
		known bool
	}{
		{"a status that does not allow the operation", fmt.Errorf("capture 7: %w",
			&settlement.OperationError{Op: settlement.OpCapture, From: settlement.Cancelled}), "（現在の状態: 取消済み）", true},
		{"a module that is down", fmt.Errorf("cancel 7: %w", settlement.ErrUnavailable), settlement.ErrUnavailable.Message, true},
		{"a settlement changed meanwhile", settlement.ErrConflict, settlement.ErrConflict.Message, true},
		{"a settlement that is not there", settlement.ErrNotFound, "受注が見つかりません。", true},
		{"a failure of kessai's own", fmt.Errorf("capture 7: %w", errors.New("dial tcp 127.0.0.1:3306: connection refused")), "", false},
		{"no error", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, known := dialog.Refusal(tc.err)
			if known != tc.known || !strings.Contains(msg, tc.msg) || (!known && msg != "") {
				t.Fatalf("got %q, %v; want %q, %v", msg, known, tc.msg, tc.known)
			}
		})
	}
}
