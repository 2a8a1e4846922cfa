package sandbox

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"math/big"
	"slices"
	"time"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// LapseAfter is how long an unsettled authorization (仮売上) stays settleable.
const LapseAfter = 90 * 24 * time.Hour

type shopState struct {
	Shop
}

// transaction is the sandbox's record; wire.Transaction is rendered from it on every answer.
// It is read from the database for each call and written back when the call changes it.
type transaction struct {
	wire.Transaction
	registered time.Time
	// buyer is the member's normalized phone number: a recurring charge must be the same
	// buyer's.
	buyer string
	// What the ledger shows beyond atone's own answer: the 取引修正 that replaced it, and how
	// many settle and refund calls succeeded on it.
	replacedBy  string
	settleCalls int
	refundCalls int
}

// token is a live authentication_token as a call resolved it; revocation lives in the data.
type token struct {
	value  string
	shop   *shopState
	member *Member
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
	phone := wire.NormalizePhone(m.Phone)
	var value string
	err := s.db.QueryRow(`SELECT value FROM tokens WHERE shop = ? AND phone = ? AND revoked = 0 LIMIT 1`, sh.PublicKey, phone).Scan(&value)
	if err == nil {
		return &token{value: value, shop: sh, member: m}
	}
	t := &token{value: newToken(), shop: sh, member: m}
	if _, err := s.db.Exec(`INSERT INTO tokens (value, shop, phone) VALUES (?, ?, ?)`, t.value, sh.PublicKey, phone); err != nil {
		// The buyer sees the token refused on its first use, as after a revocation.
		s.log.Error("sandbox data", "op", "issue token", "err", err)
	}
	return t
}

// lookupToken resolves an authentication_token for a shop: unknown or another shop's is
// EATN0103, revoked is EATN0104. Called with s.mu held.
func (s *Server) lookupToken(sh *shopState, value string) (*token, *wire.ErrorBody) {
	var shop, phone string
	var revoked bool
	err := s.db.QueryRow(`SELECT shop, phone, revoked FROM tokens WHERE value = ?`, value).Scan(&shop, &phone, &revoked)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && shop != sh.PublicKey) {
		return nil, wire.NewError(wire.CodeTokenInvalid)
	}
	if err != nil {
		return nil, s.failed("look up token", err)
	}
	if revoked {
		return nil, wire.NewError(wire.CodeTokenRevoked)
	}
	m := s.storedMember(phone)
	if m == nil {
		return nil, wire.NewError(wire.CodeTokenInvalid)
	}
	return &token{value: value, shop: sh, member: m}, nil
}

// RevokeToken invalidates a buyer's authentication_token, as atone does when the buyer
// changes the password; further use answers EATN0104.
func (s *Server) RevokeToken(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.db.Exec(`UPDATE tokens SET revoked = 1 WHERE value = ?`, value)
	if err != nil {
		s.log.Error("sandbox data", "op", "revoke token", "err", err)
		return false
	}
	n, err := res.RowsAffected()
	return err == nil && n > 0
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
// tok is the buyer's live token; the payment is valid. The new transaction and the
// transactions it replaces are stored together. Called with s.mu held.
func (s *Server) register(sh *shopState, p wire.Payment, tok *token, subtractPoint int64) (*transaction, *wire.ErrorBody) {
	tx, err := s.db.Begin()
	if err != nil {
		return nil, s.failed("register", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	t, eb, err := s.registerIn(tx, sh, p, tok, subtractPoint)
	if err == nil && eb == nil {
		err = tx.Commit()
	}
	if err != nil {
		return nil, s.failed("register", err)
	}
	return t, eb
}

func (s *Server) registerIn(q querier, sh *shopState, p wire.Payment, tok *token, subtractPoint int64) (*transaction, *wire.ErrorBody, error) {
	now := s.cfg.Now().Add(s.offset)
	buyer := wire.NormalizePhone(tok.member.Phone)

	// Modification (取引修正): the listed transactions are replaced by the new one.
	var replaced []*transaction
	for _, id := range p.UpdatedTransactions {
		old, err := loadTx(q, sh, id)
		if err != nil {
			return nil, nil, err
		}
		if old == nil || old.AuthorizationResult != wire.AuthorizationOK || old.Cancelled() {
			return nil, wire.NewError(wire.CodeUpdateTarget), nil
		}
		replaced = append(replaced, old)
	}

	// shop_transaction_no must be new among OK transactions; NG numbers may be reused, and a
	// modification may keep the number of what it replaces.
	same, err := txsByNo(q, sh, p.ShopTransactionNo)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range same {
		isReplaced := slices.ContainsFunc(replaced, func(r *transaction) bool { return r.ID == t.ID })
		if t.AuthorizationResult == wire.AuthorizationOK && !isReplaced && !t.Cancelled() {
			return nil, wire.NewError(wire.CodeDuplicateShopNo), nil
		}
	}

	var related *string
	if p.RelatedTransaction != "" {
		first, err := loadTx(q, sh, p.RelatedTransaction)
		if err != nil {
			return nil, nil, err
		}
		// A recurring charge must belong to the same buyer as the first order [I].
		if first == nil || first.buyer != buyer {
			return nil, wire.NewError(wire.CodeRelatedTarget), nil
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
		buyer:      buyer,
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
			if err := saveTx(q, old); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := insertTx(q, sh, t); err != nil {
		return nil, nil, err
	}
	return t, nil, nil
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
	if sh == nil {
		return wire.Transaction{}, false
	}
	t, err := loadTx(s.db, sh, id)
	if err != nil {
		s.log.Error("sandbox data", "op", "transaction", "err", err)
	}
	if t == nil {
		return wire.Transaction{}, false
	}
	return t.view(), true
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
	out := []wire.Transaction{}
	if err := eachTx(s.db, sh.PublicKey, func(t *transaction) { out = append(out, t.view()) }); err != nil {
		s.log.Error("sandbox data", "op", "transactions", "err", err)
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
