package continuation_test

import (
	"testing"

	"github.com/kessai/kessai/core/continuation"
)

// TestContinuationSchedule is DL Seller's date arithmetic: the charging day is kept, clamped
// to short months, and comes back in long ones.
func TestContinuationSchedule(t *testing.T) {
	cases := []struct {
		name  string
		sch   continuation.Schedule
		dates []string // FirstCharging, then each NextCharging
	}{
		{"monthly on the 1st", continuation.Schedule{Frequency: 1, ChargingDay: 1, Start: date("2024-03-15")},
			[]string{"2024-04-01", "2024-05-01", "2024-06-01"}},
		{"half-yearly on the 10th", continuation.Schedule{Frequency: 6, ChargingDay: 10, Start: date("2024-03-15")},
			[]string{"2024-09-10", "2025-03-10", "2025-09-10"}},
		{"yearly on the order day", continuation.Schedule{Frequency: 12, ChargingDay: 99, Start: date("2023-07-19")},
			[]string{"2024-07-19", "2025-07-19"}},
		{"order day 31 through a leap February and back", continuation.Schedule{Frequency: 1, ChargingDay: 99, Start: date("2023-12-31")},
			[]string{"2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"}},
		{"order day 31 through a common February and back", continuation.Schedule{Frequency: 1, ChargingDay: 99, Start: date("2025-01-31")},
			[]string{"2025-02-28", "2025-03-31"}},
		{"yearly from a leap day", continuation.Schedule{Frequency: 12, ChargingDay: 99, Start: date("2024-02-29")},
			[]string{"2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"}},
		{"half-yearly from August 31", continuation.Schedule{Frequency: 6, ChargingDay: 99, Start: date("2023-08-31")},
			[]string{"2024-02-29", "2024-08-31", "2025-02-28"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.sch.FirstCharging()
			for i, want := range c.dates {
				if i > 0 {
					d = c.sch.NextCharging(d)
				}
				if d.String() != want {
					t.Fatalf("charge %d: %s, want %s", i+1, d, want)
				}
			}
		})
	}
	t.Run("renewal follows the contract period from the order day", func(t *testing.T) {
		sch := continuation.Schedule{Frequency: 1, ChargingDay: 1, Interval: 12, Start: date("2024-01-31")}
		if got := sch.FirstContracting().String(); got != "2025-01-31" {
			t.Fatalf("first renewal %s", got)
		}
		if got := sch.NextContracting(date("2025-01-31")).String(); got != "2026-01-31" {
			t.Fatalf("second renewal %s", got)
		}
		if !(continuation.Schedule{Frequency: 1, ChargingDay: 1, Start: date("2024-01-31")}).FirstContracting().IsZero() {
			t.Fatal("a contract without 契約期間 has a renewal date")
		}
	})
}
