package sigverify

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// bundleJSON parses a bundle and verifies it as Bundle does; a bundle that
// cannot be parsed fails the "bundle" check.
func (v *Verifier) bundleJSON(data []byte, p Policy) *Result {
	b, err := parseBundle(data)
	if err != nil {
		return (&Result{}).Fail(CheckBundle, ErrBundleInvalid, mediaTypes, unusable, err)
	}
	return v.Bundle(b, p)
}

// Bundle verifies one Sigstore bundle (a message signature or a DSSE
// envelope of an in-toto statement) against the verifier's trust and the
// policy. Each check runs once, in this order, and is recorded as it runs;
// the cryptographic ones are sigstore-go's own functions:
//
//   - bundle: well formed; a Fulcio certificate, not a public key; a
//     v0.1/v0.2 chain holds the leaf and intermediates only (no root),
//     each issued by the next;
//   - certificate-chain: the leaf chains to a trusted Fulcio CA
//     (sigstore-go VerifyLeafCertificate);
//   - sct: an embedded SCT from a trusted CT log
//     (VerifySignedCertificateTimestamp);
//   - identity: exact SAN and OIDC issuer;
//   - signature: over the policy's digest (for DSSE: the statement names
//     the digest as a subject) (VerifySignatureWithArtifactDigests);
//   - timestamp: every RFC 3161 timestamp verifies against a timestamp
//     authority of the trust (VerifySignedTimestamp);
//   - transparency-log: each entry of a trusted Rekor log is checked on
//     its own — SET and/or inclusion proof and checkpoint (sigstore-go's
//     tlog package), the entry records this very digest (or payload),
//     signature and certificate, and its signed time falls within the
//     certificate's validity. The earliest valid entry decides; later
//     copies (Rekor keeps one per shard, and anyone may log a copy) and
//     rejected entries are noted, never decisive while a valid one exists;
//   - validity-at-log-time: the certificate was valid at the deciding
//     entry's time and at every RFC 3161 timestamp, one of them signed;
//   - certificate-chain, again: the chain verifies, within the Fulcio CA's
//     validity period, at each signed time (the deciding entry's signed
//     integrated time and every RFC 3161 timestamp; a Rekor v2 entry
//     carries no time), as sigstore-go verifies the chain at each of its
//     observer timestamps.
//
// The first failure ends verification; its error wraps one of the
// package's sentinels.
func (v *Verifier) Bundle(b *bundle.Bundle, p Policy) *Result {
	r := &Result{}
	s, ok := v.open(r, b, p)
	if !ok {
		return r
	}
	steps := []func(*Result, *signed) bool{
		v.checkChain, v.checkSCT, checkIdentity, v.checkSignature, v.checkTimestamps, v.checkLog, checkValidity, v.checkChainWhenSigned,
	}
	for _, step := range steps {
		if !step(r, s) {
			return r
		}
	}
	return r
}

// BundleWithoutLog runs the checks of Bundle that need no transparency
// log — bundle, certificate-chain (at the start of the certificate's
// validity), sct, identity, signature — for a signature that comes with
// no log entry. A result that passes them proves who signed which digest,
// not when: it says nothing of the certificate's validity at signing
// time, so it must never count as verified (see
// verify.SignatureEvidence.NoLogProof).
func (v *Verifier) BundleWithoutLog(b *bundle.Bundle, p Policy) *Result {
	r := &Result{}
	s, ok := v.open(r, b, p)
	if !ok {
		return r
	}
	for _, step := range []func(*Result, *signed) bool{v.checkChain, v.checkSCT, checkIdentity, v.checkSignature} {
		if !step(r, s) {
			return r
		}
	}
	return r
}

// signed is a bundle's parts as the checks need them.
type signed struct {
	bundle     *bundle.Bundle
	policy     Policy
	leaf       *x509.Certificate
	summary    certificate.Summary
	content    sgverify.SignatureContent
	material   sgverify.VerificationContent
	entries    []*tlog.Entry
	timestamps int
	// observed are the times the signature was seen: the deciding entry's
	// and the RFC 3161 timestamps'.
	observed []observation
}

