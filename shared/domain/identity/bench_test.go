package identity_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/password"
)

// BenchmarkFollowUnfollow is one follow and one unfollow through the
// Service: two transactions, each with its row change and its outbox event.
func BenchmarkFollowUnfollow(b *testing.B) {
	f := setup(b)
	alice, bob := f.register(b, "alice"), f.register(b, "bob")
	ctx := context.Background()
	for b.Loop() {
		if _, err := f.svc.Follow(ctx, alice.ID, bob.ID); err != nil {
			b.Fatal(err)
		}
		if _, err := f.svc.Unfollow(ctx, alice.ID, bob.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFollowUnfollowBaseline is the same two transactions without the
// outbox: the plain cost of the row changes, to read the outbox's share
// off BenchmarkFollowUnfollow in the same run.
func BenchmarkFollowUnfollowBaseline(b *testing.B) {
	f := setup(b)
	alice, bob := f.register(b, "alice"), f.register(b, "bob")
	ctx := context.Background()
	for b.Loop() {
		if err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, now())
				ON CONFLICT DO NOTHING`, string(alice.ID), string(bob.ID))
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`, string(alice.ID), string(bob.ID))
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFollows is the check the content domain makes for every
// FOLLOWERS_ONLY read.
func BenchmarkFollows(b *testing.B) {
	f := setup(b)
	alice, bob := f.register(b, "alice"), f.register(b, "bob")
	ctx := context.Background()
	if _, err := f.svc.Follow(ctx, alice.ID, bob.ID); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := f.svc.Follows(ctx, alice.ID, bob.ID); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkLogin compares, at the production argon2id cost, a wrong
// password for an existing user with any password for a user that does not
// exist: the two should cost the same, so timing does not reveal which
// usernames exist. A successful login is there for scale.
func BenchmarkLogin(b *testing.B) {
	defaults, err := password.New(password.Config{})
	if err != nil {
		b.Fatal(err)
	}
	f := setup(b, func(c *identity.Config) { c.Hasher = defaults })
	f.register(b, "alice")
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		c    identity.Credentials
		want error
	}{
		{"ok", identity.Credentials{Username: "alice", Password: "correct horse alice"}, nil},
		{"wrong-password", identity.Credentials{Username: "alice", Password: "wrong password"}, identity.ErrInvalidCredentials},
		{"unknown-user", identity.Credentials{Username: "mallory", Password: "wrong password"}, identity.ErrInvalidCredentials},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := f.svc.Login(ctx, bc.c, identity.Device{}); !errors.Is(err, bc.want) {
					b.Fatal(err)
				}
			}
		})
	}
}
