package order

import (
	"context"
	"testing"

	"gorm.io/gorm"
)

// TestOnSavedOnceByName: a test process starts several daemons, each registering what follows
// a saved edit; an edit still runs each once.
func TestOnSavedOnceByName(t *testing.T) {
	var first, second int
	OnSaved("test-once", func(context.Context, *gorm.DB, *Order, *Order, string) error { first++; return nil })
	OnSaved("test-once", func(context.Context, *gorm.DB, *Order, *Order, string) error { second++; return nil })
	if err := runSaved(context.Background(), nil, &Order{}, &Order{ID: 1}, "test"); err != nil {
		t.Fatal(err)
	}
	if first != 1 || second != 0 {
		t.Fatalf("the first registration ran %d times, the second %d", first, second)
	}
}
