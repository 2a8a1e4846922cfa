// Command testmodule is a kessai adapter backed by an in-memory provider, for tests only: it
// is never part of a production install. Its behaviour can be steered while it runs, so that
// tests can make it decline, hang, lie about the amount or die in the middle of a call.
//
// Failure switches come from two places, checked on every call:
//
//   - the JSON file named by the "switch_file" setting, re-read on each call so a test can
//     change it without restarting the process:
//     {"Capture": {"mode": "crash", "times": 1}}. The key is the operation name or "*" for
//     any; "times" > 0 arms the switch for that many calls (the adapter decrements it by
//     rewriting the file before acting), 0 or absent arms it for every call.
//   - the order's customer e-mail, for calls that carry an order (PrepareCheckout, Confirm,
//     Modify, Charge): "<mode>@test", e.g. "decline@test".
//
// Modes: "decline" (Declined, nothing applied), "pending" and "undefined" (applied, answered
// with that outcome, so a later Reference shows the truth), "crash" (the process exits in the
// middle of the call, before touching the provider), "crash_after" (exits after applying),
// "sleep:<duration>" (waits, honouring the context, then proceeds), "wrong_amount" (applied,
// answered with the amount plus one), "error" (a plain error, as if the provider's API broke),
// "panic" (the handler panics; the gRPC server's guard turns it into an error).
//
// Reference with provider id "env:" answers the process environment in Raw, so tests can check
// what the host let through. The "state_file" setting keeps the provider's transactions in a
// file, so they survive a crash and a relaunch.
//
// A build may leave capabilities out of its Description (-ldflags "-X main.without=modify,cancel",
// plugintest.BuildTestModule's without): the operations still work if called, so that a test
// can show the host never calls them.
package main

import "github.com/kessai/kessai/plugins"

// without lists the capabilities this build does not announce, comma-separated.
var without string

func main() {
	plugins.Serve(newAdapter())
}
