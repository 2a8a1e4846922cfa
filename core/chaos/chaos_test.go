package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/jonboulle/clockwork"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/chaos"
	"github.com/kessai/kessai/core/daemon/daemontest"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/core/settlement"
	"github.com/kessai/kessai/plugins/atone/sandbox"
)

// The run's size and seed come from the environment, so that `make chaos` can run it large
// and a failure can be replayed.
const (
	envSeed = "KESSAI_CHAOS_SEED" // the seed; default: the clock, printed
	envOps  = "KESSAI_CHAOS_OPS"  // how many operations the workers run; default 150
)

const (
	defaultOps = 150
	workers    = 6
)

// TestConsistencyUnderFaults is the proof that kessai's record matches atone's. Buyers pay
// orders through the widget while concurrent workers post widget results (twice at once,
// and late), capture, cancel, edit amounts (取引修正), reference and re-checkout after NG;
// meanwhile the sandbox fails calls at random (latency, 500, 503, drops before and after
// commit), the adapter is SIGKILLed and the daemon restarted. Then faults stop, the shop's
// front end delivers each buyer's last widget result once more (what atone's payment webhook
// guarantees in production), the janitor runs to quiescence, and every settlement is
// compared with the sandbox's ledger.
//
// The seed fixes each worker's and the injector's choices; the interleaving of workers is
// the machine's, so a seed replays the same operations, not the same schedule.
func TestConsistencyUnderFaults(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q is not a number", envSeed, v)
		}
		seed = n
	}
	ops := defaultOps
	if v := os.Getenv(envOps); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q is not a positive number", envOps, v)
		}
		ops = n
	}
	replay := fmt.Sprintf("reproduce with %s=%d %s=%d go test -run TestConsistencyUnderFaults ./core/chaos/", envSeed, seed, envOps, ops)
	t.Logf("seed %d, %d operations: %s", seed, ops, replay)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(replay)
		}
	})

	// The engine's clock is the test's: the janitor's next looks and the leases of claims
	// whose holder died come due when the test moves it on, not by waiting.
	clock := clockwork.NewFakeClockAt(time.Now())
	h := daemontest.Start(t, daemontest.Clock(clock), daemontest.Webhooks())
	r := newRun(h, seed, ops)
	r.clock = clock
	if !t.Run("buyers place orders", r.placeOrders) {
		t.FailNow()
	}
	t.Run("workers race under faults, adapter kills and restarts", r.storm)
	if !t.Run("the janitor brings every settlement to rest", r.quiesce) {
		t.FailNow()
	}
	t.Run("kessai's record matches atone's ledger", func(t *testing.T) {
		ledger := h.Sandbox.Ledger()
		rep := chaos.Check(context.Background(), h.D.Store.DB, ledger)
		t.Logf("%s\n%s", r.stats(), rep)
		if !rep.Clean() {
			for _, d := range h.Sandbox.Deliveries() {
				for _, p := range rep.Problems {
					if p.Transaction != "" && strings.Contains(string(d.Body), p.Transaction) {
						t.Logf("atone webhook about %s: status %d %s at %s: %.120s", p.Transaction, d.Status, d.Error, d.At.Format("15:04:05.000"), d.Body)
					}
				}
			}
			t.Errorf("kessai's record differs from atone's:\n%s\n%s\n%s", rep, explain(h.D.Store.DB, ledger, rep), replay)
		}
	})
}

// run is one consistency run: the harness, the orders as the buyers and the shop see them,
// and what happened.
type run struct {
	h     *daemontest.Harness
	clock *clockwork.FakeClock
	seed  uint64
	ops   int
	shop  *shopClient

	orders []*buyerOrder
	gate   sync.RWMutex // held by a restart: workers start no operation meanwhile

	done     atomic.Int64 // operations started
	mu       sync.Mutex
	outcomes map[string]map[string]int // operation → answer class → count
	armed    int
	fired    int
	kills    int
	restarts int
	reenable int
	passes   int
	deliver  int
}

func newRun(h *daemontest.Harness, seed uint64, ops int) *run {
	r := &run{h: h, seed: seed, ops: ops, outcomes: map[string]map[string]int{},
		shop: &shopClient{key: h.ShopKey, sandbox: h.SandboxURL, http: &http.Client{Timeout: 90 * time.Second}}}
	r.shop.base.Store(&h.URL)
	return r
}

