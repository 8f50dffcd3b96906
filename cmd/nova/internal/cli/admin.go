package cli

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nova-social/nova/cmd/nova/internal/system"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
)

const adminUsage = `grant --user ID | revoke --user ID | list`

// adminCmd is nova admin: roles by user id, written through identity's
// store with a UserRoleChanged in its outbox, which nova-api's relay
// publishes. nova-api reads the role on every request, so a grant or a
// revocation holds from the user's next request.
func adminCmd(ctx context.Context, args []string, st Streams) error {
	if len(args) == 0 {
		fmt.Fprintf(st.Err, "usage: nova admin %s\n", adminUsage)
		return ErrUsage
	}
	verb := args[0]
	fs := newTool("admin "+verb, "[flags]", st)
	var dsn, uid, by string
	fs.StringVar(&dsn, "database-url", system.DefaultDatabaseURL, "nova-api's PostgreSQL"+runningNova+" [DATABASE_URL]")
	switch verb {
	case "grant", "revoke":
		fs.StringVar(&uid, "user", "", "the user's id (GET /v1/users/me shows it)")
		fs.StringVar(&by, "by", operator(), "who is changing the role, for the UserRoleChanged event [NOVA_OPERATOR]")
	case "list":
	default:
		fmt.Fprintf(st.Err, "nova admin: unknown subcommand %q\nusage: nova admin %s\n", verb, adminUsage)
		return ErrUsage
	}
	if pos, err := fs.parse(args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return ErrUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	roles, pool, err := openRoles(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	if verb == "list" {
		admins, err := roles.Holders(ctx, auth.RoleAdmin)
		if err != nil {
			return err
		}
		if len(admins) == 0 {
			fmt.Fprintln(st.Out, "no admins")
			return nil
		}
		tw := tabwriter.NewWriter(st.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tSINCE")
		for _, u := range admins {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.ID, u.Username, u.UpdatedAt.Local().Format(time.DateTime))
		}
		return tw.Flush()
	}
	parsed, err := id.ParseUserID(uid)
	if err != nil {
		fs.Usage()
		return fmt.Errorf("%w: --user %q is not a user id", ErrUsage, uid)
	}
	role := auth.RoleAdmin
	if verb == "revoke" {
		role = auth.RoleUser
	}
	rc, err := roles.Set(ctx, parsed, role, by)
	if errors.Is(err, identity.ErrNotFound) {
		return fmt.Errorf("no user has the id %s", parsed)
	}
	if err != nil {
		return err
	}
	switch {
	case !rc.Changed:
		fmt.Fprintf(st.Out, "%s (%s) already holds the %s role; nothing changed\n", rc.User.ID, rc.User.Username, role)
	case verb == "grant":
		fmt.Fprintf(st.Out, "granted admin to %s (%s): it holds from their next request\n", rc.User.ID, rc.User.Username)
	default:
		fmt.Fprintf(st.Out, "revoked admin from %s (%s): it is gone from their next request\n", rc.User.ID, rc.User.Username)
	}
	return nil
}

// operator names whoever runs the command: NOVA_OPERATOR (through the
// flag), else the login name.
func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "operator"
}

// openRoles connects to nova-api's database, which must already hold the
// identity tables: the command never creates a database or a schema, so a
// mistyped URL is an error rather than an empty Nova.
func openRoles(ctx context.Context, dsn string) (*identity.Roles, *pgxpool.Pool, error) {
	pool, err := openDatabase(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	var users, box bool
	err = pool.QueryRow(ctx, `SELECT to_regclass('users') IS NOT NULL, to_regclass($1) IS NOT NULL`, outbox.Table).Scan(&users, &box)
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	if !users || !box {
		pool.Close()
		return nil, nil, errors.New("this database holds no Nova accounts: give nova-api's DATABASE_URL (--database-url)")
	}
	cat := catalog.Default()
	roles, err := identity.NewRoles(pool, outbox.New(envelope.NewCodec(cat), cat.WrittenBy(catalog.NovaAPI)...))
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return roles, pool, nil
}
