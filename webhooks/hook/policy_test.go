package hook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/outbox"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/webhooks/hook"
)

// fakeDNS answers lookups from a table, so that no test asks a real name server. Names it
// does not hold are not found. Set changes an answer, as a rebinding attacker's server would.
type fakeDNS struct {
	mu      sync.Mutex
	names   map[string][]string
	lookups int
}

func (f *fakeDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	addrs, ok := f.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]net.IPAddr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	return out, nil
}

func (f *fakeDNS) Set(host string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[host] = addrs
}

// shopDNS holds the shops' public hosts of the tests, on documentation addresses that nothing
// ever dials: only registration resolves them.
var shopDNS = &fakeDNS{names: map[string][]string{
	"a.example.jp":    {"203.0.113.10"},
	"b.example.jp":    {"203.0.113.11", "2001:db8::11"},
	"shop.example.jp": {"203.0.113.12"},
}}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	dns := &fakeDNS{names: map[string][]string{
		"shop.example.jp":  {"203.0.113.12"},
		"intra.example.jp": {"10.1.2.3"},
		"mixed.example.jp": {"203.0.113.13", "192.168.0.9"},
		"meta.example.jp":  {"169.254.169.254"},
		"v6.example.jp":    {"2001:db8::1"},
		"ula.example.jp":   {"fd12:3456::1"},
	}}
	strict := hook.Policy{Resolver: dns}
	httpOnly := hook.Policy{Resolver: dns, AllowHTTP: true}
	open := hook.Policy{Resolver: dns, AllowHTTP: true, AllowPrivate: true}
	for _, tc := range []struct {
		p        hook.Policy
		in, want string
		ok       bool
		says     string // part of the message, when refused
	}{
		{strict, "https://shop.example.jp/kessai/webhook", "https://shop.example.jp/kessai/webhook", true, ""},
		{strict, " https://shop.example.jp/hook?x=1#frag ", "https://shop.example.jp/hook?x=1", true, ""},
		{strict, "https://v6.example.jp/", "https://v6.example.jp/", true, ""},
		{strict, "https://203.0.113.5:8443/", "https://203.0.113.5:8443/", true, ""},
		{strict, "http://shop.example.jp/", "", false, "https://"},
		{httpOnly, "http://shop.example.jp/", "http://shop.example.jp/", true, ""},
		{strict, "ftp://shop.example.jp/", "", false, "https://"},
		{strict, "shop.example.jp/hook", "", false, "https://"},
		{strict, "javascript:alert(1)", "", false, "https://"},
		{strict, "https:///nohost", "", false, "host"},
		{strict, "https://user:pass@shop.example.jp/", "", false, "password"},
		{strict, "", "", false, "required"},
		{strict, "https://shop.example.jp/" + strings.Repeat("a", 2048), "", false, "2048"},
		{strict, "https://nowhere.example.jp/", "", false, "名前を解決できません"},
		// Every kind of address that is not the internet's.
		{strict, "https://127.0.0.1/", "", false, "ループバックアドレス"},
		{strict, "https://127.1.2.3:8443/", "", false, "ループバックアドレス"},
		{strict, "https://[::1]/", "", false, "ループバックアドレス"},
		{strict, "https://[::ffff:127.0.0.1]/", "", false, "ループバックアドレス"},
		{strict, "https://[::ffff:10.0.0.1]/", "", false, "プライベートアドレス"},
		{strict, "https://[64:ff9b::a9fe:a9fe]/", "", false, "リンクローカルアドレス"},
		{strict, "https://10.0.0.1/", "", false, "プライベートアドレス"},
		{strict, "https://172.16.5.4/", "", false, "プライベートアドレス"},
		{strict, "https://192.168.1.1/", "", false, "プライベートアドレス"},
		{strict, "https://[fc00::1]/", "", false, "プライベートアドレス"},
		{strict, "https://169.254.169.254/latest/meta-data/", "", false, "リンクローカルアドレス"},
		{strict, "https://[fe80::1%25eth0]/", "", false, "リンクローカルアドレス"},
		{strict, "https://224.0.0.1/", "", false, "マルチキャストアドレス"},
		{strict, "https://[ff02::1]/", "", false, "マルチキャストアドレス"},
		{strict, "https://0.0.0.0/", "", false, "未指定アドレス"},
		{strict, "https://[::]/", "", false, "未指定アドレス"},
		{strict, "https://100.64.0.1/", "", false, "CGNAT"},
		{strict, "https://255.255.255.255/", "", false, "予約済みアドレス"},
		{strict, "https://intra.example.jp/", "", false, "プライベートアドレスに解決されます"},
		{strict, "https://mixed.example.jp/", "", false, "プライベートアドレスに解決されます"},
		{strict, "https://meta.example.jp/", "", false, "リンクローカルアドレスに解決されます"},
		{strict, "https://ula.example.jp/", "", false, "プライベートアドレスに解決されます"},
		{httpOnly, "http://127.0.0.1:8080/hook", "", false, "公開アドレス"},
		{open, " http://127.0.0.1:8080/hook?x=1#frag ", "http://127.0.0.1:8080/hook?x=1", true, ""},
		{open, "http://intra.example.jp/", "http://intra.example.jp/", true, ""},
	} {
		got, err := tc.p.CheckURL(context.Background(), tc.in)
		fe := fault.Of(err)
		switch {
		case tc.ok && (err != nil || got != tc.want):
			t.Errorf("CheckURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case !tc.ok && (fe.Kind != fault.Invalid || fe.Field != "url" || !errors.Is(err, hook.ErrInvalid)):
			t.Errorf("CheckURL(%q) err = %v, want invalid input on url", tc.in, err)
		case !tc.ok && !strings.Contains(fe.Message, tc.says):
			t.Errorf("CheckURL(%q): %q does not say %q", tc.in, fe.Message, tc.says)
		case !tc.ok && strings.Contains(fe.Message, "10.1.2.3"):
			t.Errorf("CheckURL(%q): %q shows what an internal name resolves to", tc.in, fe.Message)
		}
	}
}

