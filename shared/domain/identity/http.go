package identity

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/httpapi"
	"github.com/nova-social/nova/shared/id"
)

// Error codes the identity endpoints add to httpapi's.
const (
	CodeUsernameTaken      = "username_taken"
	CodeEmailTaken         = "email_taken"
	CodeInvalidCredentials = "invalid_credentials" //nolint:gosec // an error code, not a credential
	CodeCannotFollowSelf   = "cannot_follow_self"
	CodeUsernameReserved   = "username_reserved"
	CodeWrongPassword      = "wrong_password" //nolint:gosec // an error code, not a credential
	CodeInvalidID          = "invalid_id"
	CodeCannotBlockSelf    = "cannot_block_self"
	CodeUserBlocked        = "user_blocked"
	CodeBadCode            = "invalid_verification_code"
)

// Mount registers the identity endpoints on mux. authed wraps the
// endpoints that need a caller (httpapi.Authenticate with a verifier);
// registration, login and the JWKS are public.
//
//	POST   /v1/users                   sign up: 202, a code mailed to the address
//	POST   /v1/users/verification      the mailed code → the account
//	POST   /v1/password-resets         202, a code mailed to the address if an account has it
//	POST   /v1/password-resets/confirmation  the mailed code and a new password → 204, every session ended
//	POST   /v1/sessions                log in → access token
//	GET    /v1/.well-known/jwks.json   the public keys tokens are signed with
//	GET    /v1/users/me                the caller's own account        (authed)
//	PATCH  /v1/users/me                change username, display name, avatar (authed)
//	GET    /v1/users/{id}              a public profile                (authed)
//	POST   /v1/users/{id}/follow       follow                          (authed)
//	DELETE /v1/users/{id}/follow       unfollow                        (authed)
//	GET    /v1/sessions                the caller's live sessions      (authed)
//	DELETE /v1/sessions/current        log out                         (authed)
//	DELETE /v1/sessions/{id}           end one of the caller's sessions (authed)
//	PUT    /v1/users/me/password       change password, ending every session (authed)
//	POST   /v1/users/{id}/block        block                           (authed)
//	DELETE /v1/users/{id}/block        unblock                         (authed)
//	GET    /v1/users/me/blocks         the caller's blocks, paged      (authed)
func (s *Service) Mount(mux httpapi.Router, authed func(http.Handler) http.Handler) {
	h := func(fn httpapi.HandlerFunc) http.Handler { return httpapi.Handle(s.log, fn) }
	mux.Handle("POST /v1/users", h(s.handleRegister))
	mux.Handle("POST /v1/users/verification", h(s.handleVerify))
	mux.Handle("POST /v1/password-resets", h(s.handleRequestReset))
	mux.Handle("POST /v1/password-resets/confirmation", h(s.handleReset))
	mux.Handle("POST /v1/sessions", h(s.handleLogin))
	mux.Handle("GET /v1/.well-known/jwks.json", auth.JWKSHandler(s.signer.Keys()))
	mux.Handle("GET /v1/users/me", authed(h(s.handleGetMe)))
	mux.Handle("PATCH /v1/users/me", authed(h(s.handleUpdateMe)))
	mux.Handle("GET /v1/users/{id}", authed(h(s.handleGetUser)))
	mux.Handle("POST /v1/users/{id}/follow", authed(h(s.handleFollow)))
	mux.Handle("DELETE /v1/users/{id}/follow", authed(h(s.handleUnfollow)))
	mux.Handle("GET /v1/sessions", authed(h(s.handleListSessions)))
	mux.Handle("DELETE /v1/sessions/current", authed(h(s.handleLogout)))
	mux.Handle("DELETE /v1/sessions/{id}", authed(h(s.handleRevokeSession)))
	mux.Handle("PUT /v1/users/me/password", authed(h(s.handleChangePassword)))
	mux.Handle("POST /v1/users/{id}/block", authed(h(s.handleBlock)))
	mux.Handle("DELETE /v1/users/{id}/block", authed(h(s.handleUnblock)))
	mux.Handle("GET /v1/users/me/blocks", authed(h(s.handleListBlocks)))
}

// userJSON is a user as the API shows it. Email is shown to its owner
// only; the counts on profile reads only.
type userJSON struct {
	ID             id.UserID `json:"id"`
	Username       string    `json:"username"`
	Email          string    `json:"email,omitempty"`
	DisplayName    string    `json:"display_name"`
	AvatarURL      string    `json:"avatar_url"`
	CreatedAt      time.Time `json:"created_at"`
	FollowersCount *int64    `json:"followers_count,omitempty"`
	FollowingCount *int64    `json:"following_count,omitempty"`
}

