package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// Trust is what verification trusts: the Sigstore trusted material
// (Fulcio CAs, CT logs, Rekor logs, timestamp authorities). Load it once
// per run and share it; it is safe for concurrent use.
type Trust struct {
	Material root.TrustedMaterial
}

// LoadTrustedRoot reads a trusted_root.json.
func LoadTrustedRoot(path string) (*Trust, error) {
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	return &Trust{Material: tr}, nil
}

// ParseBundle parses a Sigstore bundle (protobuf-specs JSON) as
// sigstore-go does: a known media type (v0.1, v0.2, v0.3), a signature or
// DSSE envelope, verification material, and the inclusion promises or
// proofs the version requires. Its errors wrap ErrBundleInvalid.
func ParseBundle(data []byte) (*bundle.Bundle, error) {
	b, err := parseBundle(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundleInvalid, err)
	}
	return b, nil
}

func parseBundle(data []byte) (*bundle.Bundle, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty bundle")
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return &b, nil
}

// BundleJSON parses a bundle and verifies it as Bundle does; a bundle that
// cannot be parsed fails the "bundle" check.
func BundleJSON(data []byte, trust *Trust, p Policy) *SignatureResult {
	b, err := parseBundle(data)
	if err != nil {
		return (&SignatureResult{}).fail("bundle", ErrBundleInvalid, "a Sigstore bundle (media type v0.1, v0.2 or v0.3)", "an unusable bundle", err)
	}
	return Bundle(b, trust, p)
}

