package testworld

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TUFRepo is a TUF repository, in the layout of Sigstore's
// (consistent snapshots, the trusted root as the target
// "trusted_root.json"), that distributes the world's trusted root. It is
// served below <download-url>/tuf.
type TUFRepo struct {
	URL  string
	Root []byte // 1.root.json: the TUF root a client must trust
	keys map[string]ed25519.PrivateKey
	// Files by path below the repository URL.
	Files   map[string][]byte
	snapVer int64
}

var tufRoles = []string{"root", "targets", "snapshot", "timestamp"}

// newTUFRepo builds a repository whose single target is trustedRoot.
func newTUFRepo(url string, trustedRoot []byte) (*TUFRepo, error) {
	r := &TUFRepo{URL: url, keys: map[string]ed25519.PrivateKey{}, Files: map[string][]byte{}}
	expires := time.Now().Add(7 * 24 * time.Hour)
	root := metadata.Root(expires)
	for _, role := range tufRoles {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		r.keys[role] = priv
		key, err := metadata.KeyFromPublicKey(priv.Public())
		if err != nil {
			return nil, err
		}
		if err := root.Signed.AddKey(key, role); err != nil {
			return nil, err
		}
	}
	targets := metadata.Targets(expires)
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", trustedRoot, "sha256")
	if err != nil {
		return nil, err
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	snapshot := metadata.Snapshot(expires)
	snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(targets.Signed.Version)
	r.snapVer = snapshot.Signed.Version

	var sign = func(role string, m interface {
		Sign(signature.Signer) (*metadata.Signature, error)
		ToBytes(bool) ([]byte, error)
	}) ([]byte, error) {
		s, err := signature.LoadSigner(r.keys[role], crypto.Hash(0))
		if err != nil {
			return nil, err
		}
		if _, err := m.Sign(s); err != nil {
			return nil, err
		}
		return m.ToBytes(true)
	}
	if r.Root, err = sign("root", root); err != nil {
		return nil, err
	}
	tb, err := sign("targets", targets)
	if err != nil {
		return nil, err
	}
	sb, err := sign("snapshot", snapshot)
	if err != nil {
		return nil, err
	}
	ts, err := r.Timestamp(time.Now().Add(24*time.Hour), false)
	if err != nil {
		return nil, err
	}
	sum := tf.Hashes["sha256"]
	r.Files["1.root.json"] = r.Root
	r.Files[fmt.Sprintf("%d.targets.json", targets.Signed.Version)] = tb
	r.Files[fmt.Sprintf("%d.snapshot.json", snapshot.Signed.Version)] = sb
	r.Files["timestamp.json"] = ts
	r.Files["targets/"+hex.EncodeToString(sum)+".trusted_root.json"] = trustedRoot
	return r, nil
}

// Timestamp returns timestamp metadata for the repository's snapshot,
// expiring at expires, signed by the timestamp key or, if foreign, by a
// key the root does not name: for tests of expired or forged metadata.
func (r *TUFRepo) Timestamp(expires time.Time, foreign bool) ([]byte, error) {
	ts := metadata.Timestamp(expires)
	ts.Signed.Meta["snapshot.json"] = metadata.MetaFile(r.snapVer)
	key := r.keys["timestamp"]
	if foreign {
		_, other, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		key = other
	}
	s, err := signature.LoadSigner(key, crypto.Hash(0))
	if err != nil {
		return nil, err
	}
	if _, err := ts.Sign(s); err != nil {
		return nil, err
	}
	return ts.ToBytes(true)
}