// rng gives each goroutine of the run its own deterministic stream.
func (r *run) rng(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(r.seed, stream)) }

// buyerOrder is an order as the test knows it: the buyer, the widget the shop last handed
// out, the widget results the buyer got, and whether kessai ever answered 仮売上 or 売上計上.
type buyerOrder struct {
	id int64

	mu      sync.Mutex
	phone   string
	config  map[string]any // the widget to pay with; nil once the buyer used it
	results []map[string]any
	paid    bool
}

// placeOrders creates the orders: most within the OK member's limit, some above it (与信NG,
// 金額超過), some by the member atone always declines.
func (r *run) placeOrders(t *testing.T) {
	n := min(max(r.ops/4, 8), 1500)
	rng := r.rng(1000)
	type plan struct {
		number     string
		price, qty int64
		phone      string
		body       map[string]any
	}
	plans := make([]plan, n)
	for i := range plans {
		p := plan{number: fmt.Sprintf("c%d-%d", r.seed%100000, i), price: 100*rng.Int64N(250) + 500, qty: rng.Int64N(2) + 1,
			phone: sandbox.OKMemberPhone}
		switch x := rng.IntN(100); {
		case x < 8:
			p.price, p.qty = 100*rng.Int64N(100)+26_000, 2 // above the OK member's 50,000
		case x < 18:
			p.phone = sandbox.NGMemberPhone
		}
		p.body = daemontest.Order(p.number, p.price, p.qty, r.h.Method)
		plans[i] = p
	}
	r.orders = make([]*buyerOrder, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := atomic.Int64{}
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				st, body, err := r.shop.do("POST", "/api/v1/orders", plans[i].body)
				cfg, _ := body["config"].(map[string]any)
				if err != nil || st != http.StatusCreated || cfg == nil {
					errs <- fmt.Errorf("order %s: %d %v %v", plans[i].number, st, body, err)
					return
				}
				r.orders[i] = &buyerOrder{id: int64(body["id"].(float64)), phone: plans[i].phone, config: cfg}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err) // no faults are armed yet: a refused order is the harness's mistake
	}
	t.Logf("%d orders placed", n)
}

// The operations workers pick from, with their weights.
var operations = []struct {
	name   string
	weight int
}{
	{"pay", 24},         // the buyer completes the widget, the page posts the result (sometimes twice at once)
	{"late-result", 10}, // the page posts a result it posted before, after whatever happened since
	{"capture", 16},
	{"cancel", 7},
	{"edit", 14}, // 受注編集 of the amount: a 取引修正 when the order is paid
	{"reference", 10},
	{"view", 5},
	{"recheckout", 8}, // after NG the buyer tries again, with the other member half the time
	{"abandon", 2},    // the buyer closes the widget
}

func pick(rng *rand.Rand) string {
	total := 0
	for _, o := range operations {
		total += o.weight
	}
	x := rng.IntN(total)
	for _, o := range operations {
		if x < o.weight {
			return o.name
		}
		x -= o.weight
	}
	return operations[0].name
}

// storm runs the workers, the fault injector and, on this goroutine, the conductor that
// kills the adapter and restarts the daemon at planned points of the run.
func (r *run) storm(t *testing.T) {
	deadline := time.Now().Add(40 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-3*time.Minute).Before(deadline) {
		deadline = d.Add(-3 * time.Minute)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { r.worker(uint64(w), deadline) })
	}
	var inj sync.WaitGroup
	inj.Go(func() { r.inject(stop) })

	// Kills and restarts are spread over the run: at least three kills and two restarts, more
	// for a large run, never more than two kills per daemon so that the module host's crash
	// limit (five a minute) is not what the run tests.
	kills, restarts := max(3, r.ops/500), max(2, r.ops/1000)
	type event struct {
		at      int
		restart bool
	}
	var plan []event
	for i := range kills {
		plan = append(plan, event{at: r.ops * (2*i + 1) / (2 * kills)})
	}
	for i := range restarts {
		plan = append(plan, event{at: r.ops * (i + 1) / (restarts + 1), restart: true})
	}
	sort.SliceStable(plan, func(i, j int) bool { return plan[i].at < plan[j].at })
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	defer func() {
		<-finished
		close(stop)
		inj.Wait()
	}()
	reached := func(at int) bool { // false when the workers finished first
		for int(r.done.Load()) < at {
			select {
			case <-finished:
				return false
			case <-time.After(10 * time.Millisecond):
			}
		}
		return true
	}
	for _, e := range plan {
		if !reached(e.at) {
			return
		}
		if !e.restart {
			r.kills += r.h.KillAdapter(t)
			continue
		}
		r.gate.Lock()
		r.h.Restart(t)
		r.shop.base.Store(&r.h.URL)
		r.gate.Unlock()
		r.restarts++
	}
}

