package daemontest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/kessai/kessai/core/shopapi"
)

// The shop API's OpenAPI document is a contract: every answer a harness gets from /api/v1 is
// checked against it, so that every shop API test is also a conformance test.
var conformance struct {
	once sync.Once
	mu   sync.Mutex // the validator's caches are not documented as safe for concurrent use
	v    validator.Validator
	err  error
}

func shopAPIValidator() (validator.Validator, error) {
	conformance.once.Do(func() {
		doc, err := libopenapi.NewDocument(shopapi.OpenAPI)
		if err != nil {
			conformance.err = fmt.Errorf("openapi.json: %w", err)
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			conformance.err = fmt.Errorf("openapi.json: %v", errs)
			return
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			msgs := make([]string, len(verrs))
			for i, e := range verrs {
				msgs[i] = e.Error()
			}
			conformance.err = fmt.Errorf("openapi.json is not a valid OpenAPI document: %s", strings.Join(msgs, "; "))
			return
		}
		conformance.v = v
	})
	return conformance.v, conformance.err
}

// CheckAnswer checks one exchange with the shop API against shopapi.OpenAPI and returns what
// does not conform, nil when all does: the answer (status, headers, body) always, and the
// request (parameters, headers, body) when kessai accepted it with a 2xx, since a request the
// shop API takes must be one its document describes. Paths outside /api/v1/ are not the shop
// API's and are not checked.
func CheckAnswer(sent *http.Request, sentBody []byte, status int, header http.Header, body []byte) []string {
	if !strings.HasPrefix(sent.URL.Path, "/api/v1/") {
		return nil
	}
	v, err := shopAPIValidator()
	if err != nil {
		return []string{err.Error()}
	}
	req, err := http.NewRequest(sent.Method, "http://kessai.test"+sent.URL.RequestURI(), bytes.NewReader(sentBody))
	if err != nil {
		return []string{err.Error()}
	}
	req.Header = sent.Header.Clone()
	resp := &http.Response{StatusCode: status, Header: header.Clone(), Body: io.NopCloser(bytes.NewReader(body)), Request: req}
	conformance.mu.Lock()
	defer conformance.mu.Unlock()
	_, verrs := v.ValidateHttpResponse(req, resp)
	if status >= 200 && status < 300 {
		_, rerrs := v.ValidateHttpRequestSync(req)
		verrs = append(verrs, rerrs...)
	}
	if len(verrs) == 0 {
		return nil
	}
	out := make([]string, 0, len(verrs))
	for _, e := range verrs {
		msg := e.Message
		if e.Reason != "" {
			msg += ": " + e.Reason
		}
		for _, sv := range e.SchemaValidationErrors {
			msg += fmt.Sprintf(" [%s: %s]", sv.FieldPath, sv.Reason)
		}
		out = append(out, msg)
	}
	return out
}
