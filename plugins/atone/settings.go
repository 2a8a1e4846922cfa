package atone

import (
	"net/url"
	"slices"
	"strings"

	"github.com/kessai/kessai/plugins"
)

// Settings keys, as in the Welcart atone tab (クレジット決済設定 > atone).
const (
	KeyPublicKey             = "public_key"              // 公開鍵 (店舗公開可能鍵)
	KeySecretKey             = "secret_key"              // 秘密鍵 (店舗秘密鍵)
	KeyEnvironment           = "environment"             // 動作環境
	KeySalesMode             = "sales_mode"              // 仮売上機能
	KeyContinuationSalesMode = "continuation_sales_mode" // 自動継続課金処理区分
	KeyContinuationMail      = "continuation_mail"       // 自動継続課金完了メール
	KeyAPIBase               = "api_base"                // 接続先URL (sandbox override)
)

// Setting values.
const (
	EnvTest       = "test"
	EnvProduction = "production"

	SalesProvisional = "provisional" // 仮売上: authorize only, capture later
	SalesImmediate   = "immediate"   // 即時売上確定: sales_settled true at registration

	MailOn  = "on"
	MailOff = "off"
)

// endpoint is where one atone environment lives (atone-api.md §2).
type endpoint struct {
	api    string
	script string
}

var endpoints = map[string]endpoint{
	EnvTest:       {api: "https://ct-api.a-to-ne.jp/v1/", script: "https://ct-auth.a-to-ne.jp/v1/atone.js"},
	EnvProduction: {api: "https://api.atone.be/v1/", script: "https://auth.atone.be/v1/atone.js"},
}

// settingFields is the settings form, in the order and with the labels of the Welcart
// manual's atone tab. Defaults follow the manual's screenshot (テスト環境, 送信する,
// 継続課金は即時売上確定); 仮売上 is the default of 仮売上機能 because a shop that ships
// later should capture on shipment.
var settingFields = []plugins.SettingField{
	{Key: KeyPublicKey, Label: "公開鍵", Kind: plugins.FieldText, Required: true,
		Help: "atone の加盟店管理システムで取得できる「店舗公開可能鍵」を入力してください。"},
	{Key: KeySecretKey, Label: "秘密鍵", Kind: plugins.FieldSecret, Required: true, Secret: true,
		Help: "atone の加盟店管理システムで取得できる「店舗秘密鍵」を入力してください。"},
	{Key: KeyEnvironment, Label: "動作環境", Kind: plugins.FieldSelect, Default: EnvTest,
		Options: []plugins.Option{{Value: EnvTest, Label: "テスト環境"}, {Value: EnvProduction, Label: "本番環境"}},
		Help:    "テスト環境と本番環境を切り替えることができます。"},
	{Key: KeySalesMode, Label: "仮売上機能", Kind: plugins.FieldSelect, Default: SalesProvisional,
		Options: []plugins.Option{{Value: SalesProvisional, Label: "仮売上"}, {Value: SalesImmediate, Label: "即時売上確定"}},
		Help:    "受注があった際、仮売上状態もしくは即時売上確定状態のどちらにするか選択してください。"},
	{Key: KeyContinuationSalesMode, Label: "自動継続課金処理区分", Kind: plugins.FieldSelect, Default: SalesImmediate,
		Options: []plugins.Option{{Value: SalesProvisional, Label: "仮売上"}, {Value: SalesImmediate, Label: "即時売上確定"}},
		Help:    "自動継続課金決済時の処理区分を設定できます。"},
	{Key: KeyContinuationMail, Label: "自動継続課金完了メール", Kind: plugins.FieldSelect, Default: MailOn,
		Options: []plugins.Option{{Value: MailOn, Label: "送信する"}, {Value: MailOff, Label: "送信しない"}},
		Help:    "自動継続課金決済時に、課金完了メールを契約者に送信するか否かを選択します。"},
	{Key: KeyAPIBase, Label: "接続先URL", Kind: plugins.FieldURL,
		Help: "通常は空欄にしてください。atone サンドボックスなど別の接続先を使うときだけ、API のベース URL（例: http://127.0.0.1:8790/v1/）を入力します。"},
}

func field(key string) plugins.SettingField {
	i := slices.IndexFunc(settingFields, func(f plugins.SettingField) bool { return f.Key == key })
	return settingFields[i]
}

// secret is a value that must never reach a log: fmt prints it masked, whatever the verb.
type secret string

func (secret) String() string   { return "****" }
func (secret) GoString() string { return "****" }

// config is the parsed settings. It is replaced whole on Configure, never mutated.
type config struct {
	publicKey       string
	secretKey       secret
	apiBase         string // ends with "/"
	scriptURL       string
	salesImmediate  bool
	continuationImm bool
	// 自動継続課金完了メール is validated here but acted on by the host, which sends the mail;
	// atone has no such switch.
}

// parseSettings checks s and, when it has no field error, returns the config. Empty select
// values take the form's default.
func parseSettings(s plugins.Settings) (config, []plugins.FieldError) {
	var errs []plugins.FieldError
	get := func(key string) string {
		if v := strings.TrimSpace(s[key]); v != "" {
			return v
		}
		return field(key).Default
	}
	for _, key := range []string{KeyPublicKey, KeySecretKey} {
		if strings.TrimSpace(s[key]) == "" {
			errs = append(errs, plugins.FieldError{Field: key, Code: "required", Message: text(msgRequired, field(key).Label)})
		}
	}
	for _, key := range []string{KeyEnvironment, KeySalesMode, KeyContinuationSalesMode, KeyContinuationMail} {
		f := field(key)
		if !slices.ContainsFunc(f.Options, func(o plugins.Option) bool { return o.Value == get(key) }) {
			labels := make([]string, len(f.Options))
			for i, o := range f.Options {
				labels[i] = o.Label
			}
			errs = append(errs, plugins.FieldError{Field: key, Code: "choice", Message: text(msgChoice, f.Label, strings.Join(labels, "」か「"))})
		}
	}
	env := get(KeyEnvironment)
	ep, ok := endpoints[env]
	if !ok {
		ep = endpoints[EnvTest]
	}
	c := config{
		publicKey:       strings.TrimSpace(s[KeyPublicKey]),
		secretKey:       secret(strings.TrimSpace(s[KeySecretKey])),
		apiBase:         ep.api,
		scriptURL:       ep.script,
		salesImmediate:  get(KeySalesMode) == SalesImmediate,
		continuationImm: get(KeyContinuationSalesMode) == SalesImmediate,
	}
	if raw := strings.TrimSpace(s[KeyAPIBase]); raw != "" {
		u, err := url.Parse(raw)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, plugins.FieldError{Field: KeyAPIBase, Code: "format", Message: text(msgURL, field(KeyAPIBase).Label)})
		case env == EnvProduction && u.Scheme != "https":
			// The secret key travels in every request's Authorization header.
			errs = append(errs, plugins.FieldError{Field: KeyAPIBase, Code: "format", Message: text(msgURLPlain, field(KeyAPIBase).Label)})
		default:
			if !strings.HasSuffix(u.Path, "/") {
				u.Path += "/"
			}
			c.apiBase = u.String()
			// [I] An overridden API is the sandbox, which serves atone.js beside the API under
			// /v1/; atone itself uses another host for the script, hence the table above.
			c.scriptURL = u.JoinPath("atone.js").String()
		}
	}
	return c, errs
}

// complete reports whether the config can make provider calls.
func (c config) complete() bool { return c.publicKey != "" && c.secretKey != "" }
