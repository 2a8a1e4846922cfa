// Command fakeadapter is a minimal adapter for the module host's own tests, beside the richer
// plugins/testmodule. Its file name decides who it is, so one build serves several catalog
// entries: copied as "solo" it is module solo, which cannot be used together with testmodule;
// as "future" it speaks only adapter contract version 2, which this daemon does not know;
// under any other name it is a plain module of that name.
package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-plugin"

	"github.com/kessai/kessai/plugins"
)

type adapter struct {
	plugins.Unsupported
	slug      string
	exclusive []string
}

var _ plugins.Adapter = (*adapter)(nil)

func (a *adapter) Describe(context.Context) (plugins.Description, error) {
	return plugins.Description{
		Slug:            a.slug,
		DisplayName:     "偽モジュール " + a.slug,
		Version:         "0.1.0",
		SettlementCodes: []string{"acting_" + a.slug},
		Settings: []plugins.SettingField{
			{Key: "api_key", Label: "APIキー", Kind: plugins.FieldSecret, Secret: true},
		},
		Exclusive: a.exclusive,
	}, nil
}

func (a *adapter) Configure(context.Context, plugins.Settings) error { return nil }

func (a *adapter) ValidateSettings(context.Context, plugins.Settings) ([]plugins.FieldError, error) {
	return nil, nil
}

func (a *adapter) PrepareCheckout(context.Context, plugins.CheckoutRequest) (plugins.CheckoutResult, error) {
	return plugins.CheckoutResult{}, plugins.ErrUnsupported
}

func (a *adapter) Confirm(context.Context, plugins.ConfirmRequest) (plugins.TransactionResult, error) {
	return plugins.TransactionResult{}, plugins.ErrUnsupported
}

func (a *adapter) Reference(_ context.Context, req plugins.ReferenceRequest) (plugins.TransactionResult, error) {
	return plugins.TransactionResult{Result: plugins.Result{Outcome: plugins.Processed}, ProviderID: req.ProviderID}, nil
}

func main() {
	a := &adapter{slug: filepath.Base(os.Args[0])}
	switch a.slug {
	case "solo":
		a.exclusive = []string{"testmodule"}
	case "future":
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  plugins.Handshake,
			VersionedPlugins: map[int]plugin.PluginSet{plugins.ProtocolVersion + 1: {plugins.PluginName: &plugins.GRPCPlugin{Impl: a}}},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		return
	}
	plugins.Serve(a)
}
