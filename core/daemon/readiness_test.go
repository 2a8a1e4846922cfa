package daemon_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/store/storetest"
)

func TestReadyzNamesTheDatabaseNotItsAddress(t *testing.T) {
	h := daemontest.Start(t)
	if r := h.Do(t, "", "GET", "/readyz", nil); r.Status != 200 {
		t.Fatalf("readyz before: %d %s", r.Status, r.Raw)
	}
	dsn := h.D.Store.DSN()
	sqlDB, err := h.D.Store.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()
	r := h.Do(t, "", "GET", "/readyz", nil)
	if r.Status != 503 {
		t.Fatalf("readyz with the database gone: %d %s", r.Status, r.Raw)
	}
	for _, detail := range []string{dsn.MySQL.User + "@", dsn.MySQL.Addr, dsn.MySQL.DBName, storetest.String(h.D.Store)} {
		if strings.Contains(string(r.Raw), detail) {
			t.Errorf("/readyz shows %q: %s", detail, r.Raw)
		}
	}
	var body struct{ Checks map[string]string }
	if err := json.Unmarshal(r.Raw, &body); err != nil || body.Checks["database"] == "" || body.Checks["database"] == "ok" {
		t.Fatalf("the failing check is not named: %s", r.Raw)
	}
}