type observation struct {
	at     time.Time
	what   string
	signed bool
}

// open runs the "policy" and "bundle" checks and returns the parts.
func (v *Verifier) open(r *Result, b *bundle.Bundle, p Policy) (*signed, bool) {
	if err := p.validate(); err != nil {
		r.Fail(CheckPolicy, ErrBundleInvalid, "", "", err)
		return nil, false
	}
	if b == nil || b.Bundle == nil {
		r.Fail(CheckBundle, ErrBundleInvalid, "a Sigstore bundle", "none", nil)
		return nil, false
	}
	version, err := b.Version()
	if err != nil {
		r.Fail(CheckBundle, ErrBundleInvalid, mediaTypes, b.GetMediaType(), err)
		return nil, false
	}
	entries, err := checkForm(b, version)
	if err != nil {
		r.Fail(CheckBundle, ErrBundleInvalid, mediaTypes, unusable, err)
		return nil, false
	}
	if pk := b.GetVerificationMaterial().GetPublicKey(); pk != nil {
		r.Fail(CheckBundle, ErrBundleInvalid, "a Fulcio certificate (keyless signature)", fmt.Sprintf("a public key (hint %q)", pk.GetHint()), nil)
		return nil, false
	}
	if !v.checkChainShape(r, b, p.AllowTrustedRootInChain) {
		return nil, false
	}
	s := &signed{bundle: b, policy: p, entries: entries}
	if err := s.parts(); err != nil {
		r.Fail(CheckBundle, ErrBundleInvalid, "", "", err)
		return nil, false
	}
	if s.leaf == nil {
		r.Fail(CheckBundle, ErrBundleInvalid, "a Fulcio certificate (keyless signature)", "no certificate", nil)
		return nil, false
	}
	kind := "message signature"
	if s.content.EnvelopeContent() != nil {
		kind = "DSSE envelope"
	}
	r.Pass(CheckBundle, "", fmt.Sprintf("%s bundle: certificate, %s, %d log entries, %d RFC 3161 timestamps", version, kind, len(s.entries), s.timestamps))
	if summary, err := certificate.SummarizeCertificate(s.leaf); err == nil {
		s.summary = summary
		r.Signer = &artifacts.Identity{SAN: summary.SubjectAlternativeName, Issuer: summary.Extensions.Issuer}
	}
	return s, true
}

func (s *signed) parts() error {
	var err error
	if s.material, err = s.bundle.VerificationContent(); err != nil {
		return err
	}
	s.leaf = s.material.Certificate()
	if s.content, err = s.bundle.SignatureContent(); err != nil {
		return err
	}
	ts, err := s.bundle.Timestamps()
	s.timestamps = len(ts)
	return err
}

// checkChain: the leaf chains to a trusted Fulcio CA, at the start of its
// validity (its validity when it was used is checked by its own name, and
// the chain again at each signed time by checkChainWhenSigned).
func (v *Verifier) checkChain(r *Result, s *signed) bool {
	chains, err := sgverify.VerifyLeafCertificate(s.leaf.NotBefore, copyCert(s.leaf), v.trust.Material)
	if err != nil {
		r.Fail(CheckCertificateChain, ErrCertificateUntrusted, "a chain to a trusted Fulcio CA", issuerOf(s.leaf), err)
		return false
	}
	r.Pass(CheckCertificateChain, "", issuerOf(s.leaf))
	r.chains = chains
	return true
}

func (v *Verifier) checkSCT(r *Result, s *signed) bool {
	if err := sgverify.VerifySignedCertificateTimestamp(r.chains, 1, v.trust.Material); err != nil {
		r.Fail(CheckSCT, ErrCertificateUntrusted, "an embedded SCT from a trusted CT log", "", err)
		return false
	}
	r.Pass(CheckSCT, "", "embedded SCT verified")
	return true
}

