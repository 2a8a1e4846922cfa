package continuation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/mail"
	"github.com/kessai/kessai/core/mail/mailtest"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/core/shop"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/jst"
)

// The settlement service is what the daemon gives the runner and the contract screens.
var _ continuation.Settlements = (*settlement.Service)(nil)

var sbShop = sandbox.Shop{Name: "テスト店舗", PublicKey: "pk_continuation_test", SecretKey: "sk_continuation_SECRET_1"}

const adminMail = "admin@example.jp"

// world is a store, an atone sandbox, an adapter host for it, a real SMTP server and the
// outbox dispatcher that sends mails to it.
type world struct {
	t      testing.TB
	st     *store.Store
	key    string // the master key, as KESSAI_MASTER_KEY takes it
	box    *secret.Box
	sb     *sandbox.Server
	sbURL  string
	mods   continuation.Adapters
	smtp   *mailtest.Server
	disp   *outbox.Dispatcher
	shopID int64
	// tokens are the sandbox members' authentication tokens and first transactions.
	tokens    map[string][2]string
	pluginDir string
	dclock    *clockwork.FakeClock
	// ctx bounds what the world's helpers do: one for the whole test, as a benchmark seeds
	// 100,000 contracts, each of which would otherwise hold a context and its timer to the end.
	ctx context.Context
}

