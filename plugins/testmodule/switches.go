package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kessai/kessai/plugins"
)

// armed is one entry of the switch file.
type armed struct {
	Mode  string `json:"mode"`
	Times int    `json:"times,omitempty"`
}

// switchMu serialises read-decrement-rewrite of the switch file between concurrent calls.
var switchMu sync.Mutex

// trip finds the switch for this call and acts on the modes that happen before the provider
// is touched (crash, sleep, error). The returned switch carries the modes that shape the
// answer.
func (a *adapter) trip(ctx context.Context, op string, order *plugins.Order) (tripped, error) {
	mode, err := fromFile(a.setting("switch_file"), op)
	if err != nil {
		return tripped{}, fmt.Errorf("%s: switch file: %w", op, err)
	}
	if mode == "" && order != nil {
		if local, ok := strings.CutSuffix(order.Customer.Email, "@test"); ok {
			mode = local
		}
	}
	switch {
	case mode == "crash":
		crash(op, "before the provider call")
	case mode == "panic":
		panic("testmodule: panicking on purpose in " + op)
	case mode == "error":
		return tripped{}, fmt.Errorf("%s: %w", op, errProviderDown)
	case strings.HasPrefix(mode, "sleep:"):
		d, err := time.ParseDuration(strings.TrimPrefix(mode, "sleep:"))
		if err != nil {
			return tripped{}, fmt.Errorf("%s: switch %q: %v: %w", op, mode, err, plugins.ErrInvalidRequest)
		}
		if err := wait(ctx, d); err != nil {
			return tripped{}, fmt.Errorf("%s: %w", op, err)
		}
		mode = ""
	}
	return tripped{mode: mode}, nil
}

// fromFile reads the switch armed for op (or "*") and disarms one use of it, rewriting the
// file before the caller acts, so that a crash does not leave the switch armed forever.
func fromFile(path, op string) (string, error) {
	if path == "" {
		return "", nil
	}
	switchMu.Lock()
	defer switchMu.Unlock()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var sw map[string]armed
	if len(b) > 0 {
		if err := json.Unmarshal(b, &sw); err != nil {
			return "", err
		}
	}
	key := op
	s, ok := sw[key]
	if !ok {
		key = "*"
		s, ok = sw[key]
	}
	if !ok || s.Mode == "" || s.Mode == "off" {
		return "", nil
	}
	if s.Times > 0 {
		if s.Times--; s.Times == 0 {
			delete(sw, key)
		} else {
			sw[key] = s
		}
		if err := writeJSON(path, sw); err != nil {
			return "", err
		}
	}
	return s.Mode, nil
}

// writeJSON replaces path atomically, so a reader in the other process (the test, or this
// adapter's next incarnation) never sees half a file.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// crash ends the process in the middle of a call, as a real adapter dying would: the host's
// call fails with a transport error and it cannot know what happened.
func crash(op, when string) {
	log.Printf("[WARN] testmodule: crashing on purpose in %s, %s", op, when)
	os.Exit(3)
}

// tripped is the switch in force for one call, after trip has acted on it.
type tripped struct{ mode string }

// outcome replaces a Processed outcome by the one the switch asks for.
func (t tripped) outcome(o plugins.Outcome) plugins.Outcome {
	if o != plugins.Processed {
		return o
	}
	switch t.mode {
	case "pending":
		return plugins.Pending
	case "undefined":
		return plugins.Undefined
	}
	return o
}

// after acts on the switches that strike once the provider has been touched.
func (t tripped) after() error {
	if t.mode == "crash_after" {
		crash("call", "after the provider call")
	}
	return nil
}

// finish shapes a transaction answer according to the switch.
func (t tripped) finish(res plugins.TransactionResult) (plugins.TransactionResult, error) {
	res.Outcome = t.outcome(res.Outcome)
	if t.mode == "wrong_amount" && res.Outcome == plugins.Processed {
		res.Amount++
	}
	return res, t.after()
}
