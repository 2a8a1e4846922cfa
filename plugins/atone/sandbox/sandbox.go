// Package sandbox is a local stand-in for atone: the v1 server API, the atone.js widget with
// its checkout iframe, outbound webhooks, and switches that make it fail on purpose. It keeps
// its transactions, tokens and members in SQLite, in a file that outlives restarts
// (Config.DataPath) or in memory, and is meant for tests and for developing against atone
// offline.
//
// In-process use:
//
//	sb := sandbox.New(sandbox.Config{Shops: []sandbox.Shop{{PublicKey: "pk", SecretKey: "sk"}}})
//	ts := httptest.NewServer(sb)        // *Server is an http.Handler
//	defer ts.Close(); defer sb.Close()  // Close waits for webhook deliveries
//	// API base: ts.URL + "/v1/", widget: ts.URL + "/v1/atone.js"
//
// or as a listener of its own:
//
//	base, err := sb.Start("127.0.0.1:0") // returns "http://127.0.0.1:PORT"
//	defer sb.Close()
//
// or on a data file, so that orders made before a restart can still be settled after it:
//
//	sb, err := sandbox.Open(sandbox.Config{DataPath: "var/atone-sandbox.db"})
//
// With no shops configured, DefaultShop is used; with no members, DefaultMembers (see
// members.go for the test members). Sandbox-only endpoints live under /sandbox/v1/.
package sandbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// Shop is one merchant store with its key pair, as issued in atone's merchant portal.
type Shop struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	SecretKey string `json:"secret_key"`
	// PaymentWebhookURL receives the transaction object after every authorization, OK or NG
	// (atone's 決済Webhook).
	PaymentWebhookURL string `json:"payment_webhook_url,omitempty"`
	// AuthenticationWebhookURL receives the buyer's token after a widget login (認証Webhook).
	AuthenticationWebhookURL string `json:"authentication_webhook_url,omitempty"`
}

// DefaultShop is the shop of a sandbox configured without any.
var DefaultShop = Shop{Name: "テスト店舗", PublicKey: "pk_test_sandbox", SecretKey: "sk_test_sandbox"}

// Config configures a sandbox.
type Config struct {
	Shops   []Shop
	Members []Member
	// Now is the sandbox clock; authorizations lapse 90 days after registration by it.
	Now func() time.Time
	// WebhookClient delivers webhooks; nil means a client with a 10 s timeout.
	WebhookClient *http.Client
	Logger        *slog.Logger
	// DataPath is the SQLite file that keeps transactions, tokens and members across
	// restarts; it is created if missing. Empty (or ":memory:") keeps them in memory, gone
	// with the Server.
	DataPath string
}

// Validate reports configuration mistakes: duplicate or empty keys.
func (c Config) Validate() error {
	pub, sec := map[string]bool{}, map[string]bool{}
	for i, s := range c.Shops {
		if s.PublicKey == "" || s.SecretKey == "" {
			return fmt.Errorf("shop %d (%s): public and secret key are both required", i, s.Name)
		}
		if pub[s.PublicKey] || sec[s.SecretKey] {
			return fmt.Errorf("shop %d (%s): key used by another shop", i, s.Name)
		}
		pub[s.PublicKey], sec[s.SecretKey] = true, true
	}
	phones := map[string]bool{}
	for _, m := range c.Members {
		p := wire.NormalizePhone(m.Phone)
		if phones[p] {
			return fmt.Errorf("member %s: phone number listed twice", m.Phone)
		}
		phones[p] = true
	}
	return nil
}

// Server is a running sandbox. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	client *http.Client

	// mu serializes the calls: a transaction is read, changed and written back under it.
	mu     sync.Mutex
	db     *sql.DB
	closed bool
	shops  []*shopState
	byPub  map[string]*shopState
	bySec  map[string]*shopState
	offset time.Duration // clock moved forward over HTTP
	faults []*faultState
	sent   []Delivery // the last maxDeliveries

	hooks    sync.WaitGroup
	listener net.Listener
	httpSrv  *http.Server
}

// New builds a sandbox. It panics on an invalid Config (see Config.Validate) or a data file
// it cannot open, which is a programming error in a test; Open returns the error instead.
func New(cfg Config) *Server {
	s, err := Open(cfg)
	if err != nil {
		panic(err.Error())
	}
	return s
}

// Open builds a sandbox on its data (Config.DataPath), creating the file if needed. Close
// closes it.
func Open(cfg Config) (*Server, error) {
	if len(cfg.Shops) == 0 {
		cfg.Shops = []Shop{DefaultShop}
	}
	if cfg.Members == nil {
		cfg.Members = DefaultMembers()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db, err := openData(cfg.DataPath, cfg.Members)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		client: cfg.WebhookClient,
		db:     db,
		byPub:  map[string]*shopState{},
		bySec:  map[string]*shopState{},
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	for _, sh := range cfg.Shops {
		st := &shopState{Shop: sh}
		if st.Name == "" {
			st.Name = DefaultShop.Name
		}
		s.shops = append(s.shops, st)
		s.byPub[sh.PublicKey] = st
		s.bySec[sh.SecretKey] = st
	}
	s.routes()
	return s, nil
}

// Shops returns the configured shops.
func (s *Server) Shops() []Shop {
	out := make([]Shop, len(s.shops))
	for i, st := range s.shops {
		out[i] = st.Shop
	}
	return out
}

// DataPath says where the sandbox keeps its data: the file, or "(in memory)".
func (s *Server) DataPath() string { return describe(s.cfg.DataPath) }

// Members returns the test members buyers can log in as.
func (s *Server) Members() []Member { return append([]Member(nil), s.cfg.Members...) }

// Now is the sandbox's current time: Config.Now plus any time travel done over HTTP.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	off := s.offset
	s.mu.Unlock()
	return s.cfg.Now().Add(off)
}

