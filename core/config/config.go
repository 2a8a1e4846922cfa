// Package config reads kessaid's settings from flags and the environment. Each setting is one
// row of the vars table: its variable, flag, default and rule, so `kessaid --help`, the README
// and validation cannot drift apart.
package config

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kessai/kessai/core/secret"
	"github.com/kessai/kessai/core/store"
)

// Config is the resolved configuration.
type Config struct {
	HTTPAddr string
	DBDSN    string
	DB       store.DSN
	// DBMaxConns is KESSAI_DB_MAX_CONNS: the MySQL pool's size, open and idle alike.
	DBMaxConns int
	dbMaxConns string
	// ContinuationWorkers is KESSAI_CONTINUATION_WORKERS: charges the continuation run has in
	// flight at once.
	ContinuationWorkers int
	continuationWorkers string
	// ContinuationRates is KESSAI_CONTINUATION_RATE: charges per second the continuation run
	// sends to a module, by slug; "" is every module not named.
	ContinuationRates map[string]float64
	continuationRate  string
	PluginDir         string
	LogLevel          slog.Level
	TLSCert           string
	TLSKey            string
	AdminToken        string
	SandboxAddr       string
	SMTPURL           string
	VarDir            string
	// SecureCookies is KESSAI_SECURE_COOKIES: "true" when TLS ends at a proxy in front.
	SecureCookies string
	// WebhookAllowHTTP and WebhookAllowPrivate are KESSAI_WEBHOOK_ALLOW_HTTP and
	// KESSAI_WEBHOOK_ALLOW_PRIVATE: "true" lets shops register http:// webhook endpoints, and
	// endpoints on loopback or private addresses; for development and the demo only.
	WebhookAllowHTTP    string
	WebhookAllowPrivate string
	// MasterKey is the raw KESSAI_MASTER_KEY; use Key to get the parsed key.
	MasterKey string
	// MetricsToken is KESSAI_METRICS_TOKEN: when set, /metrics wants it as a bearer token.
	MetricsToken string
	// AdapterUser is KESSAI_ADAPTER_USER: the system user adapters run as when kessaid is root.
	AdapterUser string
	// MasterKeyFile is KESSAI_MASTER_KEY_FILE. Its contents, read once the configuration is
	// resolved, are in MasterKey: the rest of kessaid need not know where the key came from.
	MasterKeyFile string
	// PprofAddr is KESSAI_PPROF_ADDR: a loopback address where Go's profiler answers; empty
	// for none.
	PprofAddr string
}

// Error names the variable at fault and what is wrong with it; main prints it as one line.
type Error struct {
	Var     string
	Problem string
}

func (e *Error) Error() string { return e.Var + ": " + e.Problem }

type setting struct {
	env, flag, def, help string
	secret               bool
	field                func(*Config) *string
	check                func(string) error
}

