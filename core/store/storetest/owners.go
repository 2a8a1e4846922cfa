package storetest

import (
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/store"
)

// module is the import path prefix of kessai's own packages, as store.Owners names them.
const module = "github.com/kessai/kessai/"

// CheckOwners makes every statement through s fail the test t when it writes or reads a table
// that the package running it does not own (store.Owners): GORM's Create, Save, Update*,
// Delete and raw Exec write; queries, scans and raw SQL read every table their FROM and JOIN
// clauses and subqueries name. A read declared in store.Joins, and the text of a subquery an
// owner handed over (store.Subquery), which is its author's read, are not the runner's. The
// package is the first frame of the call stack outside GORM, database/sql, the drivers and
// core/store, so a helper in one package that touches another's table is caught wherever a
// test calls it from. Each violation is reported once, with the frame that made it. The test
// helpers of this package install it on every store they return; a test that opens a store
// itself calls it.
//
// Code in _test.go files is neither writer nor reader: a test sets up, tampers with and
// inspects rows of any table (a shop to own its orders, a lease made to expire) to build the
// story it tells, and the rule is about the product's code, which every test exercises.
//
// A benchmark is not checked: it measures the product as it runs, and the check (a stack walk
// and a parse of every statement) would be a third of a continuation charge's CPU. The tests
// run the same code with the check on.
func CheckOwners(t testing.TB, s *store.Store) {
	t.Helper()
	if _, ok := t.(*testing.B); ok {
		return
	}
	c := &ownerCheck{t: t, seen: map[string]bool{}, handed: map[string]bool{}}
	// Statements from goroutines still running after the test's end are not the test's to
	// report.
	t.Cleanup(func() { c.mu.Lock(); c.done = true; c.mu.Unlock() })
	cb := s.DB.Callback()
	for _, err := range []error{
		cb.Create().Before("gorm:create").Register("kessai:owner", c.check),
		cb.Update().Before("gorm:update").Register("kessai:owner", c.check),
		cb.Delete().Before("gorm:delete").Register("kessai:owner", c.check),
		cb.Raw().Before("gorm:raw").Register("kessai:owner", c.check),
		// Reads are checked once GORM has built the SQL, which is the only place a subquery
		// or a join shows its tables.
		cb.Query().After("gorm:query").Register("kessai:reader", c.checkReads),
		cb.Row().After("gorm:row").Register("kessai:reader", c.checkReads),
		cb.Raw().After("gorm:raw").Register("kessai:reader", c.checkReads),
		cb.Create().After("gorm:create").Register("kessai:reader", c.checkReads),
		cb.Update().After("gorm:update").Register("kessai:reader", c.checkReads),
		cb.Delete().After("gorm:delete").Register("kessai:reader", c.checkReads),
	} {
		if err != nil {
			t.Fatalf("install the owners check: %v", err)
		}
	}
}

type ownerCheck struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
	seen map[string]bool
	// handed holds the text of every subquery marked with store.Subquery so far.
	handed map[string]bool
}

func (c *ownerCheck) check(db *gorm.DB) {
	table := writtenTable(db.Statement)
	if table == "" {
		return
	}
	pkg, _, frame := writer(3)
	if pkg == "" {
		return
	}
	c.report(Violation(pkg, table), frame)
}

// checkReads reports every table the built statement reads (FROM, JOIN, subqueries) that the
// reading package does not own. The table a statement writes is the write check's.
//
// A subquery one package hands another (store.Subquery) is built, in a dry run, while the
// other's statement is: its reads are checked then, as its author's, and its text is left out
// of the statement that embeds it.
func (c *ownerCheck) checkReads(db *gorm.DB) {
	sql := c.ownSQL(db.Statement.SQL.String())
	if db.DryRun {
		if pc, ok := store.SubqueryBy(db); ok {
			c.mu.Lock()
			c.handed[db.Statement.SQL.String()] = true
			c.mu.Unlock()
			pkg, file, frame := at(pc)
			if pkg == "" {
				return
			}
			for _, table := range ReadTables(sql) {
				c.report(ReadViolation(pkg, file, table), frame)
			}
			return
		}
	}
	tables := ReadTables(sql)
	if len(tables) == 0 {
		return
	}
	pkg, file, frame := writer(3)
	if pkg == "" {
		return
	}
	written := rawTable(sql)
	for _, table := range tables {
		if table != written {
			c.report(ReadViolation(pkg, file, table), frame)
		}
	}
}

