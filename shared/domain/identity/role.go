package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/event/envelope"
	"github.com/nova-social/nova/shared/event/outbox"
	"github.com/nova-social/nova/shared/id"
)

// Roles grants and revokes roles by user id: the operator's path (nova
// admin), writing the users table and UserRoleChanged in one transaction
// through the outbox, as every identity change is written. nova-api reads
// the stored role on every request (Service.Verifier), so a change takes
// effect on the user's next request, whatever their token says.
type Roles struct {
	pool *pgxpool.Pool
	box  *outbox.Outbox
	now  func() time.Time
}

// NewRoles returns Roles on an identity database; box must take
// user-events (outbox.New with nova-api's topics).
func NewRoles(pool *pgxpool.Pool, box *outbox.Outbox) (*Roles, error) {
	if pool == nil || box == nil {
		return nil, errors.New("identity: roles need a pool and an outbox")
	}
	return &Roles{pool: pool, box: box, now: time.Now}, nil
}

// RoleChange is what Set did.
type RoleChange struct {
	User     User
	Previous auth.Role
	// Changed is false when the user already held the role: nothing was
	// written and no event emitted.
	Changed bool
}

// Set gives uid the role; by names the operator for the event. An unknown
// user is ErrNotFound.
func (r *Roles) Set(ctx context.Context, uid id.UserID, role auth.Role, by string) (RoleChange, error) {
	if _, err := id.ParseUserID(string(uid)); err != nil {
		return RoleChange{}, invalid("user", "is not a user id")
	}
	if !role.Valid() {
		return RoleChange{}, invalid("role", "%q is not a role (user, admin)", role)
	}
	by = strings.TrimSpace(by)
	if by == "" {
		return RoleChange{}, invalid("by", "names no operator")
	}
	var rc RoleChange
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, string(uid)))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		rc = RoleChange{User: u, Previous: u.Role}
		if u.Role == role {
			return nil
		}
		now := r.now().UTC().Truncate(time.Microsecond)
		if _, err := tx.Exec(ctx, `UPDATE users SET role = $2, updated_at = $3 WHERE id = $1`, string(uid), string(role), now); err != nil {
			return err
		}
		rc.User.Role, rc.User.UpdatedAt, rc.Changed = role, now, true
		_, err = r.box.Enqueue(ctx, tx, &eventsv1.UserRoleChanged{
			UserId:       string(uid),
			Role:         string(role),
			PreviousRole: string(u.Role),
			ChangedBy:    by,
			ChangedAt:    timestamppb.New(now),
		}, envelope.WithTime(now))
		return err
	})
	if err != nil {
		return RoleChange{}, fmt.Errorf("identity: set role of %s: %w", uid, err)
	}
	return rc, nil
}

// Holders lists the users holding role, oldest account first.
func (r *Roles) Holders(ctx context.Context, role auth.Role) ([]User, error) {
	rows, err := r.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE role = $1 ORDER BY created_at, id`, string(role))
	if err != nil {
		return nil, fmt.Errorf("identity: holders of %s: %w", role, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) { return scanUser(row) })
	if err != nil {
		return nil, fmt.Errorf("identity: holders of %s: %w", role, err)
	}
	return out, nil
}
