package store

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Dialect names the SQL dialect behind a Store; it selects the migration folder and the few
// statements that differ (row locks, upserts).
type Dialect string

// The dialects kessai runs on.
const (
	MySQL  Dialect = "mysql"
	SQLite Dialect = "sqlite"
)

// DSN is a parsed KESSAI_DB_DSN.
type DSN struct {
	Dialect Dialect
	// Path is the SQLite database file (":memory:" for a private in-memory database).
	Path string
	// MySQL is the driver configuration, with kessai's required parameters already applied.
	MySQL *mysql.Config
}

// ParseDSN reads the two accepted forms, sqlite://PATH and
// mysql://USER:PASS@tcp(HOST:PORT)/DB?params.
func ParseDSN(s string) (DSN, error) {
	switch {
	case strings.HasPrefix(s, "sqlite://"):
		p := strings.TrimPrefix(s, "sqlite://")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p == "" {
			return DSN{}, fmt.Errorf("sqlite DSN needs a file path, as in sqlite://./var/kessai.db")
		}
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		return DSN{Dialect: SQLite, Path: p}, nil
	case strings.HasPrefix(s, "mysql://"):
		cfg, err := mysql.ParseDSN(strings.TrimPrefix(s, "mysql://"))
		if err != nil {
			return DSN{}, fmt.Errorf("mysql DSN: %w (want mysql://USER:PASS@tcp(HOST:3306)/DB)", err)
		}
		if cfg.DBName == "" {
			return DSN{}, fmt.Errorf("mysql DSN names no database (want mysql://USER:PASS@tcp(HOST:3306)/DB)")
		}
		applyMySQLDefaults(cfg)
		return DSN{Dialect: MySQL, MySQL: cfg}, nil
	default:
		return DSN{}, fmt.Errorf("unsupported form %q: want sqlite://PATH or mysql://USER:PASS@tcp(HOST:3306)/DB", redactDSN(s))
	}
}

// applyMySQLDefaults makes every connection behave the same whatever the server's defaults:
// utf8mb4 for Japanese text and emoji, UTC so stored times are comparable across replicas, and
// strict mode so an over-long or invalid value is an error rather than silently truncated.
//
// The driver interpolates arguments into the statement text, so a statement is one round trip
// instead of a prepare, an execute and a close. That is safe because the connection's charset
// is utf8mb4, set here whatever the DSN says: the escaping the driver does is wrong only for
// the multibyte charsets whose second byte may be a backslash (SJIS, CP932, GBK, BIG5), and
// the driver refuses those collations with interpolation on.
func applyMySQLDefaults(cfg *mysql.Config) {
	cfg.ParseTime = true
	_ = mysql.Charset("utf8mb4", "utf8mb4_bin")(cfg) // never fails
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
	cfg.MultiStatements = false
	cfg.InterpolateParams = true
}

// String renders the DSN with any password replaced, for logs and errors.
func (d DSN) String() string {
	switch d.Dialect {
	case SQLite:
		return "sqlite://" + d.Path
	case MySQL:
		c := d.MySQL.Clone()
		if c.Passwd != "" {
			c.Passwd = "****"
		}
		return "mysql://" + c.User + "@" + c.Net + "(" + c.Addr + ")/" + c.DBName
	}
	return ""
}

func redactDSN(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s[:i], ":"); j >= 0 && !strings.HasPrefix(s[j:], "://") {
			return s[:j] + ":****" + s[i:]
		}
	}
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
