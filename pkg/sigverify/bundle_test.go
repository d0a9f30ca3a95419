package sigverify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// world is one virtual Sigstore with a timestamp authority and a Rekor v2
// log, its trusted root as pkg/sigverify loads it, and a few strangers: a
// second Sigstore, TSA and Rekor v2 log the trusted root does not know.
type world struct {
	s, other       *testworld.Sigstore
	tsa, otherTSA  *testworld.TimestampAuthority
	v2, otherV2    *testworld.RekorV2Log
	trust          *sigverify.Trust
	v              *sigverify.Verifier
	digest         []byte
	policy         sigverify.Policy
	signer         testworld.SignOptions
	genuineV03JSON []byte
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

func newWorld(tb testing.TB) *world {
	tb.Helper()
	worldOnce.Do(func() { theWorld, worldErr = buildWorld(tb.TempDir()) })
	if worldErr != nil {
		tb.Fatal(worldErr)
	}
	return theWorld
}

func buildWorld(dir string) (*world, error) {
	w := &world{}
	var err error
	if w.s, err = testworld.NewSigstore("http://127.0.0.1:1"); err != nil {
		return nil, err
	}
	if w.other, err = testworld.NewSigstore("http://127.0.0.1:2"); err != nil {
		return nil, err
	}
	if w.tsa, err = testworld.NewTimestampAuthority(); err != nil {
		return nil, err
	}
	if w.otherTSA, err = testworld.NewTimestampAuthority(); err != nil {
		return nil, err
	}
	if w.v2, err = testworld.NewRekorV2Log("https://log2025-1.rekor.testworld.local"); err != nil {
		return nil, err
	}
	if w.otherV2, err = testworld.NewRekorV2Log("https://log2025-1.rekor.elsewhere.local"); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "trusted_root.json")
	if err := w.s.WriteTrustedRootWith(path, w.tsa, w.v2); err != nil {
		return nil, err
	}
	if w.trust, err = sigverify.LoadTrustedRoot(path); err != nil {
		return nil, err
	}
	if w.v, err = sigverify.NewVerifier(w.trust); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte("kubectl v1.24.17 linux/amd64"))
	w.digest = sum[:]
	w.policy = sigverify.Policy{Identity: artifacts.BlobSigner, Digest: sigverify.SHA256Digest(w.digest)}
	w.signer = testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: artifacts.BlobSigner.SAN, Issuer: artifacts.BlobSigner.Issuer}}
	// Some entries first, so inclusion proofs have hashes.
	for range 3 {
		other := sha256.Sum256(w.digest)
		if _, err := w.s.MessageSignatureBundle(other[:], testworld.BundleOptions{SignOptions: w.signer}); err != nil {
			return nil, err
		}
		if _, err := w.v2.AppendHashedRekord(other[:], []byte("sig"), w.s.IntermediateCert); err != nil {
			return nil, err
		}
	}
	b, err := w.s.MessageSignatureBundle(w.digest, testworld.BundleOptions{SignOptions: w.signer})
	if err != nil {
		return nil, err
	}
	if w.genuineV03JSON, err = b.MarshalJSON(); err != nil {
		return nil, err
	}
	return w, nil
}

// opts returns bundle options signed as the release team.
func (w *world) opts(mod func(*testworld.BundleOptions)) testworld.BundleOptions {
	o := testworld.BundleOptions{SignOptions: w.signer}
	if mod != nil {
		mod(&o)
	}
	return o
}

