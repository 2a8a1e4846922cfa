// Package demo is the offline demo's storefront: a small shop page that plays a shop front
// end — cart, payment method, the provider's widget through kessai.js, order complete — and
// talks to kessai's shop API from the server side with the demo shop's key, as a real shop's
// back end would. kessai.js on the page calls the storefront's back end, never kessai with
// the key.
package demo

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/audit"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/paymethod"
)

//go:embed assets
var assets embed.FS

// Store is the demo storefront.
type Store struct {
	// API is the daemon's base URL; Key the demo shop's API key.
	API string
	Key string
	seq atomic.Int64
	hc  *http.Client
}

// New returns the storefront for the daemon at api with the shop key.
func New(api, key string) *Store {
	s := &Store{API: api, Key: key, hc: &http.Client{Timeout: 60 * time.Second}}
	// A seed for order numbers that differ between demo runs, not a time anything decides by.
	s.seq.Store(time.Now().Unix() % 1_000_000)
	return s
}

// Mount serves the storefront under /demo.
func (s *Store) Mount(r gin.IRouter) {
	g := r.Group("/demo")
	g.GET("/", func(c *gin.Context) {
		b, _ := assets.ReadFile("assets/shop.html")
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusOK, "text/html; charset=utf-8", b)
	})
	g.GET("/api/payment-methods", func(c *gin.Context) { s.proxy(c, "GET", "/api/v1/payment-methods", nil) })
	g.POST("/api/checkout", s.checkout)
	// kessai.js's endpoint: /demo/api/orders/{id}/ + result, cancelled or checkout.
	g.POST("/api/orders/:id/result", func(c *gin.Context) { s.forward(c, "/settlement/result") })
	g.POST("/api/orders/:id/cancelled", func(c *gin.Context) { s.forward(c, "/settlement/cancelled") })
	g.POST("/api/orders/:id/checkout", func(c *gin.Context) { s.forward(c, "/settlement/checkout") })
	g.POST("/api/orders/:id/withdraw", s.withdraw)
}

// Methods are the demo's payment methods beside atone: a buyer whom atone declined chooses
// one of them on the payment step.
var Methods = []paymethod.Method{
	{Name: "代金引換", Settlement: "COD", Use: paymethod.Activate, Explanation: "<p>商品お届け時に配達員へお支払いください。</p>"},
}

// AddMethods adds the demo's other payment methods that are missing; running it again changes
// nothing.
func AddMethods(ctx context.Context, m *paymethod.Methods) error {
	for _, pm := range Methods {
		_, err := m.ByName(ctx, pm.Name)
		if err == nil {
			continue
		}
		if !errors.Is(err, paymethod.ErrNotFound) {
			return err
		}
		if _, err := m.Add(ctx, pm, audit.System); err != nil {
			return fmt.Errorf("demo payment method %s: %w", pm.Name, err)
		}
	}
	return nil
}

// Product is one item the demo sells.
type Product struct {
	SKU   string `json:"sku"`
	Name  string `json:"item_name"`
	Price int64  `json:"price"`
}

// Products is the demo catalogue.
var Products = map[string]Product{
	"tea":    {"tea", "静岡煎茶 100g", 1500},
	"cup":    {"cup", "有田焼 湯呑み", 3200},
	"towel":  {"towel", "今治タオル", 2400},
	"kettle": {"kettle", "南部鉄器 急須", 58000},
}

const shipping = 500

func (s *Store) checkout(c *gin.Context) {
	var in struct {
		Items    map[string]int64 `json:"items"`
		Payment  string           `json:"payment_name"`
		Customer map[string]any   `json:"customer"`
	}
	if err := c.ShouldBindJSON(&in); err != nil {
		httpapi.Fail(c, http.StatusBadRequest, "malformed_json", err.Error(), "")
		return
	}
	var cart []map[string]any
	var total int64
	for sku, qty := range in.Items {
		p, ok := Products[sku]
		if !ok || qty < 1 {
			continue
		}
		cart = append(cart, map[string]any{"sku": p.SKU, "item_name": p.Name, "price": p.Price, "quantity": qty})
		total += p.Price * qty
	}
	number := "D" + strconv.FormatInt(s.seq.Add(1), 10)
	order := map[string]any{
		"order_number": number, "member_id": 0, "customer": in.Customer, "delivery": nil, "cart": cart,
		"order": map[string]any{"total_items_price": total, "discount": 0, "shipping_charge": shipping, "cod_fee": 0,
			"tax": 0, "usedpoint": 0, "total_full_price": total + shipping, "payment_name": in.Payment},
	}
	body, _ := json.Marshal(order)
	s.proxy(c, "POST", "/api/v1/orders", body)
}

// withdraw cancels an order the buyer leaves unpaid to order again with another method or
// another cart, so that it does not wait as 処理中. An order whose payment went through is
// left alone (409).
func (s *Store) withdraw(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		httpapi.Fail(c, http.StatusNotFound, "not_found", "no such order", "")
		return
	}
	var o struct {
		Settlement *struct {
			Status string `json:"status"`
		} `json:"settlement"`
	}
	status, err := s.call(c.Request.Context(), "GET", fmt.Sprintf("/api/v1/orders/%d", id), nil, &o)
	if err != nil || status != http.StatusOK {
		httpapi.Fail(c, http.StatusBadGateway, "shop_api", fmt.Sprintf("order %d: %d %v", id, status, err), "")
		return
	}
	if o.Settlement != nil {
		switch o.Settlement.Status {
		case "pending", "error", "abandoned":
		default:
			httpapi.Fail(c, http.StatusConflict, "paid", "the order's payment is "+o.Settlement.Status, "")
			return
		}
	}
	s.proxy(c, "PATCH", fmt.Sprintf("/api/v1/orders/%d", id), []byte(`{"process_status":"cancel"}`))
}

func (s *Store) forward(c *gin.Context, op string) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		httpapi.Fail(c, http.StatusNotFound, "not_found", "no such order", "")
		return
	}
	body, _ := io.ReadAll(c.Request.Body)
	s.proxy(c, "POST", fmt.Sprintf("/api/v1/orders/%d%s", id, op), body)
}

// proxy calls the shop API with the demo key and passes the answer through.
func (s *Store) proxy(c *gin.Context, method, path string, body []byte) {
	resp, err := s.do(c.Request.Context(), method, path, body)
	if err != nil {
		httpapi.Fail(c, http.StatusBadGateway, "shop_api", err.Error(), "")
		return
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	c.Header("Cache-Control", "no-store")
	c.Data(resp.StatusCode, "application/json; charset=utf-8", raw)
}

// call calls the shop API with the demo key and decodes its answer into out.
func (s *Store) call(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	resp, err := s.do(ctx, method, path, body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

func (s *Store) do(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.API+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Key)
	req.Header.Set("Content-Type", "application/json")
	return s.hc.Do(req)
}
