package admin

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kessai/kessai/core/fault"
	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/module"
	"github.com/kessai/kessai/plugins"
)

// moduleView is a catalog entry as the クレジット決済設定 page and the dashboard show it.
type moduleView struct {
	module.Module
	Short      string // the name on tabs and buttons ("atone")
	StateLabel string
	StateClass string
}

func viewModule(m module.Module) moduleView {
	st := m.State
	if !m.Selected {
		st = module.Registered
	}
	return moduleView{Module: m, Short: shortName(m), StateLabel: stateLabels[st], StateClass: string(st)}
}

// shortName is the module's name on its tab and its update button. Welcart names a module by
// its acting name alone (タブ「atone」, 「atoneの設定を更新する」), while an adapter's display
// name may add a description after it ("atone 翌月後払い"); the slug, when the display name
// starts with it, is that acting name.
func shortName(m module.Module) string {
	if len(m.DisplayName) > len(m.Slug) && strings.EqualFold(m.DisplayName[:len(m.Slug)], m.Slug) && m.DisplayName[len(m.Slug)] == ' ' {
		return m.DisplayName[:len(m.Slug)]
	}
	if m.DisplayName == "" {
		return m.Slug
	}
	return m.DisplayName
}

// settlementView is the クレジット決済設定 page.
type settlementView struct {
	Tab       string // "" for クレジット決済モジュール選択, else a selected module's slug
	Available []moduleView
	Selected  []moduleView
	Form      *settingsForm
}

// SelectedSlugs is the hidden field's initial value: the selection as saved.
func (v settlementView) SelectedSlugs() string {
	s := make([]string, len(v.Selected))
	for i, m := range v.Selected {
		s[i] = m.Slug
	}
	return strings.Join(s, ",")
}

// settingsForm is one module's settings tab.
type settingsForm struct {
	Module moduleView
	Fields []fieldView
}

type fieldView struct {
	module.SettingValue
	Input   string // the value in the input; always empty for a secret
	Error   string
	Radio   bool // a select with few options shows as radio buttons, as in Welcart
	Choices []choiceView
}

type choiceView struct {
	Value, Label string
	Checked      bool
	Saved        bool   // the stored value: leaving it needs no confirmation
	Confirm      string // asked in the browser before switching to this value
}

// confirmValues are setting values that change what happens to real money; the browser asks
// before a form switches to one of them.
var confirmValues = map[string]string{"production": msgConfirmProduction}

func (c *Console) loadModules(ctx *gin.Context) (settlementView, []module.Module, error) {
	mods, err := c.deps.Modules.List(ctx.Request.Context())
	if err != nil {
		return settlementView{}, nil, err
	}
	var v settlementView
	for _, m := range mods {
		if m.Selected {
			v.Selected = append(v.Selected, viewModule(m))
		} else {
			v.Available = append(v.Available, viewModule(m))
		}
	}
	return v, mods, nil
}

func (c *Console) settlementPage(ctx *gin.Context) {
	c.showSettlement(ctx, http.StatusOK, ctx.Query("tab"), "", nil, nil)
}

// showSettlement renders the page on tab; submitted and problems re-show a refused settings
// form with the admin's input (secrets excepted) and each field's message.
func (c *Console) showSettlement(ctx *gin.Context, status int, tab, errMsg string, submitted map[string]string, problems []plugins.FieldError) {
	v, _, err := c.loadModules(ctx)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	for _, m := range v.Selected {
		if m.Slug != tab {
			continue
		}
		values, err := c.deps.Modules.Settings(ctx.Request.Context(), m.Slug)
		if err != nil {
			c.fail(ctx, err)
			return
		}
		v.Tab = tab
		v.Form = buildForm(m, values, submitted, problems)
	}
	title := "クレジット決済設定"
	c.render(ctx, status, c.pages["settlement.html"], View{Title: title, Path: PathSettlement, Error: errMsg, Data: v})
}

