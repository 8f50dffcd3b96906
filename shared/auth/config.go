package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
)

// Environment variables read by KeyConfigFromEnv.
const (
	EnvPrivateKey     = "NOVA_JWT_PRIVATE_KEY"
	EnvPrivateKeyFile = "NOVA_JWT_PRIVATE_KEY_FILE"
	EnvJWKS           = "NOVA_JWKS"
	EnvJWKSFile       = "NOVA_JWKS_FILE"
	EnvJWKSURL        = "NOVA_JWKS_URL"
	EnvDevDir         = "NOVA_JWT_DEV_DIR"
)

// DevKeyFile is the name of the generated key inside KeyConfig.DevDir.
const DevKeyFile = "jwt-ed25519.pem"

// ErrNoKeys: the configuration names no key at all.
var ErrNoKeys = errors.New("no jwt keys configured")

// KeyConfig says where keys come from. Each field is optional; which are
// needed depends on whether the process signs (SigningKeys) or only
// verifies (VerificationKeys).
type KeyConfig struct {
	PrivateKey     string // PKCS#8 PEM or private JWK, inline
	PrivateKeyFile string // the same, in a file
	JWKS           string // public keys (JWKS, JWK or PEM), inline
	JWKSFile       string // the same, in a file
	JWKSURL        string // a JWKS document to fetch (verifiers only)
	// DevDir, when no private key is given, is where a development key is
	// generated once and then reused. Never set in production.
	DevDir string
}

// KeyConfigFromEnv reads the NOVA_JWT_* and NOVA_JWKS* variables through
// getenv (os.Getenv, or a lookup in a function's configuration map).
func KeyConfigFromEnv(getenv func(string) string) KeyConfig {
	return KeyConfig{
		PrivateKey:     getenv(EnvPrivateKey),
		PrivateKeyFile: getenv(EnvPrivateKeyFile),
		JWKS:           getenv(EnvJWKS),
		JWKSFile:       getenv(EnvJWKSFile),
		JWKSURL:        getenv(EnvJWKSURL),
		DevDir:         getenv(EnvDevDir),
	}
}

// Validate reports contradictory settings.
func (c KeyConfig) Validate() error {
	var errs []error
	if c.PrivateKey != "" && c.PrivateKeyFile != "" {
		errs = append(errs, fmt.Errorf("both %s and %s are set", EnvPrivateKey, EnvPrivateKeyFile))
	}
	if c.JWKS != "" && c.JWKSFile != "" {
		errs = append(errs, fmt.Errorf("both %s and %s are set", EnvJWKS, EnvJWKSFile))
	}
	if c.JWKSURL != "" && (c.JWKS != "" || c.JWKSFile != "") {
		errs = append(errs, fmt.Errorf("%s excludes %s and %s", EnvJWKSURL, EnvJWKS, EnvJWKSFile))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("jwt key config: %w", err)
	}
	return nil
}

// SigningKeys returns the key set of a process that issues tokens: the
// private key (or the development key) signs, and the public keys of
// JWKS/JWKSFile (older keys not yet retired, newer ones published ahead)
// verify. The JWKS may list the signing key itself.
func (c KeyConfig) SigningKeys() (*KeySet, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	signing, ok, err := c.privateKey()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: set %s, %s or (for development) %s", ErrNoKeys, EnvPrivateKey, EnvPrivateKeyFile, EnvDevDir)
	}
	keys := []Key{signing}
	others, err := c.publicKeys()
	if err != nil {
		return nil, err
	}
	for _, k := range others {
		if k.ID == signing.ID {
			if !bytes.Equal(k.Public, signing.Public) {
				return nil, fmt.Errorf("%w: kid %q names two different keys", ErrBadKey, k.ID)
			}
			continue
		}
		keys = append(keys, k)
	}
	return NewKeySet(keys...)
}

// VerificationKeys returns the key source of a process that only checks
// tokens: the JWKS URL if set; else the JWKS given inline or in a file;
// else the public half of the private or development key (a single-process
// setup).
func (c KeyConfig) VerificationKeys(client *http.Client) (KeySource, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.JWKSURL != "" {
		return NewRemoteKeys(RemoteConfig{URL: c.JWKSURL, Client: client})
	}
	if c.JWKS != "" || c.JWKSFile != "" {
		// A signer's own config may hold both; include the signing key.
		ks, err := c.SigningKeys()
		if err == nil {
			return ks, nil
		}
		if !errors.Is(err, ErrNoKeys) {
			return nil, err
		}
		keys, err := c.publicKeys()
		if err != nil {
			return nil, err
		}
		return NewKeySet(keys...)
	}
	return c.SigningKeys()
}

func (c KeyConfig) privateKey() (Key, bool, error) {
	switch {
	case c.PrivateKey != "":
		k, err := ParsePrivateKey([]byte(c.PrivateKey))
		if err != nil {
			return Key{}, false, fmt.Errorf("%s: %w", EnvPrivateKey, err)
		}
		return k, true, nil
	case c.PrivateKeyFile != "":
		b, err := os.ReadFile(c.PrivateKeyFile)
		if err != nil {
			return Key{}, false, fmt.Errorf("%s: %w", EnvPrivateKeyFile, err)
		}
		k, err := ParsePrivateKey(b)
		if err != nil {
			return Key{}, false, fmt.Errorf("%s %s: %w", EnvPrivateKeyFile, c.PrivateKeyFile, err)
		}
		return k, true, nil
	case c.DevDir != "":
		k, err := DevKey(c.DevDir)
		return k, err == nil, err
	}
	return Key{}, false, nil
}

func (c KeyConfig) publicKeys() ([]Key, error) {
	switch {
	case c.JWKS != "":
		keys, err := ParsePublicKeys([]byte(c.JWKS))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvJWKS, err)
		}
		return keys, nil
	case c.JWKSFile != "":
		b, err := os.ReadFile(c.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvJWKSFile, err)
		}
		keys, err := ParsePublicKeys(b)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", EnvJWKSFile, c.JWKSFile, err)
		}
		return keys, nil
	}
	return nil, nil
}

// DevKey returns the development signing key kept in dir, generating it on
// first use. Processes started together (make run) race to create it;
// the file is written aside and linked into place, so exactly one key wins
// and nobody reads half a file.
func DevKey(dir string) (Key, error) {
	path := filepath.Join(dir, DevKeyFile)
	if k, err := readDevKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Key{}, fmt.Errorf("dev key: %w", err)
	}
	k, err := GenerateKey()
	if err != nil {
		return Key{}, err
	}
	pemBytes, err := k.MarshalPrivatePEM()
	if err != nil {
		return Key{}, err
	}
	tmp, err := os.CreateTemp(dir, DevKeyFile+".*.tmp")
	if err != nil {
		return Key{}, fmt.Errorf("dev key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pemBytes); err != nil {
		tmp.Close()
		return Key{}, fmt.Errorf("dev key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Key{}, fmt.Errorf("dev key: %w", err)
	}
	// CreateTemp makes the file 0600 already: the key is readable by its
	// owner only.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return Key{}, fmt.Errorf("dev key: %w", err)
	}
	return readDevKey(path)
}

func readDevKey(path string) (Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("dev key: %w", err)
	}
	k, err := ParsePrivateKey(b)
	if err != nil {
		return Key{}, fmt.Errorf("dev key %s: %w", path, err)
	}
	return k, nil
}
