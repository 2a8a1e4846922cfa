package continuation

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
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

type optionRow struct {
	Name      string `gorm:"primaryKey"`
	Value     string
	UpdatedAt time.Time
}

func (optionRow) TableName() string { return "options" }

// Settings are the run's options, as the admin API shows them.
type Settings struct {
	RunTime   string `json:"run_time"`   // 自動処理の実行時間, HH:MM
	AdminMail string `json:"admin_mail"` // 自動継続課金処理結果 mail address
}

// LoadSettings reads the options, with defaults for those never saved.
func LoadSettings(ctx context.Context, db *gorm.DB) (Settings, error) {
	var rows []optionRow
	if err := db.WithContext(ctx).Where("name IN ?", []string{OptionRunTime, OptionAdminMail}).Find(&rows).Error; err != nil {
		return Settings{}, fmt.Errorf("continuation settings: %w", err)
	}
	s := Settings{RunTime: DefaultRunTime}
	for _, r := range rows {
		switch r.Name {
		case OptionRunTime:
			if _, _, err := ParseRunTime(r.Value); err == nil {
				s.RunTime = r.Value
			}
		case OptionAdminMail:
			s.AdminMail = r.Value
		}
	}
	return s, nil
}

// FieldError is one refused field, with the message the admin screen shows.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ValidationError holds every refusal of one request.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Field + ": " + e.Message
	}
	return strings.Join(parts, "; ")
}

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
	now := tx.NowFunc()
	rows := []optionRow{{Name: OptionRunTime, Value: s.RunTime, UpdatedAt: now}, {Name: OptionAdminMail, Value: s.AdminMail, UpdatedAt: now}}
	err := tx.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"})}).Create(&rows).Error
	if err != nil {
		return fmt.Errorf("save continuation settings: %w", err)
	}
	return nil
}
