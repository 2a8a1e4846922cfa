package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kessai/kessai/plugins/internal/pb"
)

var testOrder = Order{
	ID:      1042,
	Number:  "1042",
	Attempt: "1042-1",
	Amount:  3300,
	Customer: Customer{
		FamilyName: "山田", GivenName: "太郎", FamilyKana: "ヤマダ", GivenKana: "タロウ",
		Zip: "100-0001", Pref: "東京都", Address1: "千代田区千代田", Address2: "1-1", Address3: "皇居ビル101",
		Tel: "03-1234-5678", Email: "taro@example.jp",
	},
	Lines: []Line{
		{Kind: LineItem, SKU: "TEA-01", Name: "緑茶", Price: 1500, Quantity: 2},
		{Kind: LineDiscount, Name: "クーポン", Price: -200, Quantity: 1},
		{Kind: LineShipping, Name: "送料", Price: 500, Quantity: 1},
	},
	MemberID:   "77",
	Properties: map[string]string{"campaign": "spring"},
}

func withDelivery(o Order) Order {
	o.Delivery = &Customer{FamilyName: "山田", GivenName: "花子", Zip: "530-0001", Pref: "大阪府", Address1: "大阪市北区梅田"}
	o.Recurring = true
	return o
}

func TestOrderRoundTrip(t *testing.T) {
	for name, o := range map[string]Order{
		"full":               testOrder,
		"with delivery":      withDelivery(testOrder),
		"empty":              {Customer: Customer{}},
		"negative line only": {Attempt: "x", Lines: []Line{{Kind: LinePoint, Price: -100, Quantity: 1}}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := fromProtoOrder(toProtoOrder(o)); !reflect.DeepEqual(got, o) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, o)
			}
		})
	}
}

func TestTransactionResultRoundTrip(t *testing.T) {
	settled := time.Date(2026, 4, 1, 3, 4, 5, 6, time.UTC)
	for name, r := range map[string]TransactionResult{
		"captured": {
			Result:     Result{Outcome: Processed, Raw: json.RawMessage(`{"id":"tr_1"}`)},
			ProviderID: "tr_1", Attempt: "1042-1", Amount: 3300, State: StateCaptured,
			AuthToken: "tk_1", SettledAt: settled,
		},
		"declined with reason": {
			Result: Result{
				Outcome: Declined, Code: "EATN0332", Field: "customer.tel", Reason: "1",
				Messages: []string{"電話番号の形式が不正です。", "ご確認ください。"},
			},
			State: StateDeclined,
		},
		"zero value is undefined and unknown": {},
		"pending":                             {Result: Result{Outcome: Pending}, ProviderID: "tr_2", State: StateAuthorized},
		"not attempted":                       {Result: Result{Outcome: NotAttempted}},
		"cancelled":                           {Result: Result{Outcome: Processed}, State: StateCancelled},
	} {
		t.Run(name, func(t *testing.T) {
			if got := fromProtoTransactionResult(toProtoTransactionResult(r)); !reflect.DeepEqual(got, r) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
			}
		})
	}
}

func TestRequestRoundTrips(t *testing.T) {
	cases := []struct {
		name string
		in   any
		rt   func(any) any
	}{
		{"checkout", CheckoutRequest{Order: testOrder, AuthToken: "tk_9"},
			func(v any) any { return fromProtoCheckoutRequest(toProtoCheckoutRequest(v.(CheckoutRequest))) }},
		{"confirm", ConfirmRequest{Payload: json.RawMessage(`{"id":"tr_1","authorization_result":1}`), Order: testOrder},
			func(v any) any { return fromProtoConfirmRequest(toProtoConfirmRequest(v.(ConfirmRequest))) }},
		{"reference by id", ReferenceRequest{ProviderID: "tr_1"},
			func(v any) any { return fromProtoReferenceRequest(toProtoReferenceRequest(v.(ReferenceRequest))) }},
		{"reference by attempt", ReferenceRequest{Attempt: "1042-1"},
			func(v any) any { return fromProtoReferenceRequest(toProtoReferenceRequest(v.(ReferenceRequest))) }},
		{"capture", CaptureRequest{ProviderID: "tr_1", Amount: 3000},
			func(v any) any { return fromProtoCaptureRequest(toProtoCaptureRequest(v.(CaptureRequest))) }},
		{"cancel", CancelRequest{ProviderID: "tr_1"},
			func(v any) any { return fromProtoCancelRequest(toProtoCancelRequest(v.(CancelRequest))) }},
		{"modify", ModifyRequest{ProviderID: "tr_1", Order: withDelivery(testOrder), Settled: true},
			func(v any) any { return fromProtoModifyRequest(toProtoModifyRequest(v.(ModifyRequest))) }},
		{"charge", ChargeRequest{Token: "tk_1", RelatedProviderID: "tr_1", Order: testOrder, Settle: true},
			func(v any) any { return fromProtoChargeRequest(toProtoChargeRequest(v.(ChargeRequest))) }},
		{"webhook request", WebhookRequest{Headers: http.Header{"X-Sig": {"a", "b"}}, Body: []byte(`{}`)},
			func(v any) any { return fromProtoWebhookRequest(toProtoWebhookRequest(v.(WebhookRequest))) }},
		{"webhook event", WebhookEvent{Kind: EventPayment, ProviderID: "tr_1", Attempt: "a", Amount: 10, State: StateAuthorized, MemberID: "7", Raw: json.RawMessage(`{"id":"tr_1"}`)},
			func(v any) any { return fromProtoWebhookEvent(toProtoWebhookEvent(v.(WebhookEvent))) }},
		{"authentication event", WebhookEvent{Kind: EventAuthentication, AuthToken: "tk_2"},
			func(v any) any { return fromProtoWebhookEvent(toProtoWebhookEvent(v.(WebhookEvent))) }},
		{"checkout result", CheckoutResult{
			Result: Result{Outcome: Processed},
			Widget: Widget{ScriptURL: "https://auth.atone.be/bundle.js", PublicKey: "pk", PreToken: "tk", Payment: json.RawMessage(`{"amount":10}`)},
		}, func(v any) any { return fromProtoCheckoutResult(toProtoCheckoutResult(v.(CheckoutResult))) }},
		{"description", Description{
			Slug: "atone", DisplayName: "atone 翌月払い", Version: "1.2.0",
			SettlementCodes: []string{"acting_atone"},
			Settings: []SettingField{
				{Key: "secret_key", Label: "シークレットキー", Kind: FieldSecret, Required: true, Secret: true},
				{Key: "env", Label: "動作環境", Kind: FieldSelect, Default: "test", Help: "本番前はテスト",
					Options: []Option{{Value: "test", Label: "テスト環境"}, {Value: "live", Label: "本番環境"}}},
			},
			Capabilities: []Capability{CanCapture, CanCancel, Capability("future")},
			Exclusive:    []string{"paidy"},
		}, func(v any) any { return fromProtoDescription(toProtoDescription(v.(Description))) }},
		{"field errors", []FieldError{{Field: "secret_key", Code: "required", Message: "必須です"}},
			func(v any) any { return fromProtoFieldErrors(toProtoFieldErrors(v.([]FieldError))) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.rt(c.in); !reflect.DeepEqual(got, c.in) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, c.in)
			}
		})
	}
}

