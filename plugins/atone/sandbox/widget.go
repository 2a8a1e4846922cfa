package sandbox

import (
	"bytes"
	"embed"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// The widget has two halves, as atone's has: atone.js on the shop's page, and the checkout
// page it opens in an iframe at /payment/#/. They speak atone.js's postMessage protocol, so
// the production atone.js works against this checkout page once its host name is changed.
//
//go:embed assets
var assets embed.FS

func (s *Server) serveAtoneJS(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/atone.js")
	if err != nil {
		http.Error(w, "atone.js missing from the build", http.StatusInternalServerError)
		return
	}
	// atone.js finds its origin from its own <script src>; the origin of this request is
	// the fallback for pages that load it in unusual ways.
	b = bytes.ReplaceAll(b, []byte("__SANDBOX_ORIGIN__"), []byte(requestOrigin(r)))
	// atone.js throws where production's throws; ?lenient=1 keeps the forgiving script of
	// old for pages written against it.
	lenient := "false"
	if r.URL.Query().Get("lenient") == "1" {
		lenient = "true"
	}
	b = bytes.ReplaceAll(b, []byte("__SANDBOX_LENIENT__"), []byte(lenient))
	w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func (s *Server) servePaymentPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/payment/" {
		writeJSON(w, http.StatusNotFound, wire.NewError(wire.CodeBadRequest))
		return
	}
	b, err := assets.ReadFile("assets/payment.html")
	if err != nil {
		http.Error(w, "payment.html missing from the build", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// widgetRequest is what the checkout page (and /sandbox/v1/widget/complete) sends: the
// message atone.js posted to the iframe, plus what the buyer typed.
type widgetRequest struct {
	PubKey              string          `json:"pub_key"`
	PreToken            string          `json:"pre_token"`
	Payment             json.RawMessage `json:"payment"`
	PhoneNumber         string          `json:"phone_number"`
	Password            string          `json:"password"`
	AuthenticationToken string          `json:"authentication_token"`
}

// WidgetCompletion is the answer of /sandbox/v1/widget/complete: what the authenticated and
// succeeded/failed callbacks would have received.
type WidgetCompletion struct {
	AuthenticationToken string            `json:"authentication_token"`
	UserNo              string            `json:"user_no"`
	Result              wire.WidgetResult `json:"result"`
}

type widgetSession struct {
	shop    *shopState
	payment wire.Payment
}

// open checks what every widget step checks again, because the page is not trusted: the
// public key (EATN0304), the checksum (EATN0351) and the payment (EATN03xx).
func (s *Server) open(r *http.Request) (widgetRequest, widgetSession, *wire.ErrorBody) {
	var req widgetRequest
	body, err := readBody(r)
	if err != nil || json.Unmarshal(body, &req) != nil {
		return req, widgetSession{}, wire.NewError(wire.CodeWidgetJSON)
	}
	s.mu.Lock()
	sh := s.byPub[req.PubKey]
	s.mu.Unlock()
	if sh == nil {
		return req, widgetSession{}, wire.NewError(wire.CodeWidgetPublicKey)
	}
	if len(bytes.TrimSpace(req.Payment)) == 0 || bytes.Equal(bytes.TrimSpace(req.Payment), []byte("null")) {
		return req, widgetSession{}, wire.NewErrorBody(wire.Lookup("EATN0336").Detail(), wire.Lookup("EATN0331").Detail())
	}
	// The checksum is checked on the payment as the shop signed it, before any leniency.
	if ok, err := wire.VerifyChecksum(sh.SecretKey, []byte(req.Payment)); err != nil {
		return req, widgetSession{}, wire.NewError(wire.CodeWidgetJSON)
	} else if !ok {
		return req, widgetSession{}, wire.NewError(wire.CodeWidgetChecksum)
	}
	p, details, err := wire.ParsePayment(req.Payment, wire.Widget)
	if err != nil {
		return req, widgetSession{}, wire.NewError(wire.CodeWidgetJSON)
	}
	if details != nil {
		return req, widgetSession{}, wire.NewErrorBody(details...)
	}
	// Server-only fields have no place in a widget payment.
	p.AuthenticationToken, p.UpdatedTransactions, p.RelatedTransaction = "", nil, ""
	return req, widgetSession{shop: sh, payment: p}, nil
}

// widgetCheck runs when the buyer presses the shop's button: it validates, and tells the page
// whether the shop's pre_token lets the buyer skip the login.
func (s *Server) widgetCheck(r *http.Request) (int, any) {
	req, ws, eb := s.open(r)
	if eb != nil {
		return errorAnswer(eb)
	}
	answer := struct {
		LoggedIn bool   `json:"logged_in"`
		Phone    string `json:"phone,omitempty"`
		Amount   int64  `json:"amount"`
		ShopName string `json:"shop_name"`
	}{Amount: ws.payment.Amount, ShopName: ws.shop.Name}
	if req.PreToken != "" {
		s.mu.Lock()
		// A stale pre_token just means logging in again [I].
		if tok, eb := s.lookupToken(ws.shop, req.PreToken); eb == nil {
			answer.LoggedIn, answer.Phone = true, maskPhone(tok.member.Phone)
		}
		s.mu.Unlock()
	}
	return http.StatusOK, answer
}

// login authenticates a member and returns the shop's token for that buyer.
func (s *Server) login(ws widgetSession, phone, password string) (*token, *wire.ErrorBody) {
	m := s.memberByPhone(phone)
	if m == nil || m.Password != password {
		return nil, wire.NewError(wire.CodeWidgetAuthFailed)
	}
	s.mu.Lock()
	tok := s.tokenFor(ws.shop, m)
	s.mu.Unlock()
	s.authenticationWebhook(ws.shop, tok.value, userNo(ws.payment, m))
	return tok, nil
}

func userNo(p wire.Payment, m *Member) string {
	if p.UserNo != "" {
		return p.UserNo
	}
	return m.UserNo
}

func (s *Server) widgetLogin(r *http.Request) (int, any) {
	req, ws, eb := s.open(r)
	if eb != nil {
		return errorAnswer(eb)
	}
	tok, eb := s.login(ws, req.PhoneNumber, req.Password)
	if eb != nil {
		return errorAnswer(eb)
	}
	return http.StatusOK, map[string]string{
		"authentication_token": tok.value,
		"user_no":              userNo(ws.payment, tok.member),
		"phone":                maskPhone(tok.member.Phone),
	}
}

// charge authorizes and registers the widget's transaction for a logged-in buyer.
func (s *Server) charge(ws widgetSession, tokenValue string) (*token, wire.WidgetResult, *wire.ErrorBody) {
	if tokenValue == "" {
		return nil, wire.WidgetResult{}, wire.NewError(wire.CodeWidgetNoToken)
	}
	s.mu.Lock()
	tok, eb := s.lookupToken(ws.shop, tokenValue)
	if eb != nil {
		s.mu.Unlock()
		return nil, wire.WidgetResult{}, wire.NewError(wire.CodeWidgetTokenInvalid)
	}
	t, eb := s.register(ws.shop, ws.payment, tok, 0)
	var view wire.Transaction
	if t != nil {
		view = t.view()
	}
	s.mu.Unlock()
	if eb != nil {
		return nil, wire.WidgetResult{}, eb
	}
	s.paymentWebhook(ws.shop, view)
	return tok, wire.WidgetResult{
		ID:                          view.ID,
		AuthorizationResult:         view.AuthorizationResult,
		AuthorizationResultNGReason: view.AuthorizationResultNGReason,
		SubtractPoint:               view.SubtractPoint,
	}, nil
}

func (s *Server) widgetAuthorize(r *http.Request) (int, any) {
	req, ws, eb := s.open(r)
	if eb != nil {
		return errorAnswer(eb)
	}
	_, res, eb := s.charge(ws, req.AuthenticationToken)
	if eb != nil {
		return errorAnswer(eb)
	}
	return http.StatusOK, res
}

// widgetComplete does in one call what a buyer does in the widget: log in (or use the
// pre_token), confirm, and get the callbacks' payloads. Sandbox only, for API tests.
func (s *Server) widgetComplete(r *http.Request) (int, any) {
	req, ws, eb := s.open(r)
	if eb != nil {
		return errorAnswer(eb)
	}
	value := req.PreToken
	if req.PhoneNumber != "" || req.Password != "" {
		tok, eb := s.login(ws, req.PhoneNumber, req.Password)
		if eb != nil {
			return errorAnswer(eb)
		}
		value = tok.value
	}
	tok, res, eb := s.charge(ws, value)
	if eb != nil {
		return errorAnswer(eb)
	}
	return http.StatusOK, WidgetCompletion{
		AuthenticationToken: tok.value,
		UserNo:              userNo(ws.payment, tok.member),
		Result:              res,
	}
}
