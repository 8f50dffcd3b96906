package system

import (
	"context"
	"errors"
	"fmt"
	"math"
	neturl "net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/postgres"
)

// Pool sizes under nova run. pgxpool's default, the greater of 4 and the
// number of CPUs, per function made an idle run on an 8-core machine hold
// a third of a default server's 100 connections and a busy one more than
// all of them; these keep the whole run under 40, leaving room for the
// tests and psql on the same server.
const (
	// DefaultAPIPool is nova-api's pool: every user request goes there.
	DefaultAPIPool = 8
	// DefaultPoolSize is every other function's: a reaction is a
	// transaction or two, and deliveries queue for a connection rather
	// than fail. A function with an outbox relay gets one more, which the
	// relay's rounds take.
	DefaultPoolSize = 2
	// poolIdleTime closes a connection unused this long (pgxpool checks
	// every minute), so an idle run gives its connections back.
	poolIdleTime = "1m"
)

// PoolSizes are PostgreSQL pool sizes (pgxpool's MaxConns) by function
// name: --db-pools "nova-api=12,search-indexer=2".
type PoolSizes map[string]int32

// ParsePoolSizes reads name=N pairs separated by commas.
func ParsePoolSizes(s string) (PoolSizes, error) {
	counts, err := parseCounts(s, 1, math.MaxInt32, "pool size", "nova-api=8")
	if err != nil {
		return nil, err
	}
	out := PoolSizes{}
	for name, n := range counts {
		out[name] = int32(n)
	}
	return out, nil
}

// parseCounts reads name=N pairs separated by commas, each N from lo to
// hi; what and example word the error.
func parseCounts(s string, lo, hi int, what, example string) (map[string]int, error) {
	out := map[string]int{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, n, ok := strings.Cut(item, "=")
		count, err := strconv.Atoi(strings.TrimSpace(n))
		name = strings.TrimSpace(name)
		if !ok || err != nil || count < lo || count > hi || name == "" {
			bound := fmt.Sprintf("at least %d", lo)
			if hi < math.MaxInt32 {
				bound = fmt.Sprintf("from %d to %d", lo, hi)
			}
			return nil, fmt.Errorf("%s %q: want function=N with N %s, such as %s", what, item, bound, example)
		}
		out[name] = count
	}
	return out, nil
}

// String is the form ParsePoolSizes reads, names sorted.
func (p PoolSizes) String() string {
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		names[i] = fmt.Sprintf("%s=%d", n, p[n])
	}
	return strings.Join(names, ",")
}

// Set makes PoolSizes a flag value; each use adds to the sizes.
func (p *PoolSizes) Set(s string) error {
	more, err := ParsePoolSizes(s)
	if err != nil {
		return err
	}
	if *p == nil {
		*p = PoolSizes{}
	}
	for k, v := range more {
		(*p)[k] = v
	}
	return nil
}

// FunctionConns is what one function may hold open.
type FunctionConns struct {
	Name string
	// Pool is its pgxpool's MaxConns.
	Pool int32
	// Listen is the outbox relay's LISTEN connection, kept outside the
	// pool for as long as the relay runs: 1 for a function that writes
	// topics, else 0.
	Listen int
	// Replicas is how many instances run, each with its own pool; 0
	// means 1.
	Replicas int
}

// Total is the most connections the function holds at once.
func (f FunctionConns) Total() int { return (int(f.Pool) + f.Listen) * max(f.Replicas, 1) }

// DBBudget is the most PostgreSQL connections a run may hold at once,
// against what the server allows.
type DBBudget struct {
	Functions []FunctionConns
	// The server's max_connections and the slots it keeps for superusers
	// (superuser_reserved_connections, and reserved_connections from
	// PostgreSQL 16).
	MaxConnections, Reserved int
	// InUse is how many client connections other than this run's were
	// open when it started.
	InUse int
	// URLs are each function's DATABASE_URL, sized and named.
	URLs map[string]string
}

// Total is the sum over the functions.
func (b DBBudget) Total() int {
	n := 0
	for _, f := range b.Functions {
		n += f.Total()
	}
	return n
}

// String is the line nova run prints at start.
func (b DBBudget) String() string {
	s := fmt.Sprintf("PostgreSQL: at most %d connections (%s)", b.Total(), b.perFunction())
	if b.MaxConnections > 0 {
		s += fmt.Sprintf(" of the server's max_connections %d", b.MaxConnections)
	}
	return s
}

// perFunction is "nova-api 9, dead-letter 3, …".
func (b DBBudget) perFunction() string {
	parts := make([]string, len(b.Functions))
	for i, f := range b.Functions {
		parts[i] = fmt.Sprintf("%s %d", f.Name, f.Total())
	}
	return strings.Join(parts, ", ")
}

// usesDatabase reports whether a function's func.yaml gives it DATABASE_URL.
func usesDatabase(spec *funchost.FuncYAML) bool {
	return slices.ContainsFunc(spec.Run.Envs, func(e funchost.Env) bool { return e.Name == postgres.EnvURL })
}

