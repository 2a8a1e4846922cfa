package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/kessai/kessai/plugins"
)

// tx is one transaction at the simulated provider.
type tx struct {
	ID        string
	Attempt   string
	Amount    int64
	State     plugins.State
	Token     string `json:",omitempty"`
	Related   string `json:",omitempty"`
	SettledAt time.Time
}

// provider is the simulated payment provider: transactions by id and tokens, kept in memory
// and, when a state file is set, in that file so they outlive the process.
type provider struct {
	mu     sync.Mutex
	file   string
	txs    map[string]*tx
	tokens map[string]string // token → first transaction of the series
}

type snapshot struct {
	Txs    map[string]*tx
	Tokens map[string]string
}

func newProvider() *provider {
	return &provider{txs: map[string]*tx{}, tokens: map[string]string{}}
}

func (p *provider) setFile(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.file = path
}

// load refreshes the memory from the state file; callers hold p.mu.
func (p *provider) load() {
	if p.file == "" {
		return
	}
	b, err := os.ReadFile(p.file)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var s snapshot
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		log.Printf("[ERROR] testmodule: state file %s: %v", p.file, err)
		return
	}
	p.txs, p.tokens = s.Txs, s.Tokens
	if p.txs == nil {
		p.txs = map[string]*tx{}
	}
	if p.tokens == nil {
		p.tokens = map[string]string{}
	}
}

// save writes the state file; callers hold p.mu.
func (p *provider) save() {
	if p.file == "" {
		return
	}
	if err := writeJSON(p.file, snapshot{Txs: p.txs, Tokens: p.tokens}); err != nil {
		log.Printf("[ERROR] testmodule: state file %s: %v", p.file, err)
	}
}

func newID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return fmt.Sprintf("%s_%x", prefix, b)
}

func (t *tx) result() plugins.TransactionResult {
	raw, _ := json.Marshal(t)
	return plugins.TransactionResult{
		Result:     plugins.Result{Outcome: plugins.Processed, Raw: raw},
		ProviderID: t.ID,
		Attempt:    t.Attempt,
		Amount:     t.Amount,
		State:      t.State,
		AuthToken:  t.Token,
		SettledAt:  t.SettledAt,
	}
}

func declined(code, field, msg string) plugins.TransactionResult {
	return plugins.TransactionResult{Result: plugins.Result{
		Outcome:  plugins.Declined,
		Code:     code,
		Field:    field,
		Messages: []string{msg},
	}}
}

// find looks a transaction up by id, or by merchant reference when id is empty; callers hold
// p.mu.
func (p *provider) find(id, attempt string) (*tx, bool) {
	if id != "" {
		t, ok := p.txs[id]
		return t, ok
	}
	for _, t := range p.txs {
		if t.Attempt == attempt && t.State != plugins.StateDeclined {
			return t, true
		}
	}
	return nil, false
}

func (p *provider) lookup(id, attempt string) (tx, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	t, ok := p.find(id, attempt)
	if !ok {
		return tx{}, false
	}
	return *t, true
}

// create records a new transaction for o, refusing a second one with the same Attempt as
// atone does (EATN1101); callers hold p.mu.
func (p *provider) create(id string, o plugins.Order, settle bool, related string) (plugins.TransactionResult, *tx) {
	if _, dup := p.find("", o.Attempt); dup {
		r := declined("ETEST1101", "shop_transaction_no", "加盟店取引IDが重複しています。")
		r.Attempt = o.Attempt
		return r, nil
	}
	if id == "" {
		id = newID("tr")
	}
	t := &tx{ID: id, Attempt: o.Attempt, Amount: o.Amount, State: plugins.StateAuthorized, Related: related}
	if settle {
		t.State, t.SettledAt = plugins.StateCaptured, time.Now().UTC().Truncate(time.Second)
	}
	if o.Recurring {
		t.Token = newID("tk")
		p.tokens[t.Token] = t.ID
	}
	p.txs[t.ID] = t
	return plugins.TransactionResult{}, t
}

func (p *provider) authorize(id string, o plugins.Order, settle bool) plugins.TransactionResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	r, t := p.create(id, o, settle, "")
	if t == nil {
		return r
	}
	p.save()
	return t.result()
}

func (p *provider) reference(id, attempt string) plugins.TransactionResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	t, ok := p.find(id, attempt)
	if !ok {
		r := declined("ETEST0404", "id", "取引が見つかりません。")
		r.ProviderID, r.Attempt = id, attempt
		return r
	}
	return t.result()
}

func (p *provider) capture(id string, amount int64) plugins.TransactionResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	t, ok := p.txs[id]
	switch {
	case !ok:
		return declined("ETEST0404", "id", "取引が見つかりません。")
	case t.State != plugins.StateAuthorized:
		r := declined("ETEST0202", "id", "売上確定できない状態の取引です。")
		r.ProviderID, r.State = id, t.State
		return r
	case amount > t.Amount:
		r := declined("ETEST0203", "amount", "売上確定額が与信額を超えています。")
		r.ProviderID, r.State = id, t.State
		return r
	}
	if amount > 0 {
		t.Amount = amount
	}
	t.State, t.SettledAt = plugins.StateCaptured, time.Now().UTC().Truncate(time.Second)
	p.save()
	return t.result()
}

func (p *provider) cancel(id string, amount int64) plugins.TransactionResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	t, ok := p.txs[id]
	switch {
	case !ok:
		return declined("ETEST0404", "id", "取引が見つかりません。")
	case t.State != plugins.StateAuthorized && t.State != plugins.StateCaptured:
		r := declined("ETEST0302", "id", "取消できない状態の取引です。")
		r.ProviderID, r.State = id, t.State
		return r
	case amount > t.Amount:
		r := declined("ETEST0303", "amount", "取消額が取引額を超えています。")
		r.ProviderID, r.State = id, t.State
		return r
	}
	if amount > 0 && amount < t.Amount {
		t.Amount -= amount // a partial refund leaves the rest where it was
	} else {
		t.State = plugins.StateCancelled
	}
	p.save()
	return t.result()
}

func (p *provider) modify(id string, o plugins.Order, settled bool) plugins.TransactionResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	old, ok := p.txs[id]
	switch {
	case !ok:
		return declined("ETEST0404", "id", "取引が見つかりません。")
	case old.State != plugins.StateAuthorized && old.State != plugins.StateCaptured:
		r := declined("ETEST0402", "id", "修正できない状態の取引です。")
		r.ProviderID, r.State = id, old.State
		return r
	}
	r, t := p.create("", o, settled, old.Related)
	if t == nil {
		return r
	}
	old.State = plugins.StateCancelled
	p.save()
	return t.result()
}

func (p *provider) charge(token, related string, o plugins.Order, settle bool) plugins.TransactionResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	first, ok := p.tokens[token]
	if !ok || (related != "" && related != first) {
		return declined("ETEST0401", "token", "認証トークンが無効です。")
	}
	r, t := p.create("", o, settle, first)
	if t == nil {
		return r
	}
	p.save()
	return t.result()
}
