package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/nova-social/nova/shared/postgres"
	"github.com/nova-social/nova/shared/testrig"
)

func TestPasswordFromTheSecret(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  postgres.Config
		want string
	}{
		{"URL without password takes PGPASSWORD", postgres.Config{URL: "postgres://nova@db:5432/nova", Password: "s3cret"}, "s3cret"},
		{"URL's own password wins", postgres.Config{URL: "postgres://nova:inurl@db:5432/nova", Password: "s3cret"}, "inurl"},
		{"password as URL parameter wins", postgres.Config{URL: "postgres://nova@db/nova?password=param", Password: "s3cret"}, "param"},
		{"key=value string takes PGPASSWORD", postgres.Config{URL: "host=db user=nova dbname=nova", Password: "s3cret"}, "s3cret"},
		{"key=value password wins", postgres.Config{URL: "host=db user=nova password=kv dbname=nova", Password: "s3cret"}, "kv"},
	} {
		pc, err := c.cfg.PoolConfig()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := pc.ConnConfig.Password; got != c.want {
			t.Errorf("%s: password %q, want %q", c.name, got, c.want)
		}
	}
}

func TestInvalidConfiguration(t *testing.T) {
	if err := (postgres.Config{}).Validate(); !errors.Is(err, postgres.ErrNoURL) {
		t.Fatalf("empty URL: %v", err)
	}
	err := postgres.Config{URL: "postgres://nova:topsecret@db:notaport/nova"}.Validate()
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("bad URL: %v (must fail without quoting the password)", err)
	}
}

// A URL without a password plus PGPASSWORD opens a working pool as the
// URL's role. (The test server trusts local connections, so the password
// itself is not checked here; TestPasswordFromTheSecret shows it reaches
// the connection settings.)
func TestOpenLogsInWithThePassword(t *testing.T) {
	admin := testrig.Postgres(t)
	ctx := context.Background()
	role := "nova_pw_" + testrig.ID()
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD 'pw-from-secret'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	u, _ := url.Parse(admin.Config().ConnString())
	u.User = url.User(role)
	pool, err := postgres.Open(ctx, postgres.Config{URL: u.String(), Password: "pw-from-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var who string
	if err := pool.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != role {
		t.Fatalf("logged in as %q (%v), want %s", who, err, role)
	}
}
