package paymethod_test

import (
	"context"
	"errors"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/paymethod"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/migrations"
)

var (
	createRe = regexp.MustCompile("(?is)^\\s*CREATE\\s+TABLE\\s+`?payment_methods`?\\s*\\((.*)\\)[^)]*$")
	alterRe  = regexp.MustCompile("(?is)^\\s*ALTER\\s+TABLE\\s+`?payment_methods`?\\s")
	colRe    = regexp.MustCompile("(?i)^`?(\\w+)`?\\s+(VARCHAR|CHAR|TINYTEXT|TEXT|MEDIUMTEXT|LONGTEXT)(?:\\((\\d+)\\))?")
)

var textSizes = map[string]int64{"TINYTEXT": 255, "TEXT": 65535, "MEDIUMTEXT": 16777215, "LONGTEXT": 4294967295}

func TestLimitsAgreeWithTheMigration(t *testing.T) {
	t.Parallel()
	names, _ := fs.Glob(migrations.FS, "mysql/*.sql")
	type column struct {
		typ  string
		size int64
	}
	cols := map[string]column{}
	for _, name := range names {
		raw, _ := fs.ReadFile(migrations.FS, name)
		stmt := strings.TrimSuffix(strings.TrimSpace(string(raw)), ";")
		if alterRe.MatchString(stmt) {
			t.Fatalf("%s alters payment_methods: teach this test to read it", name)
		}
		m := createRe.FindStringSubmatch(stmt)
		if m == nil {
			continue
		}
		for _, line := range strings.Split(m[1], "\n") {
			c := colRe.FindStringSubmatch(strings.TrimSpace(line))
			if c == nil {
				continue
			}
			typ := strings.ToUpper(c[2])
			size, ok := textSizes[typ]
			if !ok {
				size, _ = strconv.ParseInt(c[3], 10, 64)
			}
			cols[c[1]] = column{typ, size}
		}
	}
	if len(cols) == 0 {
		t.Fatal("no payment_methods text columns in the migrations")
	}
	seen := map[string]bool{}
	for _, l := range paymethod.Limits() {
		seen[l.Field] = true
		if c := cols[l.Field]; c.typ != l.Type || c.size != l.Max {
			t.Errorf("%s: the table says %s(%d), the migration %s(%d)", l.Field, l.Type, l.Max, c.typ, c.size)
		}
	}
	for name, c := range cols {
		if !seen[name] {
			t.Errorf("%s %s(%d) has no limit", name, c.typ, c.size)
		}
	}
	// Orders store the name they were bought with.
	ol, _ := order.LimitOf("order.payment_name")
	for _, l := range paymethod.Limits() {
		if l.Field == "name" && (l.Max > ol.Max || l.Text != ol.Text) {
			t.Errorf("a name of %d characters (%v) does not fit the orders' %s (%d, %v)", l.Max, l.Text, ol.Column, ol.Max, ol.Text)
		}
	}
}

func TestMethodInput(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		pms := paymethod.New(st.DB, codes{"acting_atone": "atone"})
		long := func(n int) string { return strings.Repeat("払", n) }
		t.Run("what fits the columns is stored as sent", func(t *testing.T) {
			pm, err := pms.Add(ctx, paymethod.Method{Name: long(191), Explanation: "<p>atone</p>\r\n\t<p>翌月払い</p>", Settlement: "acting_atone"}, "test")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pms.Get(ctx, pm.ID)
			if err != nil || got.Name != long(191) || !strings.Contains(got.Explanation, "\r\n\t") {
				t.Fatalf("%v %+v", err, got)
			}
		})
		for _, tc := range []struct {
			name  string
			m     paymethod.Method
			field string
			rule  string
		}{
			{"a name of 192 characters", paymethod.Method{Name: long(192), Settlement: "COD"}, "name", "191文字以内"},
			{"LF in the name", paymethod.Method{Name: "代金\n引換", Settlement: "COD"}, "name", "U+000A"},
			{"a tab in the name", paymethod.Method{Name: "代金\t引換", Settlement: "COD"}, "name", "U+0009"},
			{"NUL in the name", paymethod.Method{Name: "代金引換\x00", Settlement: "COD"}, "name", "U+0000"},
			{"an override in the name", paymethod.Method{Name: "代金\u202e引換", Settlement: "COD"}, "name", "U+202E"},
			{"a BOM in the name", paymethod.Method{Name: "\ufeff代金引換", Settlement: "COD"}, "name", "U+FEFF"},
			{"NUL in the explanation", paymethod.Method{Name: "代金引換", Explanation: "<p>\x00</p>", Settlement: "COD"}, "explanation", "U+0000"},
			{"an isolate in the explanation", paymethod.Method{Name: "代金引換", Explanation: "\u2067x", Settlement: "COD"}, "explanation", "U+2067"},
			{"a module of 192 characters", paymethod.Method{Name: "代金引換", Settlement: "COD", Module: strings.Repeat("m", 192)}, "module", "191文字以内"},
			{"LF in the module", paymethod.Method{Name: "代金引換", Settlement: "COD", Module: "a\nb"}, "module", "U+000A"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := pms.Add(ctx, tc.m, "test")
				var re *paymethod.RuleError
				if !errors.As(err, &re) || re.Field != tc.field || !strings.Contains(re.Message, tc.rule) {
					t.Fatalf("Add = %v, want a refusal of %s (%s)", err, tc.field, tc.rule)
				}
			})
		}
		t.Run("an update is refused the same way", func(t *testing.T) {
			pm, err := pms.Add(ctx, paymethod.Method{Name: "銀行振込", Settlement: "transferAdvance"}, "test")
			if err != nil {
				t.Fatal(err)
			}
			_, err = pms.Update(ctx, pm.ID, paymethod.Method{Name: "銀行\r\n振込", Settlement: "transferAdvance"}, "test")
			var re *paymethod.RuleError
			if !errors.As(err, &re) || re.Field != "name" {
				t.Fatalf("Update = %v", err)
			}
			if got, _ := pms.Get(ctx, pm.ID); got.Name != "銀行振込" {
				t.Fatalf("renamed to %q", got.Name)
			}
		})
	})
}
