package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/httpapi/httpapitest"
)

var errTaken = fault.New(fault.Conflict, "status_conflict", "決済の状態が変わったため処理できません。")

type fieldsError struct{}

func (fieldsError) Error() string { return "two fields" }
func (fieldsError) Fault() fault.Detail {
	return fault.Detail{Kind: fault.Invalid, Code: "required", Message: "必須です。", Field: "order.name", Fields: []fault.Field{
		{Field: "order.name", Code: "required", Message: "必須です。"},
		{Field: "order.tel", Code: "too_long", Message: "長すぎます。"},
	}}
}

func TestError(t *testing.T) {
	var logs httpapitest.Logs
	s := httpapi.New(logs.Logger())
	s.Engine.GET("/fail/:what", func(c *gin.Context) {
		switch c.Param("what") {
		case "internal":
			httpapi.Error(c, fmt.Errorf("load order 7: %w", errors.New("dial tcp 127.0.0.1:1: connection refused")))
		case "conflict":
			httpapi.Error(c, fmt.Errorf("capture 7: %w", errTaken.WithField("status")))
		case "fields":
			httpapi.Error(c, fmt.Errorf("validate: %w", fieldsError{}))
		case "canceled":
			httpapi.Error(c, fmt.Errorf("load order 7: %w", context.Canceled))
		}
	})
	srv := httptest.NewServer(s)
	defer srv.Close()

	call := func(t *testing.T, what, id string) (int, httpapi.ErrorBody) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/fail/"+what, nil)
		req.Header.Set(httpapi.HeaderRequestID, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b httpapi.ErrorBody
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	t.Run("a 500 tells the caller only its request id and logs the cause under it", func(t *testing.T) {
		status, b := call(t, "internal", "req-500-a")
		if status != 500 || b.Error.Code != "internal" || !strings.Contains(b.Error.Message, "req-500-a") || strings.Contains(b.Error.Message, "dial") {
			t.Fatalf("%d %+v", status, b)
		}
		line := logs.Request("req-500-a")
		if line == nil || line["level"] != "ERROR" || !strings.Contains(fmt.Sprint(line["error"]), "load order 7: dial tcp 127.0.0.1:1: connection refused") {
			t.Fatalf("log line for the request: %v\nlogs:\n%s", line, logs.String())
		}
	})
	t.Run("a conflict keeps its code, message and field", func(t *testing.T) {
		status, b := call(t, "conflict", "req-409")
		if status != 409 || b.Error.Code != "status_conflict" || b.Error.Field != "status" || b.Error.Message != errTaken.Message {
			t.Fatalf("%d %+v", status, b)
		}
	})
	t.Run("a caller that went away is 499, not kessai's fault", func(t *testing.T) {
		status, b := call(t, "canceled", "req-499")
		if status != 499 || b.Error.Code != "canceled" {
			t.Fatalf("%d %+v", status, b)
		}
	})
	t.Run("several fields are listed first one first", func(t *testing.T) {
		status, b := call(t, "fields", "req-422")
		if status != 422 || b.Error.Field != "order.name" || len(b.Error.Details) != 2 || b.Error.Details[1].Field != "order.tel" {
			t.Fatalf("%d %+v", status, b)
		}
	})
}