func ctxT(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newWorld starts the sandbox, SMTP server and dispatcher over st. The adapter comes from
// adapters (in-process or the real binary through a module host).
func newWorld(t testing.TB, st *store.Store) *world {
	t.Helper()
	return newWorldOn(t, st, "")
}

// newWorldOn is newWorld with the sandbox's ledger in the SQLite file sandboxData ("" keeps it
// in memory).
func newWorldOn(t testing.TB, st *store.Store, sandboxData string) *world {
	t.Helper()
	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{sbShop}, DataPath: sandboxData})
	ts := httptest.NewServer(sb)
	t.Cleanup(func() { ts.Close(); _ = sb.Close() })
	key := secret.NewKey()
	raw, err := secret.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secret.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, st: st, key: key, box: box, sb: sb, sbURL: ts.URL, smtp: mailtest.Start(t), tokens: map[string][2]string{}, ctx: ctxT(t)}
	// The dispatcher's clock is an hour ahead of the wall clock that stamps new rows, and moves
	// only when a test says: a failed attempt is retried when the test advances it, never
	// inside the same DispatchOnce.
	w.dclock = clockwork.NewFakeClockAt(time.Now().Add(time.Hour))
	w.disp = outbox.NewDispatcher(st, outbox.Options{Log: quiet(), Clock: w.dclock, Jitter: -1, Workers: 8,
		Backoff: []time.Duration{time.Minute, time.Minute, time.Minute}, Timeout: 10 * time.Second})
	if _, err := mail.Register(w.disp, w.smtp.URL(), quiet()); err != nil {
		t.Fatal(err)
	}
	sh, _, err := shop.New(st.DB).Create(ctxT(t), "テスト店舗")
	if err != nil {
		t.Fatal(err)
	}
	w.shopID = sh.ID
	if err := st.DB.Table("options").Create(map[string]any{"name": continuation.OptionAdminMail, "value": adminMail, "updated_at": time.Now().UTC()}).Error; err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) atoneSettings(extra plugins.Settings) plugins.Settings {
	s := plugins.Settings{atone.KeyPublicKey: sbShop.PublicKey, atone.KeySecretKey: sbShop.SecretKey, atone.KeyAPIBase: w.sbURL + "/v1/"}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// inProcess is the atone adapter in the test process, behind the two methods the run uses.
type inProcess struct {
	ad       *atone.Adapter
	settings plugins.Settings
}

func (p inProcess) Get(context.Context, string) (plugins.Adapter, error) { return p.ad, nil }
func (p inProcess) Settings(context.Context, string) ([]module.SettingValue, error) {
	var out []module.SettingValue
	for k, v := range p.settings {
		out = append(out, module.SettingValue{Key: k, Value: v})
	}
	return out, nil
}

// useInProcess configures an in-process atone adapter against the sandbox.
func (w *world) useInProcess(extra plugins.Settings) {
	w.t.Helper()
	ad := atone.New(atone.Options{Version: "test"})
	s := w.atoneSettings(extra)
	if err := ad.Configure(ctxT(w.t), s); err != nil {
		w.t.Fatal(err)
	}
	w.mods = inProcess{ad: ad, settings: s}
}

var (
	atoneBuild sync.Once
	atoneDir   string // the build's folder, removed by TestMain
	atoneErr   error
)

// TestMain removes the kessai-atone build that atoneHost leaves for the whole test binary.
func TestMain(m *testing.M) {
	code := m.Run()
	if atoneDir != "" {
		os.RemoveAll(atoneDir)
	}
	os.Exit(code)
}

// atoneHost builds ./cmd/kessai-atone once, and returns a module host over st with the atone
// binary registered, configured against the sandbox and selected: the adapter runs in its own
// process over go-plugin, as in production. register is false for a second replica's host,
// which finds the module in the shared catalog.
func (w *world) atoneHost(st *store.Store, register bool, extra plugins.Settings) *module.Host {
	w.t.Helper()
	atoneBuild.Do(func() {
		if atoneDir, atoneErr = os.MkdirTemp("", "kessai-atone-"); atoneErr != nil {
			return
		}
		out := filepath.Join(atoneDir, "kessai-atone")
		if msg, err := exec.Command("go", "build", "-o", out, "github.com/kessai/kessai/cmd/kessai-atone").CombinedOutput(); err != nil {
			atoneErr = fmt.Errorf("build kessai-atone: %v\n%s", err, msg)
		}
	})
	if atoneErr != nil {
		w.t.Fatal(atoneErr)
	}
	if w.pluginDir == "" {
		// Copied from the build's folder, never held in memory: the benchmarks measure this
		// process's resident memory, and 20 MB of binary is not the runner's.
		w.pluginDir = w.t.TempDir()
		if err := copyFile(filepath.Join(atoneDir, "kessai-atone"), filepath.Join(w.pluginDir, "kessai-atone")); err != nil {
			w.t.Fatal(err)
		}
	}
	dir := w.pluginDir
	h := module.New(st, w.box, module.Options{PluginDir: dir, Logger: moduletest.TestLogger(w.t), PingInterval: time.Second})
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = h.Close(ctx)
	})
	ctx := ctxT(w.t)
	if register {
		if _, err := h.Register(ctx, filepath.Join(dir, "kessai-atone"), "test"); err != nil {
			w.t.Fatal(err)
		}
		if problems, err := h.UpdateSettings(ctx, atone.Slug, w.atoneSettings(extra), "test"); err != nil || len(problems) > 0 {
			w.t.Fatalf("configure atone: %v %v", problems, err)
		}
		if err := h.UpdateSelection(ctx, []string{atone.Slug}, "test"); err != nil {
			w.t.Fatal(err)
		}
	} else {
		// Another replica on the same machine: same plugin folder, catalog in the database.
		if err := h.Start(ctx); err != nil {
			w.t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, last := h.State(atone.Slug); st == module.Running {
			break
		} else if time.Now().After(deadline) {
			w.t.Fatalf("atone adapter is %s: %s", st, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h
}

// member returns the sandbox token and first transaction of a member, buying once through the
// widget as the member would at checkout.
func (w *world) member(phone string) (token, first string) {
	w.t.Helper()
	if tk, ok := w.tokens[phone]; ok {
		return tk[0], tk[1]
	}
	ad := atone.New(atone.Options{Version: "test"})
	if err := ad.Configure(ctxT(w.t), w.atoneSettings(nil)); err != nil {
		w.t.Fatal(err)
	}
	o := buyer(1980, fmt.Sprintf("first-%s-%d", phone, time.Now().UnixNano()))
	o.Recurring = true
	res, err := ad.PrepareCheckout(ctxT(w.t), plugins.CheckoutRequest{Order: o})
	if err != nil || res.Outcome != plugins.Processed {
		w.t.Fatalf("prepare checkout: %+v %v", res, err)
	}
	b, _ := json.Marshal(map[string]any{"pub_key": res.Widget.PublicKey, "pre_token": res.Widget.PreToken, "payment": res.Widget.Payment,
		"phone_number": phone, "password": sandbox.TestPassword})
	resp, err := http.Post(w.sbURL+"/sandbox/v1/widget/complete", "application/json", bytes.NewReader(b))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var c sandbox.WidgetCompletion
	if resp.StatusCode != 200 || json.Unmarshal(raw, &c) != nil || c.AuthenticationToken == "" {
		w.t.Fatalf("widget: %d %s", resp.StatusCode, raw)
	}
	w.tokens[phone] = [2]string{c.AuthenticationToken, c.Result.ID}
	return c.AuthenticationToken, c.Result.ID
}

func buyer(amount int64, attempt string) plugins.Order {
	return plugins.Order{ID: 1, Number: "00001000", Attempt: attempt, Amount: amount,
		Customer: plugins.Customer{FamilyName: "山田", GivenName: "太郎", FamilyKana: "ヤマダ", GivenKana: "タロウ",
			Zip: "100-0001", Pref: "東京都", Address1: "千代田区千代田", Address2: "1-1", Tel: "090-1234-5678", Email: "taro@example.jp"},
		Lines: []plugins.Line{{Kind: plugins.LineItem, SKU: "lesson", Name: "オンライン教室 月謝", Price: amount, Quantity: 1}}}
}

// spec is one contract to create.
type spec struct {
	ordered     time.Time // the order's time (お申込み日)
	frequency   int
	chargingDay int
	interval    int
	price       int64
	phone       string // sandbox member; empty means the OK member
	email       string
}

// contract creates an order with a continuation item and its contract, as checkout does.
func (w *world) contract(tx *gorm.DB, sp spec) continuation.Contract {
	w.t.Helper()
	if sp.phone == "" {
		sp.phone = sandbox.OKMemberPhone
	}
	if sp.price == 0 {
		sp.price = 1980
	}
	if sp.email == "" {
		sp.email = "taro@example.jp"
	}
	token, first := w.member(sp.phone)
	cart, _ := json.Marshal([]order.Line{{SKU: "lesson", ItemName: "オンライン教室 月謝", Price: sp.price, Quantity: 1,
		Continuation: &order.Continuation{Frequency: sp.frequency, ChargingDay: sp.chargingDay, Interval: sp.interval}}})
	o := order.Order{ShopID: w.shopID, Number: fmt.Sprintf("N%d", time.Now().UnixNano()), MemberID: 1015, Email: sp.email,
		Name1: "山田", Name2: "太郎", Name3: "ヤマダ", Name4: "タロウ", Zip: "100-0001", Pref: "東京都", Address1: "千代田区千代田",
		Address2: "1-1", Tel: "090-1234-5678", CartJSON: string(cart), ItemTotal: sp.price, Total: sp.price, PaymentName: "後払い"}
	ctx := w.ctx
	if err := order.Create(ctx, tx, &o); err != nil {
		w.t.Fatal(err)
	}
	o.Date = sp.ordered.UTC()
	if err := tx.Model(&o).Update("order_date", o.Date).Error; err != nil {
		w.t.Fatal(err)
	}
	s := &settlement.Settlement{Module: atone.Slug, SettlementCode: atone.SettlementCode}
	if err := continuation.CreateForOrder(ctx, tx, w.box, o, s, token, first); err != nil {
		w.t.Fatal(err)
	}
	var c continuation.Contract
	if err := tx.Where("order_id = ?", o.ID).First(&c).Error; err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) create(sp spec) continuation.Contract { return w.contract(w.st.DB, sp) }

func (w *world) runner(st *store.Store, mods continuation.Adapters, clock clockwork.Clock) *continuation.Runner {
	r, _ := w.engine(st, mods, continuation.Options{Clock: clock})
	return r
}

// engine returns a settlement service over st and mods and a runner charging through it, with
// the runner's observer registered, as the daemon wires them.
func (w *world) engine(st *store.Store, mods continuation.Adapters, opt continuation.Options) (*continuation.Runner, *settlement.Service) {
	if mods == nil {
		mods = w.mods
	}
	if opt.Log == nil {
		opt.Log = quiet()
	}
	ss := settlement.NewService(st, mods, quiet())
	r := continuation.NewRunner(st, w.box, mods, ss, opt)
	ss.Observe(r.Observer())
	return r, ss
}

func (w *world) reload(id int64) continuation.Contract {
	w.t.Helper()
	var c continuation.Contract
	if err := w.st.DB.First(&c, id).Error; err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) charges(id int64) []continuation.Charge {
	w.t.Helper()
	var out []continuation.Charge
	if err := w.st.DB.Where("continuation_id = ?", id).Order("id").Find(&out).Error; err != nil {
		w.t.Fatal(err)
	}
	return out
}

// dispatch sends every queued mail now.
func (w *world) dispatch() {
	w.t.Helper()
	if _, err := w.disp.DispatchOnce(ctxT(w.t)); err != nil {
		w.t.Fatal(err)
	}
}

func tokyoAt(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, jst.Tokyo)
}

func date(s string) continuation.Date {
	d, err := continuation.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