func (w *world) message(t testing.TB, o testworld.BundleOptions) *bundle.Bundle {
	t.Helper()
	b, err := w.s.MessageSignatureBundle(w.digest, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) dsse(t testing.TB, o testworld.BundleOptions) *bundle.Bundle {
	t.Helper()
	b, err := w.s.DSSEBundle(w.digest, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func marshal(t testing.TB, b *bundle.Bundle) []byte {
	t.Helper()
	data, err := b.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (w *world) forge(t *testing.T, b *bundle.Bundle, f testworld.BundleForgery) []byte {
	t.Helper()
	data, err := w.s.ForgeBundle(b, f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Genuine bundles of every kind the specification allows for keyless
// signatures verify, and every check is recorded as passed.
func TestBundleGenuine(t *testing.T) {
	w := newWorld(t)
	v01 := func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV01 }
	v02 := func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV02 }
	withTSA := func(o *testworld.BundleOptions) { o.TSA = w.tsa }
	rekorV2 := func(o *testworld.BundleOptions) { o.TSA, o.RekorV2 = w.tsa, w.v2 }
	intoto := func(o *testworld.BundleOptions) { o.EntryKind = testworld.EntryIntoto }
	cases := []struct {
		name   string
		bundle func(t *testing.T) []byte
		checks []string
	}{
		{"message v0.1 chain, inclusion promise", func(t *testing.T) []byte { return marshal(t, w.message(t, w.opts(v01))) }, nil},
		{"message v0.2 chain, promise and proof", func(t *testing.T) []byte { return marshal(t, w.message(t, w.opts(v02))) }, nil},
		{"message v0.3 certificate, promise and proof", func(t *testing.T) []byte { return w.genuineV03JSON }, nil},
		{"message v0.3 with RFC 3161 timestamp", func(t *testing.T) []byte { return marshal(t, w.message(t, w.opts(withTSA))) }, []string{"timestamp"}},
		{"message v0.3 Rekor v2 and timestamp", func(t *testing.T) []byte { return marshal(t, w.message(t, w.opts(rekorV2))) }, []string{"timestamp"}},
		{"dsse v0.1 dsse entry", func(t *testing.T) []byte { return marshal(t, w.dsse(t, w.opts(v01))) }, nil},
		{"dsse v0.3 dsse entry", func(t *testing.T) []byte { return marshal(t, w.dsse(t, w.opts(nil))) }, nil},
		{"dsse v0.3 intoto entry", func(t *testing.T) []byte { return marshal(t, w.dsse(t, w.opts(intoto))) }, nil},
		{"dsse v0.3 with RFC 3161 timestamp", func(t *testing.T) []byte { return marshal(t, w.dsse(t, w.opts(withTSA))) }, []string{"timestamp"}},
		{"dsse v0.3 Rekor v2 and timestamp", func(t *testing.T) []byte { return marshal(t, w.dsse(t, w.opts(rekorV2))) }, []string{"timestamp"}},
		{"extra entry from an unknown log is ignored", func(t *testing.T) []byte {
			return withExtraEntry(t, w.message(t, w.opts(nil)), w.forge(t, w.message(t, w.opts(nil)), testworld.ForgeForeignLog))
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := w.v.BundleJSON(tc.bundle(t), w.policy)
			if !res.Verified() {
				t.Fatalf("not verified: %v\nchecks: %+v", res.Err, res.Checks)
			}
			want := append([]string{"bundle", "certificate-chain", "sct", "identity", "signature"}, tc.checks...)
			want = append(want, "transparency-log", "validity-at-log-time", "certificate-chain")
			var got []string
			for _, c := range res.Checks {
				if !c.OK {
					t.Errorf("check %s recorded as failed in a verified result", c.Name)
				}
				got = append(got, string(c.Name))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("checks %v, want %v", got, want)
			}
			if res.Signer == nil || *res.Signer != artifacts.BlobSigner {
				t.Errorf("signer %+v", res.Signer)
			}
			if res.LogIndex == nil {
				t.Error("no log index")
			}
		})
	}
}

// signedAs returns a genuine v0.3 bundle of the world's digest whose
// certificate names san and issuer.
func (w *world) signedAs(t *testing.T, san, issuer string) []byte {
	t.Helper()
	return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.Identity, o.Issuer = san, issuer })))
}

// withChain returns a genuine v0.2 bundle whose certificate chain (leaf,
// intermediate) is replaced by what chain makes of it.
func (w *world) withChain(t *testing.T, chain func(leaf, intermediate *protocommon.X509Certificate) []*protocommon.X509Certificate) []byte {
	t.Helper()
	b := w.message(t, w.opts(func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV02 }))
	c := b.VerificationMaterial.GetX509CertificateChain()
	if len(c.GetCertificates()) != 2 {
		t.Fatalf("a v0.2 chain of %d certificates", len(c.GetCertificates()))
	}
	c.Certificates = chain(c.Certificates[0], c.Certificates[1])
	return marshal(t, b)
}

