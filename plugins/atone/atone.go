// Package atone is the kessai adapter for atone (Net Protections' 翌月後払い), speaking atone's
// classic v1 API: the atone.js widget signs and registers a payment in the buyer's browser, and
// the server API references, settles (売上確定), refunds (取消), replaces (取引修正) and
// creates token charges (継続課金).
//
// Outcomes follow the contract of package plugins, with these atone-specific choices:
//
//   - A payment atone would refuse (wire's validation, atone's own EATN codes and Japanese
//     messages) is answered NotAttempted before anything is sent: atone was not called, so
//     nothing moved and the call may be repeated once the order is fixed, yet the Result
//     carries atone's code, messages and field so the shop learns at once what to fix.
//   - No connection (DNS, refused, TLS) is NotAttempted; a call that went out and got no
//     usable answer (timeout, reset, 5xx, EATN9901, EATN9999) is Undefined.
//   - A 4xx is Declined with atone's code, messages and field; authorization_result 2 is
//     Declined with Reason "1" (金額超過) or "9" (その他) and the label in Messages.
//   - The widget's result is never trusted: Confirm references the transaction and compares
//     it with the order; a transaction that does not match is Declined with CodeMismatch and
//     described as atone holds it, for the host to cancel, never to record as the order's.
//
// Behaviour atone does not document is marked [I] where it is decided.
package atone

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone/wire"
)

// Identity of the adapter.
const (
	Slug           = "atone"
	DisplayName    = "atone 翌月後払い"
	SettlementCode = "acting_atone"
)

// Options configure an Adapter beyond its settings.
type Options struct {
	// Version is reported by Describe; "dev" when empty.
	Version string
	// HTTPClient replaces NewHTTPClient(), e.g. to trust a test CA.
	HTTPClient *http.Client
	// Logger replaces hclog.Default(), which plugins.Serve points at the host.
	Logger hclog.Logger
}

// Adapter is the atone adapter. It keeps only its settings; every order, token and
// transaction id comes with the call.
type Adapter struct {
	version string
	client  *http.Client
	log     hclog.Logger

	mu  sync.RWMutex
	cfg config
}

var _ plugins.Adapter = (*Adapter)(nil)

// New returns an unconfigured adapter.
func New(opts Options) *Adapter {
	a := &Adapter{version: opts.Version, client: opts.HTTPClient, log: opts.Logger}
	if a.version == "" {
		a.version = "dev"
	}
	if a.client == nil {
		a.client = NewHTTPClient()
	}
	return a
}

// Describe announces the atone settings form and every optional operation except partial
// capture, which atone's settle does not have.
func (a *Adapter) Describe(context.Context) (plugins.Description, error) {
	return plugins.Description{
		Slug:            Slug,
		DisplayName:     DisplayName,
		Version:         a.version,
		SettlementCodes: []string{SettlementCode},
		Settings:        slices.Clone(settingFields),
		Capabilities: []plugins.Capability{
			plugins.CanCapture, plugins.CanCancel, plugins.CanModify, plugins.CanCharge, plugins.CanWebhook,
		},
	}, nil
}

// Configure keeps s. A malformed value is refused (ErrInvalidRequest); missing keys are
// accepted, as a fresh install has none, and money operations answer ErrNotConfigured until
// they are set.
func (a *Adapter) Configure(_ context.Context, s plugins.Settings) error {
	cfg, errs := parseSettings(s)
	for _, e := range errs {
		if e.Code != "required" {
			return fmt.Errorf("configure %s: %s: %w", e.Field, e.Message, plugins.ErrInvalidRequest)
		}
	}
	a.mu.Lock()
	a.cfg = cfg
	a.mu.Unlock()
	return nil
}

// ValidateSettings checks a settings form offline; it does not call atone.
func (a *Adapter) ValidateSettings(_ context.Context, s plugins.Settings) ([]plugins.FieldError, error) {
	_, errs := parseSettings(s)
	return errs, nil
}

func (a *Adapter) config(op string) (config, error) {
	a.mu.RLock()
	cfg := a.cfg
	a.mu.RUnlock()
	if !cfg.complete() {
		return cfg, fmt.Errorf("%s: %w", op, plugins.ErrNotConfigured)
	}
	return cfg, nil
}