// Bundle verifies one Sigstore bundle (a message signature or a DSSE
// envelope of an in-toto statement) against the trust and the policy:
//
//   - bundle: well formed; a Fulcio certificate, not a public key;
//   - certificate-chain: a v0.1/v0.2 chain holds the leaf and
//     intermediates only (no root), each issued by the next; the leaf
//     chains to a trusted Fulcio CA;
//   - sct: an embedded SCT from a trusted CT log;
//   - identity: exact SAN and OIDC issuer;
//   - signature: over the policy's digest (for DSSE: the statement names
//     the digest as a subject);
//   - timestamp: every RFC 3161 timestamp verifies against a timestamp
//     authority of the trust;
//   - transparency-log: an entry of a trusted Rekor log (v1 or v2) whose
//     SET and/or inclusion proof and checkpoint verify, and that records
//     this very digest (or payload), signature and certificate;
//   - validity-at-log-time: the certificate was valid at every integrated
//     time and timestamp;
//   - sigstore-go: sigstore-go's complete verifier agrees.
//
// Every check is recorded as it runs; the first failure ends
// verification, its error wraps one of the package's sentinels.
func Bundle(b *bundle.Bundle, trust *Trust, p Policy) *SignatureResult {
	r := &SignatureResult{}
	if trust == nil || trust.Material == nil {
		return r.fail("policy", ErrBundleInvalid, "trusted material", "none", nil)
	}
	if err := p.validate(); err != nil {
		return r.fail("policy", ErrBundleInvalid, "", "", err)
	}
	if b == nil || b.Bundle == nil {
		return r.fail("bundle", ErrBundleInvalid, "a Sigstore bundle", "none", nil)
	}
	version, err := b.Version()
	if err != nil {
		return r.fail("bundle", ErrBundleInvalid, "a Sigstore bundle (media type v0.1, v0.2 or v0.3)", b.GetMediaType(), err)
	}
	if pk := b.GetVerificationMaterial().GetPublicKey(); pk != nil {
		return r.fail("bundle", ErrBundleInvalid, "a Fulcio certificate (keyless signature)", fmt.Sprintf("a public key (hint %q)", pk.GetHint()), nil)
	}
	if res := checkChainShape(r, b, trust, p.AllowTrustedRootInChain); res != nil {
		return res
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return r.fail("bundle", ErrBundleInvalid, "", "", err)
	}
	leaf := vc.Certificate()
	if leaf == nil {
		return r.fail("bundle", ErrBundleInvalid, "a Fulcio certificate (keyless signature)", "no certificate", nil)
	}
	sc, err := b.SignatureContent()
	if err != nil {
		return r.fail("bundle", ErrBundleInvalid, "", "", err)
	}
	entries, err := b.TlogEntries()
	if err != nil {
		return r.fail("bundle", ErrBundleInvalid, "", "", err)
	}
	timestamps, err := b.Timestamps()
	if err != nil {
		return r.fail("bundle", ErrBundleInvalid, "", "", err)
	}
	kind := "message signature"
	if sc.EnvelopeContent() != nil {
		kind = "DSSE envelope"
	}
	r.pass("bundle", "", fmt.Sprintf("%s bundle: certificate, %s, %d log entries, %d RFC 3161 timestamps", version, kind, len(entries), len(timestamps)))

	summary, summaryErr := certificate.SummarizeCertificate(leaf)
	if summaryErr == nil {
		r.Signer = &artifacts.Identity{SAN: summary.SubjectAlternativeName, Issuer: summary.Extensions.Issuer}
	}

	// Certificate chain, at the start of the certificate's validity; its
	// validity when it was used is checked below, by its own name.
	chains, err := sgverify.VerifyLeafCertificate(leaf.NotBefore, copyCert(leaf), trust.Material)
	if err != nil {
		return r.fail("certificate-chain", ErrCertificateUntrusted, "a chain to a trusted Fulcio CA", issuerOf(leaf), err)
	}
	r.pass("certificate-chain", "", issuerOf(leaf))
	if err := sgverify.VerifySignedCertificateTimestamp(chains, 1, trust.Material); err != nil {
		return r.fail("sct", ErrCertificateUntrusted, "an embedded SCT from a trusted CT log", "", err)
	}
	r.pass("sct", "", "embedded SCT verified")

	// Identity: exact SAN and issuer.
	want := identityString(p.Identity)
	if r.Signer == nil {
		return r.fail("identity", ErrIdentityMismatch, want, "no identity", summaryErr)
	}
	got := identityString(*r.Signer)
	id, err := sgverify.NewShortCertificateIdentity(p.Identity.Issuer, "", p.Identity.SAN, "")
	if err != nil {
		return r.fail("identity", ErrBundleInvalid, want, got, err)
	}
	if err := id.Verify(summary); err != nil || r.Signer.SAN != p.Identity.SAN || r.Signer.Issuer != p.Identity.Issuer {
		return r.fail("identity", ErrIdentityMismatch, want, got, nil)
	}
	r.pass("identity", want, got)

	// Signature over the digest.
	if res := checkSignedDigest(r, sc, p.Digest); res != nil {
		return res
	}
	if err := sgverify.VerifySignatureWithArtifactDigests(sc, vc, trust.Material, []sgverify.ArtifactDigest{{Algorithm: p.Digest.Algorithm, Digest: p.Digest.Bytes()}}); err != nil {
		return r.fail("signature", ErrSignatureInvalid, "a signature over "+p.Digest.String(), "", err)
	}
	r.pass("signature", p.Digest.String(), "signature verified")

	// RFC 3161 timestamps: each one present must verify.
	var observed []observation
	if len(timestamps) > 0 {
		verified, errs, err := sgverify.VerifySignedTimestamp(b, trust.Material)
		if err == nil && len(errs) > 0 {
			err = errors.Join(errs...)
		}
		if err != nil {
			return r.fail("timestamp", ErrBundleInvalid, "RFC 3161 timestamps from a timestamp authority of the trusted root",
				fmt.Sprintf("%d of %d timestamps verify", len(verified), len(timestamps)), err)
		}
		var at []string
		for _, ts := range verified {
			observed = append(observed, observation{ts.Time, "timestamped at " + ts.Time.UTC().Format(time.RFC3339) + " by " + orNone(ts.URI)})
			at = append(at, ts.Time.UTC().Format(time.RFC3339))
		}
		r.pass("timestamp", "", "RFC 3161 timestamps verified: "+strings.Join(at, ", "))
	}

	// Transparency log.
	if len(entries) == 0 {
		return r.fail("transparency-log", ErrNotInLog, "a Rekor entry for this signature", "none", nil)
	}
	var first *tlog.Entry
	var proofs string
	var skipped []error
	for _, e := range entries {
		known, what, err := checkEntry(e, trust.Material, sc, leaf)
		if !known {
			skipped = append(skipped, err)
			continue
		}
		if err != nil {
			return r.fail("transparency-log", ErrLogEntryInvalid, "an entry that proves this signature was logged", describeEntry(e), err)
		}
		if t := e.IntegratedTime(); !t.IsZero() {
			at := "logged at " + t.UTC().Format(time.RFC3339)
			if e.HasInclusionPromise() {
				observed = append(observed, observation{t, at})
			} else {
				// Not signed by the log, yet it must not contradict the certificate.
				observed = append(observed, observation{t, at + " (unsigned integrated time)"})
			}
		}
		if first == nil {
			first, proofs = e, what
		}
	}
	if first == nil {
		return r.fail("transparency-log", ErrLogEntryInvalid, "an entry in a Rekor log of the trusted root", describeEntry(entries[0]), errors.Join(skipped...))
	}
	idx := first.LogIndex()
	r.LogIndex = &idx
	if t := first.IntegratedTime(); !t.IsZero() {
		t = t.UTC()
		r.IntegratedTime = &t
	}
	r.pass("transparency-log", "", fmt.Sprintf("%s: %s verified", describeEntry(first), proofs))

	// The certificate was valid whenever the signature was observed: at
	// every integrated time and timestamp. One of them must be signed (a
	// SET or an RFC 3161 timestamp): Rekor v2 entries carry no time.
	signedTime := false
	for _, o := range observed {
		if !strings.HasSuffix(o.what, "(unsigned integrated time)") {
			signedTime = true
		}
		if o.at.Before(leaf.NotBefore) || o.at.After(leaf.NotAfter) {
			return r.fail("validity-at-log-time", ErrCertificateExpired,
				fmt.Sprintf("a time within the certificate's validity, %s … %s", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)), o.what, nil)
		}
	}
	if !signedTime {
		return r.fail("validity-at-log-time", ErrBundleInvalid, "a signed time of signing: a signed entry timestamp or an RFC 3161 timestamp", "none", nil)
	}
	var whens []string
	for _, o := range observed {
		whens = append(whens, o.what)
	}
	r.pass("validity-at-log-time", "", strings.Join(whens, "; "))

	// sigstore-go's complete verifier must agree.
	v, err := sgverify.NewVerifier(trust.Material,
		sgverify.WithTransparencyLog(1), sgverify.WithObserverTimestamps(1), sgverify.WithSignedCertificateTimestamps(1))
	if err != nil {
		return r.fail("sigstore-go", ErrBundleInvalid, "", "", err)
	}
	if _, err := v.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest(p.Digest.Algorithm, p.Digest.Bytes()), sgverify.WithCertificateIdentity(id))); err != nil {
		return r.fail("sigstore-go", ErrBundleInvalid, "", "", err)
	}
	r.pass("sigstore-go", "", "verified")
	return r
}

