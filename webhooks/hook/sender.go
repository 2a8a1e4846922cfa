package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kessai/kessai/webhooks/outbox"
)

// Sender is the outbox Handler for Kind: it POSTs the stored event body, signed with the
// endpoint's secret, and treats any 2xx as delivered.
type Sender struct {
	eps    *Endpoints
	client *http.Client
}

var _ outbox.Handler = (*Sender)(nil)

// NewSender returns a Sender. client may be nil; the default one follows no redirects (a 3xx
// is a failure, as the shop must register the final URL) and gives up after 15s. The outbox
// dispatcher's timeout bounds each delivery as well.
func NewSender(eps *Endpoints, client *http.Client) *Sender {
	if client == nil {
		client = &http.Client{
			Timeout:       15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Sender{eps: eps, client: client}
}

// Deliver sends one event to one endpoint.
func (s *Sender) Deliver(ctx context.Context, m outbox.Message) error {
	id, err := strconv.ParseInt(m.Target, 10, 64)
	if err != nil {
		return fmt.Errorf("target %q: %w", m.Target, outbox.ErrPermanent)
	}
	ep, err := s.eps.Get(ctx, m.ShopID, id)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("endpoint %d was deleted: %w", id, outbox.ErrPermanent)
	}
	if err != nil {
		return err
	}
	sec, err := s.eps.Secret(ep)
	if err != nil {
		// The master key changed or the row was altered: retrying cannot fix that, and a
		// message signed with anything else would be refused anyway.
		return fmt.Errorf("%w: %w", err, outbox.ErrPermanent)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(m.Payload))
	if err != nil {
		return fmt.Errorf("endpoint %d: %w: %w", id, err, outbox.ErrPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kessai-webhooks/1")
	req.Header.Set(HeaderEventID, eventIDOf(m.EventID))
	// Signed at send time, not at publish time: a retry hours later carries a fresh timestamp
	// that receivers' tolerance accepts.
	req.Header.Set(HeaderSignature, Sign(sec, time.Now(), m.Payload))
	res, err := s.client.Do(req)
	if err != nil {
		// url.Error repeats the full URL, query string included; we name it ourselves.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post %s: %w", redactURL(ep.URL), err)
	}
	defer res.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	// Drain a little more so the connection can be reused, but never wait on a huge body.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	return &outbox.StatusError{Code: res.StatusCode, Body: strings.TrimSpace(string(head))}
}

// redactURL drops the query string from errors: shops sometimes put tokens there.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
