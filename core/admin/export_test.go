package admin

import (
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// Hashes counts password hash comparisons, so that tests can see every sign-in run exactly one.
var Hashes atomic.Int64

func init() {
	// Sign-in tests run hundreds of comparisons under the race detector, where bcrypt's default
	// cost takes a second each. Every path still hashes once; Hashes shows it.
	passwordCost = bcrypt.MinCost
	compare := compareHash
	compareHash = func(hash, password []byte) error {
		Hashes.Add(1)
		return compare(hash, password)
	}
}

// StatusText and DetailFields are the 決済エラーログ's translations, for the table tests.
var (
	StatusText   = statusText
	DetailFields = detailFields
)
