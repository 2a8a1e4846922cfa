// Package plugins is the adapter contract, version 1: the Go interface a payment adapter
// implements, the go-plugin handshake, and the gRPC shims that carry the interface across the
// process boundary. Adapter authors import it and call Serve from main; the daemon launches
// adapters with go-plugin and talks to them through GRPCClient, which implements the same
// Adapter interface.
//
// Business outcomes are values: a provider's refusal is a Result with Outcome Declined, not
// an error. An error means the call itself failed; on the host side it is always a
// *CallError, and OutcomeOf says whether the host must treat the money as unknown.
package plugins

import "context"

// Adapter is what a payment adapter implements. Adapters are stateless: the host owns every
// order, settlement and token and passes what a call needs; the adapter keeps only the
// settings given to Configure.
//
// Every method receives the caller's context, deadline included (it crosses the process
// boundary); an adapter must pass it to every provider call and give up when it is done.
//
// Errors: return a Result with the right Outcome whenever the provider answered, including
// refusals. Return an error only when there is no answer; wrap ErrInvalidRequest,
// ErrNotConfigured or ErrUnsupported when the provider was certainly not called, so that the
// host knows no money moved. Any other error is treated as "the provider may have been
// reached" (Outcome Undefined). Likewise, return Outcome Undefined rather than an error when
// a provider call timed out after it was sent.
type Adapter interface {
	// Describe says who the adapter is and what it can do; see Description.
	Describe(ctx context.Context) (Description, error)

	// Configure hands the adapter its settings. The host calls it right after launch and
	// whenever the admin saves new settings; the adapter keeps them until the next call.
	// Until Configure succeeds, money operations may fail with ErrNotConfigured.
	Configure(ctx context.Context, s Settings) error

	// ValidateSettings checks a settings form without keeping it, returning one FieldError
	// per problem (none when valid). It may call the provider to test the keys.
	ValidateSettings(ctx context.Context, s Settings) ([]FieldError, error)

	// PrepareCheckout returns the widget configuration for an order.
	PrepareCheckout(ctx context.Context, req CheckoutRequest) (CheckoutResult, error)

	// Confirm verifies the widget's result with the provider and returns the transaction it
	// created. It must check the transaction against req.Order (amount, Attempt).
	//
	// When the check fails the result is Declined with Code CodeMismatch. A Declined result
	// with a ProviderID and Code CodeMismatch names a transaction the provider holds that
	// does not match the order, with that transaction's own Attempt, Amount and State; the
	// host must not record that ProviderID as the order's transaction, and may cancel it.
	//
	// When the widget named a transaction but its check got no answer (Outcome Undefined),
	// ProviderID is the id the widget named and Attempt is req.Order.Attempt, so that the host
	// can keep the id and resolve it later by Reference.
	Confirm(ctx context.Context, req ConfirmRequest) (TransactionResult, error)

	// Reference returns the provider's current view of a transaction (参照). Reconciliation
	// depends on it, so it must be accurate: Outcome Processed only when the provider
	// answered, with the provider's State and Amount. A transaction the provider does not
	// know is Outcome Declined with State StateUnknown.
	Reference(ctx context.Context, req ReferenceRequest) (TransactionResult, error)

	// Capture captures an authorized transaction (売上計上). Requires CanCapture.
	Capture(ctx context.Context, req CaptureRequest) (TransactionResult, error)

	// Cancel cancels or refunds a transaction (取消). Requires CanCancel.
	Cancel(ctx context.Context, req CancelRequest) (TransactionResult, error)

	// Modify replaces a transaction with one for the changed order (取引修正). Requires
	// CanModify.
	Modify(ctx context.Context, req ModifyRequest) (TransactionResult, error)

	// Charge charges a stored token (継続課金). Requires CanCharge.
	Charge(ctx context.Context, req ChargeRequest) (TransactionResult, error)

	// ParseWebhook verifies and decodes a provider notification. Requires CanWebhook.
	ParseWebhook(ctx context.Context, req WebhookRequest) (WebhookEvent, error)
}

// Unsupported answers ErrUnsupported to every optional operation. Adapter authors embed it in
// their adapter and implement only the operations they announce in Capabilities; the host
// never calls the others, and a host that does gets ErrUnsupported (Outcome NotAttempted).
type Unsupported struct{}

// Capture returns ErrUnsupported.
func (Unsupported) Capture(context.Context, CaptureRequest) (TransactionResult, error) {
	return TransactionResult{}, ErrUnsupported
}

// Cancel returns ErrUnsupported.
func (Unsupported) Cancel(context.Context, CancelRequest) (TransactionResult, error) {
	return TransactionResult{}, ErrUnsupported
}

// Modify returns ErrUnsupported.
func (Unsupported) Modify(context.Context, ModifyRequest) (TransactionResult, error) {
	return TransactionResult{}, ErrUnsupported
}

// Charge returns ErrUnsupported.
func (Unsupported) Charge(context.Context, ChargeRequest) (TransactionResult, error) {
	return TransactionResult{}, ErrUnsupported
}

// ParseWebhook returns ErrUnsupported.
func (Unsupported) ParseWebhook(context.Context, WebhookRequest) (WebhookEvent, error) {
	return WebhookEvent{}, ErrUnsupported
}