// entryOfAnotherCertificate returns a bundle whose signature, digest and
// log entry are genuine, but whose entry records another certificate of
// the same key and identity than the bundle's: the signature and digest
// halves of the entry agree, only the certificate does not.
func (w *world) entryOfAnotherCertificate(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	inBundle, err := w.s.IssueCertificate(key.Public(), w.signer.CertOptions)
	if err != nil {
		t.Fatal(err)
	}
	inEntry, err := w.s.IssueCertificate(key.Public(), w.signer.CertOptions)
	if err != nil {
		t.Fatal(err)
	}
	pemInEntry, err := cryptoutils.MarshalCertificateToPEM(inEntry)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, w.digest)
	if err != nil {
		t.Fatal(err)
	}
	body, err := testworld.HashedRekordBody(w.digest, sig, pemInEntry)
	if err != nil {
		t.Fatal(err)
	}
	e, err := w.s.Log.Append(body, w.policy.Digest.String(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	entry, err := w.s.Log.BundleEntry(e, true)
	if err != nil {
		t.Fatal(err)
	}
	b := w.message(t, w.opts(nil))
	b.GetMessageSignature().Signature = sig
	b.VerificationMaterial.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: inBundle.Raw}}
	b.VerificationMaterial.TlogEntries = b.VerificationMaterial.TlogEntries[:0]
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, entry)
	return marshal(t, b)
}

// withExtraEntry appends the first log entry of the bundle JSON extra to b.
func withExtraEntry(t *testing.T, b *bundle.Bundle, extra []byte) []byte {
	t.Helper()
	var e bundle.Bundle
	if err := e.UnmarshalJSON(extra); err != nil {
		t.Fatal(err)
	}
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, e.VerificationMaterial.TlogEntries[0])
	return marshal(t, b)
}

