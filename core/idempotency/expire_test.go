package idempotency

import (
	"context"
	"testing"
	"time"

	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

func TestExpireForgetsOnlyKeysPastTheirDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := &fixture{t: t, db: s.DB}
		now := time.Now().UTC()
		f.dead("old", "{}", nil, now.Add(-TTL-time.Minute))
		f.dead("fresh", "{}", nil, now.Add(-time.Minute))
		n, err := Expire(context.Background(), s.DB, now)
		if err != nil || n != 1 {
			t.Fatalf("Expire = %d, %v; want 1 key forgotten", n, err)
		}
		f.gone("old")
		if k := f.row("fresh"); k.IdemKey != "fresh" {
			t.Fatalf("the fresh key was forgotten: %+v", k)
		}
	})
}
