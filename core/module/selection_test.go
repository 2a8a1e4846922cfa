package module_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins"
)

func addPaymentMethod(t *testing.T, st *store.Store, name, code, use string) {
	t.Helper()
	now := time.Now().UTC()
	err := st.DB.Exec("INSERT INTO payment_methods (name, explanation, settlement, module, sort, "+quote(st, "use")+", created_at, updated_at) VALUES (?, '', ?, '', 0, ?, ?, ?)",
		name, code, use, now, now).Error
	if err != nil {
		t.Fatal(err)
	}
}

func quote(st *store.Store, col string) string {
	var b strings.Builder
	st.DB.Dialector.QuoteTo(&b, col)
	return b.String()
}

func wantRefusal(t *testing.T, err error, msg string) {
	t.Helper()
	var se *module.SelectionError
	if !errors.As(err, &se) || !errors.Is(err, module.ErrSelection) {
		t.Fatalf("got %v, want a *SelectionError", err)
	}
	if se.Message != msg {
		t.Fatalf("message %q, want %q", se.Message, msg)
	}
}

func TestSelectionFollowsWelcartRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := moduletest.Start(t, moduletest.WithStore(st))
		ctx := ctxT(t)
		for _, name := range []string{"solo", "other"} {
			if _, err := h.Register(ctx, fakeAdapter(t, h.PluginDir, name), "admin"); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("an unknown slug is refused", func(t *testing.T) {
			wantRefusal(t, h.UpdateSelection(ctx, []string{"testmodule", "nosuch"}, "admin"), "※決済モジュールの更新に失敗しました")
		})

		t.Run("modules that cannot be used together are refused", func(t *testing.T) {
			wantRefusal(t, h.UpdateSelection(ctx, []string{"testmodule", "solo"}, "admin"), "※併用できない決済が有効化されています")
		})

		t.Run("a module used by an activated payment method cannot be unselected", func(t *testing.T) {
			addPaymentMethod(t, st, "テスト払い", moduletest.Code, "activate")
			wantRefusal(t, h.UpdateSelection(ctx, []string{"other"}, "admin"),
				"※テストモジュールを未選択にすることはできません。支払方法を「削除」もしくは「停止」してください。")
			if st, _ := h.State(moduletest.Slug); st != module.Running {
				t.Fatalf("refusal changed the module: %s", st)
			}
		})

		t.Run("selection order is kept and launches the new module", func(t *testing.T) {
			if err := h.UpdateSelection(ctx, []string{"other", "testmodule"}, "admin"); err != nil {
				t.Fatal(err)
			}
			codes, err := h.SettlementCodes(ctx)
			if err != nil || !slices.Equal(codes, []string{"acting_other", moduletest.Code}) {
				t.Fatalf("codes %v %v", codes, err)
			}
			a, err := h.Get(ctx, "other")
			if err != nil {
				t.Fatal(err)
			}
			if err := reference(ctx, a); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("once its method is stopped the module can be unselected, and is stopped", func(t *testing.T) {
			if err := st.DB.Exec("UPDATE payment_methods SET " + quote(st, "use") + " = 'deactivate'").Error; err != nil {
				t.Fatal(err)
			}
			a := h.Adapter(t)
			if err := h.UpdateSelection(ctx, []string{"solo"}, "admin"); err != nil {
				t.Fatal(err)
			}
			if _, err := h.Get(ctx, moduletest.Slug); !errors.Is(err, module.ErrNotSelected) {
				t.Fatalf("Get unselected: %v", err)
			}
			err := reference(ctx, a) // a handle taken before
			if !errors.Is(err, module.ErrNotSelected) || plugins.OutcomeOf(err) != plugins.NotAttempted {
				t.Fatalf("old handle: %v", err)
			}
			if _, err := h.Get(ctx, "nosuch"); !errors.Is(err, module.ErrUnknownModule) {
				t.Fatalf("Get unknown: %v", err)
			}
			var use string
			st.DB.Table("payment_methods").Select(quote(st, "use")).Scan(&use)
			if use != "deactivate" {
				t.Fatalf("payment method use %q", use)
			}
			mods, err := h.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if mods[0].Slug != "solo" || !mods[0].Selected || mods[0].State != module.Running {
				t.Fatalf("list: %+v", mods[0])
			}
		})
	})
}