var vars = []setting{
	{env: "KESSAI_HTTP_ADDR", flag: "http-addr", def: "127.0.0.1:8080", help: "address the HTTP server listens on", field: func(c *Config) *string { return &c.HTTPAddr }, check: checkAddr},
	{env: "KESSAI_DB_DSN", flag: "db-dsn", def: "sqlite://./var/kessai.db", help: "database: sqlite://PATH or mysql://USER:PASS@tcp(HOST:3306)/DB; by default kessai.db in KESSAI_VAR_DIR", field: func(c *Config) *string { return &c.DBDSN }, check: func(s string) error { _, err := store.ParseDSN(s); return err }},
	{env: "KESSAI_DB_MAX_CONNS", flag: "db-max-conns", def: strconv.Itoa(store.DefaultMaxConns), help: "MySQL connections kessaid keeps, open and idle alike: one per request in flight plus the scheduled jobs' (SQLite always uses one)", field: func(c *Config) *string { return &c.dbMaxConns }, check: checkConns},
	{env: "KESSAI_CONTINUATION_WORKERS", def: "48", help: "charges the continuation run has in flight at once", field: func(c *Config) *string { return &c.continuationWorkers }, check: checkWorkers},
	{env: "KESSAI_CONTINUATION_RATE", def: "200", help: "charges per second the continuation run sends to each payment module, at most; SLUG=N sets one module's (200,atone=100)", field: func(c *Config) *string { return &c.continuationRate }, check: func(s string) error { _, err := ParseRates(s); return err }},
	{env: "KESSAI_PLUGIN_DIR", flag: "plugin-dir", def: "./bin", help: "folder holding adapter binaries (kessai-atone, …)", field: func(c *Config) *string { return &c.PluginDir }},
	{env: "KESSAI_ADAPTER_USER", def: "", help: "system user adapters run as (kessaid must run as root to switch); empty runs them as kessaid's own user", field: func(c *Config) *string { return &c.AdapterUser }, check: checkUser},
	{env: "KESSAI_LOG_LEVEL", flag: "log-level", def: "info", help: "debug, info, warn or error", field: nil, check: func(s string) error { _, err := parseLevel(s); return err }},
	{env: "KESSAI_TLS_CERT", flag: "tls-cert", def: "", help: "PEM certificate: serve HTTPS directly (TLS 1.2 minimum)", field: func(c *Config) *string { return &c.TLSCert }, check: checkFile},
	{env: "KESSAI_TLS_KEY", flag: "tls-key", def: "", help: "PEM private key for KESSAI_TLS_CERT", field: func(c *Config) *string { return &c.TLSKey }, check: checkFile},
	{env: "KESSAI_MASTER_KEY", def: "", secret: true, help: "32-byte key (64 hex digits) that encrypts secrets at rest; required by serve, generated under ./var by demo", field: func(c *Config) *string { return &c.MasterKey }, check: func(s string) error {
		if s == "" {
			return nil
		}
		_, err := secret.ParseKey(s)
		return err
	}},
	{env: "KESSAI_MASTER_KEY_FILE", def: "", help: "file holding the master key instead of KESSAI_MASTER_KEY (not both), so that it is not in kessaid's environment", field: func(c *Config) *string { return &c.MasterKeyFile }, check: checkFile},
	{env: "KESSAI_ADMIN_TOKEN", def: "", secret: true, help: "bootstrap bearer token for the admin API before any admin user exists", field: func(c *Config) *string { return &c.AdminToken }},
	{env: "KESSAI_METRICS_TOKEN", def: "", secret: true, help: "bearer token /metrics requires (Authorization: Bearer <token>); empty leaves /metrics open to whoever reaches the listener", field: func(c *Config) *string { return &c.MetricsToken }},
	{env: "KESSAI_SANDBOX_ADDR", flag: "sandbox-addr", def: "127.0.0.1:8081", help: "where demo runs the atone sandbox", field: func(c *Config) *string { return &c.SandboxAddr }, check: checkAddr},
	{env: "KESSAI_SMTP_URL", flag: "smtp-url", def: "", help: "mail server, smtp://USER:PASS@HOST:PORT (or smtps://); empty keeps mails queued", field: func(c *Config) *string { return &c.SMTPURL }},
	{env: "KESSAI_SECURE_COOKIES", flag: "secure-cookies", def: "false", help: "true: mark admin session cookies Secure although TLS ends at a proxy in front of kessaid", field: func(c *Config) *string { return &c.SecureCookies }, check: func(s string) error {
		if s != "true" && s != "false" {
			return fmt.Errorf("%q: want true or false", s)
		}
		return nil
	}},
	{env: "KESSAI_WEBHOOK_ALLOW_HTTP", def: "false", help: "true: shops may register http:// webhook endpoints, not only https:// (development only)", field: func(c *Config) *string { return &c.WebhookAllowHTTP }, check: checkBool},
	{env: "KESSAI_WEBHOOK_ALLOW_PRIVATE", def: "false", help: "true: webhook endpoints may be on loopback, private, link-local or CGNAT addresses (development only: it lets shops reach kessaid's own network)", field: func(c *Config) *string { return &c.WebhookAllowPrivate }, check: checkBool},
	{env: "KESSAI_PPROF_ADDR", def: "", help: "loopback address (127.0.0.1:6060) where Go's profiler answers at /debug/pprof/; empty serves none, and any other address is refused", field: func(c *Config) *string { return &c.PprofAddr }, check: CheckLoopback},
	{env: "KESSAI_VAR_DIR", flag: "var-dir", def: "./var", help: "folder for the default database (kessai.db) and the demo's generated keys", field: func(c *Config) *string { return &c.VarDir }},
}