// PrepareCheckout signs the order's payment for atone.js. A payment atone would refuse is
// answered NotAttempted with atone's widget code (EATN03xx).
func (a *Adapter) PrepareCheckout(_ context.Context, req plugins.CheckoutRequest) (plugins.CheckoutResult, error) {
	cfg, err := a.config("prepare checkout")
	if err != nil {
		return plugins.CheckoutResult{}, err
	}
	p := buildPayment(req.Order, paymentOptions{settled: cfg.salesImmediate})
	if details := p.Validate(wire.Widget); len(details) > 0 {
		return plugins.CheckoutResult{Result: refused(details)}, nil
	}
	if err := p.Sign(string(cfg.secretKey)); err != nil {
		return plugins.CheckoutResult{}, fmt.Errorf("prepare checkout %s: sign: %w", req.Order.Attempt, err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return plugins.CheckoutResult{}, fmt.Errorf("prepare checkout %s: %w", req.Order.Attempt, err)
	}
	return plugins.CheckoutResult{
		Result: plugins.Result{Outcome: plugins.Processed},
		Widget: plugins.Widget{ScriptURL: cfg.scriptURL, PublicKey: cfg.publicKey, PreToken: req.AuthToken, Payment: b},
	}, nil
}

// widgetPayload is what the shop page posts after the widget closed: the argument of
// succeeded/failed ({id, authorization_result, …}), or an object holding it under "result"
// (the sandbox's /sandbox/v1/widget/complete answer, and pages that add the token beside it).
type widgetPayload struct {
	wire.WidgetResult
	Result *wire.WidgetResult `json:"result"`
}

// Confirm checks the widget's result with atone. The payload is only a pointer to a
// transaction: its id is referenced, and the transaction must carry this order's Attempt and
// amount, and the authorization result the page reported.
//
// A transaction that does not match is Declined with CodeMismatch and described as atone holds
// it, as Reference would: ProviderID, Attempt (its own shop_transaction_no, not the order's),
// Amount (what atone holds of it) and State, so that the host can cancel it at atone. The host must not record that ProviderID as the
// order's transaction. Raw is left out when the transaction is another order's, whose buyer
// data does not belong in this order's history.
//
// When the reference gets no usable answer (5xx, timeout, a dropped or refused connection)
// the result is Undefined with the widget's id as ProviderID and the order's Attempt, so the
// host can keep the id and resolve it by Reference.
func (a *Adapter) Confirm(ctx context.Context, req plugins.ConfirmRequest) (plugins.TransactionResult, error) {
	cfg, err := a.config("confirm")
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	var p widgetPayload
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return plugins.TransactionResult{}, fmt.Errorf("confirm %s: widget payload: %v: %w", req.Order.Attempt, err, plugins.ErrInvalidRequest)
	}
	w := p.WidgetResult
	if w.ID == "" && p.Result != nil {
		w = *p.Result
	}
	if err := checkID("confirm "+req.Order.Attempt, w.ID); err != nil {
		return plugins.TransactionResult{}, err
	}

	r := a.fetch(ctx, cfg, "Confirm", w.ID)
	if r.result != nil {
		res := plugins.TransactionResult{Result: *r.result, Attempt: req.Order.Attempt}
		if res.Outcome == plugins.NotAttempted {
			// The widget registered the transaction before this call: whatever stopped the
			// reference, money may have moved.
			res.Outcome = plugins.Undefined
		}
		if res.Outcome == plugins.Undefined {
			// The widget's id is the only handle on that money; without it the host would
			// have nothing to reference. atone's refusal (4xx, e.g. EATN0133 for an id it does
			// not know) keeps no id: nothing there is this order's.
			res.ProviderID = w.ID
		}
		return res, nil
	}
	tx := r.tx
	res := transactionResult(tx, r.raw)

	var problems []string
	field := ""
	if tx.ShopTransactionNo != req.Order.Attempt {
		problems = append(problems, text(msgMismatchAttempt, tx.ID, tx.ShopTransactionNo, req.Order.Attempt))
		field = "shop_transaction_no"
	}
	if tx.Amount != req.Order.Amount {
		problems = append(problems, text(msgMismatchAmount, tx.ID, yen(tx.Amount), yen(req.Order.Amount)))
		field = cmp.Or(field, "amount")
	}
	if w.AuthorizationResult != 0 && w.AuthorizationResult != tx.AuthorizationResult {
		problems = append(problems, text(msgMismatchResult, tx.ID, tx.AuthorizationResult, w.AuthorizationResult))
		field = cmp.Or(field, "authorization_result")
	}
	if len(problems) > 0 {
		// The transaction is left as it is: a forged id may be another order's, and
		// cancelling is the shop's decision. It keeps its own id, Attempt, Amount and State,
		// so the host can show the stray and cancel it without taking it for the order's.
		res.Result = plugins.Result{Outcome: plugins.Declined, Code: CodeMismatch, Messages: problems, Field: field, Raw: r.raw}
		if tx.ShopTransactionNo != req.Order.Attempt {
			// Another order's transaction: its buyer's data must not be recorded in this
			// order's history.
			res.Raw = nil
		}
		a.logger().Warn("atone transaction does not match the order", "op", "Confirm", "id", tx.ID,
			"attempt", req.Order.Attempt, "provider_attempt", tx.ShopTransactionNo)
		return res, nil
	}
	if req.Order.Recurring && tx.AuthorizationResult == wire.AuthorizationOK {
		res.AuthToken = tx.AuthenticationToken
	}
	return res, nil
}

