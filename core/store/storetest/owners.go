package storetest

import (
	"fmt"
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

// CheckOwners makes every write through s fail the test t when the writing package does not own
// the table (store.Owners): GORM's Create, Save, Update*, Delete and raw Exec alike. The writer is
// the first frame of the call stack outside GORM, database/sql, the drivers and core/store, so a
// helper in one package that writes another's table is caught wherever a test calls it from.
// Each violation is reported once, with the frame that made it. The test helpers of this
// package install it on every store they return; a test that opens a store itself calls it.
//
// Code in _test.go files is not a writer: a test sets up and tampers with rows of any table
// (a shop to own its orders, a lease made to expire) to build the story it tells, and the rule
// is about the product's code, which every test exercises.
func CheckOwners(t testing.TB, s *store.Store) {
	t.Helper()
	c := &ownerCheck{t: t, seen: map[string]bool{}}
	// Writes from goroutines still running after the test's end are not the test's to report.
	t.Cleanup(func() { c.mu.Lock(); c.done = true; c.mu.Unlock() })
	cb := s.DB.Callback()
	for _, err := range []error{
		cb.Create().Before("gorm:create").Register("kessai:owner", c.check),
		cb.Update().Before("gorm:update").Register("kessai:owner", c.check),
		cb.Delete().Before("gorm:delete").Register("kessai:owner", c.check),
		cb.Raw().Before("gorm:raw").Register("kessai:owner", c.check),
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
}

func (c *ownerCheck) check(db *gorm.DB) {
	table := writtenTable(db.Statement)
	if table == "" {
		return
	}
	pkg, frame := writer(3)
	if pkg == "" {
		return
	}
	v := Violation(pkg, table)
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

// writer returns the package (relative to the module) and the file:line of the first caller
// frame outside the database plumbing and the tests; "" when the write comes from a test or
// from outside kessai.
func writer(skip int) (pkg, frame string) {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(skip, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		p := funcPackage(f.Function)
		if !plumbing(p) && !strings.HasSuffix(f.File, "_test.go") {
			if !strings.HasPrefix(p, module) {
				return "", ""
			}
			return strings.TrimPrefix(p, module), fmt.Sprintf("%s:%d (%s)", f.File, f.Line, f.Function)
		}
		if !more {
			return "", ""
		}
	}
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
