package system

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nova-social/nova/shared/event/sender/issuer"
)

// LocalIssuer is the cluster's OIDC issuer for a run (nova run and
// deploy-check): the dispatcher's tokens are signed with its key, and the
// functions read its discovery document and keys over HTTP, as they read
// the API server's in a cluster.
type LocalIssuer struct {
	*issuer.Issuer
	// Tokens are the dispatcher's (dispatcher.Config.Tokens).
	Tokens *issuer.Tokens
	srv    *http.Server
	done   chan error
}

// StartIssuer listens on host (any free port) and serves the issuer.
func StartIssuer(host string) (*LocalIssuer, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("OIDC issuer: listen: %w", err)
	}
	iss, err := issuer.New("http://" + ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, err
	}
	l := &LocalIssuer{Issuer: iss, Tokens: issuer.NewTokens(iss, 0), done: make(chan error, 1),
		srv: &http.Server{Handler: iss.Handler(), ReadHeaderTimeout: 2 * time.Second}}
	go func() { l.done <- l.srv.Serve(ln) }()
	return l, nil
}

// Close stops serving.
func (l *LocalIssuer) Close(ctx context.Context) error {
	if err := l.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("OIDC issuer: %w", err)
	}
	if err := <-l.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("OIDC issuer: %w", err)
	}
	return nil
}