// Flags registers the settings that have flags on fs and returns a function that resolves the
// configuration once fs has been parsed: a flag given on the command line wins over the
// environment, which wins over the default.
func Flags(fs *flag.FlagSet) func(getenv func(string) string) (Config, error) {
	vals := map[string]*string{}
	for _, v := range vars {
		if v.flag == "" {
			continue
		}
		vals[v.flag] = fs.String(v.flag, v.def, v.help+" ("+v.env+")")
	}
	return func(getenv func(string) string) (Config, error) {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		var c Config
		level := "info"
		given := map[string]bool{} // by the environment or a flag
		for _, v := range vars {
			val := v.def
			if e := getenv(v.env); e != "" {
				val, given[v.env] = e, true
			}
			if v.flag != "" && set[v.flag] {
				val, given[v.env] = *vals[v.flag], true
			}
			if v.check != nil && val != "" {
				if err := v.check(val); err != nil {
					return Config{}, &Error{Var: v.env, Problem: err.Error()}
				}
			}
			if v.field != nil {
				*v.field(&c) = val
			} else {
				level = val
			}
		}
		c.LogLevel, _ = parseLevel(level)
		if !given["KESSAI_DB_DSN"] {
			// The default database is kept in the var folder, beside the demo's keys.
			c.DBDSN = "sqlite://" + strings.TrimSuffix(c.VarDir, "/") + "/kessai.db"
		}
		c.DB, _ = store.ParseDSN(c.DBDSN)
		c.DBMaxConns, _ = strconv.Atoi(c.dbMaxConns)
		c.ContinuationWorkers, _ = strconv.Atoi(c.continuationWorkers)
		c.ContinuationRates, _ = ParseRates(c.continuationRate)
		if c.MasterKeyFile != "" {
			if c.MasterKey != "" {
				return Config{}, &Error{Var: "KESSAI_MASTER_KEY_FILE", Problem: "KESSAI_MASTER_KEY and KESSAI_MASTER_KEY_FILE are both set: set one"}
			}
			k, err := readKeyFile(c.MasterKeyFile)
			if err != nil {
				return Config{}, &Error{Var: "KESSAI_MASTER_KEY_FILE", Problem: err.Error()}
			}
			c.MasterKey = k
		}
		if (c.TLSCert == "") != (c.TLSKey == "") {
			return Config{}, &Error{Var: "KESSAI_TLS_CERT", Problem: "KESSAI_TLS_CERT and KESSAI_TLS_KEY go together: set both or neither"}
		}
		if c.TLSCert != "" {
			if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
				return Config{}, &Error{Var: "KESSAI_TLS_CERT", Problem: "cannot load the certificate and key: " + err.Error()}
			}
		}
		return c, nil
	}
}

