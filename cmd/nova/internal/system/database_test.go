package system_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/testrig"
)

// openErr is OpenDatabase's answer for dsn, which must be a failure.
func openErr(t *testing.T, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pool, err := system.OpenDatabase(ctx, dsn)
	if err == nil {
		pool.Close()
		t.Fatalf("OpenDatabase(%s) succeeded", dsn)
	}
	return err.Error()
}

func requireHint(t *testing.T, msg string, want, notWant []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("answer lacks %q:\n%s", w, msg)
		}
	}
	for _, w := range notWant {
		if strings.Contains(msg, w) {
			t.Errorf("answer has %q, which is advice for another failure:\n%s", w, msg)
		}
	}
}

// serverURL is the test server's URL as role, on database db.
func serverURL(t *testing.T, role, db string) string {
	t.Helper()
	u, err := url.Parse(testrig.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	u.Path = "/" + db
	return u.String()
}

// createRole makes a login role of the test's own with extra attributes,
// dropped when the test ends.
func createRole(t *testing.T, attrs string) string {
	t.Helper()
	admin := testrig.Postgres(t)
	role := "nova_hint_" + testrig.ID()
	if _, err := admin.Exec(context.Background(), "CREATE ROLE "+role+" LOGIN "+attrs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	return role
}

// Nothing listening: the server is not running, and the answer says how to
// start it.
func TestDatabaseNotRunningSaysHowToStartIt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	msg := openErr(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/nova?sslmode=disable", port))
	requireHint(t, msg, []string{fmt.Sprintf("PostgreSQL is not running at 127.0.0.1:%d", port), "pg_ctlcluster", "DATABASE_URL"},
		[]string{"CREATE ROLE"})
}

// A running server without the role: the answer names the role and how to
// create it, and does not tell the user to start a server that runs.
func TestDatabaseUnknownRoleSaysWhichAndHowToCreateIt(t *testing.T) {
	role := "nova_no_such_role_" + testrig.ID()
	msg := openErr(t, serverURL(t, role, "postgres"))
	requireHint(t, msg, []string{`has no role "` + role + `"`, `CREATE ROLE "` + role + `" LOGIN`, "DATABASE_URL"},
		[]string{"pg_ctlcluster", "not running"})
}

// A role at its CONNECTION LIMIT (SQLSTATE 53300, as a full server): the
// answer is about that role's limit.
func TestDatabaseRoleConnectionLimit(t *testing.T) {
	role := createRole(t, "CONNECTION LIMIT 0")
	msg := openErr(t, serverURL(t, role, "postgres"))
	requireHint(t, msg, []string{`role "` + role + `" has used up its CONNECTION LIMIT`, "CONNECTION LIMIT -1"},
		[]string{"pg_ctlcluster", "not running"})
}

// A missing database that the role may not create: the answer says both
// ways out, creating it as a superuser or granting CREATEDB.
func TestDatabaseMissingAndNotCreatable(t *testing.T) {
	role := createRole(t, "NOCREATEDB")
	db := "nova_hint_missing_" + testrig.ID()
	msg := openErr(t, serverURL(t, role, db))
	requireHint(t, msg, []string{"database " + db + " does not exist", `role "` + role + `" may not create it`,
		`CREATE DATABASE "` + db + `" OWNER "` + role + `"`, "CREATEDB"},
		[]string{"pg_ctlcluster", "not running"})
}