func (r *run) worker(stream uint64, deadline time.Time) {
	rng := r.rng(stream)
	for time.Now().Before(deadline) {
		if n := r.done.Add(1); n > int64(r.ops) {
			return
		}
		// A restart holds the gate: no operation starts until the new daemon serves, while
		// the ones in flight are cut off with the old one.
		r.gate.RLock()
		o := r.orders[rng.IntN(len(r.orders))]
		op := pick(rng)
		r.gate.RUnlock()
		op, class := r.operate(rng, o, op)
		r.count(op, class)
		if class == "no answer" {
			time.Sleep(100 * time.Millisecond) // the daemon is going away; do not spin
		}
	}
}

// operate runs one operation on one order; it returns the operation it ran and the class of
// kessai's answer.
func (r *run) operate(rng *rand.Rand, o *buyerOrder, op string) (string, string) {
	path := func(p string) string { return fmt.Sprintf("/api/v1/orders/%d%s", o.id, p) }
	switch op {
	case "pay":
		o.mu.Lock()
		cfg, phone := o.config, o.phone
		o.config = nil
		o.mu.Unlock()
		if cfg == nil {
			return r.operate(rng, o, "late-result")
		}
		res, err := r.shop.completeWidget(cfg, phone)
		if err != nil {
			return op, "widget refused"
		}
		o.mu.Lock()
		o.results = append(o.results, res)
		o.mu.Unlock()
		return op, r.postResult(o, res, rng.IntN(5) == 0)
	case "late-result":
		o.mu.Lock()
		var res map[string]any
		if len(o.results) > 0 {
			res = o.results[rng.IntN(len(o.results))]
		}
		o.mu.Unlock()
		if res == nil {
			return op, "skipped"
		}
		return op, r.postResult(o, res, rng.IntN(4) == 0)
	case "capture", "cancel":
		st, _, err := r.shop.do("POST", path("/settlement/"+op), nil)
		return op, class(st, err)
	case "edit":
		o.mu.Lock()
		paid := o.paid
		o.mu.Unlock()
		if !paid {
			// Before the buyer paid, an edit would leave the widget in the buyer's hands at
			// the old amount (a shop front end hands out a new one, which this test does not
			// model): the buyer pays first.
			return r.operate(rng, o, "pay")
		}
		price, qty := 100*rng.Int64N(240)+300, rng.Int64N(2)+1
		body := map[string]any{
			"cart": []any{map[string]any{"sku": "item-012", "item_name": "商品012", "price": price, "quantity": qty}},
			"order": map[string]any{"total_items_price": price * qty, "discount": 0, "shipping_charge": 500, "cod_fee": 0,
				"tax": 0, "usedpoint": 0, "total_full_price": price*qty + 500},
		}
		st, _, err := r.shop.do("PATCH", path(""), body)
		return op, class(st, err)
	case "reference":
		st, _, err := r.shop.do("POST", path("/settlement/reference"), nil)
		return op, class(st, err)
	case "view":
		st, _, err := r.shop.do("GET", path(""), nil)
		return op, class(st, err)
	case "recheckout":
		st, body, err := r.shop.do("POST", path("/settlement/checkout"), nil)
		if cfg, ok := body["config"].(map[string]any); ok && st == http.StatusOK {
			o.mu.Lock()
			o.config = cfg
			if o.phone == sandbox.NGMemberPhone && rng.IntN(2) == 0 {
				o.phone = sandbox.OKMemberPhone
			}
			o.mu.Unlock()
		}
		return op, class(st, err)
	case "abandon":
		st, _, err := r.shop.do("POST", path("/settlement/cancelled"), nil)
		return op, class(st, err)
	}
	panic("unknown operation " + op)
}

