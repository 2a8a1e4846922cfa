package plugins

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kessai/kessai/plugins/internal/pb"
)

// GRPCClient is the host's view of an adapter running in another process: it implements
// Adapter by calling the adapter over gRPC, so the daemon uses the same interface whether the
// adapter is in-process (tests) or not. The context of each call, deadline included, crosses
// the boundary.
//
// Every error it returns is a *CallError; see OutcomeOf for what the host must record. It
// keeps no state: after the adapter process is replaced, the host must call Configure on the
// new client.
type GRPCClient struct {
	client pb.AdapterClient
}

var _ Adapter = (*GRPCClient)(nil)

// NewGRPCClient returns a client over an established connection. Hosts normally get one from
// go-plugin by dispensing PluginName; this constructor is for custom transports.
func NewGRPCClient(conn grpc.ClientConnInterface) *GRPCClient {
	return &GRPCClient{client: pb.NewAdapterClient(conn)}
}

// Describe implements Adapter.
func (c *GRPCClient) Describe(ctx context.Context) (Description, error) {
	p, err := c.client.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Description{}, fromStatus("Describe", err)
	}
	return fromProtoDescription(p), nil
}

// Configure implements Adapter.
func (c *GRPCClient) Configure(ctx context.Context, s Settings) error {
	if _, err := c.client.Configure(ctx, &pb.ConfigureRequest{Settings: s}); err != nil {
		return fromStatus("Configure", err)
	}
	return nil
}

// ValidateSettings implements Adapter.
func (c *GRPCClient) ValidateSettings(ctx context.Context, s Settings) ([]FieldError, error) {
	p, err := c.client.ValidateSettings(ctx, &pb.ValidateSettingsRequest{Settings: s})
	if err != nil {
		return nil, fromStatus("ValidateSettings", err)
	}
	return fromProtoFieldErrors(p.GetErrors()), nil
}

// PrepareCheckout implements Adapter.
func (c *GRPCClient) PrepareCheckout(ctx context.Context, req CheckoutRequest) (CheckoutResult, error) {
	p, err := c.client.PrepareCheckout(ctx, toProtoCheckoutRequest(req))
	if err != nil {
		return CheckoutResult{}, fromStatus("PrepareCheckout", err)
	}
	return fromProtoCheckoutResult(p), nil
}

// Confirm implements Adapter.
func (c *GRPCClient) Confirm(ctx context.Context, req ConfirmRequest) (TransactionResult, error) {
	return transactionResult("Confirm")(c.client.Confirm(ctx, toProtoConfirmRequest(req)))
}

// Reference implements Adapter.
func (c *GRPCClient) Reference(ctx context.Context, req ReferenceRequest) (TransactionResult, error) {
	return transactionResult("Reference")(c.client.Reference(ctx, toProtoReferenceRequest(req)))
}

// Capture implements Adapter.
func (c *GRPCClient) Capture(ctx context.Context, req CaptureRequest) (TransactionResult, error) {
	return transactionResult("Capture")(c.client.Capture(ctx, toProtoCaptureRequest(req)))
}

// Cancel implements Adapter.
func (c *GRPCClient) Cancel(ctx context.Context, req CancelRequest) (TransactionResult, error) {
	return transactionResult("Cancel")(c.client.Cancel(ctx, toProtoCancelRequest(req)))
}

// Modify implements Adapter.
func (c *GRPCClient) Modify(ctx context.Context, req ModifyRequest) (TransactionResult, error) {
	return transactionResult("Modify")(c.client.Modify(ctx, toProtoModifyRequest(req)))
}

// Charge implements Adapter.
func (c *GRPCClient) Charge(ctx context.Context, req ChargeRequest) (TransactionResult, error) {
	return transactionResult("Charge")(c.client.Charge(ctx, toProtoChargeRequest(req)))
}

// ParseWebhook implements Adapter.
func (c *GRPCClient) ParseWebhook(ctx context.Context, req WebhookRequest) (WebhookEvent, error) {
	p, err := c.client.ParseWebhook(ctx, toProtoWebhookRequest(req))
	if err != nil {
		return WebhookEvent{}, fromStatus("ParseWebhook", err)
	}
	return fromProtoWebhookEvent(p), nil
}

func transactionResult(op string) func(*pb.TransactionResult, error) (TransactionResult, error) {
	return func(p *pb.TransactionResult, err error) (TransactionResult, error) {
		if err != nil {
			return TransactionResult{}, fromStatus(op, err)
		}
		return fromProtoTransactionResult(p), nil
	}
}

// fromStatus turns a failed RPC into a *CallError whose cause matches the sentinels the
// adapter used (see toStatus), or ErrTransport when the connection failed, or the context
// errors when the deadline passed or the host cancelled.
func fromStatus(op string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return &CallError{Op: op, Err: err}
	}
	var cause error
	msg := st.Message()
	switch st.Code() {
	case codes.Unimplemented:
		cause = ErrUnsupported
	case codes.FailedPrecondition:
		cause = ErrNotConfigured
	case codes.InvalidArgument:
		cause = ErrInvalidRequest
	case codes.DeadlineExceeded:
		cause = context.DeadlineExceeded
	case codes.Canceled:
		cause = context.Canceled
	case codes.Unavailable:
		// The process died or the connection broke, possibly after the adapter had already
		// called the provider.
		cause = ErrTransport
		msg = fmt.Sprintf("%v: %s", ErrTransport, msg)
	}
	return &CallError{Op: op, Err: &remoteError{msg: msg, cause: cause, status: err}}
}

// remoteError keeps the adapter's own message while matching the sentinel it stands for.
type remoteError struct {
	msg    string
	cause  error // nil when the adapter's error was of no known kind
	status error // the gRPC status error, for status.FromError
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.status}
	}
	return []error{e.cause, e.status}
}
