package atone_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone"
)

func TestAtoneDescribe(t *testing.T) {
	d, err := atone.New(atone.Options{Version: "1.2.3"}).Describe(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Slug != "atone" || d.DisplayName != atone.DisplayName || d.Version != "1.2.3" ||
		!slices.Equal(d.SettlementCodes, []string{"acting_atone"}) {
		t.Fatalf("description %+v", d)
	}
	for _, c := range []plugins.Capability{plugins.CanCapture, plugins.CanCancel, plugins.CanModify, plugins.CanCharge, plugins.CanWebhook} {
		if !d.Can(c) {
			t.Errorf("capability %s missing", c)
		}
	}
	if d.Can(plugins.CanPartial) {
		t.Error("atone cannot settle part of a transaction")
	}
	labels := map[string]string{}
	for _, f := range d.Settings {
		labels[f.Key] = f.Label
		if f.Key == atone.KeySecretKey && !f.Secret {
			t.Error("secret_key is not Secret")
		}
	}
	for key, label := range map[string]string{
		"public_key": "公開鍵", "secret_key": "秘密鍵", "environment": "動作環境", "sales_mode": "仮売上機能",
		"continuation_sales_mode": "自動継続課金処理区分", "continuation_mail": "自動継続課金完了メール", "api_base": "接続先URL",
	} {
		if labels[key] != label {
			t.Errorf("setting %s labelled %q, want %q", key, labels[key], label)
		}
	}
}

func TestAtoneValidateSettings(t *testing.T) {
	ok := plugins.Settings{atone.KeyPublicKey: "pk", atone.KeySecretKey: "sk"}
	with := func(k, v string) plugins.Settings {
		s := plugins.Settings{}
		for kk, vv := range ok {
			s[kk] = vv
		}
		s[k] = v
		return s
	}
	for _, tc := range []struct {
		name     string
		settings plugins.Settings
		field    string
		code     string
		message  string
	}{
		{"defaults are valid", ok, "", "", ""},
		{"all options", plugins.Settings{"public_key": "pk", "secret_key": "sk", "environment": "production", "sales_mode": "immediate",
			"continuation_sales_mode": "provisional", "continuation_mail": "off", "api_base": "https://atone.example/v1"}, "", "", ""},
		{"missing public key", with(atone.KeyPublicKey, " "), "public_key", "required", "公開鍵を入力してください。"},
		{"missing secret key", with(atone.KeySecretKey, ""), "secret_key", "required", "秘密鍵を入力してください。"},
		{"unknown environment", with(atone.KeyEnvironment, "staging"), "environment", "choice", "動作環境は「テスト環境」か「本番環境」から選んでください。"},
		{"unknown sales mode", with(atone.KeySalesMode, "later"), "sales_mode", "choice", "仮売上機能は「仮売上」か「即時売上確定」から選んでください。"},
		{"unknown continuation mode", with(atone.KeyContinuationSalesMode, "x"), "continuation_sales_mode", "choice", ""},
		{"unknown mail option", with(atone.KeyContinuationMail, "yes"), "continuation_mail", "choice", "自動継続課金完了メールは「送信する」か「送信しない」から選んでください。"},
		{"not a URL", with(atone.KeyAPIBase, "atone sandbox"), "api_base", "format", "接続先URLは http:// または https:// で始まる URL を入力してください。"},
		{"plain HTTP in production", plugins.Settings{"public_key": "pk", "secret_key": "sk", "environment": "production", "api_base": "http://127.0.0.1:8790/v1/"},
			"api_base", "format", "本番環境では接続先URLに https:// の URL を指定してください。"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, err := atone.New(atone.Options{}).ValidateSettings(ctx(t), tc.settings)
			if err != nil {
				t.Fatal(err)
			}
			if tc.field == "" {
				if len(errs) != 0 {
					t.Fatalf("errors %+v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tc.field || errs[0].Code != tc.code || (tc.message != "" && errs[0].Message != tc.message) {
				t.Fatalf("errors %+v", errs)
			}
		})
	}
}

func TestAtoneConfigure(t *testing.T) {
	a := atone.New(atone.Options{})
	t.Run("a malformed value is refused", func(t *testing.T) {
		err := a.Configure(ctx(t), plugins.Settings{atone.KeyEnvironment: "staging"})
		if !errors.Is(err, plugins.ErrInvalidRequest) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing keys are kept, and money calls wait for them", func(t *testing.T) {
		if err := a.Configure(ctx(t), plugins.Settings{}); err != nil {
			t.Fatal(err)
		}
		_, err := a.Capture(ctx(t), plugins.CaptureRequest{ProviderID: "tr_AAAAAAAAAAAAAAAA"})
		if !errors.Is(err, plugins.ErrNotConfigured) || plugins.OutcomeOf(err) != plugins.NotAttempted {
			t.Fatalf("err = %v", err)
		}
		_, err = a.PrepareCheckout(ctx(t), plugins.CheckoutRequest{Order: order(1000)})
		if !errors.Is(err, plugins.ErrNotConfigured) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the test environment's widget script by default, the production one on request", func(t *testing.T) {
		for env, script := range map[string]string{
			atone.EnvTest:       "https://ct-auth.a-to-ne.jp/v1/atone.js",
			atone.EnvProduction: "https://auth.atone.be/v1/atone.js",
		} {
			if err := a.Configure(ctx(t), plugins.Settings{"public_key": "pk", "secret_key": "sk", "environment": env}); err != nil {
				t.Fatal(err)
			}
			res, err := a.PrepareCheckout(ctx(t), plugins.CheckoutRequest{Order: order(1000)})
			if err != nil || res.Widget.ScriptURL != script {
				t.Errorf("%s: script %q, %v", env, res.Widget.ScriptURL, err)
			}
		}
	})
}
