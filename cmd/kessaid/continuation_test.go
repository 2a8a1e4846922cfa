package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
)

// The catch-up command charges a missed day once, records itself in the audit log, and a
// second run of the same day charges nothing. The contract's module is not installed here,
// so the period is 決済エラー (nothing reached a provider) and the admin can 再決済 later.
func TestContinuationRunCommand(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "k.db")
	key := secret.NewKey()
	st, err := store.Open(ctx, dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw, _ := secret.ParseKey(key)
	box, _ := secret.New(raw)
	sh, _, err := shop.New(st.DB).Create(ctx, "テスト店舗")
	if err != nil {
		t.Fatal(err)
	}
	cart, _ := json.Marshal([]order.Line{{SKU: "lesson", ItemName: "月謝", Price: 1980, Quantity: 1,
		Continuation: &order.Continuation{Frequency: 1, ChargingDay: 1}}})
	o := order.Order{ShopID: sh.ID, Number: "1", Email: "taro@example.jp", Name1: "山田", Name2: "太郎", CartJSON: string(cart), Total: 1980}
	if err := order.Create(ctx, st.DB, &o); err != nil {
		t.Fatal(err)
	}
	o.Date = time.Date(2024, 3, 5, 3, 0, 0, 0, time.UTC)
	st.DB.Model(&o).Update("order_date", o.Date)
	if err := continuation.CreateForOrder(ctx, st.DB, box, o, &settlement.Settlement{Module: "atone", SettlementCode: "acting_atone"}, "tk_x", "tr_x"); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := map[string]string{"KESSAI_DB_DSN": dsn, "KESSAI_MASTER_KEY": key, "KESSAI_PLUGIN_DIR": t.TempDir(), "USER": "operator", "KESSAI_LOG_LEVEL": "error"}
		code := run(ctx, append([]string{"continuation", "run"}, args...), env2(&out, &errb, env))
		return code, out.String(), errb.String()
	}

	t.Run("a bad date is a usage error", func(t *testing.T) {
		if code, _, stderr := run("--date", "2024-4-1"); code != 2 || !strings.Contains(stderr, "YYYY-MM-DD") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
	t.Run("the missed day is caught up once", func(t *testing.T) {
		code, stdout, stderr := run("--date", "2024-04-02")
		if code != 0 || !strings.Contains(stdout, "1 claimed") || !strings.Contains(stdout, "1 決済エラー") {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		if code, stdout, _ := run("--date", "2024-04-02"); code != 0 || !strings.Contains(stdout, "0 claimed") {
			t.Fatalf("second run: exit %d %s", code, stdout)
		}
		var charges []continuation.Charge
		st.DB.Find(&charges)
		if len(charges) != 1 || charges[0].Period.String() != "2024-04-01" || charges[0].Status != settlement.Failed {
			t.Fatalf("charges %+v", charges)
		}
		if rows, n, _ := errlog.List(ctx, st.DB, 5, 0); n != 1 || rows[0].Result != "ATONE CONTINUATION NG" {
			t.Fatalf("error log %+v", rows)
		}
	})
	t.Run("each run is in the audit log", func(t *testing.T) {
		p, err := audit.List(ctx, st.DB, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		var runs []audit.Entry
		for _, e := range p.Entries {
			if e.Action == "continuation.run" {
				runs = append(runs, e)
			}
		}
		if len(runs) != 2 || runs[0].Actor != "cli:operator" || runs[0].Target != "2024-04-02" || !strings.Contains(runs[1].Detail, `"failed":1`) {
			t.Fatalf("audit %+v", runs)
		}
	})
}

func env2(out, errb *bytes.Buffer, vars map[string]string) env {
	return env{stdout: out, stderr: errb, getenv: func(k string) string { return vars[k] }}
}
