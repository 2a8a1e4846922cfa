package httpapi

import (
	"github.com/gin-gonic/gin"
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
