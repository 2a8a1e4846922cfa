// Package fault is kessai's one error model. Domain packages say what kind of failure an error
// is (not found, conflict, invalid input with its fields, a provider's refusal, unavailable)
// and give it a stable code and a message people may read; the HTTP packages turn the kind
// into a status (httpapi.Error) or, in the Welcart façade, into Welcart's NG answer. An error
// that carries no kind is kessai's own fault: it is logged with its cause and answered 500.
package fault

import (
	"errors"
	"fmt"
	"strings"
)

// Kind says what sort of failure an error is, and so how every interface answers it.
type Kind int

// The kinds. Internal is the zero value: an error nobody described is kessai's fault.
const (
	Internal    Kind = iota
	NotFound         // the thing asked for does not exist, or is not the caller's
	Conflict         // the request is well-formed but the state does not allow it now
	Invalid          // the input breaks a rule; Field (and Fields) name where
	Refused          // the payment provider said no (a business outcome, told as an error)
	Unavailable      // a dependency (a payment module, the provider) cannot answer now
	TooLarge         // the request is larger than kessai accepts
	Canceled         // the caller went away
)

var kindNames = [...]string{"internal", "not_found", "conflict", "invalid", "refused", "unavailable", "too_large", "canceled"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Field is one rule broken by one input field.
type Field struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Fields is every rule one request broke, first one first, told together: invalid input.
// The domain's validation errors (order.ValidationError, continuation.ValidationError) are
// this type, so that one request answers all of its broken rules the same way everywhere.
type Fields []Field

func (fs Fields) Error() string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// Fault implements Describer: Invalid, with the first rule's field, code and message.
func (fs Fields) Fault() Detail { return fs.detail(Invalid) }

// WithKind describes fs as kind k instead: a Conflict when what refuses the request is the
// state of what it names, not its input (再決済 of a stopped contract). errors.As still finds
// fs in the result, for screens that show each field's message beside its field.
func (fs Fields) WithKind(k Kind) *Error {
	return &Error{Detail: fs.detail(k), Err: fs, text: k.String()}
}

func (fs Fields) detail(k Kind) Detail {
	d := Detail{Kind: k, Code: "invalid", Fields: fs}
	if len(fs) > 0 {
		d.Field, d.Code, d.Message = fs[0].Field, fs[0].Code, fs[0].Message
	}
	return d
}

// Detail is what an error tells the interfaces: its kind, a stable code for programs, a
// message for people (atone's Japanese where atone has one), and the fields at fault.
type Detail struct {
	Kind    Kind
	Code    string
	Message string
	Field   string
	// Fields lists every broken rule when there are several, first one first; Field, Code
	// and Message are then the first one's.
	Fields []Field
}

// Describer is implemented by the domain's error types (order.ValidationError,
// settlement.OperationError, …): they describe themselves.
type Describer interface {
	error
	Fault() Detail
}

// Error is a described error, usable as a sentinel (compare with errors.Is) and wrapping an
// optional cause.
type Error struct {
	Detail
	Err  error
	of   *Error // the sentinel this is a copy of
	text string // the Go error text, when it is not the code and message
}

// New returns a sentinel of kind k. Its Go error text (for logs and wrapping) is its code and
// message; message is the one people see.
func New(k Kind, code, message string) *Error {
	return &Error{Detail: Detail{Kind: k, Code: code, Message: message}}
}

// Sentinel is New with text as the Go error text: what logs, stored last errors and the errors
// wrapping it show, apart from the message people see. It lets a package describe a sentinel
// it had before without changing a word of its logs ("settlement: no such settlement").
func Sentinel(text string, k Kind, code, message string) *Error {
	e := New(k, code, message)
	e.text = text
	return e
}

// Wrap describes err as kind k.
func Wrap(err error, k Kind, code, message string) *Error {
	return &Error{Detail: Detail{Kind: k, Code: code, Message: message}, Err: err}
}

// Error is the code, message and field, or a Sentinel's own text (with the message of a copy
// that says something of its own), then the cause.
func (e *Error) Error() string {
	s := e.text
	switch {
	case s == "":
		s = e.Code
		if e.Message != "" {
			s += ": " + e.Message
		}
		if e.Field != "" {
			s += " (" + e.Field + ")"
		}
	case e.Message != e.root().Message:
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Fault implements Describer.
func (e *Error) Fault() Detail { return e.Detail }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// WithField returns a copy of e naming field; errors.Is(copy, e) still holds.
func (e *Error) WithField(field string) *Error {
	c := *e
	c.Field, c.of = field, e
	return &c
}

// WithMessage returns a copy of e saying msg; errors.Is(copy, e) still holds.
func (e *Error) WithMessage(msg string) *Error {
	c := *e
	c.Message, c.of = msg, e
	return &c
}

// Because returns a copy of e caused by err; errors.Is(copy, e) still holds.
func (e *Error) Because(err error) *Error {
	c := *e
	c.Err, c.of = err, e
	return &c
}

// root is the sentinel e was first copied from, or e.
func (e *Error) root() *Error {
	for e.of != nil {
		e = e.of
	}
	return e
}

// Is makes a copy made by WithField, WithMessage or Because match its sentinel, and every
// sentinel that one was copied from in turn (a sentinel may itself be a copy naming a field).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	for p := e.of; p != nil; p = p.of {
		if p == t {
			return true
		}
	}
	return false
}

// Of describes err: the first Describer in its chain, or Internal with err's text kept out
// of the message (a cause is for the log, not for the caller).
func Of(err error) Detail {
	if err == nil {
		return Detail{}
	}
	var d Describer
	if errors.As(err, &d) {
		return d.Fault()
	}
	return Detail{Kind: Internal, Code: "internal"}
}

// KindOf is Of(err).Kind.
func KindOf(err error) Kind { return Of(err).Kind }

// Is reports whether err is described as kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
