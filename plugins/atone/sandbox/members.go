package sandbox

// Member is an atone buyer account buyers log in as in the sandbox widget.
type Member struct {
	Phone    string `json:"phone"`
	Password string `json:"password"`
	// UserNo is atone's member number, used as user_no when the shop sends none.
	UserNo string `json:"user_no"`
	// Limit is the largest amount authorized OK; above it the result is NG with reason 1
	// (金額超過). Zero means no limit.
	Limit int64 `json:"limit"`
	// AlwaysNG makes every authorization NG with this reason (e.g. 9, その他); 0 means never.
	AlwaysNG int    `json:"always_ng,omitempty"`
	Note     string `json:"note,omitempty"`
}

// Test members. atone's limit is "50,000円を基準" and varies per buyer; the sandbox fixes it.
const (
	OKMemberPhone = "090-0000-0001"
	NGMemberPhone = "090-0000-0009"
	TestPassword  = "atone-test"
	OKMemberLimit = 50_000
)

// DefaultMembers are the members of a sandbox configured without any.
func DefaultMembers() []Member {
	return []Member{
		{Phone: OKMemberPhone, Password: TestPassword, UserNo: "100000001", Limit: OKMemberLimit,
			Note: "50,000円まで与信OK、超えると NG(1: 金額超過)"},
		{Phone: NGMemberPhone, Password: TestPassword, UserNo: "100000009", AlwaysNG: 9,
			Note: "常に与信NG(9: その他)"},
	}
}
