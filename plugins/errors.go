package plugins

import (
	"errors"
	"fmt"
)

// Sentinel errors. Adapters return them (wrapped or not) when a call fails for a known
// reason before reaching the provider; they cross the process boundary as gRPC status codes
// and come back on the host side wrapped in a *CallError, so callers test them with
// errors.Is. A provider's refusal is never one of these: it is a Result with Outcome
// Declined.
var (
	// ErrUnsupported: the adapter does not offer this operation (see Description.Capabilities).
	ErrUnsupported = errors.New("operation not supported by adapter")

	// ErrNotConfigured: the adapter has no (valid) settings yet; the host must call Configure.
	ErrNotConfigured = errors.New("adapter not configured")

	// ErrInvalidRequest: the adapter refused the request before calling the provider
	// (missing field, malformed widget payload, bad webhook signature).
	ErrInvalidRequest = errors.New("invalid request")

	// ErrProtocol: host and adapter do not speak the same contract (version mismatch, unknown
	// value on the wire, handshake refused).
	ErrProtocol = errors.New("adapter protocol error")

	// ErrTransport: the call did not complete because the adapter process or the connection
	// to it failed (process exited, connection reset). Whether the provider was reached is
	// unknown.
	ErrTransport = errors.New("adapter transport failure")
)

// CallError is what every method of GRPCClient returns when the call failed, whatever the
// reason: the adapter returned an error, the process died mid-call, the context's deadline
// passed. Op is the RPC name ("Capture"); Err wraps the cause, so errors.Is(err,
// ErrUnsupported), errors.Is(err, ErrTransport) and errors.Is(err, context.DeadlineExceeded)
// work through it.
//
// The question a payment host must answer about a failed call is whether it may have reached
// the provider: if it may, money may have moved, and the settlement must go to unknown and be
// resolved by Reference (see OutcomeOf).
type CallError struct {
	Op  string
	Err error
}

func (e *CallError) Error() string { return fmt.Sprintf("adapter %s: %v", e.Op, e.Err) }

func (e *CallError) Unwrap() error { return e.Err }

// MayHaveReachedProvider reports whether the failed call may have reached the provider. It is
// false only when the adapter said it refused the call up front (ErrUnsupported,
// ErrNotConfigured, ErrInvalidRequest); for everything else (transport failure, deadline,
// cancellation, an adapter error of unknown kind) it is true, because only the provider
// knows.
//
// For operations that move no money (Describe, Configure, ValidateSettings, Reference,
// ParseWebhook) the answer does not matter and the call may simply be repeated.
func (e *CallError) MayHaveReachedProvider() bool {
	return !(errors.Is(e.Err, ErrUnsupported) ||
		errors.Is(e.Err, ErrNotConfigured) ||
		errors.Is(e.Err, ErrInvalidRequest))
}

// OutcomeOf classifies the error of a failed adapter call into the outcome the host records:
// NotAttempted when the call certainly did not reach the provider, Undefined otherwise.
//
// It is meant for non-nil errors; when err is nil the outcome is in the result. OutcomeOf(nil)
// returns Undefined so that a caller who lost the result still asks the provider rather than
// assuming. Errors that are not a *CallError (the host's own failures around the call) are
// classified by the same sentinels.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return Undefined
	}
	var ce *CallError
	if !errors.As(err, &ce) {
		ce = &CallError{Err: err}
	}
	if ce.MayHaveReachedProvider() {
		return Undefined
	}
	return NotAttempted
}