func buildForm(m moduleView, values []module.SettingValue, submitted map[string]string, problems []plugins.FieldError) *settingsForm {
	f := &settingsForm{Module: m}
	errs := map[string]string{}
	for _, p := range problems {
		if errs[p.Field] == "" {
			errs[p.Field] = p.Message
		}
	}
	for _, sv := range values {
		fv := fieldView{SettingValue: sv, Error: errs[sv.Key]}
		saved := sv.Value
		if !sv.Set && saved == "" {
			saved = sv.Default
		}
		cur := saved
		if v, ok := submitted[sv.Key]; ok {
			cur = v
		}
		if !sv.Secret {
			fv.Input = cur
		}
		if sv.Kind == plugins.FieldSelect {
			fv.Radio = len(sv.Options) <= 3
			for _, o := range sv.Options {
				fv.Choices = append(fv.Choices, choiceView{
					Value: o.Value, Label: o.Label, Checked: o.Value == cur, Saved: o.Value == saved,
					Confirm: confirmValues[o.Value],
				})
			}
		}
		f.Fields = append(f.Fields, fv)
	}
	return f
}

func (c *Console) updateSelection(ctx *gin.Context) {
	slugs := []string{}
	for s := range strings.SplitSeq(ctx.PostForm("settlement_selected"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			slugs = append(slugs, s)
		}
	}
	err := c.deps.Modules.UpdateSelection(ctx.Request.Context(), slugs, current(ctx).Login)
	switch {
	case err != nil && fault.KindOf(err) != fault.Internal:
		// A refusal changes nothing, so the page shows the saved selection again.
		c.showSettlement(ctx, httpapi.Status(err), "", c.said(ctx, err), nil, nil)
	case err != nil:
		c.fail(ctx, err)
	default:
		c.redirectFlash(ctx, PathSettlement, msgUpdated)
	}
}

func (c *Console) updateSettings(ctx *gin.Context) {
	slug := ctx.Param("slug")
	values, err := c.deps.Modules.Settings(ctx.Request.Context(), slug)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	v, _, err := c.loadModules(ctx)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	selected := false
	for _, m := range v.Selected {
		selected = selected || m.Slug == slug
	}
	if !selected {
		c.showSettlement(ctx, httpapi.Status(module.ErrNotSelected), "", c.said(ctx, module.ErrNotSelected), nil, nil)
		return
	}
	in := plugins.Settings{}
	submitted := map[string]string{}
	for _, sv := range values {
		val, ok := ctx.GetPostForm(sv.Key)
		if !ok {
			continue // an unchecked radio group keeps its value
		}
		val = strings.TrimSpace(val)
		if sv.Secret {
			if val == "" {
				continue // write-only: empty keeps the stored secret
			}
		} else {
			submitted[sv.Key] = val
		}
		in[sv.Key] = val
	}
	problems, err := c.deps.Modules.UpdateSettings(ctx.Request.Context(), slug, in, current(ctx).Login)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	if len(problems) > 0 {
		c.showSettlement(ctx, http.StatusUnprocessableEntity, slug, msgSettingsFailed, submitted, problems)
		return
	}
	c.redirectFlash(ctx, PathSettlement+"?tab="+slug, msgUpdated)
}

func (c *Console) reenable(ctx *gin.Context) {
	slug := ctx.Param("slug")
	back := strings.TrimPrefix(safeNext(ctx.PostForm("back")), Prefix)
	if err := c.deps.Modules.Reenable(ctx.Request.Context(), slug, current(ctx).Login); err != nil {
		if k := fault.KindOf(err); k == fault.NotFound || k == fault.Conflict {
			// No such module, or not one in use: nothing was tried.
			c.showSettlement(ctx, httpapi.Status(err), "", c.said(ctx, err), nil, nil)
			return
		}
		// The adapter would not start again: the module shows as failed with the new reason.
		ctx.Error(fmt.Errorf("reenable %s: %w", slug, err)) //nolint:errcheck // recorded for the request log
		c.redirectError(ctx, back, msgReenableFailed)
		return
	}
	c.redirectFlash(ctx, back, msgReenabled)
}