func ownView(u User) userJSON {
	v := publicView(u)
	v.Email = u.Email
	return v
}

func publicView(u User) userJSON {
	return userJSON{
		ID:          u.ID,
		Username:    u.Username,
		DisplayName: u.DisplayName,
		AvatarURL:   u.AvatarURL,
		CreatedAt:   u.CreatedAt,
	}
}

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// signUpResponse is the one answer to a sign-up, whether or not the
// address has an account.
type signUpResponse struct {
	Status string `json:"status"`
}

func (s *Service) handleRegister(w http.ResponseWriter, r *http.Request) error {
	var req registerRequest
	if err := httpapi.DecodeJSON(w, r, &req, s.cfg.MaxBodyBytes); err != nil {
		return err
	}
	if err := s.SignUp(r.Context(), Registration(req)); err != nil {
		return apiError(err)
	}
	httpapi.WriteJSON(w, r, s.log, http.StatusAccepted, signUpResponse{Status: "verification_sent"})
	return nil
}

type verifyRequest struct {
	Code string `json:"code"`
}

func (s *Service) handleVerify(w http.ResponseWriter, r *http.Request) error {
	var req verifyRequest
	if err := httpapi.DecodeJSON(w, r, &req, s.cfg.MaxBodyBytes); err != nil {
		return err
	}
	if req.Code == "" {
		return apiError(invalid("code", "is required"))
	}
	u, err := s.Verify(r.Context(), req.Code)
	if err != nil {
		return apiError(err)
	}
	w.Header().Set("Location", "/v1/users/"+u.ID.String())
	httpapi.WriteJSON(w, r, s.log, http.StatusCreated, ownView(u))
	return nil
}

type resetRequest struct {
	Email string `json:"email"`
}

func (s *Service) handleRequestReset(w http.ResponseWriter, r *http.Request) error {
	var req resetRequest
	if err := httpapi.DecodeJSON(w, r, &req, s.cfg.MaxBodyBytes); err != nil {
		return err
	}
	if err := s.RequestPasswordReset(r.Context(), req.Email); err != nil {
		return apiError(err)
	}
	httpapi.WriteJSON(w, r, s.log, http.StatusAccepted, signUpResponse{Status: "reset_requested"})
	return nil
}

type resetConfirmation struct {
	Code        string `json:"code"`
	NewPassword string `json:"new_password"`
}

func (s *Service) handleReset(w http.ResponseWriter, r *http.Request) error {
	var req resetConfirmation
	if err := httpapi.DecodeJSON(w, r, &req, s.cfg.MaxBodyBytes); err != nil {
		return err
	}
	if req.Code == "" {
		return apiError(invalid("code", "is required"))
	}
	if err := s.ResetPassword(r.Context(), req.Code, req.NewPassword); err != nil {
		return apiError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type loginRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// tokenResponse follows RFC 6749 §5.1's names.
type tokenResponse struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresIn int64  `json:"expires_in"` // seconds
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := httpapi.DecodeJSON(w, r, &req, s.cfg.MaxBodyBytes); err != nil {
		return err
	}
	sess, err := s.Login(r.Context(), Credentials(req), device(r))
	if err != nil {
		return apiError(err)
	}
	s.writeToken(w, r, sess)
	return nil
}

// writeToken answers a new session's token. WriteJSON sets Cache-Control:
// no-store, which RFC 6749 §5.1 requires of a token response.
func (s *Service) writeToken(w http.ResponseWriter, r *http.Request, sess Session) {
	httpapi.WriteJSON(w, r, s.log, http.StatusOK, tokenResponse{
		Token:     sess.Token,
		TokenType: "Bearer",
		ExpiresIn: int64(sess.ExpiresIn / time.Second),
	})
}

func (s *Service) handleGetMe(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	return s.writeProfile(w, r, p.UserID, true)
}

func (s *Service) handleGetUser(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	uid, err := pathID(r)
	if err != nil {
		return err
	}
	// Someone who blocked the caller does not exist for them; whom the
	// caller blocked stays readable, to be unblocked.
	if hidden, err := s.BlockedBy(r.Context(), p.UserID, uid); err != nil {
		return apiError(err)
	} else if hidden {
		return apiError(ErrNotFound)
	}
	return s.writeProfile(w, r, uid, uid == p.UserID)
}

func (s *Service) writeProfile(w http.ResponseWriter, r *http.Request, uid id.UserID, own bool) error {
	u, err := s.Get(r.Context(), uid)
	if err != nil {
		return apiError(err)
	}
	followers, err := s.FollowerCount(r.Context(), uid)
	if err != nil {
		return err
	}
	following, err := s.FollowingCount(r.Context(), uid)
	if err != nil {
		return err
	}
	v := publicView(u)
	if own {
		v = ownView(u)
	}
	v.FollowersCount, v.FollowingCount = &followers, &following
	httpapi.WriteJSON(w, r, s.log, http.StatusOK, v)
	return nil
}

// updateRequest: an absent or null field is left as it is.
type updateRequest struct {
	Username    *string `json:"username"`
	DisplayName *string `json:"display_name"`
	AvatarURL   *string `json:"avatar_url"`
}

func (s *Service) handleUpdateMe(w http.ResponseWriter, r *http.Request) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	var req updateRequest
	if err := httpapi.DecodeJSON(w, r, &req, s.cfg.MaxBodyBytes); err != nil {
		return err
	}
	u, err := s.UpdateProfile(r.Context(), p.UserID, ProfileUpdate(req))
	if err != nil {
		return apiError(err)
	}
	httpapi.WriteJSON(w, r, s.log, http.StatusOK, ownView(u))
	return nil
}