// Every malformed, inconsistent or forged bundle is rejected, by the
// check that names the problem and with the sentinel error for it.
func TestBundleRejected(t *testing.T) {
	w := newWorld(t)
	anHourAgo := time.Now().Add(-time.Hour)
	otherDigest := sha256.Sum256([]byte("kubelet"))
	v01 := func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV01 }
	v02 := func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV02 }
	rekorV2 := func(o *testworld.BundleOptions) { o.TSA, o.RekorV2 = w.tsa, w.v2 }
	genuine := func(t *testing.T) *bundle.Bundle { return w.message(t, w.opts(nil)) }

	cases := []struct {
		name     string
		bundle   func(t *testing.T) []byte
		digest   []byte // policy digest, default w.digest
		check    string
		sentinel error
		reason   string // substring of the error
	}{
		// The artifact and the signer.
		{"digest mismatch", func(t *testing.T) []byte { return w.genuineV03JSON }, otherDigest[:],
			"signature", sigverify.ErrDigestMismatch, "message digest is not the artifact's"},
		{"digest mismatch dsse", func(t *testing.T) []byte { return marshal(t, w.dsse(t, w.opts(nil))) }, otherDigest[:],
			"signature", sigverify.ErrDigestMismatch, "a statement about 1 subjects: sha256:"},
		{"wrong identity", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.Identity = testworld.ForeignIdentity })))
		}, nil, "identity", sigverify.ErrIdentityMismatch, testworld.ForeignIdentity},
		{"wrong issuer", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.Issuer = testworld.ForeignIssuer })))
		}, nil, "identity", sigverify.ErrIdentityMismatch, testworld.ForeignIssuer},
		{"issuer extensions disagree", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.IssuerV2 = testworld.ForeignIssuer })))
		}, nil, "identity", sigverify.ErrIdentityMismatch, `1.3.6.1.4.1.57264.1.8 "` + testworld.ForeignIssuer + `", 1.3.6.1.4.1.57264.1.1 "` + artifacts.BlobSigner.Issuer + `"`},
		{"a URI SAN spelled like the e-mail", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.IdentityAsURI = true })))
		}, nil, "identity", sigverify.ErrIdentityMismatch, "URI SAN " + artifacts.BlobSigner.SAN + " (no e-mail SAN)"},
		{"two e-mail SANs, the expected one first", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.ExtraEmails = []string{testworld.ForeignIdentity} })))
		}, nil, "identity", sigverify.ErrIdentityMismatch, "2 subject alternative names: e-mail SAN " + artifacts.BlobSigner.SAN + ", e-mail SAN " + testworld.ForeignIdentity},
		{"an e-mail SAN and a URI SAN", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) {
				o.IdentityAsURI, o.ExtraEmails = true, []string{artifacts.BlobSigner.SAN}
			})))
		}, nil, "identity", sigverify.ErrIdentityMismatch, "2 subject alternative names"},
		// Identities are compared whole: a look-alike that contains the
		// real one, or that the real one contains, is another identity.
		{"look-alike SAN containing the real one", func(t *testing.T) []byte {
			return w.signedAs(t, "x"+artifacts.BlobSigner.SAN+".evil", artifacts.BlobSigner.Issuer)
		}, nil, "identity", sigverify.ErrIdentityMismatch, "x" + artifacts.BlobSigner.SAN + ".evil"},
		{"SAN contained in the real one", func(t *testing.T) []byte {
			return w.signedAs(t, strings.TrimSuffix(artifacts.BlobSigner.SAN, ".com"), artifacts.BlobSigner.Issuer)
		}, nil, "identity", sigverify.ErrIdentityMismatch, "gserviceaccount (issuer"},
		{"look-alike issuer containing the real one", func(t *testing.T) []byte {
			return w.signedAs(t, artifacts.BlobSigner.SAN, artifacts.BlobSigner.Issuer+".evil")
		}, nil, "identity", sigverify.ErrIdentityMismatch, artifacts.BlobSigner.Issuer + ".evil"},
		{"look-alike issuer path", func(t *testing.T) []byte {
			return w.signedAs(t, artifacts.BlobSigner.SAN, artifacts.BlobSigner.Issuer+"/evil")
		}, nil, "identity", sigverify.ErrIdentityMismatch, artifacts.BlobSigner.Issuer + "/evil"},
		{"issuer contained in the real one", func(t *testing.T) []byte {
			return w.signedAs(t, artifacts.BlobSigner.SAN, strings.TrimSuffix(artifacts.BlobSigner.Issuer, "m"))
		}, nil, "identity", sigverify.ErrIdentityMismatch, "google.co)"},
		// A DSSE envelope signs its payload type too (PAE); only in-toto
		// statements are accepted.
		{"dsse of another payload type", func(t *testing.T) []byte {
			return marshal(t, w.dsse(t, w.opts(func(o *testworld.BundleOptions) { o.PayloadType = "application/json" })))
		}, nil, "signature", sigverify.ErrBundleInvalid, "payload type application/json"},
		{"certificate from another CA", func(t *testing.T) []byte {
			b, err := w.other.MessageSignatureBundle(w.digest, w.opts(nil))
			if err != nil {
				t.Fatal(err)
			}
			return marshal(t, b)
		}, nil, "certificate-chain", sigverify.ErrCertificateUntrusted, "leaf certificate verification failed"},
		{"certificate without SCT", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.NoSCT = true })))
		}, nil, "sct", sigverify.ErrCertificateUntrusted, ""},

		// The verification material.
		{"root certificate in a v0.2 chain", func(t *testing.T) []byte {
			return w.forge(t, w.message(t, w.opts(v02)), testworld.ForgeRootInChain)
		}, nil, "certificate-chain", sigverify.ErrBundleInvalid, "root certificate CN=sigstore"},
		{"root certificate in a v0.1 chain", func(t *testing.T) []byte {
			return w.forge(t, w.message(t, w.opts(v01)), testworld.ForgeRootInChain)
		}, nil, "certificate-chain", sigverify.ErrBundleInvalid, "root certificate"},
		{"empty chain", func(t *testing.T) []byte { return w.forge(t, w.message(t, w.opts(v02)), testworld.ForgeEmptyChain) },
			nil, "certificate-chain", sigverify.ErrBundleInvalid, "an empty certificate chain"},
		// Each certificate after the leaf is a CA that issued the one before.
		{"non-CA certificate after the leaf", func(t *testing.T) []byte {
			another := w.message(t, w.opts(v02)).VerificationMaterial.GetX509CertificateChain().GetCertificates()[0]
			return w.withChain(t, func(leaf, intermediate *protocommon.X509Certificate) []*protocommon.X509Certificate {
				return []*protocommon.X509Certificate{leaf, another}
			})
		}, nil, "certificate-chain", sigverify.ErrBundleInvalid, "non-CA certificate"},
		{"another CA's intermediate after the leaf", func(t *testing.T) []byte {
			return w.withChain(t, func(leaf, _ *protocommon.X509Certificate) []*protocommon.X509Certificate {
				return []*protocommon.X509Certificate{leaf, {RawBytes: w.other.IntermediateCert.Raw}}
			})
		}, nil, "certificate-chain", sigverify.ErrBundleInvalid, "certificate 0 not issued by"},
		{"intermediates out of issuing order", func(t *testing.T) []byte {
			return w.withChain(t, func(leaf, intermediate *protocommon.X509Certificate) []*protocommon.X509Certificate {
				return []*protocommon.X509Certificate{leaf, intermediate, intermediate}
			})
		}, nil, "certificate-chain", sigverify.ErrBundleInvalid, "certificate 1 not issued by"},
		{"public key instead of a certificate", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgePublicKey) },
			nil, "bundle", sigverify.ErrBundleInvalid, "a public key"},

		// The transparency log.
		{"not in the log", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.NoLog = true })))
		}, nil, "transparency-log", sigverify.ErrNotInLog, ""},
		{"inclusion proof tampered", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeInclusionProof) },
			nil, "transparency-log", sigverify.ErrLogEntryInvalid, "inclusion proof"},
		{"inclusion proof tampered, Rekor v2", func(t *testing.T) []byte {
			return w.forge(t, w.message(t, w.opts(rekorV2)), testworld.ForgeInclusionProof)
		}, nil, "transparency-log", sigverify.ErrLogEntryInvalid, "inclusion proof"},
		{"checkpoint signed by another key", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeCheckpointKey) },
			nil, "transparency-log", sigverify.ErrLogEntryInvalid, "signature on checkpoint did not verify"},
		{"checkpoint signed by another key, Rekor v2", func(t *testing.T) []byte {
			return w.forge(t, w.message(t, w.opts(rekorV2)), testworld.ForgeCheckpointKey)
		}, nil, "transparency-log", sigverify.ErrLogEntryInvalid, "checkpoint"},
		{"checkpoint for another root hash", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeCheckpointRoot) },
			nil, "transparency-log", sigverify.ErrLogEntryInvalid, "does not match signed tree head"},
		{"forged SET v0.3", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeSET) },
			nil, "transparency-log", sigverify.ErrLogEntryInvalid, "signed entry timestamp: unable to verify SET"},
		{"forged SET v0.1", func(t *testing.T) []byte { return w.forge(t, w.message(t, w.opts(v01)), testworld.ForgeSET) },
			nil, "transparency-log", sigverify.ErrLogEntryInvalid, "signed entry timestamp: unable to verify SET"},
		{"entry recording another signature", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeEntrySignature) },
			nil, "transparency-log", sigverify.ErrLogEntryInvalid, "another signature"},
		{"entry recording another signature, dsse", func(t *testing.T) []byte {
			return w.forge(t, w.dsse(t, w.opts(nil)), testworld.ForgeEntrySignature)
		}, nil, "transparency-log", sigverify.ErrLogEntryInvalid, "another signature"},
		{"entry recording another certificate of the same key", func(t *testing.T) []byte { return w.entryOfAnotherCertificate(t) },
			nil, "transparency-log", sigverify.ErrLogEntryInvalid, "another certificate"},
		{"entry for another digest", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeEntryDigest) },
			nil, "transparency-log", sigverify.ErrLogEntryInvalid, "an entry of another artifact"},
		{"entry for another payload, dsse", func(t *testing.T) []byte {
			return w.forge(t, w.dsse(t, w.opts(nil)), testworld.ForgeEntryDigest)
		}, nil, "transparency-log", sigverify.ErrLogEntryInvalid, "an entry of another envelope"},
		{"entry for another payload, intoto", func(t *testing.T) []byte {
			return w.forge(t, w.dsse(t, w.opts(func(o *testworld.BundleOptions) { o.EntryKind = testworld.EntryIntoto })), testworld.ForgeEntryDigest)
		}, nil, "transparency-log", sigverify.ErrLogEntryInvalid, "an entry of another envelope"},
		{"entry of a log not in the trusted root", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeForeignLog) },
			nil, "transparency-log", sigverify.ErrLogEntryInvalid, "is not in the trusted root"},
		{"entry of a Rekor v2 log not in the trusted root", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.TSA, o.RekorV2 = w.tsa, w.otherV2 })))
		}, nil, "transparency-log", sigverify.ErrLogEntryInvalid, "is not in the trusted root"},

		// Time.
		{"integrated time after the certificate expired", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.NotBefore = anHourAgo })))
		}, nil, "validity-at-log-time", sigverify.ErrCertificateExpired, "logged at"},
		{"integrated time before the certificate", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.IntegratedTime = anHourAgo })))
		}, nil, "validity-at-log-time", sigverify.ErrCertificateExpired, "logged at"},
		{"timestamp after the certificate expired", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) {
				o.TSA, o.TimestampTime = w.tsa, time.Now().Add(time.Hour)
			})))
		}, nil, "validity-at-log-time", sigverify.ErrCertificateExpired, "timestamped at"},
		{"timestamp after the certificate expired, Rekor v2", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) {
				o.TSA, o.RekorV2, o.TimestampTime = w.tsa, w.v2, time.Now().Add(time.Hour)
			})))
		}, nil, "validity-at-log-time", sigverify.ErrCertificateExpired, "timestamped at"},
		{"timestamp from an authority not in the trusted root", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.TSA = w.otherTSA })))
		}, nil, "timestamp", sigverify.ErrBundleInvalid, "0 of 1 timestamps verify"},
		{"Rekor v2 entry without any signed time", func(t *testing.T) []byte {
			return marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) { o.RekorV2 = w.v2 })))
		}, nil, "validity-at-log-time", sigverify.ErrBundleInvalid, "a signed time of signing"},

		// The bundle itself.
		{"unknown media type", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeMediaType) },
			nil, "bundle", sigverify.ErrBundleInvalid, "unsupported media type"},
		{"truncated JSON", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeTruncated) },
			nil, "bundle", sigverify.ErrBundleInvalid, ""},
		{"garbage", func(t *testing.T) []byte { return w.forge(t, genuine(t), testworld.ForgeGarbage) },
			nil, "bundle", sigverify.ErrBundleInvalid, ""},
		{"empty file", func(t *testing.T) []byte { return nil }, nil, "bundle", sigverify.ErrBundleInvalid, "empty bundle"},
		{"v0.3 with a certificate chain", func(t *testing.T) []byte {
			data := marshal(t, w.message(t, w.opts(v02)))
			return []byte(strings.Replace(string(data), testworld.BundleV02, testworld.BundleV03, 1))
		}, nil, "bundle", sigverify.ErrBundleInvalid, "cannot be X.509 certificate chain"},
		{"v0.2 without inclusion proof", func(t *testing.T) []byte {
			data := marshal(t, w.message(t, w.opts(v01)))
			return []byte(strings.Replace(string(data), testworld.BundleV01, testworld.BundleV02, 1))
		}, nil, "bundle", sigverify.ErrBundleInvalid, "inclusion proof missing"},
		{"v0.1 without inclusion promise", func(t *testing.T) []byte {
			b := w.message(t, w.opts(func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV01 }))
			for _, e := range b.VerificationMaterial.TlogEntries {
				e.InclusionPromise = nil
			}
			return marshal(t, b)
		}, nil, "bundle", sigverify.ErrBundleInvalid, "inclusion promises missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := w.policy
			if tc.digest != nil {
				p.Digest = sigverify.SHA256Digest(tc.digest)
			}
			res := w.v.BundleJSON(tc.bundle(t), p)
			if res.Verified() {
				t.Fatalf("verified; checks: %+v", res.Checks)
			}
			if got := sigverify.FailedCheckOf(res.Err); string(got) != tc.check {
				t.Errorf("failed check %q, want %q: %v", got, tc.check, res.Err)
			}
			if !errors.Is(res.Err, tc.sentinel) {
				t.Errorf("error %v does not wrap %v", res.Err, tc.sentinel)
			}
			if !strings.Contains(res.Error, tc.reason) {
				t.Errorf("reason %q does not say %q", res.Error, tc.reason)
			}
			last := res.Checks[len(res.Checks)-1]
			if last.OK || string(last.Name) != tc.check {
				t.Errorf("last check %+v, want the failed %s", last, tc.check)
			}
			for _, c := range res.Checks[:len(res.Checks)-1] {
				if !c.OK {
					t.Errorf("check %s failed before the last", c.Name)
				}
			}
			t.Log(res.Error)
		})
	}
}

