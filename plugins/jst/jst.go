// Package jst is Japan Standard Time, the one time zone of kessai and its adapters: shops,
// buyers and admins live in it, Welcart and atone write their times in it, and the days kessai
// counts (a contract's 課金日, a search's from and to, today's sales) are its days. Databases
// keep UTC. It sits in the plugins module, which the daemon and every adapter import.
package jst

import (
	"time"
	_ "time/tzdata" // Asia/Tokyo resolves on hosts without a zone database, so loading cannot fail
)

// Tokyo is Asia/Tokyo.
var Tokyo = load()

func load() *time.Location {
	l, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic("jst: " + err.Error()) // unreachable: time/tzdata is linked in
	}
	return l
}