// checkIdentity: one unambiguous identity, and it is the expected one:
// exact SAN and issuer.
func checkIdentity(r *Result, s *signed) bool {
	want := identityString(s.policy.Identity)
	if r.Signer == nil {
		r.Fail(CheckIdentity, ErrIdentityMismatch, want, "no identity", nil)
		return false
	}
	if !checkUnambiguous(r, s.leaf, s.policy.Identity) {
		return false
	}
	got := identityString(*r.Signer)
	if *r.Signer != s.policy.Identity {
		r.Fail(CheckIdentity, ErrIdentityMismatch, want, got, nil)
		return false
	}
	r.Pass(CheckIdentity, want, got)
	return true
}

// checkUnambiguous: the certificate names one signer. Its OIDC issuer
// extensions (1.3.6.1.4.1.57264.1.8 and the older .1.1) agree — sigstore-go
// keeps the last one it parses, cosign reads .1.8 first, so a certificate
// whose two disagree names a different issuer to each. It carries exactly
// one subject alternative name, as Fulcio writes it (sigstore-go
// summarises a certificate by its first URI SAN, else its first e-mail
// SAN, and cosign accepts any SAN that matches); and an expected e-mail
// identity is an e-mail SAN, never a URI SAN spelled like it.
func checkUnambiguous(r *Result, leaf *x509.Certificate, want artifacts.Identity) bool {
	expected := identityString(want)
	var issuers []string
	var first string
	for _, e := range leaf.Extensions {
		if !e.Id.Equal(certificate.OIDIssuer) && !e.Id.Equal(certificate.OIDIssuerV2) {
			continue
		}
		ext, err := certificate.ParseExtensions([]pkix.Extension{e})
		if err != nil {
			r.Fail(CheckIdentity, ErrIdentityMismatch, expected, "an unreadable issuer extension "+e.Id.String(), err)
			return false
		}
		issuers = append(issuers, e.Id.String()+" "+strconv.Quote(ext.Issuer))
		if len(issuers) == 1 {
			first = ext.Issuer
		} else if ext.Issuer != first {
			r.Fail(CheckIdentity, ErrIdentityMismatch, expected, "a certificate whose issuer extensions disagree: "+strings.Join(issuers, ", "), nil)
			return false
		}
	}
	if sans := cryptoutils.GetSubjectAlternateNames(leaf); len(sans) != 1 {
		r.Fail(CheckIdentity, ErrIdentityMismatch, expected+" as the certificate's only SAN",
			fmt.Sprintf("%d subject alternative names: %s", len(sans), orNone(describeSANs(leaf))), nil)
		return false
	}
	if isEmail(want.SAN) && len(leaf.EmailAddresses) != 1 {
		r.Fail(CheckIdentity, ErrIdentityMismatch, expected+" as an e-mail SAN", describeSANs(leaf)+" (no e-mail SAN)", nil)
		return false
	}
	return true
}

// describeSANs names a certificate's SANs with their kinds, in the order
// cryptoutils.GetSubjectAlternateNames lists them.
func describeSANs(c *x509.Certificate) string {
	var out []string
	for _, n := range c.DNSNames {
		out = append(out, "DNS SAN "+n)
	}
	for _, n := range c.EmailAddresses {
		out = append(out, "e-mail SAN "+n)
	}
	for _, n := range c.IPAddresses {
		out = append(out, "IP SAN "+n.String())
	}
	for _, n := range c.URIs {
		out = append(out, "URI SAN "+n.String())
	}
	if n, err := cryptoutils.UnmarshalOtherNameSAN(c.Extensions); err == nil {
		out = append(out, "other-name SAN "+n)
	}
	return strings.Join(out, ", ")
}

// isEmail reports whether an expected identity is an e-mail address (the
// release team's service accounts) rather than a URI.
func isEmail(san string) bool {
	u, err := url.Parse(san)
	return strings.Contains(san, "@") && (err != nil || u.Scheme == "" || u.Scheme == "mailto")
}

// checkSignature: what was signed is about the policy's digest, and the
// signature verifies over it.
func (v *Verifier) checkSignature(r *Result, s *signed) bool {
	d := s.policy.Digest
	if !checkSignedDigest(r, s.content, d) {
		return false
	}
	if err := sgverify.VerifySignatureWithArtifactDigests(s.content, s.material, v.trust.Material, []sgverify.ArtifactDigest{{Algorithm: d.Algorithm, Digest: d.Bytes()}}); err != nil {
		r.Fail(CheckSignature, ErrSignatureInvalid, "a signature over "+d.String(), "a signature that does not verify over it", err)
		return false
	}
	r.Pass(CheckSignature, d.String(), "signature verified")
	return true
}

