// Package auth issues and verifies Nova's access tokens: JWTs signed with
// Ed25519 (JWS alg "EdDSA", RFC 8037).
//
// nova-api's identity endpoints hold the private key and issue tokens
// (Signer). Everything else — nova-api's other endpoints, the realtime
// gateway, any function — only verifies them (Verifier), from public keys
// alone: a JWKS document given inline, as a file, or fetched from
// GET /v1/.well-known/jwks.json. No component calls identity to check a
// token.
//
// # Why a hand-written JWS
//
// The compact JWS of one algorithm is about a hundred lines over
// crypto/ed25519 and encoding/json, and every rule that matters is visible
// here: the algorithm is fixed to EdDSA before any key is looked up, keys
// are typed ed25519.PublicKey so no byte string can ever be used as an HMAC
// secret (the HS256 key-confusion attack has nothing to work with), the
// header must be exactly {alg, kid, typ}, base64url must be strict and
// unpadded, and the signature is checked before the claims are parsed. A
// general JWT library brings a key-function callback and a choice of
// algorithms that each caller must remember to restrict; the attacks this
// package is tested against (alg "none", HS256 with the public key, an
// unknown kid) are exactly the mistakes that callback invites.
//
// # Tokens
//
// Header {"alg":"EdDSA","kid":…,"typ":"JWT"}; claims iss, sub (the user id),
// aud, iat, nbf, exp, jti and role ("user" or "admin"). All are required.
//
// # Key rotation without downtime
//
// A KeySet holds one signing key and any number of public keys. The JWKS
// lists all of them. To rotate:
//
//  1. Generate the new key and publish its public half: add it to the JWKS
//     every verifier reads (verifiers fetching the JWKS URL pick it up by
//     themselves, at the latest when they first see its kid).
//  2. Make the new key the signing key (NOVA_JWT_PRIVATE_KEY) and keep the
//     old public key in NOVA_JWKS; KeySet.Rotate does both in code.
//  3. Once every token signed with the old key has expired (the signer's
//     TTL plus the verifiers' leeway after step 2), remove the old key
//     (KeySet.Retire).
//
// Verifiers that see a kid they do not know answer ErrUnknownKey; tokens
// signed by either key verify throughout.
//
// # Configuration
//
// KeyConfigFromEnv reads NOVA_JWT_PRIVATE_KEY / NOVA_JWT_PRIVATE_KEY_FILE (a
// PKCS#8 PEM or a private JWK), NOVA_JWKS / NOVA_JWKS_FILE (a JWKS document,
// a JWK or PEM public keys), NOVA_JWKS_URL (a JWKS to fetch) and
// NOVA_JWT_DEV_DIR: when no key is configured and that folder is set (the
// git-ignored .nova/ of a checkout under `make run`), a key is generated
// there once and reused by every process.
package auth
