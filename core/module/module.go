// Package module runs the payment adapters a shop uses: the catalog of registered adapter
// binaries (each pinned by its SHA-256), one supervised go-plugin process per selected module,
// the Welcart rules for selecting modules, and each module's settings, with secrets sealed at
// rest. Callers reach an adapter through Host.Get and never hold a process directly, so that
// a crash, a restart or a settings change replaces the process under them.
package module

import (
	"errors"
	"time"

	"github.com/kessai/kessai/plugins"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrUnknownModule: no catalog entry has this slug.
	ErrUnknownModule = errors.New("unknown module")

	// ErrNotSelected: the module is registered but not in use (利用中) in the selection.
	ErrNotSelected = errors.New("module not selected")

	// ErrModuleFailed: the module is selected but its adapter cannot run (it crashed too often,
	// or its binary was refused at launch); it stays down until Reenable.
	ErrModuleFailed = errors.New("module failed")

	// ErrSelection: UpdateSelection refused the new selection; the error is a *SelectionError
	// carrying Welcart's message.
	ErrSelection = errors.New("module selection refused")

	// ErrChecksum: the binary on disk is not the one registered in the catalog.
	ErrChecksum = errors.New("adapter binary does not match its registered SHA-256")

	// ErrProtocolVersion: the adapter speaks no version of the adapter contract this daemon
	// speaks.
	ErrProtocolVersion = errors.New("adapter protocol version mismatch")

	// ErrConflict: another admin changed the module's settings meanwhile; reload and retry.
	ErrConflict = errors.New("module settings changed by someone else meanwhile; reload and try again")

	// ErrPluginDir: a binary outside the plugin directory (or a symlink) was offered.
	ErrPluginDir = errors.New("adapter binary outside the plugin directory")

	// ErrAdapterUser: adapters cannot run as the configured user (KESSAI_ADAPTER_USER): no
	// such user, or kessaid is not root and so cannot switch to it.
	ErrAdapterUser = errors.New("adapters cannot run as the configured user")
)

// State is where a selected module's adapter process is in its life.
type State string

// Module states, stored in modules.state.
const (
	Registered State = "registered" // in the catalog, not selected
	Starting   State = "starting"   // being launched
	Running    State = "running"    // serving calls
	Restarting State = "restarting" // crashed or stopped answering; relaunching with backoff
	Failed     State = "failed"     // given up; see LastError; Reenable restarts it
	Stopped    State = "stopped"    // unselected or daemon shut down
)

// Module is a catalog entry as the admin sees it.
type Module struct {
	Slug            string    `json:"slug"`
	DisplayName     string    `json:"display_name"`
	Version         string    `json:"version"`
	BinaryPath      string    `json:"binary_path"`
	SHA256          string    `json:"sha256"`
	SettlementCodes []string  `json:"settlement_codes"`
	Selected        bool      `json:"selected"`
	Sort            int       `json:"sort"`
	State           State     `json:"state"`
	LastError       string    `json:"last_error,omitempty"`
	Generation      int64     `json:"generation"`
	InUse           int       `json:"in_use"` // activated payment methods using the module's codes
	UpdatedAt       time.Time `json:"updated_at"`

	Description plugins.Description `json:"-"`
}

// Exclusive reports whether m and o cannot be selected together (either one says so).
func (m Module) Exclusive(o Module) bool {
	for _, s := range m.Description.Exclusive {
		if s == o.Slug {
			return true
		}
	}
	for _, s := range o.Description.Exclusive {
		if s == m.Slug {
			return true
		}
	}
	return false
}
