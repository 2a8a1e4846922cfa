package sandbox

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/kessai/kessai/plugins/atone/wire"
)

// Sandbox-only endpoints under /sandbox/v1/. They answer errors as {"error": "..."} so that
// they are never mistaken for atone's answers.

func controlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func decode(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// revokeTokenHTTP is POST /sandbox/v1/tokens/revoke {"authentication_token": "tk_..."}.
func (s *Server) revokeTokenHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AuthenticationToken string `json:"authentication_token"`
	}
	if err := decode(r, &req); err != nil {
		controlError(w, http.StatusBadRequest, "body must be {\"authentication_token\": \"tk_...\"}")
		return
	}
	if !s.RevokeToken(req.AuthenticationToken) {
		controlError(w, http.StatusNotFound, "unknown authentication_token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"authentication_token": req.AuthenticationToken, "revoked": true})
}

// addFaultsHTTP is POST /sandbox/v1/faults with one fault or an array of them.
func (s *Server) addFaultsHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		controlError(w, http.StatusBadRequest, err.Error())
		return
	}
	var list []Fault
	if err := json.Unmarshal(body, &list); err != nil {
		var one Fault
		if err := json.Unmarshal(body, &one); err != nil {
			controlError(w, http.StatusBadRequest, "body must be a fault or an array of faults")
			return
		}
		list = []Fault{one}
	}
	for _, f := range list {
		if err := s.AddFault(f); err != nil {
			controlError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	s.listFaultsHTTP(w, r)
}

func (s *Server) listFaultsHTTP(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"faults": s.Faults()})
}

func (s *Server) clearFaultsHTTP(w http.ResponseWriter, r *http.Request) {
	s.ClearFaults()
	s.listFaultsHTTP(w, r)
}

// clockHTTP is POST /sandbox/v1/clock {"advance": "2160h"}: time travel for processes that
// cannot inject Config.Now.
func (s *Server) clockHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Advance string `json:"advance"`
	}
	if err := decode(r, &req); err != nil {
		controlError(w, http.StatusBadRequest, "body must be {\"advance\": \"2160h\"}")
		return
	}
	if req.Advance != "" {
		d, err := time.ParseDuration(req.Advance)
		if err != nil || d < 0 {
			controlError(w, http.StatusBadRequest, "advance must be a positive Go duration such as 2160h")
			return
		}
		s.Advance(d)
	}
	writeJSON(w, http.StatusOK, map[string]string{"now": wire.FormatDatetime(s.Now()), "rfc3339": s.Now().Format(time.RFC3339)})
}

func (s *Server) deliveriesHTTP(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": s.Deliveries()})
}

func (s *Server) membersHTTP(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"members": s.Members()})
}