// Usage writes the configuration table: the --help text and the README table come from here.
func Usage(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tFLAG\tDEFAULT\tMEANING")
	for _, v := range vars {
		f := "-"
		if v.flag != "" {
			f = "--" + v.flag
		}
		d := v.def
		if d == "" {
			d = "(none)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.env, f, d, v.help)
	}
	tw.Flush()
}

// ErrNoMasterKey is returned by Key when production starts without KESSAI_MASTER_KEY.
var ErrNoMasterKey = errors.New("not set: kessaid refuses to store secrets without it (generate one with `openssl rand -hex 32`)")

// Key returns the master key. With generate (the demo), a missing key is created once under
// VarDir/master.key, readable by its owner only, and reused on later starts.
func (c Config) Key(generate bool) ([]byte, error) {
	if c.MasterKey != "" {
		k, err := secret.ParseKey(c.MasterKey)
		if err != nil {
			return nil, &Error{Var: "KESSAI_MASTER_KEY", Problem: err.Error()}
		}
		return k, nil
	}
	if !generate {
		// Name the file the demo keeps its key in: a command run against the demo's database
		// needs that key.
		return nil, &Error{Var: "KESSAI_MASTER_KEY", Problem: ErrNoMasterKey.Error() + "; the demo's key, if this is the demo's database, is in " +
			filepath.Join(c.VarDir, "master.key")}
	}
	path := filepath.Join(c.VarDir, "master.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := secret.ParseKey(string(b))
		if err != nil {
			return nil, &Error{Var: "KESSAI_MASTER_KEY", Problem: path + ": " + err.Error()}
		}
		return k, nil
	}
	if err := os.MkdirAll(c.VarDir, 0o700); err != nil {
		return nil, &Error{Var: "KESSAI_VAR_DIR", Problem: err.Error()}
	}
	hexKey := secret.NewKey()
	if err := os.WriteFile(path, []byte(hexKey+"\n"), 0o600); err != nil {
		return nil, &Error{Var: "KESSAI_VAR_DIR", Problem: err.Error()}
	}
	return secret.ParseKey(hexKey)
}

// readKeyFile returns the master key in path without the newline an editor or `openssl rand
// -hex 32 > FILE` leaves at its end.
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s", path)
	}
	k := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if _, err := secret.ParseKey(k); err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	return k, nil
}

// TLSConfig is the server TLS configuration: TLS 1.2 at least, as atone requires of shops.
func TLSConfig() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("%q is not a level: use debug, info, warn or error", s)
	}
	return l, nil
}

func checkAddr(s string) error {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return fmt.Errorf("%q is not HOST:PORT", s)
	}
	return nil
}

// CheckLoopback accepts HOST:PORT whose host is a loopback address (127.0.0.0/8, ::1) or
// localhost. The profiler answers anyone who reaches it, with kessaid's stacks and heap, so it
// is never offered to the network; the daemon checks the address it bound again.
func CheckLoopback(s string) error {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT", s)
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address: the profiler shows kessaid's stacks and memory to whoever reaches it, so it listens on 127.0.0.1 or ::1 only (e.g. 127.0.0.1:6060); reach it from elsewhere through an SSH tunnel", s)
}

func checkBool(s string) error {
	if s != "true" && s != "false" {
		return fmt.Errorf("%q: want true or false", s)
	}
	return nil
}

func checkConns(s string) error {
	if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 10000 {
		return fmt.Errorf("%q: want a number of connections from 1 to 10000", s)
	}
	return nil
}

func checkWorkers(s string) error {
	// The atone adapter keeps 256 idle connections: more workers would open new ones.
	if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 256 {
		return fmt.Errorf("%q: want a number of charges from 1 to 256", s)
	}
	return nil
}

// ParseRates reads KESSAI_CONTINUATION_RATE: comma-separated rates in charges per second, each
// either N (every module not named) or SLUG=N.
func ParseRates(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		slug, n, named := strings.Cut(part, "=")
		if !named {
			slug, n = "", part
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		slug = strings.TrimSpace(slug)
		if err != nil || r <= 0 || r > 1e6 || (named && slug == "") {
			return nil, fmt.Errorf("%q: want charges per second, N or SLUG=N separated by commas (200,atone=100)", part)
		}
		if _, dup := out[slug]; dup {
			return nil, fmt.Errorf("%q: given twice", part)
		}
		out[slug] = r
	}
	return out, nil
}

func checkUser(s string) error {
	if _, err := user.Lookup(s); err != nil {
		return fmt.Errorf("no user %q on this system", s)
	}
	return nil
}

func checkFile(s string) error {
	if _, err := os.Stat(s); err != nil {
		return fmt.Errorf("cannot read %s", s)
	}
	return nil
}
