package atone_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/atone"
	"github.com/kessai/kessai/plugins/atone/sandbox"
	"github.com/kessai/kessai/plugins/atone/wire"
)

// TestAtoneOutcomeClasses walks every way a call can end without a clean answer and checks
// the outcome the host will record, then asks atone what really happened.
func TestAtoneOutcomeClasses(t *testing.T) {
	w := newWorld(t, nil)
	authorized := func(t *testing.T) plugins.TransactionResult {
		t.Helper()
		tr, _ := w.buy(order(5000), sandbox.OKMemberPhone)
		want(t, "confirm", tr.Result, plugins.Processed, "")
		return tr
	}

	t.Run("500 EATN9999 is undefined; nothing was settled", func(t *testing.T) {
		tr := authorized(t)
		w.fault(sandbox.Fault{Kind: sandbox.FaultInternalError, Path: "*/settle", Times: 1})
		r, err := w.ad.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "capture", r.Result, plugins.Undefined, wire.CodeSystemError)
		if !hasMessage(r.Result, "時間を空けて再度お試し下さい") {
			t.Errorf("messages %q", r.Messages)
		}
		if ref := w.reference(tr.ProviderID); ref.State != plugins.StateAuthorized {
			t.Fatalf("reference %+v", ref)
		}
	})

	t.Run("503 EATN9901 maintenance is undefined", func(t *testing.T) {
		w.fault(sandbox.Fault{Kind: sandbox.FaultMaintenance, Path: "/v1/transactions", Method: "POST", Times: 1})
		r, err := w.ad.Charge(ctx(t), plugins.ChargeRequest{Token: "tk_aaaaaaaaaaaaaaaaaaaaaaaa", Order: order(1000)})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "charge", r.Result, plugins.Undefined, wire.CodeMaintenance)
	})

	t.Run("a connection dropped after atone committed is undefined; reference finds it settled", func(t *testing.T) {
		tr := authorized(t)
		w.fault(sandbox.Fault{Kind: sandbox.FaultDropAfterCommit, Path: "*/settle", Times: 1})
		r, _ := w.ad.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID})
		want(t, "capture", r.Result, plugins.Undefined, atone.CodeNetwork)
		if ref := w.reference(tr.ProviderID); ref.State != plugins.StateCaptured {
			t.Fatalf("reference %+v, want captured", ref)
		}
	})

	t.Run("a connection dropped before atone handled it is undefined too", func(t *testing.T) {
		tr := authorized(t)
		w.fault(sandbox.Fault{Kind: sandbox.FaultDropBefore, Path: "*/refund", Times: 1})
		r, _ := w.ad.Cancel(ctx(t), plugins.CancelRequest{ProviderID: tr.ProviderID})
		want(t, "cancel", r.Result, plugins.Undefined, atone.CodeNetwork)
		if ref := w.reference(tr.ProviderID); ref.State != plugins.StateAuthorized {
			t.Fatalf("reference %+v", ref)
		}
	})

	t.Run("latency beyond the caller's deadline is undefined", func(t *testing.T) {
		tr := authorized(t)
		w.fault(sandbox.Fault{Kind: sandbox.FaultLatency, Path: "*/settle", Latency: 1500 * time.Millisecond, Times: 1})
		c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		r, err := w.ad.Capture(c, plugins.CaptureRequest{ProviderID: tr.ProviderID})
		if err != nil {
			t.Fatal(err)
		}
		want(t, "capture", r.Result, plugins.Undefined, atone.CodeTimeout)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("capture took %v; the deadline was 300ms", d)
		}
	})

	t.Run("a modification whose reference breaks was never sent", func(t *testing.T) {
		tr := authorized(t)
		w.fault(sandbox.Fault{Kind: sandbox.FaultInternalError, Path: "/v1/transactions/" + tr.ProviderID, Method: "GET", Times: 1})
		r, _ := w.ad.Modify(ctx(t), plugins.ModifyRequest{ProviderID: tr.ProviderID, Order: order(4000)})
		want(t, "modify", r.Result, plugins.NotAttempted, wire.CodeSystemError)
		if ref := w.reference(tr.ProviderID); ref.State != plugins.StateAuthorized {
			t.Fatalf("reference %+v", ref)
		}
	})
}

