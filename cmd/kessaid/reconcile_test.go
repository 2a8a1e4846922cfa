package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// A difference planted at atone (the transaction refunded in atone's portal, behind kessai's
// back) is found by `kessaid reconcile`, fixed by `--fix` through the engine, and gone after.
func TestReconcileCommand(t *testing.T) {
	h := daemontest.Start(t)
	ctx := context.Background()
	r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("rc1", 1000, 1, h.Method))
	if r.Status != http.StatusCreated {
		t.Fatalf("order: %s", r.Raw)
	}
	id := int64(r.Body["id"].(float64))
	w := h.CompleteWidget(t, r.Body["config"].(map[string]any), sandbox.OKMemberPhone)
	if r = h.Shop(t, "POST", fmt.Sprintf("/api/v1/orders/%d/settlement/result", id), w); r.Status != http.StatusOK {
		t.Fatalf("result: %s", r.Raw)
	}
	s, err := h.D.Settlements.ForOrder(ctx, id)
	if err != nil || s.Status != settlement.Authorized {
		t.Fatalf("%v %v", s, err)
	}
	req, _ := http.NewRequest("PATCH", h.SandboxURL+"/v1/transactions/"+s.WcTransID+"/refund", strings.NewReader("{}"))
	req.SetBasicAuth(sandbox.DefaultShop.SecretKey, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("plant the refund: %v %v", resp, err)
	}
	resp.Body.Close()

	cfg := h.D.Config
	vars := map[string]string{"KESSAI_DB_DSN": cfg.DBDSN, "KESSAI_MASTER_KEY": cfg.MasterKey, "KESSAI_PLUGIN_DIR": cfg.PluginDir,
		"KESSAI_LOG_LEVEL": "error", "USER": "operator"}
	reconcile := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"reconcile"}, args...), env2(&out, &errb, vars))
		return code, out.String() + errb.String()
	}
	t.Run("the difference is reported and nothing changes", func(t *testing.T) {
		code, out := reconcile()
		if code == 0 || !strings.Contains(out, s.TransID) || !strings.Contains(out, "仮売上") || !strings.Contains(out, "取消済み") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if cur, _ := h.D.Settlements.ForOrder(ctx, id); cur.Status != settlement.Authorized {
			t.Fatalf("changed without --fix: %s", cur.Status)
		}
	})
	t.Run("--fix applies atone's view with a history row", func(t *testing.T) {
		code, out := reconcile("--fix")
		if code != 0 || !strings.Contains(out, "1 differences, 1 fixed") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		cur, _ := h.D.Settlements.ForOrder(ctx, id)
		if cur.Status != settlement.Cancelled {
			t.Fatalf("after --fix: %s", cur.Status)
		}
		hs, _ := settlement.Histories(ctx, h.D.Store.DB, cur.ID)
		if last := hs[len(hs)-1]; last.Operation != settlement.OpReconcile || last.Actor != "reconcile:operator" {
			t.Fatalf("history: %+v", last)
		}
	})
	t.Run("a second run finds nothing", func(t *testing.T) {
		if code, out := reconcile(); code != 0 || !strings.Contains(out, "no differences") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}