// Reference is 取引参照. atone v1 cannot search by shop_transaction_no, so a reference
// without ProviderID is refused before any call.
func (a *Adapter) Reference(ctx context.Context, req plugins.ReferenceRequest) (plugins.TransactionResult, error) {
	cfg, err := a.config("reference")
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if req.ProviderID == "" {
		return plugins.TransactionResult{}, fmt.Errorf("reference %s: atone v1 cannot look a transaction up by shop_transaction_no: %w", req.Attempt, plugins.ErrInvalidRequest)
	}
	if err := checkID("reference", req.ProviderID); err != nil {
		return plugins.TransactionResult{}, err
	}
	return a.reference(ctx, cfg, "Reference", req.ProviderID), nil
}

// fetch is GET /v1/transactions/{id}; its reply holds the unscrubbed transaction.
func (a *Adapter) fetch(ctx context.Context, cfg config, op, id string) reply {
	return a.call(ctx, cfg, op, http.MethodGet, "transactions/"+url.PathEscape(id), nil)
}

func (a *Adapter) reference(ctx context.Context, cfg config, op, id string) plugins.TransactionResult {
	r := a.fetch(ctx, cfg, op, id)
	if r.result != nil {
		// EATN0133 (unknown id) arrives here as Declined with StateUnknown, as the contract
		// asks of a transaction the provider does not know.
		return plugins.TransactionResult{Result: *r.result}
	}
	res := transactionResult(r.tx, r.raw)
	if slices.Contains(r.tx.TransactionOptions, wire.OptionRecurring) && r.tx.AuthorizationResult == wire.AuthorizationOK {
		res.AuthToken = r.tx.AuthenticationToken
	}
	return res
}

// Capture is 売上確定 (PATCH settle). atone settles the whole amount; a partial amount is
// refused before the settle. EATN1201 is not taken to mean "already settled" (atone does not
// publish its meaning): the transaction is referenced and its real state returned with the
// refusal.
func (a *Adapter) Capture(ctx context.Context, req plugins.CaptureRequest) (plugins.TransactionResult, error) {
	cfg, err := a.config("capture")
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if err := checkID("capture", req.ProviderID); err != nil {
		return plugins.TransactionResult{}, err
	}
	if req.Amount != 0 {
		ref := a.reference(ctx, cfg, "Capture", req.ProviderID)
		if ref.Outcome != plugins.Processed {
			return notSent(ref), nil
		}
		if req.Amount != ref.Amount {
			return plugins.TransactionResult{}, fmt.Errorf("capture %s: %d of %d yen: atone settles whole transactions: %w",
				req.ProviderID, req.Amount, ref.Amount, plugins.ErrUnsupported)
		}
	}
	r := a.call(ctx, cfg, "Capture", http.MethodPatch, "transactions/"+url.PathEscape(req.ProviderID)+"/settle",
		map[string]string{"id": req.ProviderID})
	if r.result == nil {
		return transactionResult(r.tx, r.raw), nil
	}
	res := plugins.TransactionResult{Result: *r.result, ProviderID: req.ProviderID}
	if r.has(wire.CodeAlreadySettled) {
		if ref := a.reference(ctx, cfg, "Capture", req.ProviderID); ref.Outcome == plugins.Processed {
			res.Attempt, res.Amount, res.State, res.SettledAt = ref.Attempt, ref.Amount, ref.State, ref.SettledAt
		}
	}
	return res, nil
}