// A nil bundle, no trust or an empty policy never verifies.
func TestBundleMisuse(t *testing.T) {
	w := newWorld(t)
	b, err := sigverify.ParseBundle(w.genuineV03JSON)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sigverify.NewVerifier(nil); !errors.Is(err, sigverify.ErrNoTrust) {
		t.Errorf("a verifier without trust: %v", err)
	}
	if _, err := sigverify.NewVerifier(&sigverify.Trust{}); !errors.Is(err, sigverify.ErrNoTrust) {
		t.Errorf("a verifier of empty trust: %v", err)
	}
	for name, res := range map[string]*sigverify.Result{
		"nil bundle":  w.v.Bundle(nil, w.policy),
		"no identity": w.v.Bundle(b, sigverify.Policy{Digest: w.policy.Digest}),
		"no digest":   w.v.Bundle(b, sigverify.Policy{Identity: w.policy.Identity}),
	} {
		if res.Verified() || !errors.Is(res.Err, sigverify.ErrBundleInvalid) {
			t.Errorf("%s: %v", name, res.Err)
		}
	}
	if _, err := sigverify.ParseBundle([]byte("{")); !errors.Is(err, sigverify.ErrBundleInvalid) {
		t.Errorf("ParseBundle of garbage: %v", err)
	}
}

