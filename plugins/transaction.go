package plugins

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kessai/kessai/plugins/internal/pb"
)

// State is where a transaction stands at the provider, as the provider says. It is separate
// from Outcome: a Reference can be Processed (the provider answered) and report StateCancelled.
type State int

// Provider-side transaction states. StateUnknown is the zero value.
const (
	StateUnknown    State = iota // the adapter could not tell, or the transaction was not found
	StateAuthorized              // 与信済み / 仮売上: money reserved, not captured
	StateCaptured                // 売上計上: money will move to the shop
	StateCancelled               // 取消済み: nothing will move (or it was refunded)
	StateDeclined                // the provider refused the authorization (与信NG)
)

var stateNames = [...]string{
	StateUnknown:    "unknown",
	StateAuthorized: "authorized",
	StateCaptured:   "captured",
	StateCancelled:  "cancelled",
	StateDeclined:   "declined",
}

// String returns the lower-case state name ("authorized", …).
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// TransactionResult is the provider's answer to any call about one transaction: Confirm,
// Reference, Capture, Cancel, Modify, Charge. The host compares Amount and Attempt with what
// it asked for before believing a Processed answer.
type TransactionResult struct {
	Result

	// ProviderID is the provider's transaction id (atone "tr_…"), shown as 決済ID. Modify and
	// Charge return the id of the new transaction.
	ProviderID string

	// Attempt is the merchant reference the provider holds for the transaction (atone's
	// shop_transaction_no), empty if the provider did not say.
	Attempt string

	// Amount is the amount the provider holds for the transaction, in yen.
	Amount int64

	State State

	// AuthToken is the reusable token for continuation charges, set when the order was
	// Recurring and the provider issued one.
	AuthToken string

	// SettledAt is when the provider captured the transaction; zero if not captured.
	SettledAt time.Time
}

// ReferenceRequest asks the provider for the current state of a transaction (参照).
type ReferenceRequest struct {
	// ProviderID is the provider's transaction id. When it is empty (the call that created
	// the transaction never answered), adapters whose provider can search by merchant
	// reference look the transaction up by Attempt.
	ProviderID string
	Attempt    string
}

// CaptureRequest captures (売上計上) an authorized transaction.
type CaptureRequest struct {
	ProviderID string

	// Amount to capture in yen; 0 means the full authorized amount. Less than that requires
	// the CanPartial capability.
	Amount int64
}

// CancelRequest cancels (取消) an authorized or captured transaction.
type CancelRequest struct {
	ProviderID string

	// Amount to cancel in yen; 0 means all of it. Less than that requires CanPartial.
	Amount int64
}

// ModifyRequest replaces a transaction with a new one for the changed order (取引修正): the
// provider creates the new transaction and cancels the old one. The result describes the new
// transaction.
type ModifyRequest struct {
	// ProviderID is the transaction being replaced.
	ProviderID string

	// Order is the order as it is now; its Attempt is new.
	Order Order

	// Settled captures the new transaction at once (the old one was captured).
	Settled bool
}

// ChargeRequest creates a transaction without the buyer, using a token issued on the first
// order of a continuation (継続課金).
type ChargeRequest struct {
	// Token is TransactionResult.AuthToken from the first order.
	Token string

	// RelatedProviderID is the first transaction of the series (atone's related_transaction).
	RelatedProviderID string

	Order Order

	// Settle captures the transaction at once.
	Settle bool
}

func toProtoState(s State) pb.State {
	switch s {
	case StateAuthorized:
		return pb.State_STATE_AUTHORIZED
	case StateCaptured:
		return pb.State_STATE_CAPTURED
	case StateCancelled:
		return pb.State_STATE_CANCELLED
	case StateDeclined:
		return pb.State_STATE_DECLINED
	default:
		return pb.State_STATE_UNSPECIFIED
	}
}

func fromProtoState(p pb.State) State {
	switch p {
	case pb.State_STATE_AUTHORIZED:
		return StateAuthorized
	case pb.State_STATE_CAPTURED:
		return StateCaptured
	case pb.State_STATE_CANCELLED:
		return StateCancelled
	case pb.State_STATE_DECLINED:
		return StateDeclined
	default:
		return StateUnknown
	}
}

func toProtoTransactionResult(r TransactionResult) *pb.TransactionResult {
	p := &pb.TransactionResult{
		Result:     toProtoResult(r.Result),
		ProviderId: r.ProviderID,
		Attempt:    r.Attempt,
		Amount:     r.Amount,
		State:      toProtoState(r.State),
		AuthToken:  r.AuthToken,
	}
	if !r.SettledAt.IsZero() {
		p.SettledAt = timestamppb.New(r.SettledAt)
	}
	return p
}

func fromProtoTransactionResult(p *pb.TransactionResult) TransactionResult {
	r := TransactionResult{
		Result:     fromProtoResult(p.GetResult()),
		ProviderID: p.GetProviderId(),
		Attempt:    p.GetAttempt(),
		Amount:     p.GetAmount(),
		State:      fromProtoState(p.GetState()),
		AuthToken:  p.GetAuthToken(),
	}
	if p.GetSettledAt() != nil {
		r.SettledAt = p.GetSettledAt().AsTime()
	}
	return r
}

func toProtoReferenceRequest(r ReferenceRequest) *pb.ReferenceRequest {
	return &pb.ReferenceRequest{ProviderId: r.ProviderID, Attempt: r.Attempt}
}

func fromProtoReferenceRequest(p *pb.ReferenceRequest) ReferenceRequest {
	return ReferenceRequest{ProviderID: p.GetProviderId(), Attempt: p.GetAttempt()}
}

func toProtoCaptureRequest(r CaptureRequest) *pb.CaptureRequest {
	return &pb.CaptureRequest{ProviderId: r.ProviderID, Amount: r.Amount}
}

func fromProtoCaptureRequest(p *pb.CaptureRequest) CaptureRequest {
	return CaptureRequest{ProviderID: p.GetProviderId(), Amount: p.GetAmount()}
}

func toProtoCancelRequest(r CancelRequest) *pb.CancelRequest {
	return &pb.CancelRequest{ProviderId: r.ProviderID, Amount: r.Amount}
}

func fromProtoCancelRequest(p *pb.CancelRequest) CancelRequest {
	return CancelRequest{ProviderID: p.GetProviderId(), Amount: p.GetAmount()}
}

func toProtoModifyRequest(r ModifyRequest) *pb.ModifyRequest {
	return &pb.ModifyRequest{ProviderId: r.ProviderID, Order: toProtoOrder(r.Order), Settled: r.Settled}
}

func fromProtoModifyRequest(p *pb.ModifyRequest) ModifyRequest {
	return ModifyRequest{ProviderID: p.GetProviderId(), Order: fromProtoOrder(p.GetOrder()), Settled: p.GetSettled()}
}

func toProtoChargeRequest(r ChargeRequest) *pb.ChargeRequest {
	return &pb.ChargeRequest{
		Token:             r.Token,
		RelatedProviderId: r.RelatedProviderID,
		Order:             toProtoOrder(r.Order),
		Settle:            r.Settle,
	}
}

func fromProtoChargeRequest(p *pb.ChargeRequest) ChargeRequest {
	return ChargeRequest{
		Token:             p.GetToken(),
		RelatedProviderID: p.GetRelatedProviderId(),
		Order:             fromProtoOrder(p.GetOrder()),
		Settle:            p.GetSettle(),
	}
}
