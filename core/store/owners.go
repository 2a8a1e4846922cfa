package store

// Owners names, for every table the migrations create, the one package that writes it (paths
// relative to the module). Every other package reads through the owner's functions, or joins
// where a join is truly needed, but never inserts, updates or deletes: a table with one writer
// keeps its rules (state transitions, history rows, outbox messages) in one place.
// storetest checks every write a test makes against this table.
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
