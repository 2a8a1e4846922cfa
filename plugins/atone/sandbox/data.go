package sandbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/glebarez/go-sqlite" // the pure-Go SQLite driver kessai itself runs on

	"github.com/kessai/kessai/plugins/atone/wire"
)

// The sandbox keeps transactions, tokens and members in SQLite, on a file (Config.DataPath)
// or in memory. Memory stays flat however many transactions a billing run makes: nothing is
// cached in maps, and every lookup goes through an index (id, shop_transaction_no, the buyer's
// token), so a restarted sandbox answers for every order taken before it.

// dataVersion is the schema's user_version; a file of another version is refused rather
// than read wrong.
const dataVersion = 1

var schema = []string{
	`CREATE TABLE IF NOT EXISTS members (
		phone TEXT PRIMARY KEY,
		body  TEXT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS tokens (
		value   TEXT PRIMARY KEY,
		shop    TEXT NOT NULL,
		phone   TEXT NOT NULL,
		revoked INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX IF NOT EXISTS tokens_buyer ON tokens (shop, phone, revoked)`,
	`CREATE TABLE IF NOT EXISTS transactions (
		seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
		id                  TEXT NOT NULL UNIQUE,
		shop                TEXT NOT NULL,
		shop_transaction_no TEXT NOT NULL,
		body                TEXT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS transactions_no ON transactions (shop, shop_transaction_no)`,
	`CREATE INDEX IF NOT EXISTS transactions_shop ON transactions (shop, seq)`,
}

// openData opens (creating it if needed) the sandbox's database at path, "" for one in
// memory that ends with the Server.
func openData(path string, members []Member) (*sql.DB, error) {
	dsn := "file::memory:"
	if !isMemory(path) {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("sandbox data %s: %w", path, err)
			}
		}
		// WAL with synchronous NORMAL: a commit does not wait for the disk, and a crash loses at
		// most the last few calls, never the file.
		dsn = "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sandbox data %s: %w", describe(path), err)
	}
	// One connection: calls are serialized by the Server's lock anyway, and an in-memory
	// database lives exactly as long as its one connection.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := migrateData(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sandbox data %s: %w", describe(path), err)
	}
	for _, m := range members {
		b, err := json.Marshal(m)
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("sandbox data: member %s: %w", m.Phone, err)
		}
		// The configuration wins: a member whose limit changed between runs has the new one.
		_, err = db.Exec(`INSERT INTO members (phone, body) VALUES (?, ?)
			ON CONFLICT (phone) DO UPDATE SET body = excluded.body`, wire.NormalizePhone(m.Phone), string(b))
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("sandbox data %s: store members: %w", describe(path), err)
		}
	}
	return db, nil
}

func describe(path string) string {
	if isMemory(path) {
		return "(in memory)"
	}
	return path
}

func migrateData(db *sql.DB) error {
	var v int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v != 0 && v != dataVersion {
		return fmt.Errorf("schema version %d, this sandbox reads %d: move the file aside to start afresh", v, dataVersion)
	}
	for _, q := range schema {
		if _, err := db.Exec(q); err != nil {
			return err
		}
	}
	_, err := db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, dataVersion))
	return err
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// record is a transaction as stored: atone's object plus what only the sandbox knows.
type record struct {
	Transaction wire.Transaction `json:"transaction"`
	Registered  time.Time        `json:"registered"`
	Buyer       string           `json:"buyer"` // the member's normalized phone number
	ReplacedBy  string           `json:"replaced_by,omitempty"`
	SettleCalls int              `json:"settle_calls,omitempty"`
	RefundCalls int              `json:"refund_calls,omitempty"`
}

func (t *transaction) encode() (string, error) {
	b, err := json.Marshal(record{Transaction: t.Transaction, Registered: t.registered, Buyer: t.buyer,
		ReplacedBy: t.replacedBy, SettleCalls: t.settleCalls, RefundCalls: t.refundCalls})
	return string(b), err
}

func decodeTransaction(body string) (*transaction, error) {
	var r record
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, fmt.Errorf("stored transaction: %w", err)
	}
	if r.Transaction.Refunds == nil {
		r.Transaction.Refunds = []wire.Refund{}
	}
	return &transaction{Transaction: r.Transaction, registered: r.Registered, buyer: r.Buyer,
		replacedBy: r.ReplacedBy, settleCalls: r.SettleCalls, refundCalls: r.RefundCalls}, nil
}

// loadTx returns a shop's transaction, nil for an unknown id or another shop's.
func loadTx(q querier, sh *shopState, id string) (*transaction, error) {
	var body string
	err := q.QueryRowContext(context.Background(), `SELECT body FROM transactions WHERE id = ? AND shop = ?`, id, sh.PublicKey).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load transaction %s: %w", id, err)
	}
	return decodeTransaction(body)
}

// txsByNo returns a shop's transactions with a shop_transaction_no.
func txsByNo(q querier, sh *shopState, no string) ([]*transaction, error) {
	rows, err := q.QueryContext(context.Background(), `SELECT body FROM transactions WHERE shop = ? AND shop_transaction_no = ? ORDER BY seq`, sh.PublicKey, no)
	if err != nil {
		return nil, fmt.Errorf("transactions numbered %s: %w", no, err)
	}
	return scanTxs(rows)
}

func scanTxs(rows *sql.Rows) ([]*transaction, error) {
	defer rows.Close()
	var out []*transaction
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		t, err := decodeTransaction(body)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// eachTx calls f with a shop's transactions in creation order, one at a time, so that a
// ledger of many thousands is never held whole as transactions.
func eachTx(db *sql.DB, shop string, f func(*transaction)) error {
	rows, err := db.Query(`SELECT body FROM transactions WHERE shop = ? ORDER BY seq`, shop)
	if err != nil {
		return fmt.Errorf("list transactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return err
		}
		t, err := decodeTransaction(body)
		if err != nil {
			return err
		}
		f(t)
	}
	return rows.Err()
}

func insertTx(q querier, sh *shopState, t *transaction) error {
	body, err := t.encode()
	if err != nil {
		return err
	}
	_, err = q.ExecContext(context.Background(), `INSERT INTO transactions (id, shop, shop_transaction_no, body) VALUES (?, ?, ?, ?)`,
		t.ID, sh.PublicKey, t.ShopTransactionNo, body)
	if err != nil {
		return fmt.Errorf("store transaction %s: %w", t.ID, err)
	}
	return nil
}

func saveTx(q querier, t *transaction) error {
	body, err := t.encode()
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(context.Background(), `UPDATE transactions SET body = ? WHERE id = ?`, body, t.ID); err != nil {
		return fmt.Errorf("store transaction %s: %w", t.ID, err)
	}
	return nil
}

// storedMember finds a member by phone among the configured ones, then among those of
// earlier runs, so that a token issued before a configuration change still names its buyer.
func (s *Server) storedMember(phone string) *Member {
	if m := s.memberByPhone(phone); m != nil {
		return m
	}
	var body string
	if err := s.db.QueryRow(`SELECT body FROM members WHERE phone = ?`, wire.NormalizePhone(phone)).Scan(&body); err != nil {
		return nil
	}
	var m Member
	if json.Unmarshal([]byte(body), &m) != nil {
		return nil
	}
	return &m
}

// failed logs a storage failure and gives atone's answer to a failure on its side.
func (s *Server) failed(what string, err error) *wire.ErrorBody {
	s.log.Error("sandbox data", "op", what, "err", err)
	return wire.NewError(wire.CodeSystemError)
}

// isMemory reports whether path keeps the data in memory only.
func isMemory(path string) bool { return path == "" || strings.EqualFold(path, ":memory:") }
