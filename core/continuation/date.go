package continuation

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Date is a calendar day (Welcart keeps con_next_charging as char(10) Y-m-d): no time, no
// zone. The zero Date is SQL NULL (a contract without a renewal date).
type Date struct{ t time.Time } // midnight UTC of the day

const dateLayout = "2006-01-02"

// NewDate returns the day y-m-d; out-of-range values are normalised as time.Date does.
func NewDate(y int, m time.Month, d int) Date { return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

// DateOf is the day of t in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return NewDate(y, m, d)
}

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// IsZero reports the NULL date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// String is YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(dateLayout)
}

// Year, Month and Day of the date.
func (d Date) Year() int         { return d.t.Year() }
func (d Date) Month() time.Month { return d.t.Month() }
func (d Date) Day() int          { return d.t.Day() }

// Before, After and Equal compare days.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }
func (d Date) After(e Date) bool  { return d.t.After(e.t) }
func (d Date) Equal(e Date) bool  { return d.t.Equal(e.t) }

// AddDays moves by n days.
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// Start is the first instant of the day in loc.
func (d Date) Start(loc *time.Location) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
}

// monthDay is the day `day` of the month n months after d's month, clamped to that month's
// last day: DL Seller keeps the charging day and falls back to the month end (31 → 28/29 in
// February, and 31 again in March because the day comes from the contract, not from the
// clamped previous date).
func (d Date) monthDay(n, day int) Date {
	first := time.Date(d.Year(), d.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return NewDate(first.Year(), first.Month(), min(day, last))
}

// Value stores the date as DATE (NULL when zero).
func (d Date) Value() (driver.Value, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.String(), nil
}

// Scan reads DATE as MySQL (time.Time) and SQLite (text) return it.
func (d *Date) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*d = Date{}
		return nil
	case time.Time:
		*d = NewDate(x.Year(), x.Month(), x.Day())
		return nil
	case string:
		return d.parseStored(x)
	case []byte:
		return d.parseStored(string(x))
	}
	return fmt.Errorf("continuation: cannot scan %T into a date", v)
}

func (d *Date) parseStored(s string) error {
	if len(s) >= len(dateLayout) {
		s = s[:len(dateLayout)]
	}
	p, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// MarshalJSON writes "YYYY-MM-DD" or null.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON reads "YYYY-MM-DD", "" or null.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil || *s == "" {
		*d = Date{}
		return nil
	}
	p, err := ParseDate(*s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Schedule is a contract's charging rule, as WCEX DL Seller configures an item.
type Schedule struct {
	// Frequency is 課金間隔 in months: 1 毎月, 6 半年毎, 12 毎年.
	Frequency int
	// ChargingDay is 課金日: 1–28, or ChargingDayOrderDay for the day of the order.
	ChargingDay int
	// Interval is 契約期間 in months; it drives only the renewal date. 0 means no renewal.
	Interval int
	// Start is お申込み日 / 初回課金日: the order's day, when the first amount was paid at
	// checkout.
	Start Date
}

// ChargingDayOrderDay is DL Seller's 99: charge on the day of the month the order was placed.
const ChargingDayOrderDay = 99

// Frequencies are the 課金間隔 DL Seller offers.
var Frequencies = []int{1, 6, 12}

// day is the day of the month charges fall on (before clamping to a short month).
func (s Schedule) day() int {
	if s.ChargingDay == ChargingDayOrderDay || s.ChargingDay <= 0 {
		return s.Start.Day()
	}
	return s.ChargingDay
}

// FirstCharging is the first 次回課金日 after the order: the charging day in the month
// Frequency months after the order's month. The order itself paid the first period.
func (s Schedule) FirstCharging() Date { return s.Start.monthDay(s.Frequency, s.day()) }

// NextCharging is the charging date after the period charged on prev.
func (s Schedule) NextCharging(prev Date) Date { return prev.monthDay(s.Frequency, s.day()) }

// FirstContracting is the first 次回契約更新日: Interval months after the order, on the
// order's day; zero without an interval.
func (s Schedule) FirstContracting() Date {
	if s.Interval <= 0 {
		return Date{}
	}
	return s.Start.monthDay(s.Interval, s.Start.Day())
}

// NextContracting is the renewal date after prev.
func (s Schedule) NextContracting(prev Date) Date {
	if s.Interval <= 0 || prev.IsZero() {
		return Date{}
	}
	return prev.monthDay(s.Interval, s.Start.Day())
}
