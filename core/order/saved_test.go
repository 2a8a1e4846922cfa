package order

import (
	"context"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"
)

// TestOnSavedOnceByName: a test process starts several daemons, each registering what follows
// a saved edit; an edit still runs each once.
func TestOnSavedOnceByName(t *testing.T) {
	// The registration outlives the test, and the package's parallel tests save orders.
	var first, second atomic.Int32
	OnSaved("test-once", func(context.Context, *gorm.DB, *Order, *Order, string) error { first.Add(1); return nil })
	OnSaved("test-once", func(context.Context, *gorm.DB, *Order, *Order, string) error { second.Add(1); return nil })
	if err := runSaved(context.Background(), nil, &Order{}, &Order{ID: 1}, "test"); err != nil {
		t.Fatal(err)
	}
	if first.Load() != 1 || second.Load() != 0 {
		t.Fatalf("the first registration ran %d times, the second %d", first.Load(), second.Load())
	}
}
