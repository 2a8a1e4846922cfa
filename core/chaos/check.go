// Package chaos holds kessai's consistency check: after a run under faults, crashes and
// restarts, every settlement kessai recorded is compared with the provider's ledger (the atone
// sandbox's), in the manner of a Jepsen checker comparing a system's record with the ground
// truth. Its randomized test drives a whole daemon into that state.
package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"gorm.io/gorm"

	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// Kind is what a Problem is.
type Kind string

// The kinds of problem, in the order the report lists them.
const (
	// Drift: a settlement's status, amount or transaction differs from the provider's, or a
	// live settlement's amount differs from its order's total.
	Drift Kind = "drift"
	// Orphan: a live transaction at the provider (authorized or settled, neither refunded nor
	// replaced) that no settlement points to: money or credit held that kessai does not know.
	Orphan Kind = "orphan"
	// Stuck: a settlement still unknown (確認中), or pending with a transaction (a claim nobody
	// finished), after the janitor ran to quiescence.
	Stuck Kind = "stuck"
	// Double: a transaction settled or refunded by more than one successful call.
	Double Kind = "double"
	// Duplicate: two live transactions for one continuation period.
	Duplicate Kind = "duplicate"
)

var kinds = []Kind{Drift, Orphan, Stuck, Double, Duplicate}

// Problem is one difference between kessai's record and the provider's.
type Problem struct {
	Kind         Kind
	SettlementID int64 // 0 when no settlement is involved
	OrderID      int64
	Transaction  string // the provider's id, "" when none is involved
	Detail       string
}

// Report is what Check found.
type Report struct {
	Settlements  int // settlements checked
	Transactions int // ledger entries read
	Counts       map[Kind]int
	Problems     []Problem
	// Err is set when the record could not be read; the report is then not a verdict.
	Err error
}

// Clean reports a check that read everything and found nothing.
func (r Report) Clean() bool { return r.Err == nil && len(r.Problems) == 0 }

func (r *Report) add(p Problem) {
	if r.Counts == nil {
		r.Counts = map[Kind]int{}
	}
	r.Counts[p.Kind]++
	r.Problems = append(r.Problems, p)
}

// String prints the counts and one line per problem, as a table.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "consistency check: %d settlements against %d provider transactions\n", r.Settlements, r.Transactions)
	if r.Err != nil {
		fmt.Fprintf(&b, "  could not read the record: %v\n", r.Err)
	}
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %s\t%d\n", k, r.Counts[k])
	}
	if len(r.Problems) > 0 {
		fmt.Fprintln(w, "\n  kind\tsettlement\torder\ttransaction\tdetail")
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", p.Kind, ref(p.SettlementID), ref(p.OrderID), orDash(p.Transaction), p.Detail)
		}
	}
	_ = w.Flush()
	return b.String()
}

func ref(id int64) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprintf("#%d", id)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// The settlement statuses as the settlements table stores them. They are spelled out here
// rather than taken from core/settlement: the checker reads the table as it is, whatever the
// engine's types become.
const (
	pending    = "pending"
	authorized = "authorized"
	captured   = "captured"
	cancelled  = "cancelled"
	failed     = "error"
	unknown    = "unknown"
	abandoned  = "abandoned"
)

// row is what the checker reads of a settlement, with its order's total and status.
type row struct {
	ID                   int64
	OrderID              int64
	ContinuationChargeID *int64
	TransID              string
	WcTransID            string
	Attempt              string
	Amount               int64
	Status               string
	OrderTotal           *int64
	OrderStatus          *string
	ContinuationID       *int64
	Period               *string
}

