package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/auth"
	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/event/catalog"
	"github.com/nova-social/nova/shared/id"
	"github.com/nova-social/nova/shared/password"
)

// fixedNow is the service clock of tests that compare times exactly.
var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func atFixedNow(c *identity.Config) { c.Now = func() time.Time { return fixedNow } }

// oneEvent returns the single event in the outbox, failing otherwise.
func (f *fixture) oneEvent(t testing.TB) stored {
	t.Helper()
	evs := f.outboxEvents(t)
	if len(evs) != 1 {
		t.Fatalf("%d events in the outbox, want 1: %+v", len(evs), evs)
	}
	return evs[0]
}

func (f *fixture) noEvents(t testing.TB) {
	t.Helper()
	if evs := f.outboxEvents(t); len(evs) != 0 {
		t.Fatalf("%d events in the outbox, want none; first is %s", len(evs), evs[0].Event.Type())
	}
}

// checkEnvelope checks the CloudEvent attributes every identity event has.
func checkEnvelope(t testing.TB, ev stored, typ, key, subject string) {
	t.Helper()
	if ev.Topic != catalog.UserEvents || ev.Key != key {
		t.Errorf("stored on %s key %s, want %s key %s", ev.Topic, ev.Key, catalog.UserEvents, key)
	}
	e := ev.Event
	if e.Type() != typ || e.Subject() != subject || e.Source() != "/nova/identity-service" {
		t.Errorf("event type %s subject %s source %s, want %s %s /nova/identity-service", e.Type(), e.Subject(), e.Source(), typ, subject)
	}
	if pk, _ := e.Extensions()["partitionkey"].(string); pk != key {
		t.Errorf("partitionkey %q, want %q", pk, key)
	}
	if _, err := id.ParseUserID(e.ID()); err != nil { // any UUID parses as a user id
		t.Errorf("event id %q is not a UUID: %v", e.ID(), err)
	}
}

func TestRegisterStoresUserAndEmitsUserRegistered(t *testing.T) {
	f := setup(t, atFixedNow)
	u, err := f.svc.Register(context.Background(), identity.Registration{
		Username: "Alice_1", Email: "Alice@Example.com", Password: "s3cret pass",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := id.ParseUserID(string(u.ID)); err != nil {
		t.Fatalf("user id: %v", err)
	}
	want := identity.User{ID: u.ID, Username: "Alice_1", Email: "Alice@Example.com", DisplayName: "Alice_1",
		Role: auth.RoleUser, CreatedAt: fixedNow, UpdatedAt: fixedNow}
	if u != want {
		t.Errorf("Register returned %+v, want %+v", u, want)
	}
	got, err := f.svc.Get(context.Background(), u.ID)
	if err != nil || got != want {
		t.Errorf("Get = %+v, %v; want %+v", got, err, want)
	}
	var hash string
	if err := f.pool.QueryRow(context.Background(), `SELECT password_hash FROM users WHERE id = $1`, string(u.ID)).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "s3cret") {
		t.Errorf("stored password %q is not an argon2id hash", hash)
	}

	ev := f.oneEvent(t)
	checkEnvelope(t, ev, "com.nova.identity.user.registered", string(u.ID), string(u.ID))
	if !ev.Event.Time().Equal(fixedNow) {
		t.Errorf("event time %s, want %s", ev.Event.Time(), fixedNow)
	}
	msg, ok := ev.Message.(*eventsv1.UserRegistered)
	if !ok {
		t.Fatalf("message %T", ev.Message)
	}
	if msg.UserId != string(u.ID) || msg.Username != "Alice_1" || msg.Email != "Alice@Example.com" ||
		!msg.RegisteredAt.AsTime().Equal(fixedNow) {
		t.Errorf("UserRegistered = %v", msg)
	}
}

func TestRegisterDuplicatesIgnoreCase(t *testing.T) {
	f := setup(t)
	f.register(t, "alice")
	f.clearOutbox(t)
	ctx := context.Background()
	_, err := f.svc.Register(ctx, identity.Registration{Username: "ALICE", Email: "other@example.com", Password: "not a common one"})
	if !errors.Is(err, identity.ErrUsernameTaken) {
		t.Errorf("same username in other case: %v, want ErrUsernameTaken", err)
	}
	_, err = f.svc.Register(ctx, identity.Registration{Username: "alice2", Email: "ALICE@EXAMPLE.COM", Password: "not a common one"})
	if !errors.Is(err, identity.ErrEmailTaken) {
		t.Errorf("same email in other case: %v, want ErrEmailTaken", err)
	}
	if n := f.count(t, "users"); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	f.noEvents(t)
}

func TestRegisterConcurrentSameUsernameOneWins(t *testing.T) {
	f := setup(t)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = f.svc.Register(context.Background(), identity.Registration{
				Username: "racer", Email: strings.Repeat("r", i+1) + "@example.com", Password: "not a common one"})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, identity.ErrUsernameTaken):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || f.count(t, "users") != 1 || len(f.outboxEvents(t)) != 1 {
		t.Errorf("%d registrations succeeded, %d users, %d events; want 1 each", ok, f.count(t, "users"), len(f.outboxEvents(t)))
	}
}

