package sandbox

import (
	"net/http"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// LedgerEntry is one transaction as the sandbox knows it: the ground truth a consistency
// checker compares a shop's own record with. Beyond what atone's reference answers, it says
// which 取引修正 replaced the transaction and how many settle and refund calls succeeded on
// it, so that a double 売上確定 or 取消 is visible even where atone's answer would hide it.
type LedgerEntry struct {
	// Shop is the public key of the shop the transaction belongs to.
	Shop              string `json:"shop"`
	ID                string `json:"id"`
	ShopTransactionNo string `json:"shop_transaction_no"`
	Amount            int64  `json:"amount"`
	// AuthorizationResult is atone's 1 (OK) or 2 (NG).
	AuthorizationResult int  `json:"authorization_result"`
	Settled             bool `json:"settled"`
	// SettledAt is sales_settled_datetime in atone's format, "" while unsettled.
	SettledAt string `json:"settled_at"`
	// Refunded means the whole amount was refunded: the transaction is cancelled (取消済み),
	// by a refund call or by the 取引修正 that replaced it.
	Refunded       bool  `json:"refunded"`
	AmountRefunded int64 `json:"amount_refunded"`
	// ReplacedBy is the id of the transaction that named this one in updated_transactions.
	ReplacedBy string `json:"replaced_by"`
	// SettleCount and RefundCount count the settle and refund calls that succeeded; the
	// refund a 取引修正 makes is not a call and is not counted.
	SettleCount int `json:"settle_count"`
	RefundCount int `json:"refund_count"`
	// RelatedTransaction is the first transaction of a 継続課金 series, "" for one-off orders.
	RelatedTransaction string `json:"related_transaction"`
	Registered         string `json:"registration_datetime"`
}

// OK reports an authorization atone granted.
func (e LedgerEntry) OK() bool { return e.AuthorizationResult == wire.AuthorizationOK }

// Live reports a transaction that still holds the buyer's money or credit: authorized or
// settled, neither refunded nor replaced.
func (e LedgerEntry) Live() bool { return e.OK() && !e.Refunded && e.ReplacedBy == "" }

// Ledger lists every transaction of every shop, shops in configuration order and each shop's
// transactions in creation order.
func (s *Server) Ledger() []LedgerEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []LedgerEntry{}
	for _, sh := range s.shops {
		err := eachTx(s.db, sh.PublicKey, func(t *transaction) { out = append(out, t.ledgerEntry(sh.PublicKey)) })
		if err != nil {
			s.log.Error("sandbox data", "op", "ledger", "err", err)
		}
	}
	return out
}

// ledgerEntry is called with s.mu held.
func (t *transaction) ledgerEntry(shop string) LedgerEntry {
	e := LedgerEntry{
		Shop:                shop,
		ID:                  t.ID,
		ShopTransactionNo:   t.ShopTransactionNo,
		Amount:              t.Amount,
		AuthorizationResult: t.AuthorizationResult,
		Settled:             t.Settled(),
		Refunded:            t.Cancelled(),
		AmountRefunded:      t.AmountRefundTotal,
		ReplacedBy:          t.replacedBy,
		SettleCount:         t.settleCalls,
		RefundCount:         t.refundCalls,
		Registered:          t.RegistrationDatetime,
	}
	if t.SalesSettledDatetime != nil {
		e.SettledAt = *t.SalesSettledDatetime
	}
	if t.RelatedTransaction != nil {
		e.RelatedTransaction = *t.RelatedTransaction
	}
	return e
}

// ledgerHTTP is GET /sandbox/v1/transactions: the ledger for checkers in other processes.
func (s *Server) ledgerHTTP(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"transactions": s.Ledger()})
}