func TestOutcomeFromUnknownWireValueIsUndefined(t *testing.T) {
	for _, p := range []pb.Outcome{pb.Outcome_OUTCOME_UNSPECIFIED, pb.Outcome_OUTCOME_UNDEFINED, pb.Outcome(99)} {
		if got := fromProtoOutcome(p); got != Undefined {
			t.Errorf("fromProtoOutcome(%v) = %v, want undefined", p, got)
		}
	}
	if got := fromProtoResult(nil).Outcome; got != Undefined {
		t.Errorf("missing result = %v, want undefined", got)
	}
	if got := fromProtoState(pb.State(99)); got != StateUnknown {
		t.Errorf("fromProtoState(99) = %v, want unknown", got)
	}
}

func TestOutcomeText(t *testing.T) {
	for o, want := range map[Outcome]string{
		Processed: "processed", Pending: "pending", Declined: "declined",
		NotAttempted: "not_attempted", Undefined: "undefined",
	} {
		b, err := json.Marshal(map[string]Outcome{"o": o})
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `{"o":"`+want+`"}` {
			t.Errorf("json of %v = %s", o, b)
		}
		var back map[string]Outcome
		if err := json.Unmarshal(b, &back); err != nil || back["o"] != o {
			t.Errorf("unmarshal %s = %v, %v", b, back["o"], err)
		}
	}
	if _, err := ParseOutcome("ok"); !errors.Is(err, ErrProtocol) {
		t.Errorf("ParseOutcome(ok) error = %v, want ErrProtocol", err)
	}
	if s := Outcome(9).String(); s != "Outcome(9)" {
		t.Errorf("String of unknown outcome = %q", s)
	}
}

// TestErrorClassification checks that what the adapter returns becomes, on the host, the
// sentinel it stood for and the outcome the host must record.
func TestErrorClassification(t *testing.T) {
	cases := []struct {
		name    string
		adapter error // returned by the adapter; nil when the status comes from gRPC itself
		status  error // a status produced by the transport
		is      error
		outcome Outcome
	}{
		{name: "unsupported", adapter: ErrUnsupported, is: ErrUnsupported, outcome: NotAttempted},
		{name: "not configured", adapter: errors.Join(errors.New("no keys"), ErrNotConfigured), is: ErrNotConfigured, outcome: NotAttempted},
		{name: "invalid request", adapter: ErrInvalidRequest, is: ErrInvalidRequest, outcome: NotAttempted},
		{name: "adapter deadline", adapter: context.DeadlineExceeded, is: context.DeadlineExceeded, outcome: Undefined},
		{name: "plain adapter error", adapter: errors.New("atone: 502"), outcome: Undefined},
		{name: "process died", status: status.Error(codes.Unavailable, "error reading from server: EOF"), is: ErrTransport, outcome: Undefined},
		{name: "host deadline", status: status.Error(codes.DeadlineExceeded, "context deadline exceeded"), is: context.DeadlineExceeded, outcome: Undefined},
		{name: "host cancelled", status: status.Error(codes.Canceled, "context canceled"), is: context.Canceled, outcome: Undefined},
		{name: "not a status", status: errors.New("odd"), outcome: Undefined},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wire := c.status
			if c.adapter != nil {
				wire = toStatus(c.adapter)
			}
			err := fromStatus("Capture", wire)
			var ce *CallError
			if !errors.As(err, &ce) || ce.Op != "Capture" {
				t.Fatalf("error %v is not a *CallError for Capture", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, c.is)
			}
			if got := OutcomeOf(err); got != c.outcome {
				t.Errorf("OutcomeOf(%v) = %v, want %v", err, got, c.outcome)
			}
			if got := ce.MayHaveReachedProvider(); got != (c.outcome == Undefined) {
				t.Errorf("MayHaveReachedProvider = %v", got)
			}
		})
	}
	if got := OutcomeOf(nil); got != Undefined {
		t.Errorf("OutcomeOf(nil) = %v, want undefined", got)
	}
}