// Check compares every settlement in db with the provider's ledger. Rules, per status:
//
//   - 仮売上 (authorized): its transaction is OK, not settled, not refunded, not replaced.
//   - 売上計上 (captured): OK, settled, not refunded, not replaced.
//   - 取消済み (cancelled): refunded or replaced, or no transaction at all (never paid).
//   - 決済エラー (error): NG, or no transaction.
//   - pending (or かご落ち, abandoned) without a transaction is a checkout the buyer has not
//     finished: fine, unless a live transaction carries its attempt (then that transaction is
//     an orphan). Pending with a transaction, and unknown, are stuck.
//
// A live settlement's amount must be its transaction's and its order's total (unless the
// order is キャンセル, whose edits the provider is never told). Every live transaction must
// be some settlement's; none may be settled or refunded twice; a continuation period has at
// most one live transaction.
func Check(ctx context.Context, db *gorm.DB, ledger []sandbox.LedgerEntry) Report {
	r := Report{Transactions: len(ledger), Counts: map[Kind]int{}}
	var rows []row
	err := db.WithContext(ctx).Table("settlements s").
		Select("s.id, s.order_id, s.continuation_charge_id, s.trans_id, s.wc_trans_id, s.attempt, s.amount, s.status, " +
			"o.order_total_full_price AS order_total, o.order_status AS order_status, " +
			"cc.continuation_id AS continuation_id, cc.period AS period").
		Joins("LEFT JOIN orders o ON o.id = s.order_id").
		Joins("LEFT JOIN continuation_charges cc ON cc.id = s.continuation_charge_id").
		Order("s.id").Scan(&rows).Error
	if err != nil {
		r.Err = fmt.Errorf("read settlements: %w", err)
		return r
	}
	r.Settlements = len(rows)

	byID := make(map[string]sandbox.LedgerEntry, len(ledger))
	for _, e := range ledger {
		byID[e.ID] = e
	}
	pointed := map[string][]int64{} // transaction id → settlements pointing at it
	byTransID := map[string]*row{}
	for i := range rows {
		s := &rows[i]
		byTransID[s.TransID] = s
		if s.WcTransID != "" {
			pointed[s.WcTransID] = append(pointed[s.WcTransID], s.ID)
		}
		checkSettlement(&r, s, byID)
	}

	for _, e := range ledger {
		ids := pointed[e.ID]
		if len(ids) > 1 {
			r.add(Problem{Kind: Drift, SettlementID: ids[0], Transaction: e.ID,
				Detail: fmt.Sprintf("settlements %v all point at this one transaction", ids)})
		}
		if e.SettleCount > 1 {
			r.add(Problem{Kind: Double, Transaction: e.ID, Detail: fmt.Sprintf("settled by %d calls", e.SettleCount)})
		}
		if e.RefundCount > 1 {
			r.add(Problem{Kind: Double, Transaction: e.ID, Detail: fmt.Sprintf("refunded by %d calls", e.RefundCount)})
		}
		if !e.Live() || len(ids) > 0 {
			continue
		}
		p := Problem{Kind: Orphan, Transaction: e.ID, Detail: fmt.Sprintf("%s at atone (attempt %s); no settlement points at it", state(e), e.ShopTransactionNo)}
		if s := byTransID[transIDOf(e.ShopTransactionNo)]; s != nil {
			p.SettlementID, p.OrderID = s.ID, s.OrderID
			p.Detail += fmt.Sprintf("; its settlement is %s with %s", s.Status, orNone(s.WcTransID))
			if e.ReplacedBy == "" && s.WcTransID != "" {
				if old, ok := byID[s.WcTransID]; ok && old.ReplacedBy == e.ID {
					p.Detail += ", which this transaction replaced (a 取引修正 kessai did not record)"
				}
			}
		}
		r.add(p)
	}
	checkPeriods(&r, rows, byID)
	return r
}