// checkTimestamps: each RFC 3161 timestamp present must verify.
func (v *Verifier) checkTimestamps(r *Result, s *signed) bool {
	if s.timestamps == 0 {
		return true
	}
	verified, errs, err := sgverify.VerifySignedTimestamp(s.bundle, v.trust.Material)
	if err == nil && len(errs) > 0 {
		err = errors.Join(errs...)
	}
	if err != nil {
		r.Fail(CheckTimestamp, ErrBundleInvalid, "RFC 3161 timestamps from a timestamp authority of the trusted root",
			fmt.Sprintf("%d of %d timestamps verify", len(verified), s.timestamps), err)
		return false
	}
	var at []string
	for _, ts := range verified {
		s.observed = append(s.observed, observation{at: ts.Time, what: "timestamped at " + stamp(ts.Time) + " by " + orNone(ts.URI), signed: true})
		at = append(at, stamp(ts.Time))
	}
	r.Pass(CheckTimestamp, "", "RFC 3161 timestamps verified: "+strings.Join(at, ", "))
	return true
}

// checkValidity: the certificate was valid whenever the signature was
// observed, and one of those times is signed (a SET or an RFC 3161
// timestamp: Rekor v2 entries carry no time).
func checkValidity(r *Result, s *signed) bool {
	signedTime := false
	var whens []string
	for _, o := range s.observed {
		if !within(s.leaf, o.at) {
			r.Fail(CheckValidityAtLogTime, ErrCertificateExpired, validityWindow(s.leaf), o.what, nil)
			return false
		}
		signedTime = signedTime || o.signed
		whens = append(whens, o.what)
		if o.signed && (r.SignedAt == nil || o.at.Before(*r.SignedAt)) {
			t := o.at.UTC()
			r.SignedAt = &t
		}
	}
	if !signedTime {
		r.Fail(CheckValidityAtLogTime, ErrBundleInvalid, "a signed time of signing: a signed entry timestamp or an RFC 3161 timestamp", "none", nil)
		return false
	}
	r.Pass(CheckValidityAtLogTime, "", strings.Join(whens, "; "))
	return true
}

// checkChainWhenSigned: the chain verifies at each signed time of
// signing, so the Fulcio CA's validity period (its validFor in the
// trusted root) is honoured when the certificate was used, not only at
// its NotBefore, which whoever holds a retired CA key can backdate.
func (v *Verifier) checkChainWhenSigned(r *Result, s *signed) bool {
	const want = "a chain to a Fulcio CA of the trusted root valid at each signed time"
	var whens []string
	for _, o := range s.observed {
		if !o.signed {
			continue
		}
		if v.chainStandsAt(r.chains, o.at) {
			whens = append(whens, o.what)
			continue
		}
		if _, err := sgverify.VerifyLeafCertificate(o.at, copyCert(s.leaf), v.trust.Material); err != nil {
			r.Fail(CheckCertificateChain, ErrCertificateUntrusted, want, issuerOf(s.leaf)+"; "+o.what+": "+v.caWindows(s.leaf), err)
			return false
		}
		whens = append(whens, o.what)
	}
	r.Pass(CheckCertificateChain, want, issuerOf(s.leaf)+"; valid when "+strings.Join(whens, "; "))
	return true
}

// chainStandsAt reports whether one of the chains checkChain verified
// (at the certificate's NotBefore) is also a verified chain at t: every
// certificate of it valid at t, and a Fulcio CA of the trusted root that
// holds its root and intermediates valid at t. Its signatures, key usages
// and constraints do not depend on the time, so sigstore-go's verification
// at t, which checks that CA's validity period and then x509's chain at t
// from that CA's certificates, would find that same chain: the second
// verification's signature checks are saved. When no chain stands, the
// chain is verified afresh at t (which may find another one).
func (v *Verifier) chainStandsAt(chains [][]*x509.Certificate, t time.Time) bool {
	for _, chain := range chains {
		if len(chain) < 2 || !slices.ContainsFunc(v.fulcio, func(ca *root.FulcioCertificateAuthority) bool { return caHolds(ca, chain, t) }) {
			continue
		}
		if !slices.ContainsFunc(chain, func(c *x509.Certificate) bool { return !within(c, t) }) {
			return true
		}
	}
	return false
}

