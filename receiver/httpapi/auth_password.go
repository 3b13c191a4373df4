package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the cost of an argon2id password hash (RFC 9106).
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32 // passes over the memory
	Threads   uint8
}

// DefaultArgon2 is RFC 9106's second recommended option (section 4: 64 MiB,
// three passes) with the two lanes of a small receiver. Measured in
// docs/BENCHMARKS.md ("Password hashing"); logins are few, so each may
// cost tens of milliseconds, and the hashing semaphore bounds the memory
// held at once to MaxConcurrentHashes × 64 MiB.
var DefaultArgon2 = Argon2Params{MemoryKiB: 64 << 10, Time: 3, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
	// Password lengths accepted: long enough to resist guessing within the
	// login limits, short enough that hashing cost stays the parameters'.
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// CheckPassword says what is wrong with a new password, or nil.
func CheckPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return errors.New("not valid UTF-8")
	case n < MinPasswordLen:
		return fmt.Errorf("%d characters (want at least %d; a few words make a good one)", n, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("%d bytes (want at most %d)", len(pw), MaxPasswordLen)
	}
	return nil
}

// HashPassword makes the PHC string of pw:
// $argon2id$v=19$m=65536,t=3,p=2$SALT$HASH (unpadded base64).
func HashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// ParseHash reads a PHC string that HashPassword made.
func ParseHash(h string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("not an argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash)")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("argon2 version %q (want v=%d)", parts[2], argon2.Version)
	}
	var m, t, th uint64
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil || n != 3 || fmt.Sprintf("m=%d,t=%d,p=%d", m, t, th) != parts[3] {
		return p, nil, nil, fmt.Errorf("parameters %q (want m=KiB,t=passes,p=threads)", parts[3])
	}
	// Bounds keep a forged hash from making the receiver allocate
	// gigabytes or spin: 1 GiB, 16 passes, 16 lanes at most.
	if m < 8*th || m > 1<<20 || t < 1 || t > 16 || th < 1 || th > 16 {
		return p, nil, nil, fmt.Errorf("parameters %q out of bounds (m 8p..1048576, t 1..16, p 1..16)", parts[3])
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("salt: not unpadded base64 of 8 bytes or more")
	}
	if key, err = enc.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("hash: not unpadded base64 of 16 to 64 bytes")
	}
	return Argon2Params{MemoryKiB: uint32(m), Time: uint32(t), Threads: uint8(th)}, salt, key, nil
}

// VerifyPassword says whether pw matches the PHC string h, with h's own
// parameters: hashes made before a change of DefaultArgon2 still verify.
func VerifyPassword(pw, h string) (bool, error) {
	p, salt, key, err := ParseHash(h)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}