func TestRegisterRejectsBadInput(t *testing.T) {
	f := setup(t)
	long := strings.Repeat("é", identity.MaxPasswordLen+1) // characters, not bytes
	cases := map[string]identity.Registration{
		"no username":         {Email: "a@example.com", Password: "not a common one"},
		"short username":      {Username: "ab", Email: "a@example.com", Password: "not a common one"},
		"long username":       {Username: strings.Repeat("a", 31), Email: "a@example.com", Password: "not a common one"},
		"username with dash":  {Username: "al-ice", Email: "a@example.com", Password: "not a common one"},
		"username with space": {Username: "al ice", Email: "a@example.com", Password: "not a common one"},
		"unicode username":    {Username: "alicé", Email: "a@example.com", Password: "not a common one"},
		"no email":            {Username: "alice", Password: "not a common one"},
		"email without at":    {Username: "alice", Email: "alice.example.com", Password: "not a common one"},
		"email without dot":   {Username: "alice", Email: "alice@localhost", Password: "not a common one"},
		"email with name":     {Username: "alice", Email: "Alice <a@example.com>", Password: "not a common one"},
		"email with space":    {Username: "alice", Email: " a@example.com", Password: "not a common one"},
		"long email":          {Username: "alice", Email: strings.Repeat("a", 250) + "@example.com", Password: "not a common one"},
		"no password":         {Username: "alice", Email: "a@example.com"},
		"short password":      {Username: "alice", Email: "a@example.com", Password: "1234567"},
		"long password":       {Username: "alice", Email: "a@example.com", Password: long},
		"common password":     {Username: "alice", Email: "a@example.com", Password: "password1"},
		"common in any case":  {Username: "alice", Email: "a@example.com", Password: "QWERTYUIOP"},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.Register(context.Background(), r)
			var ve *identity.ValidationError
			if !errors.Is(err, identity.ErrInvalid) || !errors.As(err, &ve) {
				t.Fatalf("Register(%+v) = %v, want a validation error", r, err)
			}
		})
	}
	// The limits themselves are accepted.
	for _, r := range []identity.Registration{
		{Username: "abc", Email: "a@b.co", Password: "k3#mW9p!"},
		{Username: strings.Repeat("Z", 30), Email: "z@example.com", Password: strings.Repeat("é", identity.MaxPasswordLen)},
	} {
		if _, err := f.svc.Register(context.Background(), r); err != nil {
			t.Errorf("Register(%q, %q): %v", r.Username, r.Email, err)
		}
	}
	if n := f.count(t, "users"); n != 2 {
		t.Errorf("%d users, want 2", n)
	}
}