var errRootInChain = errors.New("signers must not include root certificates; bundles of old signers that include the trusted Fulcio root are accepted with --allow-root-in-chain")

// isTrustedRoot reports whether c is the root of a trusted Fulcio CA.
func isTrustedRoot(trust *Trust, c *x509.Certificate) bool {
	for _, ca := range trust.Material.FulcioCertificateAuthorities() {
		if f, ok := ca.(*root.FulcioCertificateAuthority); ok && f.Root != nil && bytes.Equal(f.Root.Raw, c.Raw) {
			return true
		}
	}
	return false
}

type observation struct {
	at   time.Time
	what string
}

// checkChainShape checks a v0.1/v0.2 certificate chain: not empty, the
// leaf first, then intermediates each issuing the one before, and no root
// certificate (trust anchors come from the trusted root only). With
// allowTrustedRoot, a chain ending in one of the trusted Fulcio roots
// (as old signers wrote them) is accepted; the root is not used.
func checkChainShape(r *SignatureResult, b *bundle.Bundle, trust *Trust, allowTrustedRoot bool) *SignatureResult {
	chain := b.GetVerificationMaterial().GetX509CertificateChain()
	if chain == nil {
		return nil
	}
	const want = "the signing certificate, then intermediates (no root)"
	raw := chain.GetCertificates()
	if len(raw) == 0 {
		return r.fail("certificate-chain", ErrBundleInvalid, want, "an empty certificate chain", nil)
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, c := range raw {
		cert, err := x509.ParseCertificate(c.GetRawBytes())
		if err != nil {
			return r.fail("certificate-chain", ErrBundleInvalid, want, fmt.Sprintf("certificate %d of the chain unparseable", i), err)
		}
		certs[i] = cert
	}
	for i, c := range certs[1:] {
		if bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
			if allowTrustedRoot && i == len(certs)-2 && isTrustedRoot(trust, c) {
				break
			}
			return r.fail("certificate-chain", ErrBundleInvalid, want, "root certificate "+c.Subject.String()+" in the chain", errRootInChain)
		}
		if !c.IsCA {
			return r.fail("certificate-chain", ErrBundleInvalid, want, "non-CA certificate "+c.Subject.String()+" after the leaf", nil)
		}
		if err := certs[i].CheckSignatureFrom(c); err != nil {
			return r.fail("certificate-chain", ErrBundleInvalid, want,
				fmt.Sprintf("certificate %d not issued by %s", i, c.Subject.String()), err)
		}
	}
	return nil
}

