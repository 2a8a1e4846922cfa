package store

import (
	"runtime"

	"gorm.io/gorm"
)

// Owners names, for every table the migrations create, the one package that writes and reads
// it (paths relative to the module). Every other package asks the owner's functions, never
// inserts, updates or deletes, and reads only what the owner hands it (a Subquery) or what
// Joins declares: a table with one owner keeps its rules (state transitions, history rows,
// outbox messages) and the meaning of its columns in one place.
// storetest checks every write and every read a test makes against this table.
var Owners = map[string]string{
	"schema_migrations":    "core/store",
	"shops":                "core/shop",
	"shop_keys":            "core/shop",
	"modules":              "core/module",
	"payment_methods":      "core/paymethod",
	"orders":               "core/order",
	"settlements":          "core/settlement",
	"settlement_history":   "core/settlement",
	"settlement_attempts":  "core/settlement",
	"error_logs":           "core/errlog",
	"options":              "core/option",
	"continuations":        "core/continuation",
	"continuation_charges": "core/continuation",
	"continuation_runs":    "core/continuation",
	"job_locks":            "core/continuation",
	"idempotency_keys":     "core/idempotency",
	"outbox":               "core/outbox",
	"outbox_attempts":      "core/outbox",
	"webhook_endpoints":    "webhooks/hook",
	"webhook_events":       "webhooks/inbound",
	"admin_users":          "core/admin",
	"admin_sessions":       "core/admin",
	"admin_tokens":         "core/admin",
	"audit_log":            "core/audit",
}

// Joins names the reads of other packages' tables that stay in the reader's own statements:
// reader → table → why the owner's function will not do. A reader is a package, or one file
// of it ("core/continuation/run.go") when the rest of the package must ask the owners. Every
// other read goes through the owner, and storetest fails a test whose code reads a table its
// package neither owns nor declares here.
var Joins = map[string]map[string]string{
	// The consistency check audits what the database holds against the provider's ledger: it
	// reads the rows themselves, not what the owners' code says of them.
	"core/chaos": {
		"settlements":          "the audited settlements, each with its order and its charge",
		"orders":               "a live settlement's amount must be its order's total",
		"continuation_charges": "a continuation period has at most one live transaction",
	},
	// The continuation run claims, charges, recovers and reports a day's contracts batch by
	// batch, each batch one statement: the join is the batch's filter (a contract whose order
	// is cancelled is not due; a charge is held while its settlement is pending; a charge was
	// sent if its settlement has an attempt), and the rows are read under the batch's lock.
	"core/continuation/run.go": {
		"orders":              "due contracts skip cancelled orders in the claiming SKIP LOCKED statement; the batch's orders are read under its lock",
		"settlements":         "lapsed and held charges are found by their settlement's status, one statement per batch",
		"settlement_attempts": "a lapsed charge was sent if its settlement has an attempt, in the same statement",
		"settlement_history":  "the day's report reads each charge's last history row, 500 charges a statement",
	},
}

// subqueryBy is the setting under which Subquery keeps its caller.
const subqueryBy = "kessai:subquery_by"

// Subquery marks q, a query of the calling package's own tables, as one that another package
// embeds in its statement: the owner hands out "the ids of the orders that match" and the
// other package filters its own rows by them (`order_id IN (?)`) without reading orders
// itself. The mark is the caller's program counter, so that storetest's owners check counts
// the subquery's reads as the package's that wrote it, not the one's that runs it.
func Subquery(q *gorm.DB) *gorm.DB {
	pc, _, _, _ := runtime.Caller(1)
	return q.Set(subqueryBy, pc)
}

// SubqueryBy is the program counter of the code that marked the statement of db with
// Subquery, if it was marked.
func SubqueryBy(db *gorm.DB) (uintptr, bool) {
	v, ok := db.Get(subqueryBy)
	pc, _ := v.(uintptr)
	return pc, ok && pc != 0
}
