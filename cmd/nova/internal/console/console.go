// Package console is nova run's local web console: the event flow of the
// manifests it runs (topics, KafkaSources and Triggers, the functions
// they deliver to, the topics those write), each flow's live delivery
// rate, lag and failures pushed to the page as they change, the latest
// events of any topic decoded, and the dead-letter store with a replay
// button. It listens on the loopback interface only and asks no login,
// so it answers only requests that name it by that address (no DNS
// rebinding) and takes a replay only from its own page (a per-run token,
// same-origin checks).
package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/deadletters"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/httpapi"
)

// Console is the console's server.
type Console struct {
	cfg   Config
	log   *slog.Logger
	topo  Topology
	codec *envelope.Codec
	names deadletters.Names
	pages map[string]*template.Template
	// token is this run's replay token, rendered into the page: a form
	// posted from elsewhere cannot know it.
	token string
	// hosts are the Host header values the console answers to.
	hosts map[string]bool
	url   string

	ln   net.Listener
	srv  *http.Server
	pool *pgxpool.Pool

	// closing ends the live streams, which would otherwise hold Shutdown
	// until its deadline.
	closing   chan struct{}
	closeOnce sync.Once
}

// New listens on cfg.Addr and prepares the console; Serve serves it.
func New(ctx context.Context, cfg Config) (*Console, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Console{
		cfg: cfg, log: cfg.Logger.With("component", "console"),
		topo: NewTopology(cfg.Manifests, cfg.Catalog), codec: envelope.NewCodec(cfg.Catalog),
		names: deadletters.NamesFrom(cfg.Functions), closing: make(chan struct{}),
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("console: token: %w", err)
	}
	c.token = base64.RawURLEncoding.EncodeToString(tok)
	if c.pool, err = openPool(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	if c.ln, err = lc.Listen(ctx, "tcp", cfg.Addr); err != nil {
		c.pool.Close()
		return nil, fmt.Errorf("console: listen on %s: %w", cfg.Addr, err)
	}
	c.hosts, c.url = hostsOf(c.ln.Addr())
	// The live stream sets its own write deadline per event; every other
	// answer is written well within the server's.
	if c.srv, err = httpapi.NewServer(httpapi.ServerConfig{Addr: c.ln.Addr().String(), ReadHeaderTimeout: 5 * time.Second},
		c.routes(), cfg.Logger); err != nil {
		_ = c.ln.Close()
		c.pool.Close()
		return nil, err
	}
	return c, nil
}

// openPool is the console's own small pool on the database: it connects
// only when a page asks, and lets go of idle connections soon, so an idle
// run holds none for it.
func openPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("console: database URL: %w", err)
	}
	pc.MaxConns, pc.MinConns = 2, 0
	pc.MaxConnIdleTime = 30 * time.Second
	pc.ConnConfig.RuntimeParams["application_name"] = "nova-console"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("console: database: %w", err)
	}
	return pool, nil
}

// hostsOf are the Host values that name the listener: its address, and
// localhost at its port.
func hostsOf(addr net.Addr) (map[string]bool, string) {
	a := addr.String()
	_, port, _ := net.SplitHostPort(a)
	hosts := map[string]bool{a: true, net.JoinHostPort("localhost", port): true}
	return hosts, "http://" + a + "/"
}

// URL is where the console answers, e.g. http://127.0.0.1:9470/.
func (c *Console) URL() string { return c.url }

// Addr is the address listened on.
func (c *Console) Addr() string { return c.ln.Addr().String() }

// Serve serves the console until Close; it returns nil once closed.
func (c *Console) Serve() error {
	if err := c.srv.Serve(c.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// Close ends the live streams, then shuts the server down and closes the
// database pool. Safe to call more than once.
func (c *Console) Close(ctx context.Context) error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closing)
		err = c.srv.Shutdown(ctx)
		c.pool.Close()
	})
	return err
}

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.index)
	mux.HandleFunc("GET /topics/{topic}", c.topic)
	mux.HandleFunc("GET /dead-letters", c.deadLetters)
	mux.HandleFunc("POST /dead-letters/replay", c.replay)
	mux.HandleFunc("GET /stream", c.stream)
	mux.HandleFunc("GET /traces/{id}", c.trace)
	mux.Handle("GET /assets/", assetHandler())
	return c.guard(mux)
}