// Cancel is 取消 (PATCH refund). Without an amount atone refunds what is left, which cancels
// the transaction, before or after settlement.
func (a *Adapter) Cancel(ctx context.Context, req plugins.CancelRequest) (plugins.TransactionResult, error) {
	cfg, err := a.config("cancel")
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if err := checkID("cancel", req.ProviderID); err != nil {
		return plugins.TransactionResult{}, err
	}
	body := wire.RefundRequest{ID: req.ProviderID}
	if req.Amount > 0 {
		body.AmountRefund = &req.Amount
	}
	r := a.call(ctx, cfg, "Cancel", http.MethodPatch, "transactions/"+url.PathEscape(req.ProviderID)+"/refund", body)
	if r.result != nil {
		return plugins.TransactionResult{Result: *r.result, ProviderID: req.ProviderID}, nil
	}
	return transactionResult(r.tx, r.raw), nil
}

// Modify is 取引修正: a new transaction naming the old one in updated_transactions, which
// atone then cancels. The buyer's token comes from the old transaction (referenced first),
// because atone's create needs it and the host does not keep it for one-off orders. A
// settled order is re-registered with sales_settled true (atone's 同時売上確定) rather than
// settled by a second call, so no window exists in which the replacement stands unsettled.
func (a *Adapter) Modify(ctx context.Context, req plugins.ModifyRequest) (plugins.TransactionResult, error) {
	cfg, err := a.config("modify")
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if err := checkID("modify", req.ProviderID); err != nil {
		return plugins.TransactionResult{}, err
	}
	old := a.fetch(ctx, cfg, "Modify", req.ProviderID)
	if old.result != nil {
		return notSent(plugins.TransactionResult{Result: *old.result}), nil
	}
	opt := paymentOptions{settled: req.Settled, token: old.tx.AuthenticationToken, updated: []string{req.ProviderID}}
	if old.tx.RelatedTransaction != nil {
		opt.related = *old.tx.RelatedTransaction // [I] a modified charge stays in its series
	}
	o := req.Order
	if slices.Contains(old.tx.TransactionOptions, wire.OptionRecurring) {
		// [I] Replacing the first order of a series must not end the series' 定期登録.
		o.Recurring = true
	}
	return a.create(ctx, cfg, "Modify", o, opt), nil
}

// Charge is a 継続課金 charge: a server create with the buyer's token and the first
// transaction of the series. It is settled at once when the host asks or when the shop set
// 自動継続課金処理区分 to 即時売上確定: the host cannot know that setting's meaning.
func (a *Adapter) Charge(ctx context.Context, req plugins.ChargeRequest) (plugins.TransactionResult, error) {
	cfg, err := a.config("charge")
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if req.RelatedProviderID != "" {
		if err := checkID("charge", req.RelatedProviderID); err != nil {
			return plugins.TransactionResult{}, err
		}
	}
	opt := paymentOptions{settled: req.Settle || cfg.continuationImm, token: req.Token, related: req.RelatedProviderID}
	res := a.create(ctx, cfg, "Charge", req.Order, opt)
	if res.Outcome == plugins.Processed {
		res.AuthToken = "" // the host already holds it; a charge issues none
	}
	return res, nil
}

