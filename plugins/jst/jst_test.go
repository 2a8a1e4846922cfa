package jst_test

import (
	"testing"
	"time"

	"github.com/kessai/kessai/plugins/jst"
)

func TestTokyoIsNineHoursAheadWithoutSummerTime(t *testing.T) {
	for _, utc := range []time.Time{
		time.Date(2026, 1, 15, 15, 0, 0, 0, time.UTC),
		time.Date(2026, 7, 15, 15, 0, 0, 0, time.UTC),
	} {
		got := utc.In(jst.Tokyo)
		if name, off := got.Zone(); name != "JST" || off != 9*3600 || got.Day() != 16 || got.Hour() != 0 {
			t.Errorf("%s in Tokyo is %s (%s %+d)", utc, got, name, off)
		}
	}
	if jst.Tokyo.String() != "Asia/Tokyo" {
		t.Errorf("name %q", jst.Tokyo)
	}
}
