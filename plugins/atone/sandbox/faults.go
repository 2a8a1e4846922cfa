package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// FaultKind is what a fault does to a matching call.
type FaultKind string

const (
	// FaultLatency delays the call by Fault.Latency, then serves it normally.
	FaultLatency FaultKind = "latency"
	// FaultInternalError answers 500 EATN9999 without doing anything.
	FaultInternalError FaultKind = "internal_error"
	// FaultMaintenance answers 503 EATN9901 without doing anything.
	FaultMaintenance FaultKind = "maintenance"
	// FaultDropBefore closes the connection before the call is handled: nothing happened.
	FaultDropBefore FaultKind = "drop_before"
	// FaultDropAfterCommit handles the call, keeps its effect (a transaction created, settled
	// or refunded), then closes the connection without an answer: the client cannot know.
	FaultDropAfterCommit FaultKind = "drop_after_commit"
)

// Fault makes matching calls fail. Faults apply to the server API, the widget's calls and
// /sandbox/v1/widget/complete; never to the fault and other sandbox control endpoints.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// Path limits the fault to calls whose path starts with it ("/v1/transactions"), or ends
	// with it when it starts with "*" ("*/settle"). Empty matches every call.
	Path string `json:"path,omitempty"`
	// Method limits the fault to one method, after X-HTTP-Method-Override. Empty matches all.
	Method string `json:"method,omitempty"`
	// Times is how many matching calls the fault affects; 0 means every one until cleared.
	Times int `json:"times,omitempty"`
	// Latency is the delay of FaultLatency; over HTTP it is given as latency_ms.
	Latency   time.Duration `json:"-"`
	LatencyMS int64         `json:"latency_ms,omitempty"`
}

type faultState struct {
	Fault
	left int // remaining calls; <0 means unlimited
}

func (f Fault) validate() error {
	switch f.Kind {
	case FaultLatency, FaultInternalError, FaultMaintenance, FaultDropBefore, FaultDropAfterCommit:
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	if f.Times < 0 {
		return fmt.Errorf("fault %s: times must not be negative", f.Kind)
	}
	return nil
}

func (f Fault) matches(r *http.Request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	switch {
	case f.Path == "":
		return true
	case strings.HasPrefix(f.Path, "*"):
		return strings.HasSuffix(r.URL.Path, f.Path[1:])
	}
	return strings.HasPrefix(r.URL.Path, f.Path)
}

// AddFault arms a fault.
func (s *Server) AddFault(f Fault) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if f.Latency == 0 {
		f.Latency = time.Duration(f.LatencyMS) * time.Millisecond
	}
	f.LatencyMS = f.Latency.Milliseconds()
	left := f.Times
	if left == 0 {
		left = -1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &faultState{Fault: f, left: left})
	s.mu.Unlock()
	return nil
}

// ClearFaults disarms every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Faults lists the armed faults, Times showing the calls left (0: unlimited).
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		c := f.Fault
		c.Times = max(f.left, 0)
		out = append(out, c)
	}
	return out
}

// takeFaults consumes the faults matching r: every latency, then the first failure.
func (s *Server) takeFaults(r *http.Request) (delay time.Duration, fail *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.faults[:0]
	for _, f := range s.faults {
		use := f.matches(r) && (f.Kind == FaultLatency || fail == nil)
		if use {
			if f.Kind == FaultLatency {
				delay += f.Latency
			} else {
				c := f.Fault
				fail = &c
			}
			if f.left > 0 {
				f.left--
			}
		}
		if f.left != 0 {
			kept = append(kept, f)
		}
	}
	s.faults = kept
	return delay, fail
}

// withFaults runs a JSON handler under the armed faults. The handler's answer is buffered so
// that a drop after commit can throw it away once the work is done.
func (s *Server) withFaults(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		delay, fail := s.takeFaults(r)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if fail != nil {
			switch fail.Kind {
			case FaultInternalError:
				writeJSON(w, http.StatusInternalServerError, wire.NewError(wire.CodeSystemError))
				return
			case FaultMaintenance:
				writeJSON(w, http.StatusServiceUnavailable, wire.NewError(wire.CodeMaintenance))
				return
			case FaultDropBefore:
				drop(w)
				return
			}
		}
		status, body := h(r)
		if fail != nil && fail.Kind == FaultDropAfterCommit {
			drop(w)
			return
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			writeJSON(w, http.StatusInternalServerError, wire.NewError(wire.CodeSystemError))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes()) // a client that went away needs no answer
	}
}

// drop closes the connection without a response. Where the connection cannot be taken over
// (HTTP/2), aborting the handler makes the server reset the stream instead.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