// TestAtoneConfirmWithoutAnAnswerKeepsTheID: the widget registered the transaction before
// Confirm, so a reference that gets no answer leaves the money unknown, and the widget's id is
// the host's only way to find it again.
func TestAtoneConfirmWithoutAnAnswerKeepsTheID(t *testing.T) {
	w := newWorld(t, nil)
	for _, tc := range []struct {
		name    string
		fault   sandbox.FaultKind
		latency time.Duration
		code    string
	}{
		{"the reference answered 500", sandbox.FaultInternalError, 0, wire.CodeSystemError},
		{"atone in maintenance (503)", sandbox.FaultMaintenance, 0, wire.CodeMaintenance},
		{"the connection dropped before atone answered", sandbox.FaultDropBefore, 0, atone.CodeNetwork},
		{"the connection dropped after atone read the transaction", sandbox.FaultDropAfterCommit, 0, atone.CodeNetwork},
		{"no answer before the caller's deadline", sandbox.FaultLatency, 1500 * time.Millisecond, atone.CodeTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := order(1200)
			c, _ := w.checkout(o, sandbox.OKMemberPhone)
			// Every reference fails until cleared: net/http repeats a GET whose reused
			// connection was dropped, and one failure would go unseen.
			w.fault(sandbox.Fault{Kind: tc.fault, Path: "/v1/transactions/" + c.Result.ID, Method: "GET", Latency: tc.latency})
			cc := ctx(t)
			if tc.latency > 0 {
				var cancel context.CancelFunc
				cc, cancel = context.WithTimeout(cc, 300*time.Millisecond)
				defer cancel()
			}
			r, err := w.ad.Confirm(cc, plugins.ConfirmRequest{Payload: []byte(`{"id":"` + c.Result.ID + `","authorization_result":1}`), Order: o})
			if err != nil {
				t.Fatal(err)
			}
			want(t, "confirm", r.Result, plugins.Undefined, tc.code)
			if r.ProviderID != c.Result.ID || r.Attempt != o.Attempt {
				t.Fatalf("confirm %+v, want the widget's id %s and attempt %s", r, c.Result.ID, o.Attempt)
			}
			// What the host does later with the id it kept, once atone answers again.
			w.sb.ClearFaults()
			if ref := w.reference(r.ProviderID); ref.State != plugins.StateAuthorized || ref.Attempt != o.Attempt || ref.Amount != o.Amount {
				t.Fatalf("reference %+v", ref)
			}
		})
	}
}

func TestAtoneNoConnectionIsNotAttempted(t *testing.T) {
	// A port that was just closed: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/v1/"
	ln.Close()

	// A TLS server whose certificate nobody trusts: the handshake fails.
	tlsSrv := httptest.NewTLSServer(sandbox.New(sandbox.Config{Shops: []sandbox.Shop{shop}}))
	defer tlsSrv.Close()

	for name, base := range map[string]string{
		"connection refused":     closed,
		"untrusted TLS":          tlsSrv.URL + "/v1/",
		"a name that no DNS has": "http://kessai-atone-test.invalid/v1/",
	} {
		t.Run(name, func(t *testing.T) {
			a := atone.New(atone.Options{})
			if err := a.Configure(ctx(t), plugins.Settings{
				atone.KeyPublicKey: shop.PublicKey, atone.KeySecretKey: shop.SecretKey, atone.KeyAPIBase: base,
			}); err != nil {
				t.Fatal(err)
			}
			r, err := a.Capture(ctx(t), plugins.CaptureRequest{ProviderID: "tr_AAAAAAAAAAAAAAAA"})
			if err != nil {
				t.Fatal(err)
			}
			want(t, "capture", r.Result, plugins.NotAttempted, atone.CodeConnect)
			if !hasMessage(r.Result, "接続できませんでした") {
				t.Errorf("messages %q", r.Messages)
			}
			r, _ = a.Charge(ctx(t), plugins.ChargeRequest{Token: "tk_aaaaaaaaaaaaaaaaaaaaaaaa", Order: order(1000)})
			want(t, "charge", r.Result, plugins.NotAttempted, atone.CodeConnect)
			// Confirm is the exception: the widget registered the transaction already.
			r, _ = a.Confirm(ctx(t), plugins.ConfirmRequest{Payload: []byte(`{"id":"tr_AAAAAAAAAAAAAAAA"}`), Order: order(1000)})
			want(t, "confirm", r.Result, plugins.Undefined, atone.CodeConnect)
			if r.ProviderID != "tr_AAAAAAAAAAAAAAAA" {
				t.Fatalf("confirm %+v keeps no id to resolve", r)
			}
		})
	}
}

func TestAtoneSecretsStayOutOfLogsAndResults(t *testing.T) {
	w := newWorld(t, nil)
	first := order(1980)
	first.Recurring = true
	tr, c := w.buy(first, sandbox.OKMemberPhone)
	_, _ = w.ad.Capture(ctx(t), plugins.CaptureRequest{ProviderID: tr.ProviderID})
	w.fault(sandbox.Fault{Kind: sandbox.FaultDropBefore, Path: "/v1/transactions", Method: "POST", Times: 1})
	r, _ := w.ad.Charge(ctx(t), plugins.ChargeRequest{Token: c.AuthenticationToken, RelatedProviderID: tr.ProviderID, Order: order(1980)})
	if r.Outcome != plugins.Undefined {
		t.Fatalf("charge %+v", r)
	}
	ref := w.reference(tr.ProviderID)
	if ref.AuthToken != c.AuthenticationToken {
		t.Errorf("reference of a recurring order should carry its token: %+v", ref)
	}

	log := w.log.String()
	if !strings.Contains(log, "atone call failed") {
		t.Fatalf("the failure was not logged:\n%s", log)
	}
	for _, s := range []string{shop.SecretKey, c.AuthenticationToken} {
		if strings.Contains(log, s) {
			t.Errorf("%q leaked into the log:\n%s", s, log)
		}
		for _, raw := range [][]byte{tr.Raw, ref.Raw} {
			if strings.Contains(string(raw), s) {
				t.Errorf("%q leaked into Raw: %s", s, raw)
			}
		}
	}
}
