package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/fault"
)

// ErrorBody is the one error shape of every kessai API:
// {"error": {"code": "…", "message": "…", "field": "…"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names what went wrong; Field is the request field at fault, when there is one.
// Message is human text (atone's Japanese message where atone has one); Code is stable for
// programs to branch on.
type ErrorDetail struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Field   string   `json:"field,omitempty"`
	Details []Detail `json:"details,omitempty"`
}

// Detail is one more field error when a request has several.
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Fail aborts the request with the standard error body.
func Fail(c *gin.Context, status int, code, message, field string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, Field: field}})
}

// FailDetails aborts with several field errors; the first is also the top-level error.
func FailDetails(c *gin.Context, status int, details []Detail) {
	if len(details) == 0 {
		Fail(c, status, "invalid", "invalid request", "")
		return
	}
	d := details[0]
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorDetail{Code: d.Code, Message: d.Message, Field: d.Field, Details: details}})
}

// statusOf is the one mapping from an error's kind to an HTTP status.
var statusOf = map[fault.Kind]int{
	fault.Internal:    http.StatusInternalServerError,
	fault.NotFound:    http.StatusNotFound,
	fault.Conflict:    http.StatusConflict,
	fault.Invalid:     http.StatusUnprocessableEntity,
	fault.Refused:     http.StatusUnprocessableEntity,
	fault.Unavailable: http.StatusServiceUnavailable,
	fault.TooLarge:    http.StatusRequestEntityTooLarge,
	fault.Canceled:    499, // nginx's "client closed request": nobody reads it
}

// Status is the HTTP status of err's kind.
func Status(err error) int { return statusOf[fault.KindOf(err)] }

// errCanceled describes a call cut short because its caller went away: the one failure no
// package describes, since every package may meet it.
var errCanceled = fault.New(fault.Canceled, "canceled", "request canceled")

// Error aborts the request with err's status and the standard body. An error of no known kind
// is kessai's fault: its cause is recorded on the request (the request logger writes it under
// the request id) and the caller gets only the request id to quote. A context canceled under
// an undescribed error means the caller went away, and is answered as Canceled.
func Error(c *gin.Context, err error) {
	d := fault.Of(err)
	if d.Kind == fault.Internal && errors.Is(err, context.Canceled) {
		err = errCanceled.Because(err)
		d = fault.Of(err)
	}
	status := statusOf[d.Kind]
	if d.Kind == fault.Internal || status >= 500 {
		c.Error(err) //nolint:errcheck // recorded for the request log
	}
	if d.Kind == fault.Internal {
		Fail(c, status, "internal", "内部エラーが発生しました。request id "+ID(c), "")
		return
	}
	if len(d.Fields) > 0 {
		ds := make([]Detail, len(d.Fields))
		for i, f := range d.Fields {
			ds[i] = Detail{Code: f.Code, Message: f.Message, Field: f.Field}
		}
		FailDetails(c, status, ds)
		return
	}
	Fail(c, status, d.Code, d.Message, d.Field)
}