func TestSecretsAreMaskedAndSealed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := moduletest.Start(t, moduletest.WithStore(st))
		ctx := ctxT(t)
		const plain = "sk_live_do-not-leak-4242"

		problems, err := h.UpdateSettings(ctx, moduletest.Slug, plugins.Settings{"secret_key": plain, "limit": "5000"}, "admin")
		if err != nil || len(problems) > 0 {
			t.Fatalf("update: %v %v", problems, err)
		}

		t.Run("the settings form masks the secret", func(t *testing.T) {
			fields, err := h.Settings(ctx, moduletest.Slug)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fields {
				if strings.Contains(f.Value, plain) || (f.Secret && f.Value == plain) {
					t.Fatalf("field %s shows the secret: %q", f.Key, f.Value)
				}
				if f.Key == "secret_key" && (!f.Set || !f.Secret) {
					t.Fatalf("secret_key: %+v", f)
				}
				if f.Key == "limit" && f.Value != "5000" {
					t.Fatalf("limit: %+v", f)
				}
			}
		})

		t.Run("the database holds it sealed", func(t *testing.T) {
			var r struct {
				Settings string
				Secrets  []byte
			}
			st.DB.Table("modules").Where("slug = ?", moduletest.Slug).Select("settings, secrets").Scan(&r)
			if len(r.Secrets) == 0 || strings.Contains(string(r.Secrets), plain) || strings.Contains(r.Settings, plain) {
				t.Fatalf("row: settings %q secrets %q", r.Settings, r.Secrets)
			}
			var detail string
			st.DB.Table("audit_log").Where("action = ?", "module.settings").Order("id DESC").Limit(1).Select("detail").Scan(&detail)
			if strings.Contains(detail, plain) || !strings.Contains(detail, "secret_key") {
				t.Fatalf("audit detail %q", detail)
			}
		})

		t.Run("an empty secret keeps the stored one", func(t *testing.T) {
			if p, err := h.UpdateSettings(ctx, moduletest.Slug, plugins.Settings{"secret_key": "", "settle": "on"}, "admin"); err != nil || len(p) > 0 {
				t.Fatalf("%v %v", p, err)
			}
			fields, _ := h.Settings(ctx, moduletest.Slug)
			for _, f := range fields {
				if f.Key == "secret_key" && !f.Set {
					t.Fatal("secret lost")
				}
			}
		})

		t.Run("the adapter's field errors come back and nothing is saved", func(t *testing.T) {
			p, err := h.UpdateSettings(ctx, moduletest.Slug, plugins.Settings{"limit": "-1", "nosuch": "x"}, "admin")
			if err != nil || len(p) != 1 || p[0].Field != "nosuch" {
				t.Fatalf("unknown key: %v %v", p, err)
			}
			p, err = h.UpdateSettings(ctx, moduletest.Slug, plugins.Settings{"limit": "-1"}, "admin")
			if err != nil || len(p) != 1 || p[0].Field != "limit" || p[0].Message != "与信上限額は0以上の整数で入力してください。" {
				t.Fatalf("bad limit: %v %v", p, err)
			}
		})
	})
}

func TestReplacingTheAdapterUnderLoadFailsNoCall(t *testing.T) {
	h := moduletest.Start(t)
	ctx := ctxT(t)
	if _, err := h.Register(ctx, fakeAdapter(t, h.PluginDir, "other"), "admin"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var calls, failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := h.Adapter(t)
			for {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := reference(cctx, a)
				cancel()
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	pids := map[int]bool{h.Pid(moduletest.Slug): true}
	for i := range 4 {
		time.Sleep(150 * time.Millisecond)
		limit := []string{"1000", "2000"}[i%2]
		if p, err := h.UpdateSettings(ctx, moduletest.Slug, plugins.Settings{"limit": limit}, "admin"); err != nil || len(p) > 0 {
			t.Fatalf("settings: %v %v", p, err)
		}
		pids[h.Pid(moduletest.Slug)] = true
		sel := [][]string{{"testmodule", "other"}, {"testmodule"}}[i%2]
		if err := h.UpdateSelection(ctx, sel, "admin"); err != nil {
			t.Fatalf("selection: %v", err)
		}
		if _, err := h.Register(ctx, h.Binary, "admin"); err != nil { // a new binary: same bytes, new generation
			t.Fatalf("register: %v", err)
		}
		pids[h.Pid(moduletest.Slug)] = true
	}
	time.Sleep(150 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d calls across %d adapter processes, %d failed", calls.Load(), len(pids), failures.Load())
	if failures.Load() > 0 {
		t.Fatalf("%d calls failed; first: %v", failures.Load(), firstErr.Load())
	}
	if len(pids) < 9 {
		t.Fatalf("only %d processes: the adapter was not replaced each time", len(pids))
	}
}
