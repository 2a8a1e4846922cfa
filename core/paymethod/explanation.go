package paymethod

import (
	"encoding/json"

	"github.com/microcosm-cc/bluemonday"
)

// explanationPolicy is the HTML an explanation may keep: bluemonday's UGC policy, as in the
// console. The explanation is the shop's own HTML (Welcart lets it show images and links), but
// a script in it must not run wherever it is shown. A Policy is safe for concurrent use.
var explanationPolicy = bluemonday.UGCPolicy()

// SanitizeExplanation returns an explanation's HTML with only what the UGC policy allows:
// what any page that shows a payment method's explanation must use.
func SanitizeExplanation(html string) string { return explanationPolicy.Sanitize(html) }

// MarshalJSON writes the method with its explanation sanitized. The database keeps what the
// admin typed; every JSON answer that carries a method (the shop API, the Welcart façade, the
// admin API) may end up in a storefront page, so none carries a script.
func (m Method) MarshalJSON() ([]byte, error) {
	type plain Method // without the method, so Marshal does not come back here
	p := plain(m)
	p.Explanation = SanitizeExplanation(p.Explanation)
	return json.Marshal(p)
}
