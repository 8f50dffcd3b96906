package analytics

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// Mount registers the analytics endpoints on mux, each behind authed (the
// bearer-token middleware):
//
//	GET /v1/analytics/posts/{id}   the post's counters → 200 (author or admin; 404 otherwise)
//	GET /v1/analytics/users/{id}   ?days= events per UTC day → 200 {items} (the user or admin; 404 otherwise)
//	GET /v1/analytics/summary      ?days=&hours= DAU and events per topic per hour → 200 (admin; 403 otherwise)
//	GET /v1/analytics/metrics      the Prometheus exposition of Collector (admin; 403 otherwise)
func (s *Service) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	h := func(fn httpapi.HandlerFunc) http.Handler { return authed(httpapi.Handle(s.cfg.Logger, fn)) }
	mux.Handle("GET /v1/analytics/posts/{id}", h(s.handlePost))
	mux.Handle("GET /v1/analytics/users/{id}", h(s.handleUser))
	mux.Handle("GET /v1/analytics/summary", h(s.handleSummary))

	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(s.cfg.Pool, s.cfg.Now))
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux.Handle("GET /v1/analytics/metrics", authed(httpapi.RequireRole(auth.RoleAdmin, s.cfg.Logger)(metrics)))
}

func principal(r *http.Request) (auth.Principal, error) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.UserID.IsZero() {
		return auth.Principal{}, httpapi.Unauthorized("a bearer token is required").
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`"`)
	}
	return p, nil
}

func (s *Service) handlePost(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	postID, err := id.ParsePostID(r.PathValue("id"))
	if err != nil {
		return httpapi.NotFound("no analytics for this post").Wrap(err)
	}
	stats, err := s.Post(r.Context(), p, postID)
	if errors.Is(err, ErrNotFound) {
		return httpapi.NotFound("no analytics for this post").Wrap(err)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, stats)
	return nil
}

func (s *Service) handleUser(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	user, err := id.ParseUserID(r.PathValue("id"))
	if err != nil {
		return httpapi.NotFound("no analytics for this user").Wrap(err)
	}
	days, err := intParam(r, "days", 30, s.cfg.MaxDays)
	if err != nil {
		return err
	}
	items, err := s.UserActivity(r.Context(), p, user, days)
	if errors.Is(err, ErrNotFound) {
		return httpapi.NotFound("no analytics for this user").Wrap(err)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, map[string]any{"user_id": user, "items": items})
	return nil
}

func (s *Service) handleSummary(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	if !p.IsAdmin() {
		return httpapi.Forbidden("analytics summaries are for admins")
	}
	days, err := intParam(r, "days", 7, s.cfg.MaxDays)
	if err != nil {
		return err
	}
	hours, err := intParam(r, "hours", 24, s.cfg.MaxHours)
	if err != nil {
		return err
	}
	sum, err := s.Summary(r.Context(), p, days, hours)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, r, s.cfg.Logger, http.StatusOK, sum)
	return nil
}

// intParam reads ?name= as an integer in [1, most], def when absent.
func intParam(r *http.Request, name string, def, most int) (int, error) {
	vs, ok := r.URL.Query()[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(vs[0])
	if len(vs) != 1 || err != nil || n < 1 || n > most {
		return 0, httpapi.Invalid(name + " must be one integer from 1 to " + strconv.Itoa(most))
	}
	return n, nil
}
