package config_test

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/config"
	"github.com/kessai/kessai/core/continuation"
	"github.com/kessai/kessai/core/store"
)

func load(t *testing.T, args []string, env map[string]string) (config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	resolve := config.Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return resolve(func(k string) string { return env[k] })
}

func TestDefaultsEnvAndFlags(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.DBDSN != "sqlite://./var/kessai.db" || c.PluginDir != "./bin" {
		t.Fatalf("defaults: %+v", c)
	}
	c, _ = load(t, []string{"--http-addr", "0.0.0.0:9000"}, map[string]string{"KESSAI_HTTP_ADDR": "127.0.0.1:7000", "KESSAI_LOG_LEVEL": "debug"})
	if c.HTTPAddr != "0.0.0.0:9000" {
		t.Errorf("flag should win over env: %s", c.HTTPAddr)
	}
	if c.LogLevel.String() != "DEBUG" {
		t.Errorf("log level = %s", c.LogLevel)
	}
}

// KESSAI_VAR_DIR holds the default database too, so that a demo run with it writes nothing to
// ./var; a database given by KESSAI_DB_DSN or --db-dsn stays where it is given.
func TestVarDirHoldsTheDefaultDatabase(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"KESSAI_VAR_DIR": dir}, "sqlite://" + dir + "/kessai.db"},
		{nil, map[string]string{"KESSAI_VAR_DIR": dir + "/"}, "sqlite://" + dir + "/kessai.db"},
		{[]string{"--var-dir", dir}, nil, "sqlite://" + dir + "/kessai.db"},
		{nil, map[string]string{"KESSAI_VAR_DIR": dir, "KESSAI_DB_DSN": "sqlite:///srv/kessai.db"}, "sqlite:///srv/kessai.db"},
		{[]string{"--db-dsn", "sqlite:///srv/kessai.db"}, map[string]string{"KESSAI_VAR_DIR": dir}, "sqlite:///srv/kessai.db"},
	} {
		c, err := load(t, tc.args, tc.env)
		if err != nil || c.DBDSN != tc.want || c.DB.Path != strings.TrimPrefix(tc.want, "sqlite://") {
			t.Errorf("%v %v: %q (%q), %v; want %q", tc.args, tc.env, c.DBDSN, c.DB.Path, err, tc.want)
		}
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	for env, val := range map[string]string{
		"KESSAI_DB_DSN":     "nonsense",
		"KESSAI_HTTP_ADDR":  "8080",
		"KESSAI_LOG_LEVEL":  "loud",
		"KESSAI_MASTER_KEY": "short",
		"KESSAI_TLS_CERT":   "/does/not/exist.pem",
	} {
		_, err := load(t, nil, map[string]string{env: val})
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != env {
			t.Errorf("%s=%s: err = %v, want a config.Error naming %s", env, val, err, env)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", env, err)
		}
	}
}

func TestMasterKey(t *testing.T) {
	dir := t.TempDir()
	c, _ := load(t, []string{"--var-dir", dir}, nil)
	if _, err := c.Key(false); err == nil {
		t.Fatal("production start without a master key was allowed")
	}
	k1, err := c.Key(true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file: %v %v", st, err)
	}
	k2, _ := c.Key(true)
	if string(k1) != string(k2) {
		t.Fatal("the demo key changed between starts")
	}
}

func TestSecureCookies(t *testing.T) {
	c, err := load(t, nil, map[string]string{"KESSAI_SECURE_COOKIES": "true"})
	if err != nil || c.SecureCookies != "true" {
		t.Fatalf("%+v %v", c, err)
	}
	var ce *config.Error
	if _, err := load(t, nil, map[string]string{"KESSAI_SECURE_COOKIES": "yes"}); !errors.As(err, &ce) || ce.Var != "KESSAI_SECURE_COOKIES" {
		t.Fatalf("err = %v", err)
	}
}

func TestWebhookPolicyIsStrictByDefault(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil || c.WebhookAllowHTTP != "false" || c.WebhookAllowPrivate != "false" {
		t.Fatalf("defaults %q %q %v, want both false", c.WebhookAllowHTTP, c.WebhookAllowPrivate, err)
	}
	c, err = load(t, nil, map[string]string{"KESSAI_WEBHOOK_ALLOW_HTTP": "true", "KESSAI_WEBHOOK_ALLOW_PRIVATE": "true"})
	if err != nil || c.WebhookAllowHTTP != "true" || c.WebhookAllowPrivate != "true" {
		t.Fatalf("%q %q %v", c.WebhookAllowHTTP, c.WebhookAllowPrivate, err)
	}
	for _, env := range []string{"KESSAI_WEBHOOK_ALLOW_HTTP", "KESSAI_WEBHOOK_ALLOW_PRIVATE"} {
		var ce *config.Error
		if _, err := load(t, nil, map[string]string{env: "yes"}); !errors.As(err, &ce) || ce.Var != env {
			t.Errorf("%s=yes: err = %v", env, err)
		}
	}
}

func TestMetricsTokenIsEnvironmentOnly(t *testing.T) {
	c, err := load(t, nil, map[string]string{"KESSAI_METRICS_TOKEN": "scrape-s3cret"})
	if err != nil || c.MetricsToken != "scrape-s3cret" {
		t.Fatalf("%+v %v", c, err)
	}
	var help strings.Builder
	config.Usage(&help)
	if !strings.Contains(help.String(), "KESSAI_METRICS_TOKEN") {
		t.Fatal("--help does not list KESSAI_METRICS_TOKEN")
	}
}

func TestMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	hexKey := "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	file := filepath.Join(dir, "master.key")
	if err := os.WriteFile(file, []byte(hexKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("the key comes from the file, its newline trimmed", func(t *testing.T) {
		c, err := load(t, nil, map[string]string{"KESSAI_MASTER_KEY_FILE": file})
		if err != nil {
			t.Fatal(err)
		}
		k, err := c.Key(false)
		if err != nil || len(k) != 32 || k[1] != 0x11 || c.MasterKey != hexKey {
			t.Fatalf("key %x, %v", k, err)
		}
	})
	refused := func(t *testing.T, env map[string]string, want string) {
		t.Helper()
		_, err := load(t, nil, env)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != "KESSAI_MASTER_KEY_FILE" || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("err = %v, want one line about KESSAI_MASTER_KEY_FILE saying %q", err, want)
		}
	}
	t.Run("both set is refused", func(t *testing.T) {
		refused(t, map[string]string{"KESSAI_MASTER_KEY_FILE": file, "KESSAI_MASTER_KEY": hexKey}, "both set")
	})
	t.Run("a missing file or a bad key is refused", func(t *testing.T) {
		refused(t, map[string]string{"KESSAI_MASTER_KEY_FILE": filepath.Join(dir, "nope")}, "cannot read")
		bad := filepath.Join(dir, "bad.key")
		if err := os.WriteFile(bad, []byte("short\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		refused(t, map[string]string{"KESSAI_MASTER_KEY_FILE": bad}, "bad.key")
	})
}

func TestAdapterUserMustExist(t *testing.T) {
	var ce *config.Error
	if _, err := load(t, nil, map[string]string{"KESSAI_ADAPTER_USER": "kessai-no-such-user"}); !errors.As(err, &ce) || ce.Var != "KESSAI_ADAPTER_USER" || !strings.Contains(err.Error(), "kessai-no-such-user") {
		t.Fatalf("err = %v", err)
	}
	if c, err := load(t, nil, map[string]string{"KESSAI_ADAPTER_USER": "root"}); err != nil || c.AdapterUser != "root" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestPprofAddrIsLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060", "127.0.0.2:0"} {
		c, err := load(t, nil, map[string]string{"KESSAI_PPROF_ADDR": addr})
		if err != nil || c.PprofAddr != addr {
			t.Errorf("%s: %q %v", addr, c.PprofAddr, err)
		}
	}
	for _, addr := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "192.168.1.5:6060", "example.jp:6060", "6060"} {
		_, err := load(t, nil, map[string]string{"KESSAI_PPROF_ADDR": addr})
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != "KESSAI_PPROF_ADDR" || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line about KESSAI_PPROF_ADDR", addr, err)
		}
	}
	if c, err := load(t, nil, nil); err != nil || c.PprofAddr != "" {
		t.Fatalf("the profiler is off unless asked for: %q %v", c.PprofAddr, err)
	}
	var help strings.Builder
	config.Usage(&help)
	if !strings.Contains(help.String(), "KESSAI_PPROF_ADDR") {
		t.Fatal("--help does not list KESSAI_PPROF_ADDR")
	}
}

func TestDBMaxConns(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil || c.DBMaxConns != store.DefaultMaxConns {
		t.Fatalf("default pool: %d %v", c.DBMaxConns, err)
	}
	if c, err := load(t, []string{"--db-max-conns", "8"}, map[string]string{"KESSAI_DB_MAX_CONNS": "100"}); err != nil || c.DBMaxConns != 8 {
		t.Fatalf("the flag wins: %d %v", c.DBMaxConns, err)
	}
	for _, v := range []string{"0", "-1", "many", "10001"} {
		_, err := load(t, nil, map[string]string{"KESSAI_DB_MAX_CONNS": v})
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != "KESSAI_DB_MAX_CONNS" {
			t.Errorf("%s: err = %v, want one about KESSAI_DB_MAX_CONNS", v, err)
		}
	}
}

func TestContinuationSettings(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil || c.ContinuationWorkers != continuation.DefaultWorkers || c.ContinuationRates[""] != continuation.DefaultRate || len(c.ContinuationRates) != 1 {
		t.Fatalf("defaults: %d %v %v", c.ContinuationWorkers, c.ContinuationRates, err)
	}
	c, err = load(t, nil, map[string]string{"KESSAI_CONTINUATION_WORKERS": "64", "KESSAI_CONTINUATION_RATE": "50, atone=120.5"})
	if err != nil || c.ContinuationWorkers != 64 || c.ContinuationRates[""] != 50 || c.ContinuationRates["atone"] != 120.5 {
		t.Fatalf("set: %d %v %v", c.ContinuationWorkers, c.ContinuationRates, err)
	}
	for env, v := range map[string]string{"KESSAI_CONTINUATION_WORKERS": "257", "KESSAI_CONTINUATION_RATE": "atone=0"} {
		_, err := load(t, nil, map[string]string{env: v})
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != env {
			t.Errorf("%s=%s: err = %v", env, v, err)
		}
	}
	for _, v := range []string{"", "fast", "=5", "atone=1,atone=2", "-3"} {
		if _, err := config.ParseRates(v); err == nil {
			t.Errorf("ParseRates(%q) accepted", v)
		}
	}
}