// ownSQL is sql without the text of the subqueries other packages handed it.
func (c *ownerCheck) ownSQL(sql string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for sub := range c.handed {
		sql = strings.ReplaceAll(sql, sub, "")
	}
	return sql
}

func (c *ownerCheck) report(v, frame string) {
	if v == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := v + frame
	if c.done || c.seen[key] {
		return
	}
	c.seen[key] = true
	c.t.Errorf("%s, at %s", v, frame)
}

// Violation describes the write of table by the package pkg (a path relative to the module, as
// store.Owners has it) when pkg does not own table; "" when it does. A table missing from
// store.Owners is a violation too: a new table needs its owner named first.
func Violation(pkg, table string) string {
	owner, ok := store.Owners[table]
	switch {
	case !ok:
		return fmt.Sprintf("%s writes %s, a table store.Owners does not know", pkg, table)
	case owner != pkg:
		return fmt.Sprintf("%s writes %s, which %s owns: ask %s for it", pkg, table, owner, owner)
	}
	return ""
}

// writtenTable is the table a statement writes: the one named in raw SQL after INSERT INTO,
// REPLACE INTO, UPDATE or DELETE FROM, or the statement's own table, with any alias dropped.
func writtenTable(st *gorm.Statement) string {
	if st.SQL.Len() > 0 {
		return rawTable(st.SQL.String())
	}
	if st.TableExpr != nil {
		if f := strings.Fields(st.TableExpr.SQL); len(f) > 0 {
			return unquote(f[0])
		}
	}
	if st.Table != "" {
		return unquote(st.Table)
	}
	if st.Schema != nil {
		return st.Schema.Table
	}
	return ""
}

var rawWrite = regexp.MustCompile("(?is)^\\s*(?:INSERT(?:\\s+IGNORE)?\\s+INTO|REPLACE\\s+INTO|UPDATE(?:\\s+IGNORE)?|DELETE(?:\\s+\\w+)?\\s+FROM)\\s+([`\"]?\\w+[`\"]?)")

// rawTable is the table a raw statement writes, or "" for one that writes no table (SELECT,
// DDL, SET).
func rawTable(sql string) string {
	m := rawWrite.FindStringSubmatch(sql)
	if m == nil {
		return ""
	}
	return strings.ToLower(unquote(m[1]))
}

func unquote(s string) string { return strings.Trim(s, "`\"") }

// writer returns the package (relative to the module), the file's base name and the file:line
// of the first caller frame outside the database plumbing and the tests; "" when the statement
// comes from a test or from outside kessai.
func writer(skip int) (pkg, file, frame string) {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(skip, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		p := funcPackage(f.Function)
		if !plumbing(p) && !strings.HasSuffix(f.File, "_test.go") {
			if !strings.HasPrefix(p, module) {
				return "", "", ""
			}
			return strings.TrimPrefix(p, module), filepath.Base(f.File), fmt.Sprintf("%s:%d (%s)", f.File, f.Line, f.Function)
		}
		if !more {
			return "", "", ""
		}
	}
}

// at is writer for the code at pc.
func at(pc uintptr) (pkg, file, frame string) {
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	p := funcPackage(f.Function)
	if !strings.HasPrefix(p, module) || strings.HasSuffix(f.File, "_test.go") {
		return "", "", ""
	}
	return strings.TrimPrefix(p, module), filepath.Base(f.File), fmt.Sprintf("%s:%d (%s)", f.File, f.Line, f.Function)
}

