package paymethod_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/paymethod"
)

const hostileExplanation = `<b>後払い</b><script>alert(1)</script><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">詳細</a>`

func TestExplanationIsSanitizedInJSON(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(paymethod.Method{ID: 7, Name: "後払い（atone）", Explanation: hostileExplanation, Settlement: "acting_atone"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	ex := got["explanation"].(string)
	for _, bad := range []string{"<script", "alert(1)", "onerror", "javascript:"} {
		if strings.Contains(ex, bad) {
			t.Errorf("explanation keeps %q: %s", bad, ex)
		}
	}
	if !strings.Contains(ex, "<b>後払い</b>") || got["name"] != "後払い（atone）" || got["id"].(float64) != 7 || got["settlement"] != "acting_atone" {
		t.Fatalf("the rest of the method changed: %s", raw)
	}
}