// create validates and sends POST /v1/transactions.
func (a *Adapter) create(ctx context.Context, cfg config, op string, o plugins.Order, opt paymentOptions) plugins.TransactionResult {
	p := buildPayment(o, opt)
	if details := p.Validate(wire.Server); len(details) > 0 {
		return plugins.TransactionResult{Result: refused(details), Attempt: o.Attempt}
	}
	r := a.call(ctx, cfg, op, http.MethodPost, "transactions", p)
	if r.result != nil {
		return plugins.TransactionResult{Result: *r.result, Attempt: o.Attempt}
	}
	res := transactionResult(r.tx, r.raw)
	if o.Recurring && r.tx.AuthorizationResult == wire.AuthorizationOK {
		res.AuthToken = r.tx.AuthenticationToken
	}
	return res
}

// transactionResult reads a transaction atone answered with. authorization_result 2 is
// Declined with its reason; 1 is Processed; anything else is a value atone does not send,
// so nobody knows.
func transactionResult(tx wire.Transaction, raw json.RawMessage) plugins.TransactionResult {
	res := plugins.TransactionResult{
		Result:     plugins.Result{Outcome: plugins.Processed, Raw: raw},
		ProviderID: tx.ID,
		Attempt:    tx.ShopTransactionNo,
		Amount:     tx.Amount - tx.AmountRefundTotal,
		State:      stateOf(tx),
	}
	if tx.SalesSettledDatetime != nil {
		// An unreadable time leaves SettledAt zero; State already says captured.
		res.SettledAt, _ = wire.ParseDatetime(*tx.SalesSettledDatetime)
	}
	switch tx.AuthorizationResult {
	case wire.AuthorizationOK:
	case wire.AuthorizationNG:
		reason := 0
		if tx.AuthorizationResultNGReason != nil {
			reason = *tx.AuthorizationResultNGReason
		}
		res.Amount = tx.Amount
		res.Result = plugins.Result{
			Outcome:  plugins.Declined,
			Code:     CodeNG,
			Messages: []string{text(msgNG, ngReasonLabel(reason))},
			Reason:   strconv.Itoa(reason),
			Raw:      raw,
		}
	default:
		res.Result = plugins.Result{Outcome: plugins.Undefined, Code: CodeBadResponse,
			Messages: []string{text(msgBadResponse, http.StatusOK)}, Raw: raw}
	}
	return res
}

// stateOf reads atone's transaction the way production integrations do: refunds covering the
// amount mean cancelled, a settle time means captured [I: atone has no status field].
func stateOf(tx wire.Transaction) plugins.State {
	switch {
	case tx.AuthorizationResult == wire.AuthorizationNG:
		return plugins.StateDeclined
	case tx.AuthorizationResult != wire.AuthorizationOK:
		return plugins.StateUnknown
	case tx.Cancelled():
		return plugins.StateCancelled
	case tx.Settled():
		return plugins.StateCaptured
	}
	return plugins.StateAuthorized
}

// refused answers a payment that failed wire's validation: atone was not called, so
// NotAttempted, with atone's own code, messages and field so the shop sees what to fix. Raw is
// the error body atone would have sent.
func refused(details []wire.ErrorDetail) plugins.Result {
	res := plugins.Result{Outcome: plugins.NotAttempted, Code: details[0].Code}
	if len(details[0].Params) > 0 {
		res.Field = details[0].Params[0]
	}
	for _, d := range details {
		res.Messages = appendNew(res.Messages, d.Messages...)
	}
	if b, err := json.Marshal(wire.NewErrorBody(details...)); err == nil {
		res.Raw = b
	}
	return res
}

// notSent turns the failed reference that precedes a money call into that call's answer: the
// money call was never sent, so a transport failure is NotAttempted; atone's refusal (e.g.
// EATN0133) stays Declined.
func notSent(ref plugins.TransactionResult) plugins.TransactionResult {
	if ref.Outcome == plugins.Undefined || ref.Outcome == plugins.Pending {
		ref.Outcome = plugins.NotAttempted
	}
	return ref
}

// appendNew appends the messages not yet in list: the buyer and the destination are often the
// same person, and one wrong postal code should read once.
func appendNew(list []string, msgs ...string) []string {
	for _, m := range msgs {
		if !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	return list
}