// checkSettlement applies the per-status rules to one settlement.
func checkSettlement(r *Report, s *row, byID map[string]sandbox.LedgerEntry) {
	drift := func(format string, args ...any) {
		r.add(Problem{Kind: Drift, SettlementID: s.ID, OrderID: s.OrderID, Transaction: s.WcTransID,
			Detail: fmt.Sprintf("kessai %s: ", s.Status) + fmt.Sprintf(format, args...)})
	}
	e, known := byID[s.WcTransID]
	if s.WcTransID != "" && !known {
		drift("points at a transaction atone does not have")
		return
	}
	switch s.Status {
	case authorized, captured:
		switch {
		case s.WcTransID == "":
			drift("no transaction")
			return
		case !e.Live():
			drift("atone %s", state(e))
		case s.Status == authorized && e.Settled:
			drift("atone settled it (売上計上)")
		case s.Status == captured && !e.Settled:
			drift("atone has not settled it (仮売上)")
		}
		if left := e.Amount - e.AmountRefunded; e.Live() && s.Amount != left {
			drift("amount %s, atone %s", yen(s.Amount), yen(left))
		}
		if s.ContinuationChargeID == nil && s.OrderTotal != nil && *s.OrderTotal != s.Amount &&
			(s.OrderStatus == nil || !strings.Contains(*s.OrderStatus, "cancel,")) {
			drift("order total %s, settlement %s", yen(*s.OrderTotal), yen(s.Amount))
		}
	case cancelled:
		if known && e.Live() {
			drift("atone still %s", state(e))
		}
	case failed:
		if known && e.OK() {
			drift("atone %s", state(e))
		}
	case pending, abandoned:
		if s.WcTransID != "" {
			r.add(Problem{Kind: Stuck, SettlementID: s.ID, OrderID: s.OrderID, Transaction: s.WcTransID,
				Detail: "pending with a transaction after quiescence: a claim nobody finished; atone " + state(e)})
		}
		// Without a transaction it is a checkout the buyer has not finished; a live
		// transaction carrying its attempt is reported as an orphan.
	case unknown:
		d := "unknown (確認中) after quiescence; "
		if known {
			d += "atone " + state(e)
		} else {
			d += "no transaction id to ask atone about"
		}
		r.add(Problem{Kind: Stuck, SettlementID: s.ID, OrderID: s.OrderID, Transaction: s.WcTransID, Detail: d})
	default:
		drift("not a status kessai has")
	}
}

// checkPeriods reports continuation periods with more than one live transaction.
func checkPeriods(r *Report, rows []row, byID map[string]sandbox.LedgerEntry) {
	type period struct {
		contract int64
		date     string
	}
	live := map[period][]string{}
	for _, s := range rows {
		if s.ContinuationID == nil || s.Period == nil {
			continue
		}
		if e, ok := byID[s.WcTransID]; ok && e.Live() {
			p := period{*s.ContinuationID, *s.Period}
			live[p] = append(live[p], e.ID)
		}
	}
	keys := make([]period, 0, len(live))
	for p := range live {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].contract != keys[j].contract {
			return keys[i].contract < keys[j].contract
		}
		return keys[i].date < keys[j].date
	})
	for _, p := range keys {
		if ids := live[p]; len(ids) > 1 {
			r.add(Problem{Kind: Duplicate, Transaction: ids[0],
				Detail: fmt.Sprintf("contract %d period %s has %d live transactions: %s", p.contract, p.date, len(ids), strings.Join(ids, ", "))})
		}
	}
}

// state describes a ledger entry the way the report reads.
func state(e sandbox.LedgerEntry) string {
	switch {
	case e.ID == "":
		return "has no such transaction"
	case !e.OK():
		return "NG"
	case e.ReplacedBy != "":
		return "replaced by " + e.ReplacedBy
	case e.Refunded:
		return "refunded (取消)"
	case e.Settled:
		return "settled " + yen(e.Amount)
	}
	return "authorized " + yen(e.Amount)
}

// transIDOf is the link key of an attempt: kessai numbers attempts TransID-1, TransID-2, ….
func transIDOf(attempt string) string {
	if i := strings.LastIndexByte(attempt, '-'); i > 0 {
		return attempt[:i]
	}
	return attempt
}

func orNone(id string) string {
	if id == "" {
		return "no transaction"
	}
	return id
}

func yen(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s + "円"
}
