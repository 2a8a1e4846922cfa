package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"slices"
	"time"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// LapseAfter is how long an unsettled authorization (仮売上) stays settleable.
const LapseAfter = 90 * 24 * time.Hour

type shopState struct {
	Shop
	txs   map[string]*transaction
	order []string // ids in creation order
	// byNo indexes ids by shop_transaction_no, so the duplicate check stays cheap when a
	// benchmark creates a hundred thousand transactions.
	byNo map[string][]string
}

// transaction is the sandbox's record; wire.Transaction is rendered from it on every answer.
type transaction struct {
	wire.Transaction
	registered time.Time
	member     *Member
	// What the ledger shows beyond atone's own answer: the 取引修正 that replaced it, and how
	// many settle and refund calls succeeded on it.
	replacedBy  string
	settleCalls int
	refundCalls int
}

type token struct {
	value   string
	shop    *shopState
	member  *Member
	revoked bool
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("sandbox: no randomness: " + err.Error()) // crypto/rand does not fail on supported platforms
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// newTransactionID: "tr_" + 16 alphanumerics, like tr_lPv9Bf16QgV0I40y.
func newTransactionID() string { return "tr_" + randomString(16, alnum) }

// newToken: "tk_" + 24 of [A-Za-z0-9_], like tk_Fj2pd6CMEiFp04zcmTOiBLfm.
func newToken() string { return "tk_" + randomString(24, alnum+"_") }

func decodeBase64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	return string(b), err
}

func (s *Server) memberByPhone(phone string) *Member {
	p := wire.NormalizePhone(phone)
	for i := range s.cfg.Members {
		if wire.NormalizePhone(s.cfg.Members[i].Phone) == p {
			return &s.cfg.Members[i]
		}
	}
	return nil
}

// tokenFor returns the buyer's live token at the shop, issuing one on first login or after a
// revocation: a token is the shop's handle on one buyer [I].
// Called with s.mu held.
func (s *Server) tokenFor(sh *shopState, m *Member) *token {
	for _, t := range s.tokens {
		if t.shop == sh && t.member == m && !t.revoked {
			return t
		}
	}
	t := &token{value: newToken(), shop: sh, member: m}
	s.tokens[t.value] = t
	return t
}

// lookupToken resolves an authentication_token for a shop: unknown or another shop's is
// EATN0103, revoked is EATN0104. Called with s.mu held.
func (s *Server) lookupToken(sh *shopState, value string) (*token, *wire.ErrorBody) {
	t := s.tokens[value]
	if t == nil || t.shop != sh {
		return nil, wire.NewError(wire.CodeTokenInvalid)
	}
	if t.revoked {
		return nil, wire.NewError(wire.CodeTokenRevoked)
	}
	return t, nil
}

// RevokeToken invalidates a buyer's authentication_token, as atone does when the buyer
// changes the password; further use answers EATN0104.
func (s *Server) RevokeToken(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[value]
	if t == nil {
		return false
	}
	t.revoked = true
	return true
}

// authorize decides the credit check for a member.
func authorize(m *Member, amount int64) (result int, reason *int) {
	ng := func(r int) (int, *int) { return wire.AuthorizationNG, &r }
	switch {
	case m.AlwaysNG != 0:
		return ng(m.AlwaysNG)
	case m.Limit > 0 && amount > m.Limit:
		return ng(wire.NGReasonAmountExceeded)
	}
	return wire.AuthorizationOK, nil
}

