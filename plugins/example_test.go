package plugins_test

import (
	"context"
	"fmt"

	"github.com/kessai/kessai/plugins"
)

// konbini is an adapter for a made-up provider that can authorize and look up a
// transaction, nothing more; plugins.Unsupported answers the optional operations.
type konbini struct {
	plugins.Unsupported
	settings plugins.Settings
}

var _ plugins.Adapter = (*konbini)(nil)

func (k *konbini) Describe(context.Context) (plugins.Description, error) {
	return plugins.Description{
		Slug:            "konbini",
		DisplayName:     "コンビニ払い",
		Version:         "0.1.0",
		SettlementCodes: []string{"acting_konbini"},
		Settings: []plugins.SettingField{
			{Key: "api_key", Label: "APIキー", Kind: plugins.FieldSecret, Required: true, Secret: true},
		},
	}, nil
}

func (k *konbini) Configure(_ context.Context, s plugins.Settings) error {
	k.settings = s
	return nil
}

func (k *konbini) ValidateSettings(_ context.Context, s plugins.Settings) ([]plugins.FieldError, error) {
	if s["api_key"] == "" {
		return []plugins.FieldError{{Field: "api_key", Code: "required", Message: "APIキーを入力してください。"}}, nil
	}
	return nil, nil
}

func (k *konbini) PrepareCheckout(_ context.Context, req plugins.CheckoutRequest) (plugins.CheckoutResult, error) {
	if k.settings["api_key"] == "" {
		return plugins.CheckoutResult{}, plugins.ErrNotConfigured
	}
	return plugins.CheckoutResult{Result: plugins.Result{Outcome: plugins.Processed}}, nil
}

func (k *konbini) Confirm(ctx context.Context, req plugins.ConfirmRequest) (plugins.TransactionResult, error) {
	// A real adapter verifies req.Payload with the provider, passing ctx, and checks the
	// amount and Attempt against req.Order before answering Processed.
	return plugins.TransactionResult{
		Result:  plugins.Result{Outcome: plugins.Processed},
		Attempt: req.Order.Attempt,
		Amount:  req.Order.Amount,
		State:   plugins.StateAuthorized,
	}, nil
}

func (k *konbini) Reference(ctx context.Context, req plugins.ReferenceRequest) (plugins.TransactionResult, error) {
	// The provider does not know the transaction: a value, not an error.
	return plugins.TransactionResult{
		Result:     plugins.Result{Outcome: plugins.Declined, Code: "NOT_FOUND", Messages: []string{"取引が見つかりません。"}},
		ProviderID: req.ProviderID,
	}, nil
}

// An adapter binary's main hands its adapter to Serve, which speaks the go-plugin handshake
// and gRPC with the daemon until the daemon ends the process.
func ExampleServe() {
	plugins.Serve(&konbini{})
}

// The host records a failed call by what OutcomeOf says: a call that may have reached the
// provider is undefined and resolved later by Reference, never retried blindly.
func ExampleOutcomeOf() {
	crashed := &plugins.CallError{Op: "Capture", Err: plugins.ErrTransport}
	unsupported := &plugins.CallError{Op: "Charge", Err: plugins.ErrUnsupported}
	fmt.Println(plugins.OutcomeOf(crashed))
	fmt.Println(plugins.OutcomeOf(unsupported))
	// Output:
	// undefined
	// not_attempted
}
