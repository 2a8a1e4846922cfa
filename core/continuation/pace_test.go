package continuation

import (
	"testing"
	"time"
)

// TestPaceSlots is the schedule a module's calls keep: evenly spaced at the rate however many
// ask at once, and at once again after a quiet spell.
func TestPaceSlots(t *testing.T) {
	t0 := time.Date(2024, 5, 10, 1, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	p := &pace{every: ms(5)} // 200 a second
	for _, tc := range []struct {
		asked, want time.Duration
	}{
		{0, 0}, {0, ms(5)}, {0, ms(10)}, // three workers at once
		{ms(12), ms(15)},   // one more before the last slot is over
		{ms(100), ms(100)}, // after a quiet spell: at once
		{ms(101), ms(105)},
	} {
		if got := p.slot(t0.Add(tc.asked)).Sub(t0); got != tc.want {
			t.Errorf("asked at %s: slot at %s, want %s", tc.asked, got, tc.want)
		}
	}
}