// Advance moves the sandbox clock forward, e.g. past the 90-day authorization lapse.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.offset += d
	s.mu.Unlock()
}

// Start serves the sandbox on addr ("127.0.0.1:0" picks a port) and returns its base URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	s.listener = ln
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("sandbox stopped", "err", err)
		}
	}()
	return s.URL(), nil
}

// URL is the base URL of a sandbox started with Start, "" otherwise.
func (s *Server) URL() string {
	if s.listener == nil {
		return ""
	}
	return "http://" + s.listener.Addr().String()
}

// Close stops a listener started with Start, waits for webhook deliveries in flight, and
// closes the data. Calls served after Close answer EATN9999.
func (s *Server) Close() error {
	var err error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.httpSrv.Shutdown(ctx)
	}
	s.hooks.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		// The handle stays: calls that still arrive get "database is closed", hence EATN9999.
		err = errors.Join(err, s.db.Close())
		s.closed = true
	}
	return err
}

func (s *Server) routes() {
	m := http.NewServeMux()
	api := func(h func(*shopState, *http.Request) (int, any)) http.HandlerFunc {
		return s.withFaults(s.withShop(h))
	}
	m.HandleFunc("POST /v1/transactions", api(s.createTransaction))
	m.HandleFunc("GET /v1/transactions", api(s.referenceByBody))
	m.HandleFunc("GET /v1/transactions/{id}", api(s.referenceTransaction))
	m.HandleFunc("PATCH /v1/transactions/{id}/settle", api(s.settleTransaction))
	m.HandleFunc("PATCH /v1/transactions/{id}/refund", api(s.refundTransaction))

	m.HandleFunc("GET /v1/atone.js", s.serveAtoneJS)
	m.HandleFunc("GET /payment/", s.servePaymentPage)
	m.HandleFunc("POST /payment/api/check", s.withFaults(s.widgetCheck))
	m.HandleFunc("POST /payment/api/login", s.withFaults(s.widgetLogin))
	m.HandleFunc("POST /payment/api/authorize", s.withFaults(s.widgetAuthorize))

	m.HandleFunc("POST /sandbox/v1/widget/complete", s.withFaults(s.widgetComplete))
	m.HandleFunc("POST /sandbox/v1/tokens/revoke", s.revokeTokenHTTP)
	m.HandleFunc("GET /sandbox/v1/faults", s.listFaultsHTTP)
	m.HandleFunc("POST /sandbox/v1/faults", s.addFaultsHTTP)
	m.HandleFunc("DELETE /sandbox/v1/faults", s.clearFaultsHTTP)
	m.HandleFunc("POST /sandbox/v1/clock", s.clockHTTP)
	m.HandleFunc("GET /sandbox/v1/webhooks", s.deliveriesHTTP)
	m.HandleFunc("GET /sandbox/v1/members", s.membersHTTP)
	m.HandleFunc("GET /sandbox/v1/transactions", s.ledgerHTTP)

	// Any other path or method: atone's answer to a wrong URL.
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, wire.NewError(wire.CodeBadRequest))
	})
	s.mux = m
}

// ServeHTTP serves the sandbox. Production clients send every call as POST with
// X-HTTP-Method-Override (GET for reference, PATCH for settle and refund); the override is
// applied before routing so both styles reach the same handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if o := strings.TrimSpace(r.Header.Get("X-HTTP-Method-Override")); o != "" && r.Method == http.MethodPost {
		r.Method = strings.ToUpper(o)
	}
	s.mux.ServeHTTP(w, r)
}

// withShop authenticates the shop by HTTP Basic with its secret key as user name. atone's
// clients send base64(secret) and base64(secret + ":"); both are accepted, with any case of
// the scheme name.
func (s *Server) withShop(h func(*shopState, *http.Request) (int, any)) handler {
	return func(r *http.Request) (int, any) {
		sh := s.shopBySecret(r.Header.Get("Authorization"))
		if sh == nil {
			return http.StatusUnauthorized, wire.NewError(wire.CodeUnauthorized)
		}
		return h(sh, r)
	}
}

func (s *Server) shopBySecret(header string) *shopState {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return nil
	}
	raw, err := decodeBase64(strings.TrimSpace(cred))
	if err != nil {
		return nil
	}
	user, _, _ := strings.Cut(raw, ":")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySec[user]
}

// handler is the shape of every JSON endpoint: a status and a body to encode, so that the
// fault layer can decide what reaches the client after the work is done.
type handler func(*http.Request) (int, any)

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		return // the client went away; nothing left to tell it
	}
}

func errorAnswer(e *wire.ErrorBody) (int, any) { return e.Status(), e }

// readBody reads a JSON body; an empty body reads as {}. Bodies are capped at 10 MiB, far
// above atone's 9999 item lines.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return []byte("{}"), nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return []byte("{}"), nil
	}
	return b, nil
}
