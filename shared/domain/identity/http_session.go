package identity

import (
	"net/http"
	"time"

	"github.com/nova-social/nova/shared/httpapi"
)

// device describes the request's client for its session.
func device(r *http.Request) Device {
	return Device{UserAgent: r.UserAgent(), IP: httpapi.ClientIPFrom(r.Context())}
}

type sessionJSON struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	// Current marks the session of the token that asked.
	Current bool `json:"current"`
}

func (s *Service) handleListSessions(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	list, err := s.Sessions(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, len(list))
	for i, si := range list {
		out[i] = sessionJSON{ID: si.ID, CreatedAt: si.CreatedAt, ExpiresAt: si.ExpiresAt,
			UserAgent: si.UserAgent, IP: si.IP, Current: si.ID == p.SessionID}
	}
	httpapi.WriteJSON(w, r, s.log, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	if err := s.Logout(r.Context(), p); err != nil {
		return apiError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) handleRevokeSession(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	if err := s.RevokeSession(r.Context(), p.UserID, r.PathValue("id")); err != nil {
		return apiError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *Service) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	var req passwordRequest
	if err := httpapi.DecodeJSON(w, r, &req, s.cfg.MaxBodyBytes); err != nil {
		return err
	}
	sess, err := s.ChangePassword(r.Context(), p, PasswordChange{Current: req.CurrentPassword, New: req.NewPassword}, device(r))
	if err != nil {
		return apiError(err)
	}
	// Every other session ended with the old password; the caller goes on
	// with this token.
	s.writeToken(w, r, sess)
	return nil
}
