package system

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/funchost"
	"github.com/nova-social/nova/cmd/nova/internal/registry"
)

// registrySpecs are the real functions and their func.yaml files.
func registrySpecs(t *testing.T) []funcSpec {
	t.Helper()
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	var out []funcSpec
	for _, f := range registry.Functions() {
		spec, err := funchost.LoadFuncYAML(filepath.Join(root, f.Dir))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, funcSpec{name: f.Name, spec: spec})
	}
	return out
}

// The default plan keeps the whole run under 40 connections, names every
// pool after its function and closes idle connections after a minute.
func TestDefaultBudget(t *testing.T) {
	b, err := planDatabase("postgres://postgres@127.0.0.1:5432/nova?sslmode=disable", registrySpecs(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Total() > 40 {
		t.Errorf("budget %d, want at most 40: %s", b.Total(), b)
	}
	if len(b.Functions) == 0 || b.Functions[0].Name != APIName || b.Functions[0].Pool != DefaultAPIPool {
		t.Errorf("nova-api first with %d connections: %+v", DefaultAPIPool, b.Functions)
	}
	for _, f := range b.Functions {
		pc, err := pgxpool.ParseConfig(b.URLs[f.Name])
		if err != nil {
			t.Fatal(err)
		}
		if got := pc.ConnConfig.RuntimeParams["application_name"]; got != f.Name {
			t.Errorf("%s: application_name %q", f.Name, got)
		}
		if pc.MaxConns != f.Pool || pc.MinConns != 0 || pc.MaxConnIdleTime.String() != "1m0s" {
			t.Errorf("%s: max %d min %d idle %s", f.Name, pc.MaxConns, pc.MinConns, pc.MaxConnIdleTime)
		}
		if pc.ConnConfig.Database != "nova" || pc.ConnConfig.User != "postgres" {
			t.Errorf("%s: the URL lost its database or role: %s", f.Name, b.URLs[f.Name])
		}
	}
	// The outbox relays' LISTEN connections are counted: nova-api has one.
	if b.Functions[0].Listen != 1 {
		t.Errorf("nova-api: %+v, want its relay's LISTEN connection counted", b.Functions[0])
	}
	// feed-fanout keeps its state in Redis only.
	if _, ok := b.URLs["feed-fanout"]; ok {
		t.Error("feed-fanout has no PostgreSQL, yet a pool in the budget")
	}
}

// --db-pools sizes the pools it names over DATABASE_URL's pool_max_conns,
// which sizes the rest; a name that opens no pool is refused.
func TestPoolSizesFromFlagAndURL(t *testing.T) {
	sizes, err := ParsePoolSizes("nova-api=12, search-indexer=1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := planDatabase("postgres://postgres@127.0.0.1/nova?pool_max_conns=2&application_name=mine", registrySpecs(t), sizes)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int32{"nova-api": 12, "search-indexer": 1, "dead-letter": 2}
	for _, f := range b.Functions {
		if n, ok := want[f.Name]; ok && f.Pool != n {
			t.Errorf("%s: pool %d, want %d", f.Name, f.Pool, n)
		}
		if !strings.Contains(b.URLs[f.Name], "application_name=mine") {
			t.Errorf("%s: the URL's own application_name was replaced: %s", f.Name, b.URLs[f.Name])
		}
	}

	if _, err := planDatabase("postgres://postgres@127.0.0.1/nova", registrySpecs(t), PoolSizes{"feed-fanout": 2}); err == nil ||
		!strings.Contains(err.Error(), "feed-fanout, which open no PostgreSQL pool") {
		t.Errorf("a pool for feed-fanout: %v", err)
	}
	for _, bad := range []string{"nova-api", "nova-api=0", "nova-api=x"} {
		if _, err := ParsePoolSizes(bad); err == nil {
			t.Errorf("ParsePoolSizes(%q) accepted", bad)
		}
	}
}

// A URL with several hosts, which net/url cannot parse but pgx can, gets
// the same parameters.
func TestSeveralHostsURL(t *testing.T) {
	b, err := planDatabase("postgres://postgres@127.0.0.1:5432,127.0.0.2:5432/nova?sslmode=disable", registrySpecs(t), PoolSizes{APIName: 4})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pgxpool.ParseConfig(b.URLs[APIName])
	if err != nil {
		t.Fatal(err)
	}
	if pc.MaxConns != 4 || pc.ConnConfig.RuntimeParams["application_name"] != APIName || len(pc.ConnConfig.Fallbacks) != 1 {
		t.Errorf("max %d, application_name %q, %d fallback hosts: %s", pc.MaxConns, pc.ConnConfig.RuntimeParams["application_name"],
			len(pc.ConnConfig.Fallbacks), b.URLs[APIName])
	}
}

// A key=value DATABASE_URL gets the same parameters.
func TestKeyValueConnectionString(t *testing.T) {
	b, err := planDatabase("host=127.0.0.1 user=postgres dbname=nova pool_max_conns=5", registrySpecs(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pgxpool.ParseConfig(b.URLs[APIName])
	if err != nil {
		t.Fatal(err)
	}
	if pc.MaxConns != 5 || pc.ConnConfig.RuntimeParams["application_name"] != APIName {
		t.Errorf("max %d, application_name %q: %s", pc.MaxConns, pc.ConnConfig.RuntimeParams["application_name"], b.URLs[APIName])
	}
	if _, err := planDatabase("host=127.0.0.1 pool_max_conns=5", registrySpecs(t), PoolSizes{APIName: 3}); err == nil {
		t.Error("--db-pools over a key=value pool_max_conns was accepted; it cannot be replaced there")
	}
}

// Each replica opens its own pool, and the budget (which the run holds
// against the server's max_connections) counts them all.
func TestReplicasMultiplyTheBudget(t *testing.T) {
	specs := registrySpecs(t)
	one, err := planDatabase("postgres://postgres@127.0.0.1/nova", specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseReplicas("nova-api=2, feed-fanout=3")
	if err != nil {
		t.Fatal(err)
	}
	for i := range specs {
		specs[i].replicas = r[specs[i].name]
	}
	scaled, err := planDatabase("postgres://postgres@127.0.0.1/nova", specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var api FunctionConns
	for _, f := range one.Functions {
		if f.Name == APIName {
			api = f
		}
	}
	// feed-fanout opens no pool, so only nova-api's second one is added.
	if got, want := scaled.Total(), one.Total()+api.Total(); got != want {
		t.Errorf("with two nova-api replicas the budget is %d, want %d (%s)", got, want, scaled)
	}
	if r.String() != "feed-fanout=3,nova-api=2" {
		t.Errorf("String: %q", r.String())
	}
	for _, bad := range []string{"nova-api", "nova-api=0", "nova-api=6", "=2", "nova-api=x"} {
		if _, err := ParseReplicas(bad); err == nil {
			t.Errorf("ParseReplicas(%q) accepted", bad)
		}
	}
}
