package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/shared/api"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/testrig"
)

// grantAdmin gives uid the admin role as nova admin does.
func grantAdmin(t testing.TB, pool *pgxpool.Pool, uid id.UserID) {
	t.Helper()
	cat := catalog.Default()
	roles, err := identity.NewRoles(pool, outbox.New(envelope.NewCodec(cat), cat.WrittenBy(catalog.NovaAPI)...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roles.Set(context.Background(), uid, auth.RoleAdmin, "test"); err != nil {
		t.Fatal(err)
	}
}

// NOVA_ADMINS granted by username; a deployment still setting it must not
// start believing it is honoured.
func TestNovaAdminsIsRefused(t *testing.T) {
	_, err := api.ConfigFrom(map[string]string{
		"DATABASE_URL": testrig.PostgresURL(t), "REDIS_URL": testrig.RedisURL(t), "OUTBOX_RELAY": "false",
		"NOVA_ADMINS": "root",
	})
	if err == nil || !strings.Contains(err.Error(), "nova admin grant") {
		t.Fatalf("NOVA_ADMINS set: %v, want a refusal naming nova admin grant", err)
	}
}

// roomy gives a test's nova-api budgets of its own (the limits outlive a
// run in the shared Redis), wide enough for suites that send hundreds of
// requests as one user from one address (a test's clients all come from
// loopback): the limits are still checked on every request, and the rate
// limit tests lay their own over these. env is laid over them.
func roomy(env map[string]string) map[string]string {
	out := map[string]string{"RATE_LIMIT_NAMESPACE": testrig.ID()}
	for k, v := range relay.Env() {
		out[k] = v
	}
	for _, v := range []string{"RATE_LIMIT_LOGIN", "RATE_LIMIT_REGISTER", "RATE_LIMIT_WRITE", "RATE_LIMIT_READ",
		"RATE_LIMIT_SEARCH", "RATE_LIMIT_UPLOAD"} {
		out[v] = "100000/1m"
	}
	for k, v := range env {
		out[k] = v
	}
	return out
}
