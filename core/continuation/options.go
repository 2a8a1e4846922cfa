package continuation

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/option"

	"github.com/kessai/kessai/core/fault"
)

// Option names in the options table.
const (
	// OptionRunTime is 自動処理の実行時間 (DL Seller's scheduled_time): "HH:MM" in Asia/Tokyo,
	// minutes in 10-minute steps.
	OptionRunTime = "continuation_run_time"
	// OptionAdminMail is where the run's result mail (自動継続課金処理結果) goes; Welcart
	// sends it to the shop's order mail address.
	OptionAdminMail = "continuation_admin_mail"
	// DefaultRunTime is DL Seller's default.
	DefaultRunTime = "01:00"
)

// Settings are the run's options, as the admin API shows them.
type Settings struct {
	RunTime   string `json:"run_time"`   // 自動処理の実行時間, HH:MM
	AdminMail string `json:"admin_mail"` // 自動継続課金処理結果 mail address
}

// LoadSettings reads the options, with defaults for those never saved.
func LoadSettings(ctx context.Context, db *gorm.DB) (Settings, error) {
	opts, err := option.Get(ctx, db, OptionRunTime, OptionAdminMail)
	if err != nil {
		return Settings{}, fmt.Errorf("continuation settings: %w", err)
	}
	s := Settings{RunTime: DefaultRunTime, AdminMail: opts[OptionAdminMail]}
	if v, ok := opts[OptionRunTime]; ok {
		if _, _, err := ParseRunTime(v); err == nil {
			s.RunTime = v
		}
	}
	return s, nil
}

// FieldError is one refused field, with the message the admin screen shows.
type FieldError = fault.Field

// ValidationError holds every refusal of one request, first one first: invalid input, unless
// the contract's state refused it (then it comes told as a conflict, see refused).
type ValidationError = fault.Fields

// ParseRunTime reads "HH:MM" with minutes in 10-minute steps, as DL Seller's selector offers.
func ParseRunTime(s string) (hour, minute int, err error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if ok {
		hour, err1 := strconv.Atoi(h)
		minute, err2 := strconv.Atoi(m)
		if err1 == nil && err2 == nil && hour >= 0 && hour < 24 && minute >= 0 && minute < 60 && minute%10 == 0 {
			return hour, minute, nil
		}
	}
	return 0, 0, errors.New(msgRunTime)
}

// Messages shown to admins.
const (
	msgRunTime      = "自動処理の実行時間は 00:00 から 23:50 まで 10 分単位で指定してください。"
	msgAdminMail    = "メールアドレスが不正です。"
	msgChargingPast = "次回課金日は%s以降で指定してください。"
	msgContractPast = "次回契約更新日は%s以降で指定してください。"
	msgPrice        = "決済金額は1円以上で指定してください。"
	msgStatus       = "契約の状態が不正です。"
	msgSettled      = "この課金期間はすでに課金済みです。"
	msgInFlight     = "この課金期間には処理中または確認中の課金があります。確定してから再決済してください。"
	msgNotFailed    = "再決済できるのは決済エラーの課金だけです。"
	msgStoppedRetry = "停止中の契約は再決済できません。"
	msgNoAdminMail  = "自動継続課金処理結果メールの宛先が設定されていません。"
	// msgChargeUnknown is the 決済エラーログ message of a charge whose answer was lost.
	msgChargeUnknown = "課金の応答がなく、決済代行会社で課金されたか確認中です。決済代行会社の管理画面で加盟店取引ID %s の取引を確認してください。通知が届けば自動で確定します。次回以降の課金は通常どおり行われます。"
	msgReason        = "確定の理由を入力してください。"
	msgNotLost       = "確定できるのは応答がなく確認中の課金だけです。"
	msgNotBelieved   = "指定された決済IDの取引を、この課金（加盟店取引ID %s）の取引として確認できませんでした。"
)

// saveSettings validates and writes the options in tx.
func saveSettings(ctx context.Context, tx *gorm.DB, s Settings) error {
	var errs ValidationError
	if _, _, err := ParseRunTime(s.RunTime); err != nil {
		errs = append(errs, FieldError{Field: "run_time", Code: "invalid", Message: msgRunTime})
	}
	if s.AdminMail != "" {
		if a, err := mail.ParseAddress(s.AdminMail); err != nil || a.Name != "" {
			errs = append(errs, FieldError{Field: "admin_mail", Code: "invalid", Message: msgAdminMail})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	err := option.Set(ctx, tx, option.Value{Name: OptionRunTime, Value: s.RunTime}, option.Value{Name: OptionAdminMail, Value: s.AdminMail})
	if err != nil {
		return fmt.Errorf("save continuation settings: %w", err)
	}
	return nil
}
