package store_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/store"
)

var createTable = regexp.MustCompile("(?i)CREATE TABLE(?: IF NOT EXISTS)? [`\"]?(\\w+)")

// TestEveryTableHasOneOwner keeps the owners table and the migrations in step: a migration
// that creates a table must say which package writes it, and no owner names a table that no
// migration creates.
func TestEveryTableHasOneOwner(t *testing.T) {
	for _, d := range []store.Dialect{store.MySQL, store.SQLite} {
		steps, err := store.Steps(d)
		if err != nil {
			t.Fatal(err)
		}
		tables := []string{"schema_migrations"}
		for _, m := range steps {
			for _, sub := range createTable.FindAllStringSubmatch(m.SQL, -1) {
				tables = append(tables, strings.ToLower(sub[1]))
			}
		}
		for _, tb := range tables {
			if store.Owners[tb] == "" {
				t.Errorf("%s: table %s has no owner in store.Owners", d, tb)
			}
		}
		for tb := range store.Owners {
			if !slices.Contains(tables, tb) {
				t.Errorf("%s: store.Owners names %s, which no migration creates", d, tb)
			}
		}
	}
}

// TestJoinsAreDeclaredReads keeps store.Joins honest: every exception names a reader that
// exists, a table that another package owns, and a reason.
func TestJoinsAreDeclaredReads(t *testing.T) {
	for reader, tables := range store.Joins {
		if _, err := os.Stat(filepath.Join("..", "..", reader)); err != nil {
			t.Errorf("store.Joins names %s, which is no package or file: %v", reader, err)
		}
		for table, why := range tables {
			owner, ok := store.Owners[table]
			switch {
			case !ok:
				t.Errorf("store.Joins: %s reads %s, a table store.Owners does not know", reader, table)
			case owner == reader || owner == filepath.Dir(reader):
				t.Errorf("store.Joins: %s owns %s already", reader, table)
			case strings.TrimSpace(why) == "":
				t.Errorf("store.Joins: %s reads %s without a reason", reader, table)
			}
		}
	}
}
