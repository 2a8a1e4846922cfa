package plugins

import (
	"encoding/json"
	"net/http"

	"github.com/kessai/kessai/plugins/internal/pb"
)

// WebhookRequest is an inbound notification from the provider, as the host received it.
type WebhookRequest struct {
	Headers http.Header
	Body    []byte
}

// EventKind says what a webhook is about.
type EventKind string

// Event kinds.
const (
	// EventPayment: a transaction changed (or was created by the widget). The host does not
	// trust the body: it calls Reference on ProviderID and reconciles.
	EventPayment EventKind = "payment"

	// EventAuthentication: a buyer authenticated and the provider issued AuthToken for them.
	EventAuthentication EventKind = "authentication"

	// EventIgnored: a valid notification the host has nothing to do about (a test ping).
	EventIgnored EventKind = "ignored"
)

// WebhookEvent is what the adapter made of a webhook. A webhook that fails verification is an
// error wrapping ErrInvalidRequest, not an event.
type WebhookEvent struct {
	Kind       EventKind
	ProviderID string

	// Attempt is the merchant reference the notification names, if any.
	Attempt string

	// Amount and State are what the notification claims; the host confirms them by Reference.
	Amount int64
	State  State

	// AuthToken is set on EventAuthentication.
	AuthToken string

	// MemberID is the shop's member id the notification names, if any.
	MemberID string

	// Raw is the notification body, scrubbed of secrets.
	Raw json.RawMessage
}

func toProtoWebhookRequest(r WebhookRequest) *pb.WebhookRequest {
	p := &pb.WebhookRequest{Body: r.Body}
	if len(r.Headers) > 0 {
		p.Headers = make(map[string]*pb.HeaderValues, len(r.Headers))
		for k, vs := range r.Headers {
			p.Headers[k] = &pb.HeaderValues{Values: vs}
		}
	}
	return p
}

func fromProtoWebhookRequest(p *pb.WebhookRequest) WebhookRequest {
	r := WebhookRequest{Body: p.GetBody()}
	if len(p.GetHeaders()) > 0 {
		r.Headers = make(http.Header, len(p.GetHeaders()))
		for k, vs := range p.GetHeaders() {
			r.Headers[k] = vs.GetValues()
		}
	}
	return r
}

func toProtoWebhookEvent(e WebhookEvent) *pb.WebhookEvent {
	return &pb.WebhookEvent{
		Kind:       string(e.Kind),
		ProviderId: e.ProviderID,
		Attempt:    e.Attempt,
		Amount:     e.Amount,
		State:      toProtoState(e.State),
		AuthToken:  e.AuthToken,
		MemberId:   e.MemberID,
		Raw:        e.Raw,
	}
}

func fromProtoWebhookEvent(p *pb.WebhookEvent) WebhookEvent {
	return WebhookEvent{
		Kind:       EventKind(p.GetKind()),
		ProviderID: p.GetProviderId(),
		Attempt:    p.GetAttempt(),
		Amount:     p.GetAmount(),
		State:      fromProtoState(p.GetState()),
		AuthToken:  p.GetAuthToken(),
		MemberID:   p.GetMemberId(),
		Raw:        rawJSON(p.GetRaw()),
	}
}
