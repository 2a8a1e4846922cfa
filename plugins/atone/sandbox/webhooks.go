package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// Webhook kinds. atone's merchant portal configures a payment webhook (on authorization OK
// and NG) and an authentication webhook (on buyer login). The payment body is the transaction
// object (as AFTEE, atone's twin, sends it); the authentication body is inferred [I]. atone
// publishes no signature and no retry policy, so the sandbox signs nothing and delivers once
// [I].
const (
	WebhookPayment        = "payment"
	WebhookAuthentication = "authentication"
)

// AuthenticationEvent is the body of the authentication webhook [I].
type AuthenticationEvent struct {
	Object              string `json:"object"`
	AuthenticationToken string `json:"authentication_token"`
	UserNo              string `json:"user_no"`
	Livemode            bool   `json:"livemode"`
}

// Delivery records one webhook call.
type Delivery struct {
	Kind   string          `json:"kind"`
	URL    string          `json:"url"`
	Body   json.RawMessage `json:"body"`
	Status int             `json:"status"`
	Error  string          `json:"error,omitempty"`
	At     time.Time       `json:"at"`
}

// maxDeliveries bounds the webhook calls kept for Deliveries, so that a long billing run
// does not keep every body it sent.
const maxDeliveries = 1000

// Deliveries returns the webhook calls made so far, finished ones only: the last 1000.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.sent...)
}

func (s *Server) paymentWebhook(sh *shopState, t wire.Transaction) {
	s.deliver(WebhookPayment, sh.PaymentWebhookURL, t)
}

func (s *Server) authenticationWebhook(sh *shopState, tok, userNo string) {
	s.deliver(WebhookAuthentication, sh.AuthenticationWebhookURL, AuthenticationEvent{
		Object: "authentication", AuthenticationToken: tok, UserNo: userNo,
	})
}

// deliver posts body to url in the background: atone's webhooks do not hold up the call that
// caused them.
func (s *Server) deliver(kind, url string, body any) {
	if url == "" {
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		s.log.Error("webhook body", "kind", kind, "err", err)
		return
	}
	s.hooks.Add(1)
	go func() {
		defer s.hooks.Done()
		d := Delivery{Kind: kind, URL: url, Body: b, At: s.Now()}
		if status, err := s.post(url, b); err != nil {
			d.Error = err.Error()
		} else {
			d.Status = status
		}
		s.mu.Lock()
		if len(s.sent) >= maxDeliveries {
			s.sent = append(s.sent[:0], s.sent[len(s.sent)-maxDeliveries+1:]...)
		}
		s.sent = append(s.sent, d)
		s.mu.Unlock()
	}()
}

func (s *Server) post(url string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook %s: %w", url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
