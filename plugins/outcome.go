package plugins

import (
	"encoding/json"
	"fmt"

	"github.com/kessai/kessai/plugins/internal/pb"
)

// Outcome says what happened to the money on one provider call, in Kill Bill's five words.
// It is the only thing the host branches on; Code, Messages and Reason say why.
//
// The zero value is Undefined on purpose: a result whose adapter forgot to set an outcome is
// treated as "nobody knows" and resolved by Reference, never mistaken for a success or a
// refusal.
type Outcome int

const (
	// Undefined: nobody knows whether money moved (the provider timed out, the connection
	// broke, the adapter crashed mid-call). The host marks the settlement unknown and resolves
	// it later by Reference; it never retries the call blindly, so nobody is charged twice.
	Undefined Outcome = iota

	// Processed: the provider accepted the operation and money moved (or, for Reference,
	// the provider answered and the result's State is the truth).
	Processed

	// Pending: the provider accepted the request but has not decided yet (e.g. a manual
	// review). The host records it and waits for a webhook or a later Reference.
	Pending

	// Declined: the provider answered and refused (NG). Nothing moved. It is a normal answer,
	// recorded with the result's Code, Messages, Field and Reason; the host may show it to
	// the shop and may try again with a new Attempt.
	Declined

	// NotAttempted: the request never reached the provider (bad input caught by the adapter,
	// operation not offered, not configured). Nothing moved and retrying is safe once the
	// cause is fixed.
	NotAttempted
)

var outcomeNames = [...]string{
	Undefined:    "undefined",
	Processed:    "processed",
	Pending:      "pending",
	Declined:     "declined",
	NotAttempted: "not_attempted",
}

// String returns the lower-case name used in logs, JSON and the settlement history
// ("processed", "pending", "declined", "not_attempted", "undefined").
func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// ParseOutcome is the inverse of String.
func ParseOutcome(s string) (Outcome, error) {
	for o, name := range outcomeNames {
		if name == s {
			return Outcome(o), nil
		}
	}
	return Undefined, fmt.Errorf("outcome %q: %w", s, ErrProtocol)
}

// MarshalText encodes the outcome as its String form, so JSON and database columns read as
// words rather than numbers.
func (o Outcome) MarshalText() ([]byte, error) {
	if o < 0 || int(o) >= len(outcomeNames) {
		return nil, fmt.Errorf("outcome %d: %w", int(o), ErrProtocol)
	}
	return []byte(o.String()), nil
}

// UnmarshalText decodes the String form.
func (o *Outcome) UnmarshalText(b []byte) error {
	v, err := ParseOutcome(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// Result is the provider's answer to one call, embedded in every result type. On Declined it
// carries what the shop and the admin need to see: the provider's error code, its messages
// (Japanese, as the provider wrote them), the input field it blamed and its reason code.
type Result struct {
	Outcome Outcome

	// Code is the provider's error or status code (atone: "EATN0332"); empty on success.
	Code string

	// Messages are the provider's own messages, shown to people as they are.
	Messages []string

	// Field names the request field the provider blamed, in the provider's terms
	// ("customer.tel"), when it named one.
	Field string

	// Reason is the provider's machine-readable reason for a refusal (atone's
	// authorization_result_ng_reason: "1" 金額超過, "9" その他).
	Reason string

	// Raw is the provider's response, scrubbed of secrets, kept for the history and for
	// support. The host stores it but never interprets it.
	Raw json.RawMessage
}

// CodeMismatch is the Result.Code an adapter gives when the provider's transaction does not
// match the order it was checked against (another Attempt, another amount, another result
// than the buyer's page reported). The provider answered, so the result is Declined; its
// ProviderID, Attempt, Amount and State describe the provider's transaction, not the order's.
// The host branches on it to keep that id off the order and to offer cancelling the stray
// transaction at the provider.
const CodeMismatch = "KESSAI_MISMATCH"

func toProtoOutcome(o Outcome) pb.Outcome {
	switch o {
	case Processed:
		return pb.Outcome_OUTCOME_PROCESSED
	case Pending:
		return pb.Outcome_OUTCOME_PENDING
	case Declined:
		return pb.Outcome_OUTCOME_DECLINED
	case NotAttempted:
		return pb.Outcome_OUTCOME_NOT_ATTEMPTED
	default:
		return pb.Outcome_OUTCOME_UNDEFINED
	}
}

// fromProtoOutcome reads an unspecified or unknown outcome (from a newer adapter) as
// Undefined: the host then asks the provider instead of guessing.
func fromProtoOutcome(o pb.Outcome) Outcome {
	switch o {
	case pb.Outcome_OUTCOME_PROCESSED:
		return Processed
	case pb.Outcome_OUTCOME_PENDING:
		return Pending
	case pb.Outcome_OUTCOME_DECLINED:
		return Declined
	case pb.Outcome_OUTCOME_NOT_ATTEMPTED:
		return NotAttempted
	default:
		return Undefined
	}
}

func toProtoResult(r Result) *pb.Result {
	return &pb.Result{
		Outcome:  toProtoOutcome(r.Outcome),
		Code:     r.Code,
		Messages: r.Messages,
		Field:    r.Field,
		Reason:   r.Reason,
		Raw:      r.Raw,
	}
}

func fromProtoResult(p *pb.Result) Result {
	// A missing result is an adapter that answered nothing useful: Undefined, the zero value.
	return Result{
		Outcome:  fromProtoOutcome(p.GetOutcome()),
		Code:     p.GetCode(),
		Messages: p.GetMessages(),
		Field:    p.GetField(),
		Reason:   p.GetReason(),
		Raw:      rawJSON(p.GetRaw()),
	}
}

// rawJSON keeps an absent payload nil rather than an empty, invalid json.RawMessage.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}