func TestLogin(t *testing.T) {
	f := setup(t)
	alice := f.register(t, "Alice")
	f.clearOutbox(t)
	ctx := context.Background()
	for name, c := range map[string]identity.Credentials{
		"username":            {Username: "Alice", Password: "correct horse Alice"},
		"username other case": {Username: "aLiCe", Password: "correct horse Alice"},
		"email other case":    {Email: "ALICE@example.com", Password: "correct horse Alice"},
	} {
		s, err := f.svc.Login(ctx, c, identity.Device{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		claims, err := f.verifier.Verify(ctx, s.Token)
		if err != nil {
			t.Errorf("%s: token does not verify: %v", name, err)
			continue
		}
		if claims.Subject != alice.ID || claims.Role != auth.RoleUser || s.User.ID != alice.ID {
			t.Errorf("%s: token for %s role %s, want %s role user", name, claims.Subject, claims.Role, alice.ID)
		}
		if s.ExpiresIn != time.Hour || !s.ExpiresAt.Equal(claims.Expiry) {
			t.Errorf("%s: expires in %s at %s, claims expire %s", name, s.ExpiresIn, s.ExpiresAt, claims.Expiry)
		}
	}
	for name, c := range map[string]identity.Credentials{
		"wrong password":      {Username: "alice", Password: "correct horse alice"},
		"unknown username":    {Username: "mallory", Password: "correct horse Alice"},
		"unknown email":       {Email: "mallory@example.com", Password: "correct horse Alice"},
		"overlong password":   {Username: "alice", Password: strings.Repeat("x", password.MaxPasswordBytes+1)},
		"unknown, short pass": {Username: "mallory", Password: "x"},
	} {
		if _, err := f.svc.Login(ctx, c, identity.Device{}); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Errorf("%s: %v, want ErrInvalidCredentials", name, err)
		}
	}
	for name, c := range map[string]identity.Credentials{
		"neither username nor email": {Password: "correct horse Alice"},
		"both username and email":    {Username: "Alice", Email: "alice@example.com", Password: "correct horse Alice"},
		"no password":                {Username: "Alice"},
	} {
		if _, err := f.svc.Login(ctx, c, identity.Device{}); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	f.noEvents(t)
}

func TestConfigRejectsBadReservedName(t *testing.T) {
	f := setup(t)
	cfg := f.cfg
	cfg.Reserved = []string{"not a username"}
	if _, err := identity.New(cfg); err == nil {
		t.Error("New accepted a reserved name no one could register anyway")
	}
	if _, err := identity.New(identity.Config{}); err == nil {
		t.Error("New accepted an empty config")
	}
}

func TestLoginRehashesOldParameters(t *testing.T) {
	f := setup(t)
	f.register(t, "alice")
	var before, after string
	q := `SELECT password_hash FROM users WHERE username = 'alice'`
	if err := f.pool.QueryRow(context.Background(), q).Scan(&before); err != nil {
		t.Fatal(err)
	}
	stronger, err := password.New(password.Config{Memory: 9 * 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := build(t, f.pool, func(c *identity.Config) { c.Hasher = stronger })
	g.token(t, "alice")
	if err := f.pool.QueryRow(context.Background(), q).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after == before || !strings.Contains(after, "m=9216,") {
		t.Errorf("hash after login with new parameters: %s (before %s)", after, before)
	}
	g.token(t, "alice") // the new hash verifies
}

func TestUpdateProfileEmitsOnlyChangedFields(t *testing.T) {
	f := setup(t, atFixedNow)
	ctx := context.Background()
	alice := f.register(t, "alice")
	f.register(t, "bob")
	f.clearOutbox(t)

	// Only the display name differs: the event carries only it.
	u, err := f.svc.UpdateProfile(ctx, alice.ID, identity.ProfileUpdate{
		Username: ptr("alice"), DisplayName: ptr("Alice A."),
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.DisplayName != "Alice A." || u.Username != "alice" {
		t.Errorf("updated user %+v", u)
	}
	ev := f.oneEvent(t)
	checkEnvelope(t, ev, "com.nova.identity.user.profile_updated", string(alice.ID), string(alice.ID))
	want := &eventsv1.UserProfileUpdated{UserId: string(alice.ID), DisplayName: ptr("Alice A.")}
	got := ev.Message.(*eventsv1.UserProfileUpdated)
	if !got.UpdatedAt.AsTime().Equal(fixedNow) {
		t.Errorf("updated_at %s, want %s", got.UpdatedAt.AsTime(), fixedNow)
	}
	got.UpdatedAt = nil
	if !proto.Equal(got, want) {
		t.Errorf("UserProfileUpdated = %v, want %v", got, want)
	}
	f.clearOutbox(t)

	// The same values again: nothing written, nothing emitted.
	if _, err := f.svc.UpdateProfile(ctx, alice.ID, identity.ProfileUpdate{DisplayName: ptr("Alice A.")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateProfile(ctx, alice.ID, identity.ProfileUpdate{}); err != nil {
		t.Fatal(err)
	}
	f.noEvents(t)

	// Username (a case change of one's own name is allowed) and avatar.
	if _, err := f.svc.UpdateProfile(ctx, alice.ID, identity.ProfileUpdate{
		Username: ptr("Alice"), AvatarURL: ptr("https://cdn.example.com/a.png"),
	}); err != nil {
		t.Fatal(err)
	}
	got = f.oneEvent(t).Message.(*eventsv1.UserProfileUpdated)
	if got.Username == nil || *got.Username != "Alice" || got.AvatarUrl == nil || *got.AvatarUrl != "https://cdn.example.com/a.png" || got.DisplayName != nil {
		t.Errorf("UserProfileUpdated = %v", got)
	}
	f.clearOutbox(t)

	// Clearing the avatar is a change to "", which the event says explicitly.
	if _, err := f.svc.UpdateProfile(ctx, alice.ID, identity.ProfileUpdate{AvatarURL: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if got := f.oneEvent(t).Message.(*eventsv1.UserProfileUpdated); got.AvatarUrl == nil || *got.AvatarUrl != "" {
		t.Errorf("clearing the avatar: %v", got)
	}
	f.clearOutbox(t)

	// Rejected updates change and emit nothing.
	before, _ := f.svc.Get(ctx, alice.ID)
	for name, c := range map[string]struct {
		p    identity.ProfileUpdate
		want error
	}{
		"taken username":       {identity.ProfileUpdate{Username: ptr("BOB"), DisplayName: ptr("x")}, identity.ErrUsernameTaken},
		"bad username":         {identity.ProfileUpdate{Username: ptr("a")}, identity.ErrInvalid},
		"javascript avatar":    {identity.ProfileUpdate{AvatarURL: ptr("javascript:alert(1)")}, identity.ErrInvalid},
		"relative avatar":      {identity.ProfileUpdate{AvatarURL: ptr("/a.png")}, identity.ErrInvalid},
		"avatar with userinfo": {identity.ProfileUpdate{AvatarURL: ptr("https://u:p@example.com/a.png")}, identity.ErrInvalid},
		"long display name":    {identity.ProfileUpdate{DisplayName: ptr(strings.Repeat("d", 65))}, identity.ErrInvalid},
		"control character":    {identity.ProfileUpdate{DisplayName: ptr("a\nb")}, identity.ErrInvalid},
	} {
		if _, err := f.svc.UpdateProfile(ctx, alice.ID, c.p); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if after, _ := f.svc.Get(ctx, alice.ID); after != before {
		t.Errorf("rejected updates changed the user: %+v → %+v", before, after)
	}
	if _, err := f.svc.UpdateProfile(ctx, id.NewUserID(), identity.ProfileUpdate{DisplayName: ptr("x")}); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	f.noEvents(t)
}

func TestFollowAndUnfollow(t *testing.T) {
	f := setup(t, atFixedNow)
	ctx := context.Background()
	alice, bob := f.register(t, "alice"), f.register(t, "bob")
	f.clearOutbox(t)

	created, err := f.svc.Follow(ctx, alice.ID, bob.ID)
	if err != nil || !created {
		t.Fatalf("Follow = %v, %v; want true", created, err)
	}
	ev := f.oneEvent(t)
	checkEnvelope(t, ev, "com.nova.identity.user.followed", string(alice.ID), string(bob.ID))
	want := &eventsv1.UserFollowed{FollowerId: string(alice.ID), FolloweeId: string(bob.ID)}
	got := ev.Message.(*eventsv1.UserFollowed)
	if !got.FollowedAt.AsTime().Equal(fixedNow) {
		t.Errorf("followed_at %s, want %s", got.FollowedAt.AsTime(), fixedNow)
	}
	got.FollowedAt = nil
	if !proto.Equal(got, want) {
		t.Errorf("UserFollowed = %v, want %v", got, want)
	}
	f.clearOutbox(t)

	if created, err := f.svc.Follow(ctx, alice.ID, bob.ID); err != nil || created {
		t.Errorf("second Follow = %v, %v; want false, nil", created, err)
	}
	f.noEvents(t)
	checkFollows(t, f, alice.ID, bob.ID, true)
	checkFollows(t, f, bob.ID, alice.ID, false)
	checkFollows(t, f, alice.ID, alice.ID, false)
	if n, err := f.svc.FollowerCount(ctx, bob.ID); err != nil || n != 1 {
		t.Errorf("bob's followers = %d, %v; want 1", n, err)
	}
	if n, err := f.svc.FollowingCount(ctx, alice.ID); err != nil || n != 1 {
		t.Errorf("alice follows %d, %v; want 1", n, err)
	}

	removed, err := f.svc.Unfollow(ctx, alice.ID, bob.ID)
	if err != nil || !removed {
		t.Fatalf("Unfollow = %v, %v; want true", removed, err)
	}
	ev = f.oneEvent(t)
	checkEnvelope(t, ev, "com.nova.identity.user.unfollowed", string(alice.ID), string(bob.ID))
	un := ev.Message.(*eventsv1.UserUnfollowed)
	if un.FollowerId != string(alice.ID) || un.FolloweeId != string(bob.ID) || !un.UnfollowedAt.AsTime().Equal(fixedNow) {
		t.Errorf("UserUnfollowed = %v", un)
	}
	f.clearOutbox(t)
	if removed, err := f.svc.Unfollow(ctx, alice.ID, bob.ID); err != nil || removed {
		t.Errorf("second Unfollow = %v, %v; want false, nil", removed, err)
	}
	checkFollows(t, f, alice.ID, bob.ID, false)
	if n, _ := f.svc.FollowerCount(ctx, bob.ID); n != 0 {
		t.Errorf("bob's followers = %d after unfollow", n)
	}

	// Refusals.
	ghost := id.NewUserID()
	if _, err := f.svc.Follow(ctx, alice.ID, ghost); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("follow unknown user: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Follow(ctx, ghost, alice.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("unknown follower: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Unfollow(ctx, alice.ID, ghost); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("unfollow unknown user: %v, want ErrNotFound", err)
	}
	for _, op := range []func(context.Context, id.UserID, id.UserID) (bool, error){f.svc.Follow, f.svc.Unfollow} {
		if _, err := op(ctx, alice.ID, alice.ID); !errors.Is(err, identity.ErrSelfFollow) {
			t.Errorf("self: %v, want ErrSelfFollow", err)
		}
		if _, err := op(ctx, alice.ID, "not-an-id"); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("bad id: %v, want ErrInvalid", err)
		}
	}
	if _, err := f.svc.Follows(ctx, "", bob.ID); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("Follows with an empty id: %v, want ErrInvalid", err)
	}
	if n := f.count(t, "follows"); n != 0 {
		t.Errorf("%d follows left", n)
	}
	f.noEvents(t)
}

func checkFollows(t testing.TB, f *fixture, follower, followee id.UserID, want bool) {
	t.Helper()
	got, err := f.svc.Follows(context.Background(), follower, followee)
	if err != nil || got != want {
		t.Errorf("Follows(%s, %s) = %v, %v; want %v", follower, followee, got, err, want)
	}
}

func TestConcurrentFollowsEmitOnce(t *testing.T) {
	f := setup(t)
	alice, bob := f.register(t, "alice"), f.register(t, "bob")
	f.clearOutbox(t)
	const n = 6
	results := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			results[i], err = f.svc.Follow(context.Background(), alice.ID, bob.ID)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	created := 0
	for _, c := range results {
		if c {
			created++
		}
	}
	if evs := f.outboxEvents(t); created != 1 || len(evs) != 1 {
		t.Errorf("%d follows reported new, %d events; want 1 and 1", created, len(evs))
	}
}

func TestGetRefusesBadAndUnknownIDs(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.svc.Get(ctx, id.NewUserID()); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Get(ctx, "x"); !errors.Is(err, identity.ErrInvalid) {
		t.Errorf("bad id: %v, want ErrInvalid", err)
	}
}
