package atone

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone/wire"
)

// webhookBody covers both notifications atone sends: the payment webhook's body is the
// transaction object (as AFTEE, atone's twin, sends it), the authentication webhook's carries
// the buyer's token and member number [I: its shape is not published; this is the sandbox's].
type webhookBody struct {
	wire.Transaction
	UserNo string `json:"user_no"`
}

// ParseWebhook decodes an atone notification. atone signs nothing, so the event is a hint
// only: the host references ProviderID before believing Amount or State.
func (a *Adapter) ParseWebhook(_ context.Context, req plugins.WebhookRequest) (plugins.WebhookEvent, error) {
	var b webhookBody
	if err := json.Unmarshal(req.Body, &b); err != nil {
		return plugins.WebhookEvent{}, fmt.Errorf("parse webhook: %v: %w", err, plugins.ErrInvalidRequest)
	}
	raw := scrub(req.Body)
	switch {
	case b.ID != "":
		if err := checkID("parse webhook", b.ID); err != nil {
			return plugins.WebhookEvent{}, err
		}
		return plugins.WebhookEvent{
			Kind:       plugins.EventPayment,
			ProviderID: b.ID,
			Attempt:    b.ShopTransactionNo,
			Amount:     b.Amount - b.AmountRefundTotal,
			State:      stateOf(b.Transaction),
			Raw:        raw,
		}, nil
	case b.AuthenticationToken != "":
		return plugins.WebhookEvent{
			Kind:      plugins.EventAuthentication,
			AuthToken: b.AuthenticationToken,
			MemberID:  b.UserNo,
			Raw:       raw,
		}, nil
	}
	return plugins.WebhookEvent{}, fmt.Errorf("parse webhook: neither a transaction nor an authentication: %w", plugins.ErrInvalidRequest)
}
