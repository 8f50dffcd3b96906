// Package password hashes and verifies user passwords with argon2id.
//
// Hashes are stored as PHC strings
//
//	$argon2id$v=19$m=65536,t=2,p=2$<salt>$<key>
//
// (salt and key in unpadded standard base64, as the reference implementation
// and libsodium write them), so every parameter a hash was made with travels
// with it: raising the cost later needs no migration, only a rehash at the
// next successful login, which Verify reports.
//
// argon2id is memory-hard: each hash holds Config.Memory KiB for its
// duration. A Hasher therefore bounds how many hashes run at once
// (Config.MaxConcurrent), so a burst of logins queues instead of exhausting
// memory; waiting honours the request's context.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Errors returned by Verify and Hash (match with errors.Is).
var (
	// ErrMismatch: the password does not match the hash.
	ErrMismatch = errors.New("password: does not match")
	// ErrMalformed: the stored hash is not an argon2id PHC string this
	// package can read.
	ErrMalformed = errors.New("password: malformed hash")
	// ErrEmpty: an empty password is never hashed.
	ErrEmpty = errors.New("password: empty")
	// ErrTooLong: passwords longer than MaxPasswordBytes are refused before
	// any work is done.
	ErrTooLong = errors.New("password: too long")
)

// MaxPasswordBytes bounds the input. argon2 accepts any length, but an
// unbounded one lets a caller make every login hash megabytes.
const MaxPasswordBytes = 1024

// Config sets the argon2id cost. The zero value of a field means its
// default.
type Config struct {
	// Memory in KiB. Default 64 MiB (RFC 9106's second recommended
	// setting; above OWASP's 19–46 MiB floor).
	Memory uint32
	// Iterations (t). Default 2.
	Iterations uint32
	// Parallelism (p), lanes. Default 2.
	Parallelism uint8
	// SaltLength in bytes. Default 16 (RFC 9106).
	SaltLength uint32
	// KeyLength in bytes. Default 32.
	KeyLength uint32
	// MaxConcurrent bounds simultaneous hash computations, and so memory
	// (MaxConcurrent × Memory). Default GOMAXPROCS.
	MaxConcurrent int
}

// Bounds on parameters, for Config.Validate and for hashes read from
// storage: a stored hash with m=4 GiB must not be able to take the server
// down when it is verified.
const (
	minMemory   = 8 * 1024    // 8 MiB
	maxMemory   = 1024 * 1024 // 1 GiB
	maxIter     = 64
	minSalt     = 8
	maxSalt     = 64
	minKey      = 16
	maxKey      = 64
	phcVersion  = argon2.Version // 19
	phcAlgoName = "argon2id"
)

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.Memory == 0 {
		c.Memory = 64 * 1024
	}
	if c.Iterations == 0 {
		c.Iterations = 2
	}
	if c.Parallelism == 0 {
		c.Parallelism = 2
	}
	if c.SaltLength == 0 {
		c.SaltLength = 16
	}
	if c.KeyLength == 0 {
		c.KeyLength = 32
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	return c
}

// Validate reports a parameter outside what is both safe and affordable.
func (c Config) Validate() error {
	var errs []error
	if c.Memory < minMemory || c.Memory > maxMemory {
		errs = append(errs, fmt.Errorf("memory %d KiB outside [%d, %d]", c.Memory, minMemory, maxMemory))
	}
	if c.Iterations < 1 || c.Iterations > maxIter {
		errs = append(errs, fmt.Errorf("iterations %d outside [1, %d]", c.Iterations, maxIter))
	}
	if c.Parallelism < 1 {
		errs = append(errs, errors.New("parallelism must be at least 1"))
	}
	if c.SaltLength < minSalt || c.SaltLength > maxSalt {
		errs = append(errs, fmt.Errorf("salt length %d outside [%d, %d]", c.SaltLength, minSalt, maxSalt))
	}
	if c.KeyLength < minKey || c.KeyLength > maxKey {
		errs = append(errs, fmt.Errorf("key length %d outside [%d, %d]", c.KeyLength, minKey, maxKey))
	}
	if c.MaxConcurrent < 1 {
		errs = append(errs, errors.New("max concurrent must be at least 1"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("password config: %w", err)
	}
	return nil
}

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	cfg   Config
	slots chan struct{}
	// decoy is a hash made with cfg, verified by Decoy.
	decoy params
}

// New returns a Hasher for cfg (defaults applied, then validated).
func New(cfg Config) (*Hasher, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Hasher{cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent)}
	h.decoy = h.current(make([]byte, cfg.SaltLength))
	h.decoy.key = make([]byte, cfg.KeyLength)
	return h, nil
}

// Config returns the effective configuration.
func (h *Hasher) Config() Config { return h.cfg }

// params is one decoded PHC string.
type params struct {
	memory, iterations uint32
	parallelism        uint8
	salt, key          []byte
}

