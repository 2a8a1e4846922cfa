package continuation

import (
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/plugins/jst"
)

func mailedCharge(r Outcome) chargeBlock {
	return chargeBlock{
		OrderID: 1265, ApplicationDate: time.Date(2019, 7, 19, 7, 36, 24, 0, time.UTC), MemberID: 1015,
		ContractorName: "髙橋 太郎", Items: []string{"オンライン教室 月謝"}, Amount: 1082,
		TransID: "1265-c1-20190819-1", ProviderID: "tr_0X5FbhfmwBd03n84",
		NextCharging: "2019-09-19", NextContracting: "2020-07-19", Result: r,
	}
}

func TestContinuationMailWording(t *testing.T) {
	t.Run("the contractor's OK mail says 正常 with Welcart's sentences", func(t *testing.T) {
		m := contractorMail("テスト店舗", "taro@example.jp", "髙橋 太郎", mailedCharge(OutcomeOK), jst.Tokyo)
		for _, want := range []string{
			"髙橋 太郎 様", "以下の通り、自動課金処理を行いましたのでご報告いたします。", "受注ID : 1265",
			"お申込み日 : 2019-07-19 16:36:24", "会員No : 1015", "契約者名 : 髙橋 太郎 様", "決済金額 : 1,082円",
			"決済ID : 1265-c1-20190819-1", "処理通番 : tr_0X5FbhfmwBd03n84", "次回課金日 : 2019-09-19",
			"次回契約更新日 : 2020-07-19", "処理結果 : 正常", "ご不明な点はショップにお問い合わせくださいませ。",
		} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, m.Body)
			}
		}
		if m.Subject != "自動継続課金処理のお知らせ" {
			t.Errorf("subject %q", m.Subject)
		}
	})
	t.Run("the NG mail carries the provider's codes", func(t *testing.T) {
		c := mailedCharge(OutcomeNG)
		c.Errors = []string{"9 : 与信NG(その他)"}
		m := contractorMail("", "taro@example.jp", "髙橋 太郎", c, jst.Tokyo)
		for _, want := range []string{"自動課金処理にてエラーが発生いたしましたのでご報告いたします。", "処理結果 : エラー", "9 : 与信NG(その他)"} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, m.Body)
			}
		}
	})
	t.Run("the admin result counts 正常 and 異常", func(t *testing.T) {
		m := adminResultMail("admin@example.jp", adminResult{RunDate: "2019-08-19", At: time.Date(2019, 8, 18, 16, 0, 3, 0, time.UTC),
			OK: 1, NG: 2, Blocks: []chargeBlock{mailedCharge(OutcomeOK), mailedCharge(OutcomeNG), mailedCharge(OutcomeUnknown)}}, jst.Tokyo)
		if m.Subject != "自動継続課金処理結果 2019-08-19" {
			t.Errorf("subject %q", m.Subject)
		}
		for _, want := range []string{"自動継続課金処理が完了しましたのでご報告いたします。", "処理日時 : 2019-08-19 01:00:03",
			"正常 : 1\n", "異常 : 2\n", "処理結果 : 確認中", "詳細は管理画面＞継続課金会員リスト＞継続課金会員情報画面にてご確認ください。"} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, m.Body)
			}
		}
	})
}