// caHolds reports whether ca is valid at t and chain (a leaf, then the
// certificates that issued it) ends in ca's root and passes only through
// ca's intermediates.
func caHolds(ca *root.FulcioCertificateAuthority, chain []*x509.Certificate, t time.Time) bool {
	if ca.Root == nil || !ca.ValidityPeriodStart.IsZero() && t.Before(ca.ValidityPeriodStart) || !ca.ValidityPeriodEnd.IsZero() && t.After(ca.ValidityPeriodEnd) {
		return false
	}
	if !chain[len(chain)-1].Equal(ca.Root) {
		return false
	}
	for _, c := range chain[1 : len(chain)-1] {
		if !slices.ContainsFunc(ca.Intermediates, c.Equal) {
			return false
		}
	}
	return true
}

// caWindows describes the validity periods of the trusted Fulcio CAs
// whose intermediates or root issued c.
func (v *Verifier) caWindows(c *x509.Certificate) string {
	var out []string
	for _, ca := range v.trust.Material.FulcioCertificateAuthorities() {
		f, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok || !issuedBy(c, f) {
			continue
		}
		end := "open"
		if !f.ValidityPeriodEnd.IsZero() {
			end = stamp(f.ValidityPeriodEnd)
		}
		out = append(out, fmt.Sprintf("the CA %s is valid %s … %s", orNone(f.URI), stamp(f.ValidityPeriodStart), end))
	}
	if len(out) == 0 {
		return "no CA of the trusted root was valid then"
	}
	return strings.Join(out, "; ")
}

func issuedBy(c *x509.Certificate, f *root.FulcioCertificateAuthority) bool {
	for _, ic := range append(slices.Clone(f.Intermediates), f.Root) {
		if ic != nil && bytes.Equal(c.RawIssuer, ic.RawSubject) {
			return true
		}
	}
	return false
}

func within(c *x509.Certificate, t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}