// checkSignedDigest checks that what was signed is about the policy's
// digest: a message signature's digest, or a subject of a DSSE envelope's
// in-toto statement.
func checkSignedDigest(r *SignatureResult, sc sgverify.SignatureContent, d Digest) *SignatureResult {
	if md := sc.MessageSignatureContent(); md != nil {
		if !bytes.Equal(md.Digest(), d.Bytes()) {
			got := Digest{Algorithm: d.Algorithm, Hex: hex.EncodeToString(md.Digest())}
			return r.fail("signature", ErrDigestMismatch, d.String(), got.String(), errors.New("the bundle's message digest is not the artifact's"))
		}
		return nil
	}
	env := sc.EnvelopeContent()
	if env == nil {
		return r.fail("signature", ErrBundleInvalid, "a message signature or a DSSE envelope", "none", nil)
	}
	if pt := env.RawEnvelope().PayloadType; pt != bundle.IntotoMediaType {
		return r.fail("signature", ErrBundleInvalid, "a DSSE envelope of an in-toto statement", "payload type "+orNone(pt), nil)
	}
	st, err := env.Statement()
	if err != nil {
		return r.fail("signature", ErrBundleInvalid, "a DSSE envelope of an in-toto statement", "", err)
	}
	var subjects []string
	for _, s := range st.GetSubject() {
		if h, ok := s.GetDigest()[d.Algorithm]; ok {
			if strings.EqualFold(h, d.Hex) {
				return nil
			}
			subjects = append(subjects, d.Algorithm+":"+h)
		}
	}
	return r.fail("signature", ErrDigestMismatch, "an in-toto statement about "+d.String(),
		fmt.Sprintf("a statement about %d subjects: %s", len(st.GetSubject()), orNone(strings.Join(subjects, ", "))), nil)
}

// rekorV1Origin matches the origin line of a Rekor v1 checkpoint
// ("<host> - <tree ID>"), as sigstore-go tells v1 from v2 checkpoints.
var rekorV1Origin = regexp.MustCompile(`^.* - [0-9]+$`)

// checkEntry verifies one log entry against the trusted material and the
// bundle's signature: known is false (with err saying why) for an entry of
// a log the trusted root does not know; else err is nil when the entry's
// proofs verify and it records this digest or payload, this signature and
// this certificate; proofs names what was verified.
func checkEntry(e *tlog.Entry, tm root.TrustedMaterial, sc sgverify.SignatureContent, leaf *x509.Certificate) (known bool, proofs string, err error) {
	logID := hex.EncodeToString([]byte(e.LogKeyID()))
	logs := tm.RekorLogs()
	tl, ok := logs[logID]
	if !ok {
		return false, "", fmt.Errorf("log %s is not in the trusted root (an entry of another Sigstore instance?)", logID)
	}
	if err := tlog.ValidateEntry(e); err != nil {
		return true, "", err
	}
	if !e.HasInclusionPromise() && !e.HasInclusionProof() {
		return true, "", errors.New("the entry has neither a signed entry timestamp nor an inclusion proof")
	}
	if e.IsRekorV2() && !e.HasInclusionProof() {
		return true, "", errors.New("a Rekor v2 entry without inclusion proof")
	}
	var verified []string
	if e.HasInclusionPromise() {
		if err := tlog.VerifySET(e, logs); err != nil {
			return true, "", fmt.Errorf("signed entry timestamp: %w", err)
		}
		verified = append(verified, "signed entry timestamp")
	}
	if e.HasInclusionProof() {
		verifier, err := signature.LoadVerifier(tl.PublicKey, tl.SignatureHashFunc)
		if err != nil {
			return true, "", fmt.Errorf("log key: %w", err)
		}
		cp := e.TransparencyLogEntry().GetInclusionProof().GetCheckpoint().GetEnvelope()
		origin, _, _ := strings.Cut(cp, "\n")
		if rekorV1Origin.MatchString(origin) {
			err = tlog.VerifyInclusion(e, verifier)
		} else {
			u, perr := url.Parse(tl.BaseURL)
			if perr != nil || u.Hostname() == "" {
				return true, "", fmt.Errorf("log %s: no base URL to name its checkpoints' origin", logID)
			}
			err = tlog.VerifyCheckpointAndInclusion(e, verifier, u.Hostname())
		}
		if err != nil {
			return true, "", fmt.Errorf("inclusion proof and checkpoint: %w", err)
		}
		verified = append(verified, "inclusion proof and checkpoint")
	}
	if err := entryRecords(e, sc, leaf); err != nil {
		return true, "", err
	}
	return true, strings.Join(verified, " and "), nil
}

