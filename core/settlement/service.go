package settlement

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
)

// Adapters is what the service needs of the module host.
type Adapters interface {
	Get(ctx context.Context, slug string) (plugins.Adapter, error)
}

// Change describes one status change caused by a provider's answer, for observers.
type Change struct {
	Settlement *Settlement
	From, To   Status
	// Op is the operation that produced the answer; OpResolve when recovery (the janitor, a
	// webhook, 取引参照) proved it, OpReconcile for a correction found by reconciliation.
	Op     Operation
	Result plugins.TransactionResult
	// Attempt is the call the answer belongs to, when there was one (its Kind says what was
	// asked even when Op is OpResolve).
	Attempt *Attempt
}

// Observer acts inside the transaction of a change (outbound events, continuation
// contracts, metrics): if it fails, the change does not happen.
type Observer interface {
	SettlementChanged(ctx context.Context, tx *gorm.DB, c Change) error
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(ctx context.Context, tx *gorm.DB, c Change) error

// SettlementChanged calls f.
func (f ObserverFunc) SettlementChanged(ctx context.Context, tx *gorm.DB, c Change) error {
	return f(ctx, tx, c)
}

// ErrUnavailable means the adapter could not take the call (module failed, stopped, not
// configured, or it refused before reaching the provider). Nothing moved; the settlement is
// as it was, and the caller may try again later.
var ErrUnavailable = fault.Sentinel("settlement: payment module unavailable", fault.Unavailable,
	"payment_module_unavailable", "決済モジュールが利用できません。しばらくしてから再度お試しください。")

// ErrNotFound is returned for an unknown settlement. People are told of the order, which is
// what they asked for.
var ErrNotFound = fault.Sentinel("settlement: no such settlement", fault.NotFound, "not_found", "受注が見つかりません。")

// Result is what an operation did: the settlement as it is now and the provider's answer.
// A declined or undefined outcome is a Result, not an error.
type Result struct {
	Settlement *Settlement
	Outcome    plugins.Outcome
	Provider   plugins.TransactionResult
}

// Service is the settlement engine: every provider call that may move money goes through it.
// An operation claims the settlement (a lease and a version, never a status), writes its
// attempt ahead of the call and commits both, calls the provider on a context detached from
// the caller's, and records the answer with its history row, error-log row and events in one
// transaction guarded by the version.
type Service struct {
	st        *store.Store
	adapters  Adapters
	log       *slog.Logger
	observers []Observer

	// Clock tells the time of claims, leases and the janitor's next looks; NewService sets
	// the store's.
	Clock clockwork.Clock
	// Owner names this process in claims (claimed_by).
	Owner string
	// CallTimeout bounds one provider call; an answer later than that is undefined.
	CallTimeout time.Duration
	// Lease is how long a claim holds a settlement. It outlasts CallTimeout and the recording
	// of the answer; a claim older than that belongs to a process that died.
	Lease time.Duration
	// MaxResolve is how many failed reference attempts the janitor makes before it writes
	// the settlement to the error log for a person to look at.
	MaxResolve int
	// AbandonAfter is how long a checkout may wait for its widget before the janitor calls it
	// かご落ち.
	AbandonAfter time.Duration
	// OnCall, when set, is told of every provider call: module, operation, outcome, time.
	OnCall func(module, op, outcome string, took time.Duration)
}

// observe reports a finished call to OnCall. The operations take start from the wall clock,
// not from Clock: the call's duration is a metric, and a fake clock would report none.
func (sv *Service) observe(s *Settlement, op Operation, start time.Time, res plugins.Result, err error) {
	if sv.OnCall == nil {
		return
	}
	out := res.Outcome
	if err != nil {
		out = plugins.OutcomeOf(err)
	}
	sv.OnCall(s.Module, string(op), out.String(), time.Since(start))
}

// NewService returns a Service.
func NewService(st *store.Store, adapters Adapters, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	host, _ := os.Hostname()
	return &Service{st: st, adapters: adapters, log: log, Clock: st.Clock,
		Owner:       fmt.Sprintf("%.40s/%d/%s", host, os.Getpid(), NewTransID()[2:8]),
		CallTimeout: 45 * time.Second, Lease: 2 * time.Minute, MaxResolve: 8, AbandonAfter: 24 * time.Hour}
}

func (sv *Service) now() time.Time { return sv.Clock.Now().UTC() }

// Observe adds an observer of every change.
func (sv *Service) Observe(o Observer) { sv.observers = append(sv.observers, o) }

// NewTransID makes a link key (リンクキー): unique, unguessable, and short enough for every
// provider's merchant reference field.
func NewTransID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "ks" + hex.EncodeToString(b[:])
}

// nextAttempt numbers attempts TransID-1, TransID-2, …: a retry after NG must reach the
// provider with a new merchant reference (atone refuses a reused shop_transaction_no).
func nextAttempt(transID, cur string) string {
	return fmt.Sprintf("%s-%d", transID, attemptSeq(cur)+1)
}

// New builds (does not store) the pending settlement of an order, with its link key and
// first attempt, so that the widget can be prepared before anything is written.
func New(orderID, shopID, amount int64, module, code string) *Settlement {
	id := NewTransID()
	return &Settlement{OrderID: orderID, ShopID: shopID, Module: module, SettlementCode: code, TransID: id,
		Attempt: nextAttempt(id, ""), Amount: amount, Status: Pending}
}
