package password_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/nova-social/nova/shared/password"
)

// cheap keeps the suite quick: the minimum memory the package accepts.
var cheap = password.Config{Memory: 8 * 1024, Iterations: 1, Parallelism: 1}

func newHasher(t testing.TB, cfg password.Config) *password.Hasher {
	t.Helper()
	h, err := password.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap)
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("hash %q is not the expected PHC string", enc)
	}
	rehash, err := h.Verify(ctx, "correct horse battery staple", enc)
	if err != nil || rehash {
		t.Fatalf("Verify(right password) = %v, %v; want false, nil", rehash, err)
	}
	if _, err := h.Verify(ctx, "correct horse battery stapl", enc); !errors.Is(err, password.ErrMismatch) {
		t.Fatalf("Verify(wrong password) = %v, want ErrMismatch", err)
	}
}

func TestSaltIsPerHash(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap)
	a, _ := h.Hash(ctx, "same")
	b, _ := h.Hash(ctx, "same")
	if a == b {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

// A hash written by another argon2id implementation with the same inputs
// verifies: the PHC string is read the way the reference writes it.
func TestVerifiesReferenceHash(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("pa55word"), salt, 3, 16*1024, 4, 32)
	enc := "$argon2id$v=19$m=16384,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$" + b64(key)
	h := newHasher(t, cheap)
	rehash, err := h.Verify(context.Background(), "pa55word", enc)
	if err != nil {
		t.Fatalf("Verify(reference hash) = %v", err)
	}
	if !rehash {
		t.Fatal("a hash made with other parameters should ask for a rehash")
	}
}

func TestRehashDetection(t *testing.T) {
	ctx := context.Background()
	old := newHasher(t, cheap)
	enc, _ := old.Hash(ctx, "pw")
	if need, err := old.NeedsRehash(enc); err != nil || need {
		t.Fatalf("same parameters: NeedsRehash = %v, %v", need, err)
	}
	for name, cfg := range map[string]password.Config{
		"memory":      {Memory: 9 * 1024, Iterations: 1, Parallelism: 1},
		"iterations":  {Memory: 8 * 1024, Iterations: 2, Parallelism: 1},
		"parallelism": {Memory: 8 * 1024, Iterations: 1, Parallelism: 2},
		"salt":        {Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 32},
		"key":         {Memory: 8 * 1024, Iterations: 1, Parallelism: 1, KeyLength: 64},
	} {
		stronger := newHasher(t, cfg)
		rehash, err := stronger.Verify(ctx, "pw", enc)
		if err != nil || !rehash {
			t.Errorf("%s raised: Verify = %v, %v; want rehash", name, rehash, err)
		}
		if need, _ := stronger.NeedsRehash(enc); !need {
			t.Errorf("%s raised: NeedsRehash = false", name)
		}
	}
}

func TestMalformedHashes(t *testing.T) {
	h := newHasher(t, cheap)
	good, _ := h.Hash(context.Background(), "pw")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for name, enc := range map[string]string{
		"empty":             "",
		"bcrypt":            "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":           "$argon2i$v=19$m=8192,t=1,p=1$" + salt + "$" + key,
		"old version":       "$argon2id$v=16$m=8192,t=1,p=1$" + salt + "$" + key,
		"missing version":   "$argon2id$m=8192,t=1,p=1$" + salt + "$" + key,
		"params reordered":  "$argon2id$v=19$t=1,m=8192,p=1$" + salt + "$" + key,
		"extra param":       "$argon2id$v=19$m=8192,t=1,p=1,keyid=x$" + salt + "$" + key,
		"leading zero":      "$argon2id$v=19$m=08192,t=1,p=1$" + salt + "$" + key,
		"plus sign":         "$argon2id$v=19$m=+8192,t=1,p=1$" + salt + "$" + key,
		"huge memory":       "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key,
		"tiny memory":       "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + key,
		"zero iterations":   "$argon2id$v=19$m=8192,t=0,p=1$" + salt + "$" + key,
		"huge iterations":   "$argon2id$v=19$m=8192,t=100000,p=1$" + salt + "$" + key,
		"zero parallelism":  "$argon2id$v=19$m=8192,t=1,p=0$" + salt + "$" + key,
		"padded salt":       "$argon2id$v=19$m=8192,t=1,p=1$" + salt + "==$" + key,
		"url-safe key":      "$argon2id$v=19$m=8192,t=1,p=1$" + salt + "$" + strings.NewReplacer("+", "-", "/", "_").Replace(key) + "-_",
		"short salt":        "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$" + key,
		"short key":         "$argon2id$v=19$m=8192,t=1,p=1$" + salt + "$a2V5",
		"missing key":       "$argon2id$v=19$m=8192,t=1,p=1$" + salt,
		"trailing field":    good + "$x",
		"no leading dollar": strings.TrimPrefix(good, "$"),
	} {
		if _, err := h.Verify(context.Background(), "pw", enc); !errors.Is(err, password.ErrMalformed) {
			t.Errorf("%s: Verify = %v, want ErrMalformed", name, err)
		}
		if _, err := h.NeedsRehash(enc); !errors.Is(err, password.ErrMalformed) {
			t.Errorf("%s: NeedsRehash = %v, want ErrMalformed", name, err)
		}
	}
}