// The verifier holds a bundle to sigstore-go's form however it was built:
// one that bundle.NewBundle would refuse, built without it, is refused.
func TestBundleFormCheckedByVerifier(t *testing.T) {
	w := newWorld(t)
	withMediaType := func(from, to string) *bundle.Bundle {
		b := w.message(t, w.opts(func(o *testworld.BundleOptions) { o.MediaType = from }))
		b.MediaType = to
		return b
	}
	for name, b := range map[string]*bundle.Bundle{
		"v0.3 with a certificate chain": withMediaType(testworld.BundleV02, testworld.BundleV03),
		"v0.2 without inclusion proof":  withMediaType(testworld.BundleV01, testworld.BundleV02),
	} {
		raw := &bundle.Bundle{Bundle: b.Bundle} // built neither by bundle.NewBundle nor by sigverify.NewBundle
		res := w.v.Bundle(raw, w.policy)
		if res.Verified() || sigverify.FailedCheckOf(res.Err) != "bundle" {
			t.Errorf("%s: %v", name, res.Err)
		}
	}
}

// BenchmarkBundle is the CPU cost of verifying one artifact's signature
// once its evidence is fetched: parse the bundle JSON, run every check
// and sigstore-go's verifier.
func BenchmarkBundle(b *testing.B) {
	w := newWorld(b)
	for _, bc := range []struct {
		name string
		make func() (*bundle.Bundle, error)
	}{
		{"message-v0.3", func() (*bundle.Bundle, error) { return w.s.MessageSignatureBundle(w.digest, w.opts(nil)) }},
		{"message-v0.1", func() (*bundle.Bundle, error) {
			return w.s.MessageSignatureBundle(w.digest, w.opts(func(o *testworld.BundleOptions) { o.MediaType = testworld.BundleV01 }))
		}},
		{"dsse-v0.3", func() (*bundle.Bundle, error) { return w.s.DSSEBundle(w.digest, w.opts(nil)) }},
		{"message-v0.3-rekor-v2-tsa", func() (*bundle.Bundle, error) {
			return w.s.MessageSignatureBundle(w.digest, w.opts(func(o *testworld.BundleOptions) { o.TSA, o.RekorV2 = w.tsa, w.v2 }))
		}},
	} {
		bnd, err := bc.make()
		if err != nil {
			b.Fatal(err)
		}
		data, err := bnd.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			user0, _ := testworld.CPUTimes(b)
			for b.Loop() {
				if res := w.v.BundleJSON(data, w.policy); !res.Verified() {
					b.Fatal(res.Err)
				}
			}
			user, _ := testworld.CPUTimes(b)
			b.ReportMetric(float64((user-user0).Microseconds())/float64(b.N), "user-µs/op")
		})
	}
}