func (s *Service) handleFollow(w http.ResponseWriter, r *http.Request) error {
	return s.followEndpoint(w, r, s.Follow)
}

func (s *Service) handleUnfollow(w http.ResponseWriter, r *http.Request) error {
	return s.followEndpoint(w, r, s.Unfollow)
}

// followEndpoint answers 204 whether or not the call changed anything:
// both verbs are idempotent, and the state asked for holds afterwards.
func (s *Service) followEndpoint(w http.ResponseWriter, r *http.Request, op func(ctx context.Context, follower, followee id.UserID) (bool, error)) error {
	p, err := principal(r)
	if err != nil {
		return err
	}
	target, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := op(r.Context(), p.UserID, target); err != nil {
		return apiError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// principal is the caller Mount's authed middleware put in the context. Its
// absence means the routes were mounted without authentication, which must
// fail closed.
func principal(r *http.Request) (auth.Principal, error) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.UserID.IsZero() {
		return auth.Principal{}, httpapi.Unauthorized("a bearer token is required").
			WithHeader("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`"`)
	}
	return p, nil
}

func pathID(r *http.Request) (id.UserID, error) {
	uid, err := id.ParseUserID(r.PathValue("id"))
	if err != nil {
		return "", httpapi.NewError(http.StatusBadRequest, CodeInvalidID, "the user id in the path is not a valid id").Wrap(err)
	}
	return uid, nil
}

// apiError maps the Service's errors to what a caller is told. Anything
// unrecognised is returned as it is and becomes a logged 500.
func apiError(err error) error {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return httpapi.Invalid(ve.Error()).Wrap(err)
	case errors.Is(err, ErrUsernameTaken):
		return httpapi.NewError(http.StatusConflict, CodeUsernameTaken, "the username is taken").Wrap(err)
	case errors.Is(err, ErrEmailTaken):
		return httpapi.NewError(http.StatusConflict, CodeEmailTaken, "the email address is already registered").Wrap(err)
	case errors.Is(err, ErrInvalidCredentials):
		return httpapi.NewError(http.StatusUnauthorized, CodeInvalidCredentials, "wrong username, email or password").Wrap(err)
	case errors.Is(err, ErrNotFound):
		return httpapi.NotFound("user not found").Wrap(err)
	case errors.Is(err, ErrUsernameReserved):
		return httpapi.NewError(http.StatusConflict, CodeUsernameReserved, "the username is reserved").Wrap(err)
	case errors.Is(err, ErrWrongPassword):
		// 403, not 401: the caller is signed in, and a client must not
		// take this for an ended session.
		return httpapi.NewError(http.StatusForbidden, CodeWrongPassword, "the current password is wrong").Wrap(err)
	case errors.Is(err, ErrSessionNotFound):
		return httpapi.NotFound("no such session").Wrap(err)
	case errors.Is(err, ErrSelfBlock):
		return httpapi.NewError(http.StatusUnprocessableEntity, CodeCannotBlockSelf, "you cannot block or unblock yourself").Wrap(err)
	case errors.Is(err, ErrBlocked):
		return httpapi.NewError(http.StatusForbidden, CodeUserBlocked, "you blocked this user; unblock them first").Wrap(err)
	case errors.Is(err, ErrBadCode):
		return httpapi.NewError(http.StatusBadRequest, CodeBadCode, "the verification code is wrong, used or expired").Wrap(err)
	case errors.Is(err, ErrSelfFollow):
		return httpapi.NewError(http.StatusUnprocessableEntity, CodeCannotFollowSelf, "you cannot follow or unfollow yourself").Wrap(err)
	}
	return err
}
