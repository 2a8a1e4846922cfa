package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kessai/kessai/plugins"
)

// adapter implements plugins.Adapter over the in-memory provider.
type adapter struct {
	mu       sync.Mutex
	settings plugins.Settings
	prov     *provider
}

var _ plugins.Adapter = (*adapter)(nil)

func newAdapter() *adapter {
	return &adapter{prov: newProvider()}
}

func (a *adapter) setting(key string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.settings[key]
}

func (a *adapter) Describe(ctx context.Context) (plugins.Description, error) {
	return plugins.Description{
		Slug:            "testmodule",
		DisplayName:     "テストモジュール",
		Version:         "1.0.0",
		SettlementCodes: []string{"acting_testmodule"},
		Settings: []plugins.SettingField{
			{Key: "public_key", Label: "公開鍵", Kind: plugins.FieldText, Required: true},
			{Key: "secret_key", Label: "シークレットキー", Kind: plugins.FieldSecret, Required: true, Secret: true},
			{Key: "settle", Label: "即時売上確定", Kind: plugins.FieldSelect, Default: "off",
				Options: []plugins.Option{{Value: "on", Label: "する"}, {Value: "off", Label: "しない"}}},
			{Key: "limit", Label: "与信上限額", Kind: plugins.FieldText, Help: "この金額を超える注文は与信NG（金額超過）になります。空欄は無制限。"},
			{Key: "switch_file", Label: "障害スイッチファイル", Kind: plugins.FieldText},
			{Key: "state_file", Label: "取引保存ファイル", Kind: plugins.FieldText},
			{Key: "webhook_secret", Label: "Webhook署名鍵", Kind: plugins.FieldSecret, Secret: true},
		},
		Capabilities: slices.DeleteFunc([]plugins.Capability{
			plugins.CanCapture, plugins.CanCancel, plugins.CanModify,
			plugins.CanCharge, plugins.CanWebhook, plugins.CanPartial,
		}, func(c plugins.Capability) bool { return slices.Contains(strings.Split(without, ","), string(c)) }),
	}, nil
}

func (a *adapter) Configure(ctx context.Context, s plugins.Settings) error {
	if errs, _ := a.ValidateSettings(ctx, s); hasFormatError(errs) {
		return fmt.Errorf("configure: %s: %w", errs[0].Message, plugins.ErrInvalidRequest)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settings = s
	a.prov.setFile(s["state_file"])
	return nil
}

// hasFormatError ignores missing keys: tests configure the module without keys, and only a
// malformed value would make it misbehave.
func hasFormatError(errs []plugins.FieldError) bool {
	for _, e := range errs {
		if e.Code != "required" {
			return true
		}
	}
	return false
}

func (a *adapter) ValidateSettings(ctx context.Context, s plugins.Settings) ([]plugins.FieldError, error) {
	var errs []plugins.FieldError
	if s["public_key"] == "" {
		errs = append(errs, plugins.FieldError{Field: "public_key", Code: "required", Message: "公開鍵を入力してください。"})
	}
	if s["secret_key"] == "" {
		errs = append(errs, plugins.FieldError{Field: "secret_key", Code: "required", Message: "シークレットキーを入力してください。"})
	}
	if v := s["settle"]; v != "" && v != "on" && v != "off" {
		errs = append(errs, plugins.FieldError{Field: "settle", Code: "choice", Message: "即時売上確定は「する」か「しない」を選んでください。"})
	}
	if v := s["limit"]; v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			errs = append(errs, plugins.FieldError{Field: "limit", Code: "format", Message: "与信上限額は0以上の整数で入力してください。"})
		}
	}
	return errs, nil
}

func (a *adapter) PrepareCheckout(ctx context.Context, req plugins.CheckoutRequest) (plugins.CheckoutResult, error) {
	sw, err := a.trip(ctx, "PrepareCheckout", &req.Order)
	if err != nil {
		return plugins.CheckoutResult{}, err
	}
	if err := checkOrder(req.Order); err != nil {
		return plugins.CheckoutResult{}, fmt.Errorf("prepare checkout: %w", err)
	}
	if sw.mode == "decline" {
		return plugins.CheckoutResult{Result: declinedBySwitch()}, nil
	}
	payment, _ := json.Marshal(map[string]any{
		"amount":              req.Order.Amount,
		"shop_transaction_no": req.Order.Attempt,
		"checksum":            a.checksum(req.Order),
	})
	res := plugins.CheckoutResult{
		Result: plugins.Result{Outcome: plugins.Processed},
		Widget: plugins.Widget{
			ScriptURL: "https://testmodule.invalid/widget.js",
			PublicKey: a.setting("public_key"),
			PreToken:  req.AuthToken,
			Payment:   payment,
		},
	}
	res.Outcome = sw.outcome(res.Outcome)
	return res, sw.after()
}

