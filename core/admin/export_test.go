package admin

import (
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Hashes counts password hash comparisons, so that tests can see every sign-in run exactly one.
var Hashes atomic.Int64

// TestMain makes passwords cheap for the package's tests before any runs: sign-in tests run
// hundreds of comparisons under the race detector, where bcrypt's default cost takes a second
// each. Every path still hashes once; Hashes shows it.
func TestMain(m *testing.M) {
	passwordCost = bcrypt.MinCost
	compare := compareHash
	compareHash = func(hash, password []byte) error {
		Hashes.Add(1)
		return compare(hash, password)
	}
	m.Run()
}

// StatusText and DetailFields are the 決済エラーログ's translations, for the table tests.
var (
	StatusText   = statusText
	DetailFields = detailFields
)
