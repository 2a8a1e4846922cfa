package inbound_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kessai/kessai/core/httpapi"
	"github.com/kessai/kessai/core/module/moduletest"
	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
	"github.com/kessai/kessai/webhooks/inbound"
)

// TestNotificationForAnAdapterWithoutWebhooks: a module whose adapter did not announce
// webhooks is not asked to parse one; the notification is refused as not one of its own.
func TestNotificationForAnAdapterWithoutWebhooks(t *testing.T) {
	t.Parallel()
	m := moduletest.Start(t, moduletest.Without(plugins.CanWebhook))
	m.Switch(t, "ParseWebhook", plugintest.Decline, 1)
	log := moduletest.TestLogger(t)
	h := inbound.Mount(httpapi.New(log).Engine, inbound.Deps{Store: m.Store, Adapters: m.Host, Log: log})
	_, _, err := h.Handle(context.Background(), moduletest.Slug, plugins.WebhookRequest{Body: []byte(`{"id": "tr_1"}`)})
	if !errors.Is(err, plugins.ErrInvalidRequest) {
		t.Fatalf("handle: %v", err)
	}
	if b, err := os.ReadFile(m.SwitchFile); err != nil || !strings.Contains(string(b), `"ParseWebhook":{"mode":"decline"`) {
		t.Fatalf("the adapter was asked to parse it: switches %s (%v)", b, err)
	}
}