func (a *adapter) checksum(o plugins.Order) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s,%d,%s", a.setting("secret_key"), o.Amount, o.Attempt))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// widgetResult is what the simulated widget posts back, shaped like atone's.
type widgetResult struct {
	ID                  string `json:"id"`
	AuthorizationResult int    `json:"authorization_result"`
	NGReason            int    `json:"authorization_result_ng_reason"`
}

func (a *adapter) Confirm(ctx context.Context, req plugins.ConfirmRequest) (plugins.TransactionResult, error) {
	sw, err := a.trip(ctx, "Confirm", &req.Order)
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if err := checkOrder(req.Order); err != nil {
		return plugins.TransactionResult{}, fmt.Errorf("confirm %s: %w", req.Order.Attempt, err)
	}
	var w widgetResult
	if err := json.Unmarshal(req.Payload, &w); err != nil {
		return plugins.TransactionResult{}, fmt.Errorf("confirm %s: widget payload: %v: %w", req.Order.Attempt, err, plugins.ErrInvalidRequest)
	}
	if sw.mode == "decline" {
		return plugins.TransactionResult{Result: declinedBySwitch(), Attempt: req.Order.Attempt, State: plugins.StateDeclined}, nil
	}
	if w.AuthorizationResult == 2 {
		return plugins.TransactionResult{
			Result: plugins.Result{
				Outcome:  plugins.Declined,
				Code:     "ETEST0100",
				Messages: []string{"与信審査の結果、ご利用いただけませんでした。"},
				Reason:   strconv.Itoa(w.NGReason),
				Raw:      req.Payload,
			},
			ProviderID: w.ID,
			Attempt:    req.Order.Attempt,
			State:      plugins.StateDeclined,
		}, nil
	}
	if r, declined := a.overLimit(req.Order); declined {
		return r, nil
	}
	res := a.prov.authorize(w.ID, req.Order, a.setting("settle") == "on")
	return sw.finish(res)
}

func (a *adapter) overLimit(o plugins.Order) (plugins.TransactionResult, bool) {
	limit, err := strconv.ParseInt(a.setting("limit"), 10, 64)
	if err != nil || limit == 0 || o.Amount <= limit {
		return plugins.TransactionResult{}, false
	}
	return plugins.TransactionResult{
		Result: plugins.Result{
			Outcome:  plugins.Declined,
			Code:     "ETEST0201",
			Messages: []string{"ご利用可能額を超えています。"},
			Field:    "amount",
			Reason:   "1", // atone's 金額超過
		},
		Attempt: o.Attempt,
		Amount:  o.Amount,
		State:   plugins.StateDeclined,
	}, true
}

func (a *adapter) Reference(ctx context.Context, req plugins.ReferenceRequest) (plugins.TransactionResult, error) {
	sw, err := a.trip(ctx, "Reference", nil)
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if req.ProviderID == "env:" {
		raw, _ := json.Marshal(os.Environ())
		return plugins.TransactionResult{Result: plugins.Result{Outcome: plugins.Processed, Raw: raw}, ProviderID: req.ProviderID}, nil
	}
	if req.ProviderID == "" && req.Attempt == "" {
		return plugins.TransactionResult{}, fmt.Errorf("reference: no provider id nor attempt: %w", plugins.ErrInvalidRequest)
	}
	if sw.mode == "decline" {
		return plugins.TransactionResult{Result: declinedBySwitch()}, nil
	}
	return sw.finish(a.prov.reference(req.ProviderID, req.Attempt))
}

func (a *adapter) Capture(ctx context.Context, req plugins.CaptureRequest) (plugins.TransactionResult, error) {
	sw, err := a.trip(ctx, "Capture", nil)
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if sw.mode == "decline" {
		return plugins.TransactionResult{Result: declinedBySwitch(), ProviderID: req.ProviderID}, nil
	}
	return sw.finish(a.prov.capture(req.ProviderID, req.Amount))
}

