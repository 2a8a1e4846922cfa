package daemontest_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

func TestRestartAndKillAdapter(t *testing.T) {
	h := daemontest.Start(t)
	r := h.Shop(t, "POST", "/api/v1/orders", daemontest.Order("r1", 1500, 1, h.Method))
	if r.Status != http.StatusCreated {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	id := int64(r.Body["id"].(float64))
	w := h.CompleteWidget(t, r.Body["config"].(map[string]any), sandbox.OKMemberPhone)
	path := func(p string) string { return fmt.Sprintf("/api/v1/orders/%d%s", id, p) }
	if r := h.Shop(t, "POST", path("/settlement/result"), w); r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}

	t.Run("the adapter is killed and the host relaunches it", func(t *testing.T) {
		before := h.D.Modules.Pid("atone")
		if n := h.KillAdapter(t); n != 1 {
			t.Fatalf("killed %d adapters, want 1", n)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			if pid := h.D.Modules.Pid("atone"); pid != 0 && pid != before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no new adapter after the kill")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if r := h.Shop(t, "POST", path("/settlement/reference"), nil); r.Status != http.StatusOK {
			t.Fatalf("reference after the kill: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("a restarted daemon serves the same shop and order on a new port", func(t *testing.T) {
		oldURL, oldD := h.URL, h.D
		h.Restart(t)
		if h.URL == oldURL || h.D == oldD {
			t.Fatalf("still %s", h.URL)
		}
		if _, err := http.Get(oldURL + "/healthz"); err == nil {
			t.Fatal("the old daemon still answers")
		}
		r := h.Shop(t, "POST", path("/settlement/capture"), nil)
		if r.Status != http.StatusOK || r.Body["settlement"].(map[string]any)["status"] != "captured" {
			t.Fatalf("capture after the restart: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("only this harness's adapter is killed", func(t *testing.T) {
		other := daemontest.Start(t)
		pid := other.D.Modules.Pid("atone")
		if n := h.KillAdapter(t); n != 1 {
			t.Fatalf("killed %d adapters, want 1", n)
		}
		time.Sleep(300 * time.Millisecond)
		if got := other.D.Modules.Pid("atone"); got != pid {
			t.Fatalf("the other harness's adapter %d was replaced by %d", pid, got)
		}
	})
}