// withCAWindowEnd returns a verifier of w's trust whose Fulcio CAs'
// validity periods end at end (a retired CA, as the public-good root
// lists its first one).
func (w *world) withCAWindowEnd(t *testing.T, end time.Time) *sigverify.Verifier {
	t.Helper()
	tr, err := w.s.TrustedRootWith(w.tsa, w.v2)
	if err != nil {
		t.Fatal(err)
	}
	var cas []root.CertificateAuthority
	for _, ca := range tr.FulcioCertificateAuthorities() {
		f := *ca.(*root.FulcioCertificateAuthority)
		f.ValidityPeriodEnd = end
		cas = append(cas, &f)
	}
	retired, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, tr.CTLogs(), tr.TimestampingAuthorities(), tr.RekorLogs())
	if err != nil {
		t.Fatal(err)
	}
	v, err := sigverify.NewVerifier(&sigverify.Trust{Material: retired})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The Fulcio CA's validity period is honoured at every signed time the
// evidence carries, as sigstore-go checks the chain: a certificate whose
// NotBefore falls in the CA's window but that was logged or timestamped
// after the window ended fails "certificate-chain" (whoever holds a
// retired CA key can backdate NotBefore; the window's end exists to stop
// that). Signed within the window, it verifies.
func TestBundleCAWindowAtSignedTime(t *testing.T) {
	w := newWorld(t)
	notBefore := time.Now().Add(-time.Hour).Truncate(time.Second)
	v := w.withCAWindowEnd(t, notBefore.Add(time.Minute))
	at := func(d time.Duration) time.Time { return notBefore.Add(d) }
	cases := []struct {
		name     string
		opts     func(o *testworld.BundleOptions)
		verified bool
		reason   string
	}{
		{"SET within the window", func(o *testworld.BundleOptions) { o.IntegratedTime = at(30 * time.Second) }, true, ""},
		{"SET after the window", func(o *testworld.BundleOptions) { o.IntegratedTime = at(5 * time.Minute) }, false, "logged at"},
		{"SET within, RFC 3161 timestamp after the window", func(o *testworld.BundleOptions) {
			o.IntegratedTime, o.TSA, o.TimestampTime = at(30*time.Second), w.tsa, at(5*time.Minute)
		}, false, "timestamped at"},
		{"Rekor v2, RFC 3161 timestamp after the window", func(o *testworld.BundleOptions) {
			o.RekorV2, o.TSA, o.TimestampTime = w.v2, w.tsa, at(5*time.Minute)
		}, false, "timestamped at"},
		{"Rekor v2, RFC 3161 timestamp within the window", func(o *testworld.BundleOptions) {
			o.RekorV2, o.TSA, o.TimestampTime = w.v2, w.tsa, at(30*time.Second)
		}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := v.BundleJSON(marshal(t, w.message(t, w.opts(func(o *testworld.BundleOptions) {
				o.NotBefore = notBefore
				tc.opts(o)
			}))), w.policy)
			if tc.verified {
				if !res.Verified() {
					t.Fatalf("not verified: %v", res.Err)
				}
				return
			}
			if res.Verified() {
				t.Fatalf("verified; checks: %+v", res.Checks)
			}
			if got := sigverify.FailedCheckOf(res.Err); got != "certificate-chain" {
				t.Errorf("failed check %q, want certificate-chain: %v", got, res.Err)
			}
			if !errors.Is(res.Err, sigverify.ErrCertificateUntrusted) {
				t.Errorf("error %v does not wrap ErrCertificateUntrusted", res.Err)
			}
			if !strings.Contains(res.Error, tc.reason) {
				t.Errorf("reason %q does not say %q", res.Error, tc.reason)
			}
			t.Log(res.Error)
		})
	}
}