// planDatabase gives each function that uses PostgreSQL a DATABASE_URL of
// its own: its pool size (sizes, else DATABASE_URL's own pool_max_conns,
// else the defaults), idle connections closed after poolIdleTime, and its
// name as application_name, so pg_stat_activity tells who holds what.
func planDatabase(dsn string, fns []funcSpec, sizes PoolSizes) (DBBudget, error) {
	b := DBBudget{URLs: map[string]string{}}
	known := map[string]bool{}
	for _, f := range fns {
		if !usesDatabase(f.spec) {
			continue
		}
		known[f.name] = true
		params := []dsnParam{
			{key: "application_name", value: f.name},
			{key: "pool_max_conn_idle_time", value: poolIdleTime},
		}
		relay := len(catalog.Default().WrittenBy(f.name)) > 0
		if n, ok := sizes[f.name]; ok {
			if n < 1 {
				return b, fmt.Errorf("pool size of %s: %d, want at least 1", f.name, n)
			}
			params = append(params, dsnParam{key: "pool_max_conns", value: strconv.Itoa(int(n)), force: true})
		} else {
			def := DefaultPoolSize
			switch {
			case f.name == APIName:
				def = DefaultAPIPool
			case relay:
				def++
			}
			params = append(params, dsnParam{key: "pool_max_conns", value: strconv.Itoa(def)})
		}
		u, err := dsnWith(dsn, params)
		if err != nil {
			return b, err
		}
		pc, err := pgxpool.ParseConfig(u)
		if err != nil {
			return b, errors.New("DATABASE_URL cannot be parsed as a PostgreSQL URL or connection string")
		}
		fc := FunctionConns{Name: f.name, Pool: pc.MaxConns, Replicas: f.replicas}
		if relay {
			fc.Listen = 1
		}
		b.Functions = append(b.Functions, fc)
		b.URLs[f.name] = u
	}
	var unknown []string
	for name := range sizes {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		names := make([]string, 0, len(b.Functions))
		for _, f := range b.Functions {
			names = append(names, f.Name)
		}
		return b, fmt.Errorf("--db-pools names %s, which open no PostgreSQL pool here; those that do: %s",
			strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	return b, nil
}

// funcSpec is a hosted function's name and func.yaml.
type funcSpec struct {
	name     string
	spec     *funchost.FuncYAML
	replicas int
}

// checkServer reads the server's connection limits into b and refuses a
// budget the server could not grant.
func checkServer(ctx context.Context, pool *pgxpool.Pool, b *DBBudget) error {
	var reservedPG16 string
	if err := pool.QueryRow(ctx, `SELECT current_setting('max_connections')::int,
		current_setting('superuser_reserved_connections')::int,
		coalesce(current_setting('reserved_connections', true), ''),
		(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())::int`).
		Scan(&b.MaxConnections, &b.Reserved, &reservedPG16, &b.InUse); err != nil {
		return fmt.Errorf("read PostgreSQL's connection limits: %w", err)
	}
	if n, err := strconv.Atoi(reservedPG16); err == nil {
		b.Reserved += n
	}
	if free := b.MaxConnections - b.Reserved; b.Total() > free {
		return fmt.Errorf("this run may open up to %d PostgreSQL connections (%s), more than the %d the server lets ordinary roles open "+
			"(max_connections %d less %d reserved): make the pools smaller with --db-pools or NOVA_DB_POOLS (such as %s), "+
			"or raise max_connections in postgresql.conf and restart PostgreSQL",
			b.Total(), b.perFunction(), free, b.MaxConnections, b.Reserved, smallerPools(b, free))
	}
	return nil
}

// smallerPools suggests pool sizes that fit in three quarters of free,
// each pool shrunk alike, for the refusal.
func smallerPools(b *DBBudget, free int) string {
	var pools, listen int
	for _, f := range b.Functions {
		pools += int(f.Pool)
		listen += f.Listen
	}
	room := max(len(b.Functions), free*3/4-listen)
	p := PoolSizes{}
	for _, f := range b.Functions {
		p[f.Name] = int32(max(1, int(f.Pool)*room/max(1, pools)))
	}
	return p.String()
}

// dsnParam is a connection parameter to add to DATABASE_URL; force
// replaces a value DATABASE_URL gives.
type dsnParam struct {
	key, value string
	force      bool
}

// dsnWith adds params to a postgres:// URL or a key=value connection
// string, leaving the ones it names alone unless forced.
func dsnWith(dsn string, params []dsnParam) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := neturl.Parse(dsn)
		if err != nil {
			// net/url refuses what pgx takes, such as several hosts
			// (postgres://a:5432,b:5432/nova): the query is appended to.
			return appendQuery(dsn, params)
		}
		q := u.Query()
		for _, p := range params {
			if p.force || !q.Has(p.key) {
				q.Set(p.key, p.value)
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	out := dsn
	for _, p := range params {
		has := regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(p.key) + `\s*=`).MatchString(dsn)
		switch {
		case !has:
			out += " " + p.key + "=" + p.value
		case p.force:
			return "", fmt.Errorf("DATABASE_URL sets %s itself: size the pools there, or write it as a postgres:// URL to size them with --db-pools", p.key)
		}
	}
	return out, nil
}

// appendQuery adds params to a URL's query as text.
func appendQuery(dsn string, params []dsnParam) (string, error) {
	base, query, _ := strings.Cut(dsn, "?")
	q, err := neturl.ParseQuery(query)
	if err != nil {
		return "", errors.New("DATABASE_URL cannot be parsed as a PostgreSQL URL")
	}
	for _, p := range params {
		if p.force || !q.Has(p.key) {
			q.Set(p.key, p.value)
		}
	}
	return base + "?" + q.Encode(), nil
}