func validityWindow(c *x509.Certificate) string {
	return fmt.Sprintf("a time within the certificate's validity, %s … %s", stamp(c.NotBefore), stamp(c.NotAfter))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ErrRootInChain: a bundle's certificate chain includes a root
// certificate, which signers must not do; a chain ending in a trusted
// Fulcio root (as old signers wrote them) is accepted only when the policy
// says so (AllowTrustedRootInChain).
var ErrRootInChain = errors.New("signers must not include root certificates in a bundle's chain")

// isTrustedRoot reports whether c is the root of a trusted Fulcio CA.
func (v *Verifier) isTrustedRoot(c *x509.Certificate) bool {
	for _, r := range v.roots {
		if bytes.Equal(r.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// checkChainShape checks a v0.1/v0.2 certificate chain: not empty, the
// leaf first, then intermediates each issuing the one before, and no root
// certificate (trust anchors come from the trusted root only). With
// allowTrustedRoot, a chain ending in one of the trusted Fulcio roots
// (as old signers wrote them) is accepted; the root is not used.
func (v *Verifier) checkChainShape(r *Result, b *bundle.Bundle, allowTrustedRoot bool) bool {
	chain := b.GetVerificationMaterial().GetX509CertificateChain()
	if chain == nil {
		return true
	}
	const want = "the signing certificate, then intermediates (no root)"
	raw := chain.GetCertificates()
	if len(raw) == 0 {
		r.Fail(CheckCertificateChain, ErrBundleInvalid, want, "an empty certificate chain", nil)
		return false
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, c := range raw {
		cert, err := x509.ParseCertificate(c.GetRawBytes())
		if err != nil {
			r.Fail(CheckCertificateChain, ErrBundleInvalid, want, fmt.Sprintf("certificate %d of the chain unparseable", i), err)
			return false
		}
		certs[i] = cert
	}
	for i, c := range certs[1:] {
		if bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
			if allowTrustedRoot && i == len(certs)-2 && v.isTrustedRoot(c) {
				break
			}
			r.Fail(CheckCertificateChain, ErrBundleInvalid, want, "root certificate "+c.Subject.String()+" in the chain", ErrRootInChain)
			return false
		}
		if !c.IsCA {
			r.Fail(CheckCertificateChain, ErrBundleInvalid, want, "non-CA certificate "+c.Subject.String()+" after the leaf", nil)
			return false
		}
		if err := certs[i].CheckSignatureFrom(c); err != nil {
			r.Fail(CheckCertificateChain, ErrBundleInvalid, want, fmt.Sprintf("certificate %d not issued by %s", i, c.Subject.String()), err)
			return false
		}
	}
	return true
}

// checkSignedDigest checks that what was signed is about the digest: a
// message signature's digest, or a subject of a DSSE envelope's in-toto
// statement.
func checkSignedDigest(r *Result, sc sgverify.SignatureContent, d Digest) bool {
	if md := sc.MessageSignatureContent(); md != nil {
		got := Digest{Algorithm: messageDigestAlgorithm(md.DigestAlgorithm()), Hex: hex.EncodeToString(md.Digest())}
		if got.Algorithm == "" {
			got.Algorithm = d.Algorithm // not named: the bytes alone are compared
		}
		if got.Algorithm != d.Algorithm {
			r.Fail(CheckSignature, ErrDigestMismatch, d.String(), "a signature over "+got.String(),
				fmt.Errorf("the bundle signs a %s digest, which a %s digest cannot be compared with", got.Algorithm, d.Algorithm))
			return false
		}
		if !bytes.Equal(md.Digest(), d.Bytes()) {
			r.Fail(CheckSignature, ErrDigestMismatch, d.String(), got.String(), errors.New("the bundle's message digest is not the artifact's"))
			return false
		}
		return true
	}
	env := sc.EnvelopeContent()
	if env == nil {
		r.Fail(CheckSignature, ErrBundleInvalid, "a message signature or a DSSE envelope", "none", nil)
		return false
	}
	if pt := env.RawEnvelope().PayloadType; pt != InTotoPayloadType {
		r.Fail(CheckSignature, ErrBundleInvalid, "a DSSE envelope of an in-toto statement", "payload type "+orNone(pt), nil)
		return false
	}
	st, err := env.Statement()
	if err != nil {
		r.Fail(CheckSignature, ErrBundleInvalid, "a DSSE envelope of an in-toto statement", "", err)
		return false
	}
	var subjects []string
	for _, sub := range st.GetSubject() {
		if h, ok := sub.GetDigest()[d.Algorithm]; ok {
			if strings.EqualFold(h, d.Hex) {
				return true
			}
			subjects = append(subjects, d.Algorithm+":"+h)
		}
	}
	r.Fail(CheckSignature, ErrDigestMismatch, "an in-toto statement about "+d.String(),
		fmt.Sprintf("a statement about %d subjects: %s", len(st.GetSubject()), orNone(strings.Join(subjects, ", "))), nil)
	return false
}

// MessageDigestAlgorithm names the digest a bundle's message signature
// signs, as digests are written here ("sha256", "sha512"); "" when the
// bundle holds a DSSE envelope instead, or names no algorithm it knows.
func MessageDigestAlgorithm(b *bundle.Bundle) string {
	sc, err := b.SignatureContent()
	if err != nil {
		return ""
	}
	md := sc.MessageSignatureContent()
	if md == nil {
		return ""
	}
	return messageDigestAlgorithm(md.DigestAlgorithm())
}

// messageDigestAlgorithm turns a bundle's hash algorithm name (SHA2_256)
// into a digest's (sha256); "" for one it does not know (unspecified).
func messageDigestAlgorithm(name string) string {
	switch name {
	case "SHA2_256":
		return "sha256"
	case "SHA2_384":
		return "sha384"
	case "SHA2_512":
		return "sha512"
	}
	return ""
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