// postResult posts a widget result, or the same one twice at once as a double-clicked page
// does; an answer of 仮売上 or 売上計上 marks the order paid.
func (r *run) postResult(o *buyerOrder, res map[string]any, twice bool) string {
	path := fmt.Sprintf("/api/v1/orders/%d/settlement/result", o.id)
	post := func() string {
		st, body, err := r.shop.do("POST", path, res)
		if s, ok := body["settlement"].(map[string]any); ok && st == http.StatusOK &&
			(s["status"] == "authorized" || s["status"] == "captured") {
			o.mu.Lock()
			o.paid = true
			o.mu.Unlock()
		}
		return class(st, err)
	}
	if !twice {
		return post()
	}
	var wg sync.WaitGroup
	var second string
	wg.Go(func() { second = post() })
	first := post()
	wg.Wait()
	r.count("result twice", second)
	return first
}

// inject arms one-shot sandbox faults on atone's server API at random until stop. The
// widget and the sandbox's control endpoints are left alone: a buyer whose widget failed did
// not pay, which tests nothing of kessai.
func (r *run) inject(stop <-chan struct{}) {
	rng := r.rng(2000)
	kinds := []struct {
		kind   sandbox.FaultKind
		weight int
	}{
		{sandbox.FaultLatency, 30}, {sandbox.FaultInternalError, 15}, {sandbox.FaultMaintenance, 15},
		{sandbox.FaultDropBefore, 15}, {sandbox.FaultDropAfterCommit, 25},
	}
	targets := []sandbox.Fault{
		{Path: "/v1/transactions", Method: "POST"}, // 取引修正 (a new transaction replacing the old)
		{Path: "/v1/transactions", Method: "GET"},  // references: Confirm, the janitor, 取引修正's look first
		{Path: "*/settle"},
		{Path: "*/refund"},
	}
	for i := 0; i < 4*r.ops; i++ {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(5+rng.IntN(45)) * time.Millisecond):
		}
		if len(r.h.Sandbox.Faults()) >= 4 {
			continue // no traffic is taking them; do not pile them up
		}
		f := targets[rng.IntN(len(targets))]
		x := rng.IntN(100)
		for _, k := range kinds {
			if x < k.weight {
				f.Kind = k.kind
				break
			}
			x -= k.weight
		}
		f.Times = 1
		if f.Kind == sandbox.FaultLatency {
			f.Latency = time.Duration(50+rng.IntN(1500)) * time.Millisecond
		}
		if err := r.h.Sandbox.AddFault(f); err != nil {
			panic(err) // a fault the sandbox does not know is this test's mistake
		}
		r.mu.Lock()
		r.armed++
		r.mu.Unlock()
	}
}

// quiesce stops the faults, delivers each buyer's last widget result once more, and runs the
// janitor until no settlement is unknown or pending with a transaction, or a bounded number
// of passes is used up (what is left then is for the checker to report).
func (r *run) quiesce(t *testing.T) {
	ctx := context.Background()
	r.fired = r.armed - len(r.h.Sandbox.Faults())
	r.h.Sandbox.ClearFaults()
	if st, why := r.h.D.Modules.State("atone"); st == module.Failed {
		t.Logf("the atone module failed during the run (%s); re-enabling it, as an admin would", why)
		if err := r.h.D.Modules.Reenable(ctx, "atone", "chaos"); err != nil {
			t.Fatal(err)
		}
		r.reenable++
	}
	for _, o := range r.orders {
		o.mu.Lock()
		var last map[string]any
		if len(o.results) > 0 {
			last = o.results[len(o.results)-1]
		}
		o.mu.Unlock()
		if last != nil {
			r.postResult(o, last, false)
			r.deliver++
		}
	}
	db := r.h.D.Store.DB
	for r.passes = 1; r.passes <= 20; r.passes++ {
		// Time passes: every backoff and every lease of a claim whose holder died runs out.
		r.clock.Advance(2 * time.Hour)
		for range len(r.orders)/100 + 1 { // a full batch means more may be due
			n, err := r.h.D.Settlements.ResolveDue(ctx, 100)
			if err != nil {
				t.Fatalf("janitor: %v", err)
			}
			if n < 100 {
				break
			}
		}
		var left int64
		err := db.Table("settlements").Where("status = ? OR (status = ? AND wc_trans_id <> '')", "unknown", "pending").Count(&left).Error
		if err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
	}
	t.Logf("the janitor left settlements unresolved after %d passes; the checker reports them", r.passes-1)
}

func (r *run) count(op, class string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outcomes[op] == nil {
		r.outcomes[op] = map[string]int{}
	}
	r.outcomes[op][class]++
}

