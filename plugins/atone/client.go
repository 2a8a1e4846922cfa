package atone

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone/wire"
)

// Timeouts of the default client. atone publishes none; AFTEE's own client uses 3 s to connect
// and 10 s in all. Settling a large cart can take longer, so the overall bound is wider; the
// caller's context usually ends the call first.
const (
	dialTimeout      = 5 * time.Second
	tlsTimeout       = 5 * time.Second
	headerTimeout    = 30 * time.Second
	callTimeout      = 30 * time.Second
	maxResponseBytes = 10 << 20 // a transaction with 9999 lines stays far below this
	// maxIdlePerHost keeps a connection for every charge the continuation run has in flight
	// (KESSAI_CONTINUATION_WORKERS, at most 256): a connection closed after each call would
	// cost a TCP and TLS handshake on the next. Over HTTP/2 one connection carries them all.
	maxIdlePerHost = 256
)

// NewHTTPClient is the client the adapter uses unless Options.HTTPClient is set: bounded
// connect and TLS handshake, TLS 1.2 at least, no redirects (a redirected POST or PATCH would
// be replayed against another URL).
func NewHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: callTimeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   tlsTimeout,
			ResponseHeaderTimeout: headerTimeout,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   maxIdlePerHost,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// reply is atone's answer to one call, already classified.
type reply struct {
	// result is set when the call did not end in a 2xx transaction: its Outcome is final.
	result *plugins.Result
	// tx is the transaction of a 2xx answer.
	tx  wire.Transaction
	raw json.RawMessage
	// codes holds atone's error codes of a 4xx/5xx answer, for callers that branch on one.
	codes []string
}

func (r reply) has(code string) bool {
	for _, c := range r.codes {
		if c == code {
			return true
		}
	}
	return false
}

// trIDPattern: atone ids are "tr_" and 16 characters; the Welcart manual shows ones with "-"
// and "_". The id goes into the URL path, so nothing else is let through.
var trIDPattern = regexp.MustCompile(`^tr_[A-Za-z0-9_-]{1,64}$`)

func checkID(op, id string) error {
	if !trIDPattern.MatchString(id) {
		return fmt.Errorf("%s %q: not an atone transaction id: %w", op, id, plugins.ErrInvalidRequest)
	}
	return nil
}

// call makes one atone API call and classifies its answer:
//
//   - no connection made (DNS, refused, TLS handshake, context over before connecting):
//     NotAttempted, because atone cannot have seen the request;
//   - connection made, then timeout, reset or an unreadable answer: Undefined;
//   - 5xx (EATN9999 system error, EATN9901 maintenance): Undefined, as atone's messages
//     themselves leave open whether anything happened;
//   - other 4xx: Declined with atone's code, messages and params;
//   - 2xx with a transaction: reply.tx, for the caller to judge.
//
// The secret key goes only into the Authorization header; nothing here logs a header or a
// body.
func (a *Adapter) call(ctx context.Context, cfg config, op, method, path string, body any) reply {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()

	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil { // our own types always encode
			return reply{result: &plugins.Result{Outcome: plugins.NotAttempted, Code: CodeBadResponse, Messages: []string{err.Error()}}}
		}
		rd = bytes.NewReader(b)
	}
	u := cfg.apiBase + path
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return reply{result: &plugins.Result{Outcome: plugins.NotAttempted, Code: CodeConnect, Messages: []string{text(msgConnect)}}}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(string(cfg.secretKey), "")

	// Whether a connection was made is the line between "atone never saw it" and "nobody
	// knows": error types alone cannot tell a TLS handshake timeout from a response timeout.
	var connected atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	}))

	start := time.Now() // wall time: the call's elapsed, for the log
	resp, err := a.client.Do(req)
	log := a.logger().With("op", op, "method", method, "path", path) // ids only: never a header or a body
	if err != nil {
		res := transportResult(err, connected.Load())
		log.Warn("atone call failed", "outcome", res.Outcome.String(), "code", res.Code, "elapsed", time.Since(start), "error", err.Error())
		return reply{result: &res}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	log.Debug("atone answered", "status", resp.StatusCode, "elapsed", time.Since(start))
	if err != nil {
		res := transportResult(err, true)
		return reply{result: &res}
	}
	return classify(resp.StatusCode, raw)
}

// transportResult classifies a call that got no HTTP answer.
func transportResult(err error, connected bool) plugins.Result {
	if !connected {
		return plugins.Result{Outcome: plugins.NotAttempted, Code: CodeConnect, Messages: []string{text(msgConnect)}}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return plugins.Result{Outcome: plugins.Undefined, Code: CodeTimeout, Messages: []string{text(msgTimeout)}}
	}
	return plugins.Result{Outcome: plugins.Undefined, Code: CodeNetwork, Messages: []string{text(msgNetwork)}}
}

// classify reads an HTTP answer.
func classify(status int, raw []byte) reply {
	switch {
	case status >= 200 && status < 300:
		var tx wire.Transaction
		if err := json.Unmarshal(raw, &tx); err != nil || tx.ID == "" {
			return reply{result: &plugins.Result{Outcome: plugins.Undefined, Code: CodeBadResponse,
				Messages: []string{text(msgBadResponse, status)}, Raw: jsonOrNil(raw)}}
		}
		return reply{tx: tx, raw: scrub(raw)}
	case status >= 400 && status < 600:
		res := plugins.Result{Outcome: plugins.Declined, Raw: jsonOrNil(raw)}
		if status >= 500 {
			res.Outcome = plugins.Undefined
		}
		var eb wire.ErrorBody
		var codes []string
		if json.Unmarshal(raw, &eb) == nil && len(eb.Errors) > 0 {
			res.Code = eb.Errors[0].Code
			if len(eb.Errors[0].Params) > 0 {
				res.Field = eb.Errors[0].Params[0]
			}
			// Every problem is shown at once, so the shop fixes them in one go.
			for _, d := range eb.Errors {
				codes = append(codes, d.Code)
				res.Messages = appendNew(res.Messages, d.Messages...)
			}
		} else {
			res.Code = fmt.Sprintf("HTTP%d", status)
			res.Messages = []string{text(msgHTTPStatus, status)}
		}
		return reply{result: &res, codes: codes}
	}
	// 1xx and 3xx: not an answer atone gives. The call went out, so nobody knows.
	return reply{result: &plugins.Result{Outcome: plugins.Undefined, Code: CodeBadResponse,
		Messages: []string{text(msgBadResponse, status)}, Raw: jsonOrNil(raw)}}
}

// jsonOrNil keeps a body for the history only when it is JSON: Result.Raw is a JSON column.
func jsonOrNil(raw []byte) json.RawMessage {
	if len(raw) == 0 || !json.Valid(raw) {
		return nil
	}
	return scrub(raw)
}

// scrub masks the buyer's authentication_token wherever it appears in an answer: with the
// secret key it is enough to charge the buyer, and Raw is stored and shown to support. The
// token itself reaches the host only in TransactionResult.AuthToken / WebhookEvent.AuthToken.
func scrub(raw []byte) json.RawMessage {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if s, ok := e.(string); ok && (k == "authentication_token" || k == "pre_token") && s != "" {
					t[k] = maskToken(s)
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(v)
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// maskToken keeps the last four characters, enough for support to tell two tokens apart.
func maskToken(s string) string {
	if len(s) <= 8 {
		return "****"
	}
	return "****" + s[len(s)-4:]
}

func (a *Adapter) logger() hclog.Logger {
	if a.log != nil {
		return a.log
	}
	return hclog.Default().Named("atone")
}