func plumbing(pkg string) bool {
	switch {
	case pkg == module+"core/store", pkg == module+"core/store/storetest",
		pkg == "runtime", pkg == "reflect", pkg == "sync", pkg == "database/sql",
		strings.HasPrefix(pkg, "gorm.io/"), strings.HasPrefix(pkg, "github.com/go-sql-driver/"),
		strings.HasPrefix(pkg, "github.com/glebarez/"), strings.HasPrefix(pkg, "modernc.org/"):
		return true
	}
	return false
}

// funcPackage is the import path of a function named as runtime.Frame names it:
// "github.com/kessai/kessai/core/settlement.(*Service).Apply.func1" → "…/core/settlement".
func funcPackage(fn string) string {
	slash := strings.LastIndex(fn, "/")
	if dot := strings.Index(fn[slash+1:], "."); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}

// ReadViolation describes the read of table by the package pkg, in its file file (a base name,
// or ""), when pkg neither owns table nor has the read declared in store.Joins, for the
// package or for that file; "" when it may read it. A table store.Owners does not know (a
// common table expression, the database's own catalogue) is nobody's to report: the write
// check names new tables.
func ReadViolation(pkg, file, table string) string {
	owner, ok := store.Owners[table]
	if !ok || owner == pkg || store.Joins[pkg][table] != "" || (file != "" && store.Joins[pkg+"/"+file][table] != "") {
		return ""
	}
	return fmt.Sprintf("%s reads %s, which %s owns: ask %s for it", pkg, table, owner, owner)
}

var (
	// literal is a quoted string in SQL, whose words are data, not tables.
	literal = regexp.MustCompile(`'(?:[^'\\]|\\.|'')*'`)
	// fromJoin starts a table list: FROM and JOIN as whole words.
	fromJoin = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\b`)
	// tableRef is one table in a list, optionally qualified by its database and followed by
	// an alias, and the comma that continues the list if there is one.
	tableRef = regexp.MustCompile("(?is)^\\s*(?:[`\"]?\\w+[`\"]?\\.)?([`\"]\\w+[`\"]|\\w+)(?:\\s+(?:AS\\s+)?([`\"]?\\w+[`\"]?))?\\s*(,)?")
)

// notAlias are the words that may follow a table in a FROM or JOIN list and are not its alias.
var notAlias = map[string]bool{
	"WHERE": true, "JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true,
	"OUTER": true, "CROSS": true, "NATURAL": true, "STRAIGHT_JOIN": true, "ON": true,
	"USING": true, "GROUP": true, "ORDER": true, "HAVING": true, "LIMIT": true, "OFFSET": true,
	"UNION": true, "EXCEPT": true, "INTERSECT": true, "FOR": true, "LOCK": true, "WINDOW": true,
	"SET": true, "VALUES": true, "RETURNING": true, "FORCE": true, "USE": true, "IGNORE": true,
	"INDEXED": true, "NOT": true,
}

// ReadTables lists, in order and once each, the tables a SQL statement names after FROM or
// JOIN, in its subqueries too, quoted either way, aliased or not, and every table of a
// comma-separated FROM list.
func ReadTables(sql string) []string {
	sql = literal.ReplaceAllString(sql, "''")
	var tables []string
	seen := map[string]bool{}
	for _, loc := range fromJoin.FindAllStringIndex(sql, -1) {
		rest := sql[loc[1]:]
		for {
			m := tableRef.FindStringSubmatch(rest)
			if m == nil { // a subquery's parenthesis: its own FROM is found in turn
				break
			}
			t := strings.ToLower(unquote(m[1]))
			if !seen[t] && !notAlias[strings.ToUpper(t)] {
				seen[t] = true
				tables = append(tables, t)
			}
			if m[3] == "" || (m[2] != "" && notAlias[strings.ToUpper(unquote(m[2]))]) {
				break
			}
			rest = rest[len(m[0]):]
		}
	}
	return tables
}
