package continuation

import (
	"fmt"
	"strings"
	"time"

	kmail "github.com/kessai/kessai/core/mail"
)

// The wording of WCEX DL Seller and WelcartPay's continuation mails (welcart.md §5.3), kept in
// one table so that a shop comparing kessai's mails with Welcart's finds the same sentences.
// core/mail only sends them.
const (
	SubjectContinuation  = "自動継続課金処理のお知らせ"
	headerContinuationOK = "以下の通り、自動課金処理を行いましたのでご報告いたします。"
	headerContinuationNG = "自動課金処理にてエラーが発生いたしましたのでご報告いたします。"
	footerContinuation   = "ご不明な点はショップにお問い合わせくださいませ。"
	SubjectAdminResult   = "自動継続課金処理結果"
	headerAdminResult    = "自動継続課金処理が完了しましたのでご報告いたします。"
	footerAdminResult    = "詳細は管理画面＞継続課金会員リスト＞継続課金会員情報画面にてご確認ください。"
	resultOK             = "正常"
	resultNG             = "エラー"
	resultUnknown        = "確認中"
	adminFromName        = "Welcart Auto BCC"
	adminToName          = "Shop Admin"
	rule                 = "======================================================================"
	msgNoToken           = "クレジットカードが登録されていません。"
	dateTimeLayout       = "2006-01-02 15:04:05"
	contractorNameSuffix = " 様"
)

// Outcome is how one charge ended, as the run counts it and its mails say it.
type Outcome int

// Outcomes of a charge.
const (
	OutcomeOK      Outcome = iota // 処理結果 : 正常
	OutcomeNG                     // 処理結果 : エラー, with the provider's codes and messages
	OutcomeUnknown                // no answer from the provider: 確認中 until the janitor asks
)

// chargeBlock is what the continuation mails say about one charge (auto_settlement_message()).
type chargeBlock struct {
	OrderID         int64     // 受注ID
	ApplicationDate time.Time // お申込み日 (the order date)
	MemberID        int64     // 会員No
	ContractorName  string    // 契約者名, without 様
	Items           []string  // 商品, with options
	Amount          int64     // 決済金額
	TransID         string    // 決済ID: kessai's link key
	ProviderID      string    // 処理通番: the provider's transaction id
	NextCharging    string    // 次回課金日, Y-m-d or ""
	NextContracting string    // 次回契約更新日, Y-m-d or ""
	Result          Outcome
	// Errors are "<code> : <message>" lines for an NG result.
	Errors  []string
	NoToken bool // the contract has no stored token: クレジットカードが登録されていません。
}

// text is the per-charge body shared by the contractor's and the admin's mails.
func (c chargeBlock) text(loc *time.Location) string {
	var b strings.Builder
	b.WriteString(rule + "\n")
	fmt.Fprintf(&b, "受注ID : %d\n", c.OrderID)
	fmt.Fprintf(&b, "お申込み日 : %s\n", c.ApplicationDate.In(loc).Format(dateTimeLayout))
	fmt.Fprintf(&b, "会員No : %d\n", c.MemberID)
	fmt.Fprintf(&b, "契約者名 : %s%s\n", c.ContractorName, contractorNameSuffix)
	for _, it := range c.Items {
		fmt.Fprintf(&b, "商品 : %s\n", it)
	}
	fmt.Fprintf(&b, "決済金額 : %s円\n", yen(c.Amount))
	fmt.Fprintf(&b, "決済ID : %s\n", c.TransID)
	if c.ProviderID != "" {
		fmt.Fprintf(&b, "処理通番 : %s\n", c.ProviderID)
	}
	fmt.Fprintf(&b, "次回課金日 : %s\n", c.NextCharging)
	fmt.Fprintf(&b, "次回契約更新日 : %s\n", c.NextContracting)
	switch c.Result {
	case OutcomeOK:
		b.WriteString("処理結果 : " + resultOK + "\n")
	case OutcomeNG:
		b.WriteString("処理結果 : " + resultNG + "\n")
		if c.NoToken {
			b.WriteString(msgNoToken + "\n")
		}
		for _, e := range c.Errors {
			b.WriteString(e + "\n")
		}
	default:
		b.WriteString("処理結果 : " + resultUnknown + "\n")
	}
	return b.String()
}

// contractorMail is the mail to the contractor after a charge (auto_settlement_mail() and
// auto_settlement_error_mail()). It is never sent for an Unknown result: nobody knows yet what
// to tell the buyer.
func contractorMail(shopName, to, toName string, c chargeBlock, loc *time.Location) kmail.Message {
	var b strings.Builder
	if toName != "" {
		fmt.Fprintf(&b, "%s%s\n\n", toName, contractorNameSuffix)
	}
	if c.Result == OutcomeOK {
		b.WriteString(headerContinuationOK + "\n\n")
	} else {
		b.WriteString(headerContinuationNG + "\n\n")
	}
	b.WriteString(c.text(loc))
	b.WriteString(rule + "\n\n")
	b.WriteString(footerContinuation + "\n")
	if shopName != "" {
		fmt.Fprintf(&b, "\n%s\n", shopName)
	}
	return kmail.Message{FromName: shopName, To: to, ToName: toName + contractorNameSuffix, Subject: SubjectContinuation, Body: b.String()}
}

// adminResult is one run's outcome for the admin's mail.
type adminResult struct {
	RunDate string        // YYYY-MM-DD, in the subject
	At      time.Time     // 処理日時
	OK, NG  int           // 正常 and 異常 (エラー and 確認中) over the whole run
	Blocks  []chargeBlock // the charges shown
	Omitted int           // 正常 charges left out of Blocks to keep the mail a size servers accept
}

// adminResultMail is the admin's mail once per run (do_auto_continuation()): the counts, then
// every charge's block.
func adminResultMail(to string, r adminResult, loc *time.Location) kmail.Message {
	var b strings.Builder
	b.WriteString(headerAdminResult + "\n\n")
	fmt.Fprintf(&b, "処理日時 : %s\n", r.At.In(loc).Format(dateTimeLayout))
	fmt.Fprintf(&b, "正常 : %d\n", r.OK)
	fmt.Fprintf(&b, "異常 : %d\n\n", r.NG)
	for _, c := range r.Blocks {
		b.WriteString(c.text(loc))
	}
	if len(r.Blocks) > 0 {
		b.WriteString(rule + "\n")
	}
	if r.Omitted > 0 {
		fmt.Fprintf(&b, "ほか正常 %d 件の明細は省略しました。\n", r.Omitted)
	}
	b.WriteString("\n" + footerAdminResult + "\n")
	return kmail.Message{FromName: adminFromName, To: to, ToName: adminToName, Subject: SubjectAdminResult + " " + r.RunDate, Body: b.String()}
}

// yen formats an amount with thousands separators, as Welcart prints prices.
func yen(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
