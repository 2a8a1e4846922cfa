package plugins

import (
	"slices"

	"github.com/kessai/kessai/plugins/internal/pb"
)

// Description is what an adapter says about itself: who it is, which Welcart settlement codes
// it serves, the settings form the admin console renders for it and what it can do. The host
// reads it once per launch; it must not depend on the settings.
type Description struct {
	// Slug is the adapter's stable identifier ("atone"); it never changes between versions.
	Slug string

	// DisplayName is shown on the module selection screen ("atone 翌月払い").
	DisplayName string

	// Version is the adapter's own version, shown to the admin.
	Version string

	// SettlementCodes are the Welcart settlement codes the adapter serves ("acting_atone").
	SettlementCodes []string

	// Settings describe the settings form, in display order.
	Settings []SettingField

	// Capabilities lists the optional operations offered. Describe, Configure,
	// ValidateSettings, PrepareCheckout, Confirm and Reference are always offered.
	Capabilities []Capability

	// Exclusive lists slugs of adapters that cannot be selected together with this one.
	Exclusive []string
}

// Can reports whether the adapter offers capability c.
func (d Description) Can(c Capability) bool { return slices.Contains(d.Capabilities, c) }

// Capability names an optional operation. It is a string on the wire so that a newer adapter
// can announce a capability an older host does not know; the host ignores it.
type Capability string

// Capabilities an adapter may announce.
const (
	CanCapture Capability = "capture" // Capture: 売上計上 of an authorized transaction
	CanCancel  Capability = "cancel"  // Cancel: 取消 of an authorized or captured transaction
	CanModify  Capability = "modify"  // Modify: 取引修正 (new transaction replacing the old)
	CanCharge  Capability = "charge"  // Charge: token-based charge for continuation billing
	CanWebhook Capability = "webhook" // ParseWebhook: the provider notifies the host
	CanPartial Capability = "partial" // Capture and Cancel accept less than the full amount
)

// FieldKind says how the admin console renders a setting.
type FieldKind string

// Setting kinds.
const (
	FieldText   FieldKind = "text"   // a single-line text input
	FieldSecret FieldKind = "secret" // a write-only input: the value is never shown again
	FieldSelect FieldKind = "select" // one of Options (radio buttons or a drop-down)
	FieldURL    FieldKind = "url"    // an absolute URL
)

// SettingField describes one entry of the adapter's settings form.
type SettingField struct {
	// Key is the settings map key ("secret_key").
	Key string

	// Label is shown to the admin, in Japanese ("シークレットキー").
	Label string

	Kind FieldKind

	// Options are the allowed values of a FieldSelect, in display order.
	Options []Option

	// Default is the value proposed when the setting has never been saved.
	Default string

	// Required settings must be non-empty before the adapter can be used.
	Required bool

	// Secret values are encrypted at rest, masked in logs and never returned by any API,
	// whatever their Kind.
	Secret bool

	// Help is an optional explanation shown under the input.
	Help string
}

// Option is one allowed value of a FieldSelect setting.
type Option struct {
	Value string
	Label string
}

// Settings are the adapter's configuration values by SettingField.Key, as saved by the admin.
// They reach the adapter only through Configure and ValidateSettings, never through the
// environment.
type Settings map[string]string

// FieldError is one reason why a settings form is invalid. Message is in Japanese and shown
// next to the field.
type FieldError struct {
	// Field is the SettingField.Key at fault.
	Field string

	// Code is a stable machine-readable rule name ("required", "format").
	Code string

	Message string
}

func toProtoDescription(d Description) *pb.Description {
	p := &pb.Description{
		Slug:            d.Slug,
		DisplayName:     d.DisplayName,
		Version:         d.Version,
		SettlementCodes: d.SettlementCodes,
		Exclusive:       d.Exclusive,
	}
	for _, f := range d.Settings {
		pf := &pb.SettingField{
			Key:      f.Key,
			Label:    f.Label,
			Kind:     string(f.Kind),
			Default:  f.Default,
			Required: f.Required,
			Secret:   f.Secret,
			Help:     f.Help,
		}
		for _, o := range f.Options {
			pf.Options = append(pf.Options, &pb.Option{Value: o.Value, Label: o.Label})
		}
		p.Settings = append(p.Settings, pf)
	}
	for _, c := range d.Capabilities {
		p.Capabilities = append(p.Capabilities, string(c))
	}
	return p
}

func fromProtoDescription(p *pb.Description) Description {
	d := Description{
		Slug:            p.GetSlug(),
		DisplayName:     p.GetDisplayName(),
		Version:         p.GetVersion(),
		SettlementCodes: p.GetSettlementCodes(),
		Exclusive:       p.GetExclusive(),
	}
	for _, pf := range p.GetSettings() {
		f := SettingField{
			Key:      pf.GetKey(),
			Label:    pf.GetLabel(),
			Kind:     FieldKind(pf.GetKind()),
			Default:  pf.GetDefault(),
			Required: pf.GetRequired(),
			Secret:   pf.GetSecret(),
			Help:     pf.GetHelp(),
		}
		for _, o := range pf.GetOptions() {
			f.Options = append(f.Options, Option{Value: o.GetValue(), Label: o.GetLabel()})
		}
		d.Settings = append(d.Settings, f)
	}
	for _, c := range p.GetCapabilities() {
		d.Capabilities = append(d.Capabilities, Capability(c))
	}
	return d
}

func toProtoFieldErrors(errs []FieldError) []*pb.FieldError {
	var p []*pb.FieldError
	for _, e := range errs {
		p = append(p, &pb.FieldError{Field: e.Field, Code: e.Code, Message: e.Message})
	}
	return p
}

func fromProtoFieldErrors(p []*pb.FieldError) []FieldError {
	var errs []FieldError
	for _, e := range p {
		errs = append(errs, FieldError{Field: e.GetField(), Code: e.GetCode(), Message: e.GetMessage()})
	}
	return errs
}
