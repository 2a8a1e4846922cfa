package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/plugintest"
)

var shop = sandbox.Shop{Name: "テスト店舗", PublicKey: "pk_binary_test", SecretKey: "sk_binary_SECRET_0815"}

// lockedBuffer collects the adapter's log lines, written by go-plugin's reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestAtoneBinaryEndToEnd builds kessai-atone, launches it as the daemon does (go-plugin,
// gRPC, AutoMTLS, checksum) and pays an order against the sandbox over real HTTP.
func TestAtoneBinaryEndToEnd(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kessai-atone")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{shop}})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })

	logs := &lockedBuffer{}
	cfg := plugintest.ClientConfig(t, bin)
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "kessai-atone", Level: hclog.Trace, Output: logs})
	// The log is read for the adapter's per-call debug lines, which it writes only when the host
	// asks for them, as a daemon logging at debug does.
	cfg.Cmd.Env = []string{plugins.LogLevelEnv + "=debug"}
	ad, _ := plugintest.LaunchClient(t, cfg)
	plugintest.Configure(t, ad, plugins.Settings{
		atone.KeyPublicKey: shop.PublicKey, atone.KeySecretKey: shop.SecretKey, atone.KeyAPIBase: base + "/v1/",
	})

	o := plugins.Order{
		ID: 1, Number: "00001001", Attempt: "00001001-1", Amount: 20000,
		Customer: plugins.Customer{FamilyName: "動作", GivenName: "テスト", FamilyKana: "ドウサ", GivenKana: "テスト",
			Zip: "1000001", Pref: "東京都", Address1: "千代田区", Address2: "1-1", Tel: "03-1234-5678", Email: "test@example.jp"},
		Lines: []plugins.Line{
			{Kind: plugins.LineItem, SKU: "A", Name: "商品", Price: 19500, Quantity: 1},
			{Kind: plugins.LineShipping, Price: 500, Quantity: 1},
		},
	}

	t.Run("describe crosses the process boundary", func(t *testing.T) {
		d, err := ad.Describe(ctx(t))
		if err != nil || d.Slug != "atone" || !d.Can(plugins.CanCharge) || d.Version != "dev" {
			t.Fatalf("%+v, %v", d, err)
		}
	})

	var id string
	t.Run("checkout, widget, confirm", func(t *testing.T) {
		res, err := ad.PrepareCheckout(ctx(t), plugins.CheckoutRequest{Order: o})
		if err != nil || res.Outcome != plugins.Processed || res.Widget.ScriptURL != base+"/v1/atone.js" {
			t.Fatalf("checkout %+v, %v", res, err)
		}
		body, _ := json.Marshal(map[string]any{
			"pub_key": res.Widget.PublicKey, "payment": res.Widget.Payment,
			"phone_number": sandbox.OKMemberPhone, "password": sandbox.TestPassword,
		})
		resp, err := http.Post(base+"/sandbox/v1/widget/complete", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var c sandbox.WidgetCompletion
		if err := json.Unmarshal(raw, &c); err != nil || resp.StatusCode != 200 {
			t.Fatalf("widget %d %s", resp.StatusCode, raw)
		}
		payload, _ := json.Marshal(c.Result)
		tr, err := ad.Confirm(ctx(t), plugins.ConfirmRequest{Payload: payload, Order: o})
		if err != nil || tr.Outcome != plugins.Processed || tr.ProviderID != c.Result.ID || tr.State != plugins.StateAuthorized || tr.Amount != 20000 {
			t.Fatalf("confirm %+v, %v", tr, err)
		}
		id = tr.ProviderID
	})

	t.Run("capture and reference", func(t *testing.T) {
		r, err := ad.Capture(ctx(t), plugins.CaptureRequest{ProviderID: id})
		if err != nil || r.Outcome != plugins.Processed || r.State != plugins.StateCaptured || r.SettledAt.IsZero() {
			t.Fatalf("capture %+v, %v", r, err)
		}
		r, err = ad.Reference(ctx(t), plugins.ReferenceRequest{ProviderID: id})
		if err != nil || r.State != plugins.StateCaptured {
			t.Fatalf("reference %+v, %v", r, err)
		}
	})

	t.Run("a maintenance answer is undefined on the host side too", func(t *testing.T) {
		if err := sb.AddFault(sandbox.Fault{Kind: sandbox.FaultMaintenance, Times: 1}); err != nil {
			t.Fatal(err)
		}
		r, err := ad.Cancel(ctx(t), plugins.CancelRequest{ProviderID: id})
		if err != nil || r.Outcome != plugins.Undefined || r.Code != "EATN9901" || len(r.Messages) == 0 {
			t.Fatalf("cancel %+v, %v", r, err)
		}
	})

	t.Run("a refusal before any call arrives as NotAttempted on the host", func(t *testing.T) {
		_, err := ad.Reference(ctx(t), plugins.ReferenceRequest{Attempt: o.Attempt})
		if err == nil || plugins.OutcomeOf(err) != plugins.NotAttempted {
			t.Fatalf("reference by attempt: %v", err)
		}
	})

	t.Run("the secret key never reaches the log", func(t *testing.T) {
		l := logs.String()
		if !strings.Contains(l, "atone answered") {
			t.Fatalf("no adapter log lines arrived:\n%s", l)
		}
		if strings.Contains(l, shop.SecretKey) {
			t.Fatalf("secret key in the log:\n%s", l)
		}
	})
}