// TestLocalEndpointsRefused registers receivers on the daemon's own machine through the shop
// API, under each setting of KESSAI_WEBHOOK_ALLOW_HTTP and KESSAI_WEBHOOK_ALLOW_PRIVATE.
// Nothing is dialed: registration only looks at the addresses.
func TestLocalEndpointsRefused(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t) // the database plays no part in the rule
	sh := newShop(t, s, "A")
	box := newBox(t)
	urls := []string{"http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://127.1.2.3:9/hook"}
	register := func(t *testing.T, p hook.Policy, u string) *httptest.ResponseRecorder {
		t.Helper()
		r := httpapi.New(quiet).Engine
		hook.Mount(r, hook.NewEndpoints(s.DB, box, p), func(*gin.Context) int64 { return sh.ID })
		return do(t, r, http.MethodPost, "/api/v1/webhook-endpoints", `{"url": "`+u+`", "events": ["*"]}`)
	}
	t.Run("both flags off: 422 on url", func(t *testing.T) {
		for _, u := range urls {
			e := wantError(t, register(t, hook.Policy{Resolver: shopDNS}, u), http.StatusUnprocessableEntity, "url")
			if !strings.Contains(e.Message, "https://") {
				t.Errorf("%s: %q does not state the https rule", u, e.Message)
			}
		}
	})
	t.Run("http allowed, private not: 422 naming the address rule", func(t *testing.T) {
		for _, u := range urls {
			e := wantError(t, register(t, hook.Policy{Resolver: shopDNS, AllowHTTP: true}, u), http.StatusUnprocessableEntity, "url")
			if !strings.Contains(e.Message, "ループバックアドレス") || !strings.Contains(e.Message, "公開アドレス") {
				t.Errorf("%s: %q does not state the address rule", u, e.Message)
			}
		}
	})
	t.Run("both flags on: accepted", func(t *testing.T) {
		for _, u := range urls {
			var res struct{ Endpoint hook.EndpointJSON }
			decode(t, register(t, hook.Policy{AllowHTTP: true, AllowPrivate: true}, u), http.StatusCreated, &res)
			if res.Endpoint.URL != u {
				t.Errorf("registered %q, want %q", res.Endpoint.URL, u)
			}
		}
	})
}

