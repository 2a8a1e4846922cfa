package module

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-plugin"

	"github.com/kessai/kessai/plugins"
)

// instance is one running adapter process. Calls hold it through acquire/release so that a
// replacement can wait for them (drain) before killing it.
type instance struct {
	slug    string
	gen     int64
	client  *plugin.Client
	adapter plugins.Adapter
	desc    plugins.Description
	calls   sync.WaitGroup

	// broken is set when a call saw the connection fail: new calls wait for the supervisor's
	// verdict instead of failing against a process that is probably dead.
	broken atomic.Bool
}

// usable reports whether new calls may go to the instance.
func (i *instance) usable() bool { return !i.broken.Load() && !i.client.Exited() }

// pid is the adapter's process id, for tests and logs.
func (i *instance) pid() int {
	if rc := i.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// resolveBinary turns what an operator typed into the absolute path of a regular file inside
// the plugin directory. Like Vault's plugin catalog, kessai runs nothing from elsewhere: the
// directory is the one place an operator must keep writable by root only.
func resolveBinary(pluginDir, path string) (string, error) {
	if pluginDir == "" {
		return "", fmt.Errorf("%w: no plugin directory configured (KESSAI_PLUGIN_DIR)", ErrPluginDir)
	}
	dir, err := filepath.Abs(pluginDir)
	if err != nil {
		return "", fmt.Errorf("plugin directory %s: %w", pluginDir, err)
	}
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return "", fmt.Errorf("plugin directory %s: %w", pluginDir, err)
	}
	if !strings.ContainsRune(path, filepath.Separator) {
		path = filepath.Join(dir, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("adapter binary %s: %w", path, err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", fmt.Errorf("adapter binary %s: %w", path, err)
	}
	abs = filepath.Join(parent, filepath.Base(abs))
	if rel, err := filepath.Rel(dir, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %s is not in %s", ErrPluginDir, abs, dir)
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return "", fmt.Errorf("adapter binary: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s is not a regular file (symlinks are refused)", ErrPluginDir, abs)
	}
	return abs, nil
}

// fileSHA256 is the hex SHA-256 of a file's contents.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// launch starts the binary at path, which must hash to sum, and returns it described but not
// configured. The go-plugin settings are the hygiene rules of the adapter contract: gRPC only
// (deadlines must cross the boundary), AutoMTLS, the registered checksum verified at every
// launch, and SkipHostEnv so that the adapter never sees the daemon's DSN or master key. With
// Options.User the process runs as that user.
func (h *Host) launch(ctx context.Context, slug, path, sum string) (*instance, error) {
	want, err := hex.DecodeString(sum)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("module %s: registered SHA-256 %q is malformed: %w", slug, sum, ErrChecksum)
	}
	if h.runAsErr != nil {
		return nil, fmt.Errorf("module %s: %w", slug, h.runAsErr)
	}
	cmd := exec.Command(path)
	cmd.SysProcAttr = h.runAs
	log := h.log.With("module", slug)
	// The adapter writes only the lines this daemon keeps: the one variable of the host's
	// environment it is given (go-plugin adds its own).
	cmd.Env = []string{plugins.LogLevelEnv + "=" + adapterLevel(ctx, log)}
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugins.Handshake,
		VersionedPlugins: h.versions,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  plugins.DialOptions(),
		SkipHostEnv:      true,
		SecureConfig:     &plugin.SecureConfig{Checksum: want, Hash: sha256.New()},
		StartTimeout:     h.opt.StartTimeout,
		Logger:           newHCLogger(log, "adapter"),
		SyncStdout:       lineWriter(log, "stdout"),
		SyncStderr:       lineWriter(log, "stderr"),
	})
	rpc, err := c.Client()
	if err != nil {
		c.Kill()
		return nil, h.launchError(slug, path, sum, err)
	}
	raw, err := rpc.Dispense(plugins.PluginName)
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("module %s: dispense adapter: %w", slug, err)
	}
	a, ok := raw.(plugins.Adapter)
	if !ok {
		c.Kill()
		return nil, fmt.Errorf("module %s: dispensed %T, not a plugins.Adapter: %w", slug, raw, plugins.ErrProtocol)
	}
	dctx, cancel := context.WithTimeout(ctx, h.opt.CallTimeout)
	defer cancel()
	desc, err := a.Describe(dctx)
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("module %s: describe: %w", slug, err)
	}
	if slug != "" && desc.Slug != slug {
		c.Kill()
		return nil, fmt.Errorf("module %s: binary %s describes itself as %q: %w", slug, path, desc.Slug, plugins.ErrProtocol)
	}
	inst := &instance{slug: desc.Slug, client: c, adapter: a, desc: desc}
	log.Debug("adapter launched", "pid", inst.pid(), "version", desc.Version)
	return inst, nil
}

// launchError turns go-plugin's launch failures into errors an operator can act on.
func (h *Host) launchError(slug, path, sum string, err error) error {
	if slug == "" { // registering: the adapter has not said who it is yet
		slug = filepath.Base(path)
	}
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		now, herr := fileSHA256(path)
		if herr != nil {
			now = herr.Error()
		}
		return fmt.Errorf("module %s: refused to launch %s: %w (registered %s, file now %s); "+
			"if the new binary is intended, register it again with `kessaid module register %s`",
			slug, path, ErrChecksum, short(sum), short(now), path)
	case strings.Contains(err.Error(), "incompatible API version"):
		// go-plugin has no sentinel for this; its message names both sides' versions.
		return fmt.Errorf("module %s: refused to launch %s: %w: this kessaid speaks adapter contract version %v; "+
			"install an adapter build for it (%v)", slug, path, ErrProtocolVersion, versionList(h.versions), err)
	}
	return fmt.Errorf("module %s: launch %s: %w", slug, path, err)
}

func versionList(m map[int]plugin.PluginSet) []int {
	var vs []int
	for v := range m {
		vs = append(vs, v)
	}
	return vs
}

// short is the first 12 hex digits of a hash, enough to tell two binaries apart on screen.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