// class sorts kessai's answers for the statistics.
func class(status int, err error) string {
	switch {
	case err != nil:
		return "no answer"
	case status == http.StatusConflict:
		return "409"
	case status >= 200 && status < 300:
		return "2xx"
	case status == http.StatusBadGateway:
		return "502"
	case status >= 500:
		return "5xx"
	}
	return "4xx"
}

// stats is what the run did, as a table.
func (r *run) stats() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d operations on %d orders, %d faults armed, %d fired, %d adapter kills, %d restarts, "+
		"%d re-enables, %d final deliveries, %d janitor passes\n",
		r.seed, min(int(r.done.Load()), r.ops), len(r.orders), r.armed, r.fired, r.kills, r.restarts, r.reenable, r.deliver, r.passes)
	classes := []string{"2xx", "409", "4xx", "502", "5xx", "no answer", "widget refused", "skipped"}
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "operation\ttotal\t%s\t\n", strings.Join(classes, "\t"))
	names := make([]string, 0, len(r.outcomes))
	for op := range r.outcomes {
		names = append(names, op)
	}
	sort.Strings(names)
	for _, op := range names {
		total, cells := 0, make([]string, len(classes))
		for i, c := range classes {
			total += r.outcomes[op][c]
			cells[i] = strconv.Itoa(r.outcomes[op][c])
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t\n", op, total, strings.Join(cells, "\t"))
	}
	_ = w.Flush()
	return b.String()
}

// shopClient is the shop's back end and the buyer's browser: it speaks to whichever daemon
// is current, and reports a lost connection as an error instead of failing the test, since a
// restart cuts requests off on purpose.
type shopClient struct {
	base    atomic.Pointer[string]
	key     string
	sandbox string
	http    *http.Client
}

func (c *shopClient) do(method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, *c.base.Load()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// completeWidget is the buyer logging in and paying in the sandbox's widget.
func (c *shopClient) completeWidget(cfg map[string]any, phone string) (map[string]any, error) {
	raw, _ := json.Marshal(map[string]any{"pub_key": cfg["pub_key"], "pre_token": cfg["pre_token"],
		"payment": cfg["payment"], "phone_number": phone, "password": sandbox.TestPassword})
	resp, err := c.http.Post(c.sandbox+"/sandbox/v1/widget/complete", "application/json", bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("widget: %d %v", resp.StatusCode, out)
	}
	return out, nil
}

// explain prints, for each settlement the check names, its history and atone's transactions
// of its attempts: what a person needs to tell a bug from a mistake of the test.
func explain(db *gorm.DB, ledger []sandbox.LedgerEntry, rep chaos.Report) string {
	var b strings.Builder
	seen := map[int64]bool{}
	for _, p := range rep.Problems {
		if p.SettlementID == 0 || seen[p.SettlementID] {
			continue
		}
		seen[p.SettlementID] = true
		s, err := settlement.Load(context.Background(), db, p.SettlementID)
		if err != nil {
			fmt.Fprintf(&b, "settlement #%d: %v\n", p.SettlementID, err)
			continue
		}
		fmt.Fprintf(&b, "\nsettlement #%d (order #%d, %s): %s %d円 %s attempt %s\n", s.ID, s.OrderID, s.TransID, s.Status, s.Amount, orNone(s.WcTransID), s.Attempt)
		hs, _ := settlement.Histories(context.Background(), db, s.ID)
		w := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
		for _, h := range hs {
			fmt.Fprintf(w, "  %s\t%s\t%s→%s\t%d円\t%s\t%s\t%s\t%.80s\n", h.CreatedAt.Format("15:04:05.000"), h.Operation, h.StatusFrom, h.StatusTo,
				h.Amount, orNone(h.ProviderID), h.Outcome, h.Actor, h.Code+" "+h.Message)
		}
		_ = w.Flush()
		for _, e := range ledger {
			if strings.HasPrefix(e.ShopTransactionNo, s.TransID+"-") {
				fmt.Fprintf(&b, "  atone %s %s %d円 ok=%v settled=%v refunded=%v replaced_by=%q settles=%d refunds=%d\n",
					e.ID, e.ShopTransactionNo, e.Amount, e.OK(), e.Settled, e.Refunded, e.ReplacedBy, e.SettleCount, e.RefundCount)
			}
		}
	}
	return b.String()
}

func orNone(id string) string {
	if id == "" {
		return "(no transaction)"
	}
	return id
}
