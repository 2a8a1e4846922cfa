// Package module runs the payment adapters a shop uses: the catalog of registered adapter
// binaries (each pinned by its SHA-256), one supervised go-plugin process per selected module,
// the Welcart rules for selecting modules, and each module's settings, with secrets sealed at
// rest. Callers reach an adapter through Host.Get and never hold a process directly, so that
// a crash, a restart or a settings change replaces the process under them.
package module

import (
	"time"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/plugins"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrUnknownModule: no catalog entry has this slug.
	ErrUnknownModule = fault.Sentinel("unknown module", fault.NotFound,
		"unknown_module", "決済モジュールが見つかりません。").WithField("slug")

	// ErrNotSelected: the module is registered but not in use (利用中) in the selection.
	ErrNotSelected = fault.Sentinel("module not selected", fault.Conflict,
		"not_selected", "この決済モジュールは利用中ではありません。").WithField("slug")

	// ErrModuleFailed: the module is selected but its adapter cannot run (it crashed too often,
	// or its binary was refused at launch); it stays down until Reenable.
	ErrModuleFailed = fault.Sentinel("module failed", fault.Unavailable,
		codeFailed, "決済モジュールが停止しています。管理画面で状態を確認し、再開してください。")

	// ErrSelection: UpdateSelection refused the new selection; the error is a *SelectionError
	// carrying Welcart's message.
	ErrSelection = fault.Sentinel("module selection refused", fault.Invalid, "selection", msgUpdateFailed).WithField("selected")

	// ErrChecksum: the binary on disk is not the one registered in the catalog.
	ErrChecksum = fault.Sentinel("adapter binary does not match its registered SHA-256", fault.Unavailable,
		codeFailed, "決済モジュールのプログラムが登録されたSHA-256と一致しないため、起動できません。")

	// ErrProtocolVersion: the adapter speaks no version of the adapter contract this daemon
	// speaks.
	ErrProtocolVersion = fault.Sentinel("adapter protocol version mismatch", fault.Unavailable,
		codeFailed, "決済モジュールのプロトコルのバージョンがこのkessaiと合わないため、起動できません。")

	// ErrConflict: another admin changed the module's settings meanwhile; reload and retry.
	ErrConflict = fault.Sentinel("module settings changed by someone else meanwhile; reload and try again", fault.Conflict,
		"conflict", "ほかの管理者が設定を変更しました。再読み込みしてからもう一度保存してください。")

	// ErrPluginDir: a binary outside the plugin directory (or a symlink) was offered.
	ErrPluginDir = fault.Sentinel("adapter binary outside the plugin directory", fault.Invalid,
		"plugin_dir", "決済モジュールのプログラムはプラグインディレクトリに置いてください（シンボリックリンクは使えません）。")

	// ErrAdapterUser: adapters cannot run as the configured user (KESSAI_ADAPTER_USER): no
	// such user, or kessaid is not root and so cannot switch to it.
	ErrAdapterUser = fault.Sentinel("adapters cannot run as the configured user", fault.Unavailable,
		codeFailed, "決済モジュールを設定されたユーザー（KESSAI_ADAPTER_USER）で起動できません。")
)

// codeFailed answers a module whose adapter cannot run, whatever stops it.
const codeFailed = "module_failed"

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
