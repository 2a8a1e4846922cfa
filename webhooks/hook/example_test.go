package hook_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/kessai/kessai/webhooks/hook"
)

// A shop's receiver reads the raw body, verifies it before trusting anything in it, answers
// 2xx quickly, and deduplicates on the event id, because a delivery may come more than once.
func ExampleVerify() {
	const secret = "whsec_example" // from POST /api/v1/webhook-endpoints, shown once
	seen := map[string]bool{}

	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		if err := hook.Verify(secret, r.Header.Get(hook.HeaderSignature), body, 5*time.Minute); err != nil {
			// errors.Is(err, hook.ErrExpired) for a replay, hook.ErrSignature for a forgery.
			http.Error(w, "signature", http.StatusBadRequest)
			return
		}
		var ev hook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "json", http.StatusBadRequest)
			return
		}
		if !seen[ev.ID] {
			seen[ev.ID] = true
			fmt.Println("received", ev.Type)
		}
		w.WriteHeader(http.StatusNoContent)
	})

	// What kessai sends, twice (a retry after a lost answer), and a forgery.
	body := `{"id":"evt_1","type":"settlement.captured","created":1767225600,"data":{"order_id":1000}}`
	send := func(sig string) int {
		req := httptest.NewRequest(http.MethodPost, "/kessai/webhook", strings.NewReader(body))
		req.Header.Set(hook.HeaderSignature, sig)
		req.Header.Set(hook.HeaderEventID, "evt_1")
		w := httptest.NewRecorder()
		receiver.ServeHTTP(w, req)
		return w.Code
	}
	fmt.Println(send(hook.Sign(secret, time.Now(), []byte(body))))
	fmt.Println(send(hook.Sign(secret, time.Now(), []byte(body))))
	fmt.Println(send(hook.Sign("whsec_guess", time.Now(), []byte(body))))

	err := hook.Verify(secret, hook.Sign(secret, time.Now().Add(-time.Hour), []byte(body)), []byte(body), 5*time.Minute)
	fmt.Println(errors.Is(err, hook.ErrExpired))
	// Output:
	// received settlement.captured
	// 204
	// 204
	// 400
	// true
}