// entryRecords checks that the entry records this digest (or payload),
// this signature and this certificate.
func entryRecords(e *tlog.Entry, sc sgverify.SignatureContent, leaf *x509.Certificate) error {
	kind := e.TransparencyLogEntry().GetKindVersion().GetKind()
	if md := sc.MessageSignatureContent(); md != nil {
		got, _, ok := e.GetHashedRekordDigest()
		if !ok {
			return fmt.Errorf("a %s entry cannot record a message signature", kind)
		}
		if !bytes.Equal(got, md.Digest()) {
			return fmt.Errorf("the entry records digest %x, the bundle signs %x: an entry of another artifact", got, md.Digest())
		}
	} else if env := sc.EnvelopeContent(); env != nil {
		raw := env.RawEnvelope()
		payload, err := base64.StdEncoding.DecodeString(raw.Payload)
		if err != nil {
			return fmt.Errorf("envelope payload: %w", err)
		}
		if e.IsRekorV2() {
			got, _, ok := e.GetHashedRekordDigest()
			if !ok {
				return fmt.Errorf("a Rekor v2 %s entry cannot record a DSSE envelope", kind)
			}
			want, err := paeDigest(raw.PayloadType, payload, leaf)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				return fmt.Errorf("the entry records digest %x, the envelope's is %x: an entry of another envelope", got, want)
			}
		} else {
			got, ok := e.GetDssePayloadHash()
			if !ok {
				return fmt.Errorf("a %s entry cannot record a DSSE envelope", kind)
			}
			want := sha256.Sum256(payload)
			if !bytes.Equal(got, want[:]) {
				return fmt.Errorf("the entry records payload hash %x, the envelope's is %x: an entry of another envelope", got, want)
			}
		}
	}
	if !bytes.Equal(e.Signature(), sc.Signature()) {
		return errors.New("the entry records another signature than the bundle's")
	}
	switch k := e.PublicKey().(type) {
	case *x509.Certificate:
		if !k.Equal(leaf) {
			return fmt.Errorf("the entry records another certificate (serial %s) than the bundle's (serial %s)", k.SerialNumber, leaf.SerialNumber)
		}
	case nil:
		return errors.New("the entry records no certificate")
	default:
		return errors.New("the entry records a public key, not the bundle's certificate")
	}
	return nil
}

// paeDigest is the digest a Rekor v2 hashedrekord entry records for a
// DSSE envelope: of its pre-authentication encoding, with the hash of the
// signing key's algorithm.
func paeDigest(payloadType string, payload []byte, leaf *x509.Certificate) ([]byte, error) {
	alg, err := signature.GetDefaultAlgorithmDetails(leaf.PublicKey)
	if err != nil {
		return nil, err
	}
	hf := alg.GetHashType()
	if hf == crypto.Hash(0) || !hf.Available() {
		return nil, fmt.Errorf("no prehash for the certificate's key algorithm")
	}
	h := hf.New()
	h.Write(dsse.PAE(payloadType, payload))
	return h.Sum(nil), nil
}

func describeEntry(e *tlog.Entry) string {
	kv := e.TransparencyLogEntry().GetKindVersion()
	rekor := "Rekor v1"
	if e.IsRekorV2() {
		rekor = "Rekor v2"
	}
	id := hex.EncodeToString([]byte(e.LogKeyID()))
	if len(id) > 12 {
		id = id[:12] + "…"
	}
	return fmt.Sprintf("%s %s %s entry, log %s index %d", rekor, kv.GetKind(), kv.GetVersion(), id, e.LogIndex())
}

func identityString(id artifacts.Identity) string {
	return id.SAN + " (issuer " + orNone(id.Issuer) + ")"
}

func issuerOf(c *x509.Certificate) string { return "issued by " + c.Issuer.String() }

// copyCert protects the bundle's certificate from sigstore-go's edits of
// unhandled critical extensions.
func copyCert(c *x509.Certificate) *x509.Certificate {
	cc := *c
	return &cc
}
