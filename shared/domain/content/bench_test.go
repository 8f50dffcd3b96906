package content_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/domain/content"
	"github.com/nova-social/nova/shared/id"
)

// BenchmarkCreate is a post and its PostCreated in one transaction.
func BenchmarkCreate(b *testing.B) {
	r := newRig(b)
	svc, ctx, author := r.svc, r.ctx, r.user()
	in := content.NewPost{Content: "a post of ordinary length, with a tag or two", Tags: []string{"go", "nova"}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Create(ctx, author, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateBaselineRowOnly is the same row in its own transaction
// without the event: what the outbox adds is the difference.
func BenchmarkCreateBaselineRowOnly(b *testing.B) {
	r := newRig(b)
	pool, ctx, author := r.pool, r.ctx, r.user().String()
	b.ResetTimer()
	for b.Loop() {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO posts (id, author_id, content, type, visibility, tags, created_at, updated_at)
				VALUES ($1, $2, $3, 'TEXT', 'PUBLIC', $4, now(), now())`,
				id.NewPostID().String(), author, "a post of ordinary length, with a tag or two", []string{"go", "nova"})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet reads a followers-only post as a follower: the row, its
// counts and one follow check (identity's follows table).
func BenchmarkGet(b *testing.B) {
	r := newRig(b)
	author, reader := r.user(), r.user()
	r.follows(reader, author)
	p, err := r.svc.Create(r.ctx, author, content.NewPost{Content: "hello", Visibility: "FOLLOWERS_ONLY"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.svc.Get(r.ctx, reader, id.PostID(p.ID)); err != nil {
			b.Fatal(err)
		}
	}
}
