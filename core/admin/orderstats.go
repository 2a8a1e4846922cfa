package admin

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/jst"
)

// commerceView is the dashboard's order widgets: today's settlements by status, the checkout
// funnel per payment method, and the error log's size.
type commerceView struct {
	Day       string // today where the admin lives (YYYY-MM-DD)
	Today     []statusCount
	Funnel    []funnelRow
	ErrorLogs int64
}

type statusCount struct {
	Status settlement.Status
	Label  string
	Count  int64
	Amount int64
	URL    string // the 受注リスト filtered to these
}

// AmountYen is the sum as Welcart prints money.
func (s statusCount) AmountYen() string { return yen(s.Amount) }

type funnelRow struct {
	settlement.FunnelRow
}

// RateText is the conversion rate in percent, one decimal.
func (r funnelRow) RateText() string {
	if r.Prepared == 0 {
		return "-"
	}
	return strconv.FormatFloat(r.Rate*100, 'f', 1, 64) + "%"
}

// dayStatuses are always listed, even at zero, so the widget reads the same every day; the
// transient statuses appear only when some settlement is in them.
var dayStatuses = []settlement.Status{settlement.Authorized, settlement.Captured, settlement.Cancelled, settlement.Failed}

// commerceDashboard counts the settlements created today (Asia/Tokyo day, the shop's day) by
// their status now, with every shop's funnel beside them (shopID 0).
func (c *Console) commerceDashboard(ctx context.Context) (*commerceView, error) {
	now := c.deps.Clock.Now().In(jst.Tokyo)
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, jst.Tokyo)
	day := start.Format("2006-01-02")
	rows, err := settlement.CountCreated(ctx, c.deps.Store.DB, start, start.AddDate(0, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("today's settlements: %w", err)
	}
	got := map[settlement.Status]statusCount{}
	for _, r := range rows {
		got[r.Status] = statusCount{Count: r.N, Amount: r.Amount}
	}
	v := &commerceView{Day: day}
	for _, st := range listedStatuses {
		sc, ok := got[st]
		if !ok && !slices.Contains(dayStatuses, st) {
			continue
		}
		sc.Status, sc.Label = st, st.Label()
		sc.URL = orderQuery{Settlement: string(st), From: day, To: day}.URL(1)
		v.Today = append(v.Today, sc)
	}
	funnel, err := settlement.Funnel(ctx, c.deps.Store.DB, 0, order.Payments(c.deps.Store.DB))
	if err != nil {
		return nil, fmt.Errorf("conversion: %w", err)
	}
	for _, f := range funnel {
		v.Funnel = append(v.Funnel, funnelRow{f})
	}
	if _, v.ErrorLogs, err = errlog.List(ctx, c.deps.Store.DB, 1, 0); err != nil {
		return nil, fmt.Errorf("error log size: %w", err)
	}
	return v, nil
}
