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
	"unicode/utf8"

	"github.com/kessai/kessai/core/outbox"
)

// Sender is the outbox Handler for Kind: it POSTs the stored event body, signed with the
// endpoint's secret, and treats any 2xx as delivered.
type Sender struct {
	eps    *Endpoints
	client *http.Client
}

var _ outbox.Handler = (*Sender)(nil)

// maxLoggedBody is how much of a receiver's answer the delivery log keeps: enough for an
// error message, too little to carry a page of whatever the URL pointed at.
const maxLoggedBody = 200

// NewSender returns a Sender that dials under the registry's Policy. Its client follows no
// redirects (a 3xx is a failure, as the shop must register the final URL, and a redirect
// would be a way around the policy's check of the registered host), uses no proxy from the
// environment (the proxy, not kessai, would choose the address), and gives up after 15s. The
// outbox dispatcher's timeout bounds each delivery as well.
func NewSender(eps *Endpoints) *Sender {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           newDialer(eps.policy).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	client := &http.Client{
		Transport:     tr,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Sender{eps: eps, client: client}
}

// CloseIdleConnections closes the connections kept alive after earlier deliveries, as when
// an endpoint is known to have gone away.
func (s *Sender) CloseIdleConnections() { s.client.CloseIdleConnections() }

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
	// An endpoint registered under a laxer policy (or before there was one) gets the current
	// rule; its addresses are checked by the dialer.
	if strings.HasPrefix(ep.URL, "http:") && !s.eps.policy.AllowHTTP {
		return fmt.Errorf("endpoint %d: %w: http:// is not allowed, only https://: %w", id, ErrRefused, outbox.ErrPermanent)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(m.Payload))
	if err != nil {
		return fmt.Errorf("endpoint %d: %w: %w", id, err, outbox.ErrPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kessai-webhooks/1")
	req.Header.Set(HeaderEventID, eventIDOf(m.EventID))
	// Signed at send time, not at publish time: a retry hours later carries a fresh timestamp
	// that receivers' tolerance accepts. The stamp is the wall clock's, not the daemon's: the
	// receiver checks it against its own.
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
	head, _ := io.ReadAll(io.LimitReader(res.Body, maxLoggedBody))
	// Drain a little more so the connection can be reused, but never wait on a huge body.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	se := &outbox.StatusError{Code: res.StatusCode}
	// A 5xx body is most often a proxy's or a server's error page, not the shop's words; the
	// code says enough.
	if res.StatusCode < 500 {
		se.Body = loggedBody(head)
	}
	return se
}

// loggedBody is the start of an answer as the delivery log keeps it: cut whole characters,
// not in the middle of one.
func loggedBody(head []byte) string {
	s := string(head)
	if len(head) == maxLoggedBody {
		for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
			if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
				break
			}
			s = s[:len(s)-1]
		}
	}
	return strings.TrimSpace(strings.ToValidUTF8(s, "?"))
}

// redactURL drops the query string from errors: shops sometimes put tokens there.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