func (h *Hasher) current(salt []byte) params {
	return params{memory: h.cfg.Memory, iterations: h.cfg.Iterations, parallelism: h.cfg.Parallelism, salt: salt}
}

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := checkInput(password); err != nil {
		return "", err
	}
	salt := make([]byte, h.cfg.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	p := h.current(salt)
	key, err := h.derive(ctx, password, p, h.cfg.KeyLength)
	if err != nil {
		return "", err
	}
	p.key = key
	return p.encode(), nil
}

// Verify checks password against encoded. It returns nil when they match,
// ErrMismatch when they do not, and ErrMalformed when encoded cannot be
// read. On a match, rehash reports that encoded was made with parameters
// other than the Hasher's, so the caller should store a fresh Hash of the
// password it now knows is right.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (rehash bool, err error) {
	if err := checkInput(password); err != nil {
		return false, err
	}
	p, err := decode(encoded)
	if err != nil {
		return false, err
	}
	key, err := h.derive(ctx, password, p, uint32(len(p.key)))
	if err != nil {
		return false, err
	}
	if subtle.ConstantTimeCompare(key, p.key) != 1 {
		return false, ErrMismatch
	}
	return h.differs(p), nil
}

// Decoy spends the work of one Verify and always fails with ErrMismatch.
// A login for an unknown user calls it, so the response time does not tell
// an attacker which usernames exist.
func (h *Hasher) Decoy(ctx context.Context, password string) error {
	if len(password) > MaxPasswordBytes {
		return ErrTooLong
	}
	if _, err := h.derive(ctx, password, h.decoy, h.cfg.KeyLength); err != nil {
		return err
	}
	return ErrMismatch
}

// NeedsRehash reports whether encoded was made with parameters other than
// the Hasher's (without verifying any password).
func (h *Hasher) NeedsRehash(encoded string) (bool, error) {
	p, err := decode(encoded)
	if err != nil {
		return false, err
	}
	return h.differs(p), nil
}

func (h *Hasher) differs(p params) bool {
	return p.memory != h.cfg.Memory || p.iterations != h.cfg.Iterations ||
		p.parallelism != h.cfg.Parallelism || uint32(len(p.salt)) != h.cfg.SaltLength ||
		uint32(len(p.key)) != h.cfg.KeyLength
}

// derive runs argon2id once a concurrency slot is free.
func (h *Hasher) derive(ctx context.Context, password string, p params, keyLen uint32) ([]byte, error) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err())
	}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(password), p.salt, p.iterations, p.memory, p.parallelism, keyLen), nil
}

func checkInput(password string) error {
	switch {
	case password == "":
		return ErrEmpty
	case len(password) > MaxPasswordBytes:
		return ErrTooLong
	}
	return nil
}

var b64 = base64.RawStdEncoding.Strict()

func (p params) encode() string {
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", phcAlgoName, phcVersion,
		p.memory, p.iterations, p.parallelism, b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

// decode parses a PHC string strictly: the exact field order Hash writes,
// no optional fields, parameters within the package's bounds.
func decode(s string) (params, error) {
	var p params
	bad := func(why string) (params, error) { return params{}, fmt.Errorf("%w: %s", ErrMalformed, why) }
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want $argon2id$v=…$m=…,t=…,p=…$salt$key")
	}
	if parts[1] != phcAlgoName {
		return bad(fmt.Sprintf("algorithm %q, want argon2id", truncate(parts[1])))
	}
	if parts[2] != "v="+strconv.Itoa(phcVersion) {
		return bad(fmt.Sprintf("version %q, want v=%d", truncate(parts[2]), phcVersion))
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("want parameters m,t,p")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		k, v, ok := strings.Cut(kv[i], "=")
		if !ok || k != name {
			return bad(fmt.Sprintf("parameter %d is %q, want %s=…", i+1, truncate(kv[i]), name))
		}
		// No sign, no leading zeros: one number has one spelling.
		if v == "" || v[0] == '+' || (len(v) > 1 && v[0] == '0') {
			return bad(fmt.Sprintf("parameter %s=%q", name, truncate(v)))
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad(fmt.Sprintf("parameter %s=%q", name, truncate(v)))
		}
		vals[i] = n
	}
	switch {
	case vals[0] < minMemory || vals[0] > maxMemory:
		return bad(fmt.Sprintf("memory %d KiB out of bounds", vals[0]))
	case vals[1] < 1 || vals[1] > maxIter:
		return bad(fmt.Sprintf("iterations %d out of bounds", vals[1]))
	case vals[2] < 1 || vals[2] > 255:
		return bad(fmt.Sprintf("parallelism %d out of bounds", vals[2]))
	}
	p.memory, p.iterations, p.parallelism = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < minSalt || len(p.salt) > maxSalt {
		return bad("salt")
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < minKey || len(p.key) > maxKey {
		return bad("key")
	}
	return p, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