func (a *adapter) Cancel(ctx context.Context, req plugins.CancelRequest) (plugins.TransactionResult, error) {
	sw, err := a.trip(ctx, "Cancel", nil)
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if sw.mode == "decline" {
		return plugins.TransactionResult{Result: declinedBySwitch(), ProviderID: req.ProviderID}, nil
	}
	return sw.finish(a.prov.cancel(req.ProviderID, req.Amount))
}

func (a *adapter) Modify(ctx context.Context, req plugins.ModifyRequest) (plugins.TransactionResult, error) {
	sw, err := a.trip(ctx, "Modify", &req.Order)
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if err := checkOrder(req.Order); err != nil {
		return plugins.TransactionResult{}, fmt.Errorf("modify %s: %w", req.ProviderID, err)
	}
	if sw.mode == "decline" {
		return plugins.TransactionResult{Result: declinedBySwitch(), Attempt: req.Order.Attempt}, nil
	}
	if r, declined := a.overLimit(req.Order); declined {
		return r, nil
	}
	return sw.finish(a.prov.modify(req.ProviderID, req.Order, req.Settled))
}

func (a *adapter) Charge(ctx context.Context, req plugins.ChargeRequest) (plugins.TransactionResult, error) {
	sw, err := a.trip(ctx, "Charge", &req.Order)
	if err != nil {
		return plugins.TransactionResult{}, err
	}
	if err := checkOrder(req.Order); err != nil {
		return plugins.TransactionResult{}, fmt.Errorf("charge %s: %w", req.RelatedProviderID, err)
	}
	if req.Token == "" {
		return plugins.TransactionResult{}, fmt.Errorf("charge %s: no token: %w", req.RelatedProviderID, plugins.ErrInvalidRequest)
	}
	if sw.mode == "decline" {
		return plugins.TransactionResult{Result: declinedBySwitch(), Attempt: req.Order.Attempt}, nil
	}
	if r, declined := a.overLimit(req.Order); declined {
		return r, nil
	}
	return sw.finish(a.prov.charge(req.Token, req.RelatedProviderID, req.Order, req.Settle))
}

// webhookBody is the test provider's notification.
type webhookBody struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Token  string `json:"token"`
	Member string `json:"member"`
}

func (a *adapter) ParseWebhook(ctx context.Context, req plugins.WebhookRequest) (plugins.WebhookEvent, error) {
	if _, err := a.trip(ctx, "ParseWebhook", nil); err != nil {
		return plugins.WebhookEvent{}, err
	}
	if secret := a.setting("webhook_secret"); secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(req.Body)
		got, _ := hex.DecodeString(req.Headers.Get("X-Testmodule-Signature"))
		if !hmac.Equal(got, mac.Sum(nil)) {
			return plugins.WebhookEvent{}, fmt.Errorf("webhook: bad signature: %w", plugins.ErrInvalidRequest)
		}
	}
	var b webhookBody
	if err := json.Unmarshal(req.Body, &b); err != nil {
		return plugins.WebhookEvent{}, fmt.Errorf("webhook: %v: %w", err, plugins.ErrInvalidRequest)
	}
	ev := plugins.WebhookEvent{ProviderID: b.ID, AuthToken: b.Token, MemberID: b.Member, Raw: req.Body}
	switch b.Kind {
	case "payment":
		ev.Kind = plugins.EventPayment
		if t, ok := a.prov.lookup(b.ID, ""); ok {
			ev.Attempt, ev.Amount, ev.State = t.Attempt, t.Amount, t.State
		}
	case "authentication":
		ev.Kind = plugins.EventAuthentication
	default:
		ev.Kind = plugins.EventIgnored
	}
	return ev, nil
}

func checkOrder(o plugins.Order) error {
	switch {
	case o.Attempt == "":
		return fmt.Errorf("order %d: no attempt: %w", o.ID, plugins.ErrInvalidRequest)
	case o.Amount <= 0:
		return fmt.Errorf("order %d: amount %d: %w", o.ID, o.Amount, plugins.ErrInvalidRequest)
	}
	return nil
}

func declinedBySwitch() plugins.Result {
	return plugins.Result{
		Outcome:  plugins.Declined,
		Code:     "ETEST0101",
		Messages: []string{"テスト用の拒否です。", "別のお支払い方法をお選びください。"},
		Field:    "customer.email",
		Reason:   "9",
	}
}

// errProviderDown is what the "error" switch returns: a provider API failure of unknown
// effect, which the host must treat as Undefined.
var errProviderDown = errors.New("testmodule: provider returned 500")

// wait sleeps for d unless ctx ends first, like a provider call that honours the deadline.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