// register is the one place a transaction is created, for the server API and the widget.
// tok is the buyer's live token; the payment is valid. Called with s.mu held.
func (s *Server) register(sh *shopState, p wire.Payment, tok *token, subtractPoint int64) (*transaction, *wire.ErrorBody) {
	now := s.cfg.Now().Add(s.offset)

	// Modification (取引修正): the listed transactions are replaced by the new one.
	var replaced []*transaction
	for _, id := range p.UpdatedTransactions {
		old := sh.txs[id]
		if old == nil || old.AuthorizationResult != wire.AuthorizationOK || old.Cancelled() {
			return nil, wire.NewError(wire.CodeUpdateTarget)
		}
		replaced = append(replaced, old)
	}

	// shop_transaction_no must be new among OK transactions; NG numbers may be reused, and a
	// modification may keep the number of what it replaces.
	for _, id := range sh.byNo[p.ShopTransactionNo] {
		t := sh.txs[id]
		if t.ShopTransactionNo == p.ShopTransactionNo && t.AuthorizationResult == wire.AuthorizationOK &&
			!slices.Contains(replaced, t) && !t.Cancelled() {
			return nil, wire.NewError(wire.CodeDuplicateShopNo)
		}
	}

	var related *string
	if p.RelatedTransaction != "" {
		first := sh.txs[p.RelatedTransaction]
		// A recurring charge must belong to the same buyer as the first order [I].
		if first == nil || first.member != tok.member {
			return nil, wire.NewError(wire.CodeRelatedTarget)
		}
		related = &p.RelatedTransaction
	}

	result, reason := authorize(tok.member, p.Amount)
	// atone re-authorizes a modification only when the amount goes up; otherwise the earlier
	// OK is inherited (merchant support site).
	if len(replaced) > 0 && result == wire.AuthorizationNG && tok.member.AlwaysNG == 0 {
		var max int64
		for _, old := range replaced {
			max = max2(max, old.Amount)
		}
		if p.Amount <= max {
			result, reason = wire.AuthorizationOK, nil
		}
	}

	cust := p.Customer
	cust.Object = wire.ObjectCustomer
	cust.UserNo = p.UserNo
	if cust.UserNo == "" {
		cust.UserNo = tok.member.UserNo
	}
	items := make([]wire.Item, len(p.Items))
	for i, it := range p.Items {
		it.Object = wire.ObjectItem
		items[i] = it
	}
	dests := make([]wire.DestCustomer, len(p.DestCustomers))
	for i, d := range p.DestCustomers {
		d.Object = wire.ObjectDestCustomer
		dests[i] = d
	}
	t := &transaction{
		registered: now,
		member:     tok.member,
		Transaction: wire.Transaction{
			ID:                          newTransactionID(),
			Object:                      wire.ObjectTransaction,
			AuthenticationToken:         tok.value,
			ShopTransactionNo:           p.ShopTransactionNo,
			Amount:                      p.Amount,
			AuthorizationResult:         result,
			AuthorizationResultNGReason: reason,
			SubtractPoint:               subtractPoint,
			RegistrationDatetime:        wire.FormatDatetime(now),
			TransactionOptions:          p.TransactionOptions,
			RelatedTransaction:          related,
			UpdatedTransactions:         p.UpdatedTransactions,
			DescriptionTrans:            p.DescriptionTrans,
			ShopName:                    sh.Name,
			Customer:                    &cust,
			DestCustomers:               dests,
			Items:                       items,
			Refunds:                     []wire.Refund{},
		},
	}
	if result == wire.AuthorizationOK {
		if p.SalesSettled != nil && *p.SalesSettled {
			ts := wire.FormatDatetime(now)
			t.SalesSettledDatetime = &ts
		}
		// The replaced transactions are cancelled only once the new one stands.
		for _, old := range replaced {
			s.refundLocked(old, old.Amount-old.AmountRefundTotal, "取引修正", "取引修正により "+t.ID+" に置き換えられました。", now)
			old.replacedBy = t.ID
		}
	}
	sh.txs[t.ID] = t
	sh.order = append(sh.order, t.ID)
	sh.byNo[t.ShopTransactionNo] = append(sh.byNo[t.ShopTransactionNo], t.ID)
	return t, nil
}

func max2(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func (t *transaction) lapsed(now time.Time) bool {
	return t.SalesSettledDatetime == nil && now.Sub(t.registered) >= LapseAfter
}

// settle confirms the sale (売上確定). Called with s.mu held.
func (s *Server) settle(t *transaction) *wire.ErrorBody {
	now := s.cfg.Now().Add(s.offset)
	switch {
	case t.AuthorizationResult != wire.AuthorizationOK || t.Cancelled():
		return wire.NewError(wire.CodeSettleNotAllowed)
	case t.Settled():
		return wire.NewError(wire.CodeAlreadySettled)
	case t.lapsed(now):
		return wire.NewError(wire.CodeAuthorizationLapsed)
	}
	ts := wire.FormatDatetime(now)
	t.SalesSettledDatetime = &ts
	t.settleCalls++
	return nil
}

// refund gives back amount (nil: everything left, i.e. cancel). It works before and after
// settlement, and on a lapsed authorization, which only cleans it up [I]. Called with s.mu held.
func (s *Server) refund(t *transaction, req wire.RefundRequest) *wire.ErrorBody {
	if t.AuthorizationResult != wire.AuthorizationOK || t.Cancelled() {
		return wire.NewError(wire.CodeRefundNotAllowed)
	}
	left := t.Amount - t.AmountRefundTotal
	amount := left
	if req.AmountRefund != nil {
		amount = *req.AmountRefund
	}
	if amount < 1 || amount > left {
		return wire.NewError(wire.CodeRefundAmount)
	}
	s.refundLocked(t, amount, req.RefundReason, req.DescriptionRefund, s.cfg.Now().Add(s.offset))
	t.refundCalls++
	return nil
}

func (s *Server) refundLocked(t *transaction, amount int64, reason, desc string, now time.Time) {
	t.Refunds = append(t.Refunds, wire.Refund{
		Object:            wire.ObjectRefund,
		AmountRefund:      amount,
		RefundDatetime:    wire.FormatDatetime(now),
		RefundReason:      reason,
		DescriptionRefund: desc,
	})
	t.AmountRefundTotal += amount
}

// view is the transaction as atone shows it, copied so that callers never share state.
func (t *transaction) view() wire.Transaction {
	v := t.Transaction
	v.Refunds = append([]wire.Refund{}, t.Refunds...)
	if t.Customer != nil {
		c := *t.Customer
		v.Customer = &c
	}
	return v
}

// Transaction returns a shop's transaction as atone would answer a reference, for tests that
// look behind the API.
func (s *Server) Transaction(publicKey, id string) (wire.Transaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.byPub[publicKey]
	if sh == nil || sh.txs[id] == nil {
		return wire.Transaction{}, false
	}
	return sh.txs[id].view(), true
}

// Transactions lists a shop's transactions in creation order; the janitor tests use it to see
// what was committed although the client never got the answer.
func (s *Server) Transactions(publicKey string) []wire.Transaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.byPub[publicKey]
	if sh == nil {
		return nil
	}
	out := make([]wire.Transaction, 0, len(sh.order))
	for _, id := range sh.order {
		out = append(out, sh.txs[id].view())
	}
	return out
}

func maskPhone(p string) string {
	n := wire.NormalizePhone(p)
	if len(n) < 4 {
		return n
	}
	return n[:3] + "-****-" + n[len(n)-4:]
}