// counter is a receiver that counts requests and answers as its handler says.
type counter struct {
	mu sync.Mutex
	n  int
	h  http.HandlerFunc
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	if c.h != nil {
		c.h(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *counter) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// attempt publishes one event to ep's shop, lets a dispatcher with sender deliver it once and
// returns that attempt as the delivery log shows it.
func attempt(t *testing.T, s *store.Store, eps *hook.Endpoints, sender *hook.Sender, ep *hook.Endpoint) hook.DeliveryJSON {
	t.Helper()
	ctx := context.Background()
	// Earlier subtests' messages waiting for a retry are not this attempt's business.
	if err := s.DB.Table("outbox").Where("state = ?", outbox.Pending).Update("state", outbox.Dead).Error; err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(time.Now().Add(time.Minute))
	d := outbox.NewDispatcher(s, outbox.Options{Clock: clock, Log: quiet, Timeout: 5 * time.Second})
	d.Register(hook.Kind, sender)
	ev, err := hook.Publish(ctx, s.DB, ep.ShopID, hook.SettlementCaptured, map[string]int{"amount": 1})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.DispatchOnce(ctx); err != nil || n != 1 {
		t.Fatalf("dispatched %d: %v", n, err)
	}
	r := gin.New()
	hook.Mount(r, eps, func(*gin.Context) int64 { return ep.ShopID })
	var res struct{ Deliveries []hook.DeliveryJSON }
	decode(t, do(t, r, http.MethodGet, "/api/v1/webhook-endpoints/"+strconv.FormatInt(ep.ID, 10)+"/deliveries?limit=1", ""), http.StatusOK, &res)
	if len(res.Deliveries) != 1 || res.Deliveries[0].EventID != ev.ID {
		t.Fatalf("log %+v, want the attempt for %s", res.Deliveries, ev.ID)
	}
	return res.Deliveries[0]
}

func TestSenderDialsOnlyWhatThePolicyAllows(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	ctx := context.Background()
	box := newBox(t)
	rc := &counter{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	t.Run("a name that resolves to loopback at delivery is not dialed", func(t *testing.T) {
		// The shop's host looked public when it was registered; its DNS now answers 127.0.0.1,
		// where the receiver listens.
		dns := &fakeDNS{names: map[string][]string{"hook.shop.test": {"203.0.113.20"}}}
		p := hook.Policy{AllowHTTP: true, Resolver: dns}
		eps := hook.NewEndpoints(s.DB, box, p)
		ep, _, err := eps.Create(ctx, newShop(t, s, "rebinding").ID, "http://hook.shop.test:"+port+"/kessai", []hook.Type{hook.AllTypes})
		if err != nil {
			t.Fatal(err)
		}
		dns.Set("hook.shop.test", "127.0.0.1")
		before := dns.lookups
		got := attempt(t, s, eps, hook.NewSender(eps), ep)
		if rc.count() != 0 {
			t.Fatalf("the receiver on 127.0.0.1 got %d requests", rc.count())
		}
		if dns.lookups == before {
			t.Fatal("the dialer did not resolve the name again")
		}
		if got.Outcome != outbox.OutcomeRetry || got.StatusCode != 0 || !strings.Contains(got.Error, "refused: loopback address") {
			t.Fatalf("logged %+v, want a refusal naming the loopback rule", got)
		}
		if strings.Contains(got.Error, "127.0.0.1") {
			t.Fatalf("logged %q: the resolved address is not the shop's to learn", got.Error)
		}

		// The same endpoint, under the development policy, is delivered.
		dev := hook.NewEndpoints(s.DB, box, hook.Policy{AllowHTTP: true, AllowPrivate: true, Resolver: dns})
		if got := attempt(t, s, dev, hook.NewSender(dev), ep); got.Outcome != outbox.OutcomeDelivered || rc.count() != 1 {
			t.Fatalf("under ALLOW_PRIVATE: logged %+v, %d requests", got, rc.count())
		}
	})
	t.Run("an endpoint registered on a private address before the rule is not dialed", func(t *testing.T) {
		dev := hook.NewEndpoints(s.DB, box, local)
		ep, _, err := dev.Create(ctx, newShop(t, s, "old").ID, srv.URL+"/kessai", []hook.Type{hook.AllTypes})
		if err != nil {
			t.Fatal(err)
		}
		n := rc.count()
		strict := hook.NewEndpoints(s.DB, box, hook.Policy{AllowHTTP: true})
		got := attempt(t, s, strict, hook.NewSender(strict), ep)
		if rc.count() != n || !strings.Contains(got.Error, "refused: loopback address") {
			t.Fatalf("logged %+v; receiver got %d new requests", got, rc.count()-n)
		}
		// And without ALLOW_HTTP its http:// URL is refused for good.
		https := hook.NewEndpoints(s.DB, box, hook.Policy{AllowPrivate: true})
		got = attempt(t, s, https, hook.NewSender(https), ep)
		if rc.count() != n || got.Outcome != outbox.OutcomeDead || !strings.Contains(got.Error, "refused") {
			t.Fatalf("logged %+v; receiver got %d new requests", got, rc.count()-n)
		}
	})
}

func TestSenderAnswers(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	ctx := context.Background()
	eps := hook.NewEndpoints(s.DB, newBox(t), local)
	sender := hook.NewSender(eps)
	target := &counter{}
	elsewhere := httptest.NewServer(target)
	defer elsewhere.Close()
	rc := &counter{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	ep, _, err := eps.Create(ctx, newShop(t, s, "answers").ID, srv.URL+"/kessai", []hook.Type{hook.AllTypes})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a redirect is not followed", func(t *testing.T) {
		rc.h = func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/admin", http.StatusFound)
		}
		got := attempt(t, s, eps, sender, ep)
		if target.count() != 0 {
			t.Fatalf("the redirect target got %d requests", target.count())
		}
		if got.StatusCode != http.StatusFound || got.Outcome != outbox.OutcomeRetry {
			t.Fatalf("logged %+v, want the 302 itself", got)
		}
	})
	t.Run("a large answer is cut to 200 bytes", func(t *testing.T) {
		// Three-byte characters, so the cut falls inside one.
		body := "秘密" + strings.Repeat("あ", 10000)
		rc.h = func(w http.ResponseWriter, r *http.Request) { http.Error(w, body, http.StatusBadRequest) }
		got := attempt(t, s, eps, sender, ep)
		_, logged, _ := strings.Cut(got.Error, "receiver answered 400: ")
		if got.StatusCode != http.StatusBadRequest || logged == "" || len(logged) > 200 || !utf8.ValidString(logged) ||
			!strings.HasPrefix(body, logged) {
			t.Fatalf("logged %d bytes: %q", len(logged), got.Error)
		}
	})
	t.Run("a 5xx answer is logged by its code alone", func(t *testing.T) {
		rc.h = func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "stack trace: /srv/internal/app.go:12", http.StatusInternalServerError)
		}
		if got := attempt(t, s, eps, sender, ep); got.StatusCode != 500 || got.Error != "receiver answered 500" {
			t.Fatalf("logged %+v", got)
		}
	})
	t.Run("the URL's query stays out of the log", func(t *testing.T) {
		u, _ := url.Parse(srv.URL)
		// Nothing listens on port 9 of the machine: the dial fails.
		ep2, _, err := eps.Create(ctx, newShop(t, s, "query").ID, "http://"+u.Hostname()+":9/kessai?token=s3cret", []hook.Type{hook.AllTypes})
		if err != nil {
			t.Fatal(err)
		}
		got := attempt(t, s, eps, sender, ep2)
		if strings.Contains(got.Error, "s3cret") || got.Outcome != outbox.OutcomeRetry {
			t.Fatalf("logged %+v", got)
		}
	})
}