func TestInputBounds(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, cheap)
	if _, err := h.Hash(ctx, ""); !errors.Is(err, password.ErrEmpty) {
		t.Errorf("Hash(\"\") = %v, want ErrEmpty", err)
	}
	long := strings.Repeat("a", password.MaxPasswordBytes+1)
	if _, err := h.Hash(ctx, long); !errors.Is(err, password.ErrTooLong) {
		t.Errorf("Hash(too long) = %v, want ErrTooLong", err)
	}
	enc, _ := h.Hash(ctx, strings.Repeat("a", password.MaxPasswordBytes))
	if _, err := h.Verify(ctx, long, enc); !errors.Is(err, password.ErrTooLong) {
		t.Errorf("Verify(too long) = %v, want ErrTooLong", err)
	}
	if err := h.Decoy(ctx, "anything"); !errors.Is(err, password.ErrMismatch) {
		t.Errorf("Decoy = %v, want ErrMismatch", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (password.Config{}).Defaults().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	d := password.Config{}.Defaults()
	if d.Memory != 64*1024 || d.Iterations != 2 || d.Parallelism != 2 || d.SaltLength != 16 || d.KeyLength != 32 || d.MaxConcurrent < 1 {
		t.Fatalf("defaults = %+v", d)
	}
	for name, c := range map[string]password.Config{
		"memory too low":  {Memory: 1024},
		"memory too high": {Memory: 4 * 1024 * 1024},
		"iterations":      {Iterations: 1000},
		"salt":            {SaltLength: 4},
		"key":             {KeyLength: 8},
		"concurrency":     {MaxConcurrent: -1},
	} {
		if _, err := password.New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
}

func TestWaitingForASlotHonoursContext(t *testing.T) {
	h := newHasher(t, password.Config{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, MaxConcurrent: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The slot is free, but select picks at random between a ready slot and
	// a done context; either outcome is correct, and an error must be the
	// context's.
	if _, err := h.Hash(ctx, "pw"); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a cancelled context = %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, password.Config{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, MaxConcurrent: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			pw := strings.Repeat("x", i+1)
			enc, err := h.Hash(ctx, pw)
			if err == nil {
				_, err = h.Verify(ctx, pw, enc)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := newHasher(b, password.Config{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawArgon2Default is the baseline: argon2.IDKey alone with the
// default parameters, no encoding, no slot.
func BenchmarkRawArgon2Default(b *testing.B) {
	salt := make([]byte, 16)
	for b.Loop() {
		argon2.IDKey([]byte("correct horse battery staple"), salt, 2, 64*1024, 2, 32)
	}
}

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

func TestIsCommon(t *testing.T) {
	for p, want := range map[string]bool{
		"password":                     true,
		"12345678":                     true,
		"PassWord1":                    true,
		"qwertyuiop":                   true,
		"correct horse battery staple": false,
		"hunter2hunter2":               false,
	} {
		if got := password.IsCommon(p); got != want {
			t.Errorf("IsCommon(%q) = %v, want %v", p, got, want)
		}
	}
}
