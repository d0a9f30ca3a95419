package testworld

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"sync"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	ctx509util "github.com/google/certificate-transparency-go/x509util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Object identifiers of the certificate extensions Fulcio writes.
var (
	oidCTPoison        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	oidSCTList         = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	oidIssuerV1        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	asn1Null           = []byte{0x05, 0x00}
	fulcioCertValidity = 10 * time.Minute
)

// IssuerV2Since is when the world's Fulcio starts writing the OIDC issuer
// as DER extension 1.3.6.1.4.1.57264.1.8 beside the deprecated raw
// 1.3.6.1.4.1.57264.1.1 (sigstore/fulcio#945, "Standardizing Fulcio
// Certificate Extensions", reviewed January 2023; sigstore/fulcio#1289
// marks .1.1 deprecated). A Kubernetes certificate of November 2022
// (kubectl v1.26.0-rc.1's) carries .1.1 only; one of July 2023 (a
// cluster-api image signature) carries both. When the public instance
// deployed the change between those two is not public: the world starts
// with 2023, and the client reads either form. For an e-mail identity
// such as the release team's service accounts, .1.8 is the only newer
// extension (the others describe CI workflows).
var IssuerV2Since = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

// Sigstore is a virtual Sigstore instance: a Fulcio-style CA (root and
// intermediate) whose leaf certificates carry an embedded SCT from the
// instance's CT log, and a Rekor transparency log. It is modelled on
// sigstore-go's testing/ca.VirtualSigstore, whose leaf certificates carry
// no SCT.
type Sigstore struct {
	RootCert         *x509.Certificate
	IntermediateCert *x509.Certificate
	intermediateKey  *ecdsa.PrivateKey
	// legacyRoot is the first CA's root, in the trusted root with its
	// window, issuing nothing the world publishes.
	legacyRoot *x509.Certificate
	// ctLogs are the instance's CT logs, oldest first: each certificate's
	// SCT comes from the one current at its NotBefore.
	ctLogs []*ctLog
	// Log is the instance's Rekor log.
	Log     *RekorLog
	created time.Time

	mu     sync.Mutex
	serial int64
}

// NewSigstore creates a virtual Sigstore whose Rekor log will be served at
// rekorURL (recorded in the trusted root).
func NewSigstore(rekorURL string) (*Sigstore, error) {
	rootCert, rootKey, err := generateRoot("sigstore", "sigstore.dev")
	if err != nil {
		return nil, fmt.Errorf("root CA: %w", err)
	}
	interCert, interKey, err := generateIntermediate(rootCert, rootKey)
	if err != nil {
		return nil, fmt.Errorf("intermediate CA: %w", err)
	}
	legacyRoot, _, err := generateRoot("sigstore", "sigstore.dev")
	if err != nil {
		return nil, fmt.Errorf("legacy root CA: %w", err)
	}
	ctLogs, err := newCTLogs()
	if err != nil {
		return nil, err
	}
	log, err := NewRekorLog(rekorURL)
	if err != nil {
		return nil, err
	}
	return &Sigstore{
		RootCert: rootCert, IntermediateCert: interCert, intermediateKey: interKey, legacyRoot: legacyRoot,
		ctLogs: ctLogs, Log: log, created: time.Now(),
	}, nil
}

// The public-good instance's CT logs, with the validity windows of its
// trusted root (sigstore/root-signing, targets/trusted_root.json):
// ctfe.sigstore.dev/test from 2021-03-14 to 2022-10-31T23:59:59.999Z,
// ctfe.sigstore.dev/2022 from 2022-10-20, each with its own key. Which
// log Fulcio embedded SCTs from during the overlap is not public; the
// world switches at the start of the 2022 log's window, and the client
// accepts either log inside its window.
var (
	CTTestLogEnd    = time.Date(2022, 10, 31, 23, 59, 59, 999e6, time.UTC)
	CT2022LogStart  = time.Date(2022, 10, 20, 0, 0, 0, 0, time.UTC)
	ctTestLogURL    = "https://ctfe.testworld.local/test"
	ct2022LogURL    = "https://ctfe.testworld.local/2022"
	errNoCTLogAtNow = errors.New("no CT log of the world was valid then")
)

// The public-good trusted root (sigstore/root-signing,
// targets/trusted_root.json) lists two Fulcio CAs: the first, a root
// alone, valid 2021-03-07 to 2022-12-31T23:59:59.999Z, and the current
// root and intermediate from 2022-04-13T20:06:15Z, which issued every
// certificate of the 1.24 line (its first release was signed in May 2022).
// The world's trusted root lists both with those windows (the first from
// Epoch); only the current one issues.
var (
	FulcioLegacyCAEnd = time.Date(2022, 12, 31, 23, 59, 59, 999e6, time.UTC)
	FulcioCASince     = time.Date(2022, 4, 13, 20, 6, 15, 0, time.UTC)
)

// ctLog is one CT log: its key, log ID and validity window.
type ctLog struct {
	url        string
	key        *ecdsa.PrivateKey
	id         [32]byte
	start, end time.Time // end zero: still valid
}

func newCTLogs() ([]*ctLog, error) {
	logs := []*ctLog{{url: ctTestLogURL, start: Epoch, end: CTTestLogEnd}, {url: ct2022LogURL, start: CT2022LogStart}}
	for _, l := range logs {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		if l.id, err = keyID(key.Public()); err != nil {
			return nil, err
		}
		l.key = key
	}
	return logs, nil
}

// ctLogAt is the CT log Fulcio used for a certificate issued at t: the
// newest whose window has started.
func (s *Sigstore) ctLogAt(t time.Time) (*ctLog, error) {
	for i := len(s.ctLogs) - 1; i >= 0; i-- {
		l := s.ctLogs[i]
		if !t.Before(l.start) && (l.end.IsZero() || t.Before(l.end)) {
			return l, nil
		}
	}
	return nil, fmt.Errorf("certificate of %s: %w", t.Format(time.RFC3339), errNoCTLogAtNow)
}

// Epoch is when the world's Sigstore began: its CAs, logs and timestamp
// authorities are valid from then on (the public-good Fulcio root dates
// from October 2021), so that the world can sign each release at its own
// date, as the release team did.
var Epoch = time.Date(2021, 10, 7, 0, 0, 0, 0, time.UTC)

// generateRoot creates a self-signed root CA valid from Epoch for ten
// years beyond now, like sigstore-go's testing ca.GenerateRootCa but not
// limited to the hours around now.
func generateRoot(cn, org string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	t := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore:             Epoch,
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, t, t, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// generateIntermediate issues the Fulcio intermediate like
// ca.GenerateFulcioIntermediate, but valid as long as the root (its
// helper's starts two minutes ago, too late for a certificate that expired
// before it was logged, one of the world's forgeries).
func generateIntermediate(rootCert *x509.Certificate, rootKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	t := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "sigstore-intermediate", Organization: []string{"sigstore.dev"}},
		NotBefore:             rootCert.NotBefore,
		NotAfter:              rootCert.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, t, rootCert, key.Public(), rootKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// keyID is the SHA-256 of the PKIX encoding of a public key, the log ID of
// CT and Rekor logs.
func keyID(pub crypto.PublicKey) ([32]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(der), nil
}

// CertOptions shape a leaf certificate.
type CertOptions struct {
	Identity string // subject alternative name (email)
	Issuer   string // OIDC issuer
	// NotBefore of the certificate; default one minute ago. The certificate
	// is valid for ten minutes, like Fulcio's.
	NotBefore time.Time
	// NoSCT issues a certificate without embedded SCT.
	NoSCT bool

	// Crafted certificates Fulcio never issues, for ambiguous identities.
	//
	// IdentityAsURI writes Identity as a URI SAN instead of an e-mail SAN.
	IdentityAsURI bool
	// ExtraEmails are e-mail SANs written after Identity.
	ExtraEmails []string
	// IssuerV2, when set, is the value of extension 1.3.6.1.4.1.57264.1.8,
	// written first, and Issuer that of 1.3.6.1.4.1.57264.1.1, written
	// last (sigstore-go keeps the last one it parses).
	IssuerV2 string
}

// sans returns the certificate's e-mail and URI SANs.
func (o CertOptions) sans() ([]string, []*url.URL, error) {
	if !o.IdentityAsURI {
		return append([]string{o.Identity}, o.ExtraEmails...), nil, nil
	}
	u, err := url.Parse(o.Identity)
	if err != nil {
		return nil, nil, err
	}
	return o.ExtraEmails, []*url.URL{u}, nil
}

// issuerExtensions returns the OIDC issuer extensions in the order
// written: a certificate issued before IssuerV2Since carries the issuer
// as 1.3.6.1.4.1.57264.1.1 only, as Fulcio wrote it then; later ones carry
// .1.8 too. Crafted certificates (IssuerV2) carry both, in crafted order.
func (o CertOptions) issuerExtensions(notBefore time.Time) ([]pkix.Extension, error) {
	if o.IssuerV2 == "" && notBefore.Before(IssuerV2Since) {
		return []pkix.Extension{{Id: oidIssuerV1, Value: []byte(o.Issuer)}}, nil
	}
	v2 := o.Issuer
	if o.IssuerV2 != "" {
		v2 = o.IssuerV2
	}
	issuerV2, err := asn1.MarshalWithParams(v2, "utf8")
	if err != nil {
		return nil, err
	}
	exts := []pkix.Extension{{Id: oidIssuerV1, Value: []byte(o.Issuer)}, {Id: oidIssuerV2, Value: issuerV2}}
	if o.IssuerV2 != "" {
		exts[0], exts[1] = exts[1], exts[0]
	}
	return exts, nil
}

// IssueCertificate issues a Fulcio-style leaf certificate for key the way
// Fulcio does: a precertificate is logged with the CT log, and the final
// certificate embeds the SCT the log returned.
func (s *Sigstore) IssueCertificate(pub crypto.PublicKey, o CertOptions) (*x509.Certificate, error) {
	notBefore := o.NotBefore
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Minute)
	}
	s.mu.Lock()
	s.serial++
	serial := big.NewInt(s.serial<<20 | time.Now().UnixNano()&0xfffff)
	s.mu.Unlock()
	exts, err := o.issuerExtensions(notBefore)
	if err != nil {
		return nil, err
	}
	emails, uris, err := o.sans()
	if err != nil {
		return nil, err
	}
	template := func(last pkix.Extension) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber:    serial,
			EmailAddresses:  emails,
			URIs:            uris,
			NotBefore:       notBefore.Truncate(time.Second),
			NotAfter:        notBefore.Add(fulcioCertValidity).Truncate(time.Second),
			KeyUsage:        x509.KeyUsageDigitalSignature,
			ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
			SubjectKeyId:    subjectKeyID(pub),
			ExtraExtensions: append(slices.Clip(exts), last),
		}
	}
	if o.NoSCT {
		t := template(pkix.Extension{})
		t.ExtraExtensions = exts
		return s.sign(t, pub)
	}
	pre, err := s.sign(template(pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1Null}), pub)
	if err != nil {
		return nil, fmt.Errorf("precertificate: %w", err)
	}
	sctExt, err := s.logPrecertificate(pre, notBefore)
	if err != nil {
		return nil, err
	}
	return s.sign(template(sctExt), pub)
}

func (s *Sigstore) sign(t *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, t, s.IntermediateCert, pub, s.intermediateKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func subjectKeyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}

// logPrecertificate has the CT log sign an SCT over the precertificate and
// returns the SCT list extension of the final certificate.
func (s *Sigstore) logPrecertificate(pre *x509.Certificate, at time.Time) (pkix.Extension, error) {
	chain, err := ctx509.ParseCertificates(append(append([]byte{}, pre.Raw...), s.IntermediateCert.Raw...))
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("parse precertificate chain: %w", err)
	}
	log, err := s.ctLogAt(at)
	if err != nil {
		return pkix.Extension{}, err
	}
	ts := uint64(at.UnixMilli())
	leaf, err := ct.MerkleTreeLeafFromChain(chain, ct.PrecertLogEntryType, ts)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("CT leaf: %w", err)
	}
	sct := ct.SignedCertificateTimestamp{
		SCTVersion: ct.V1,
		LogID:      ct.LogID{KeyID: log.id},
		Timestamp:  ts,
	}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: *leaf})
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("SCT input: %w", err)
	}
	sig, err := cttls.CreateSignature(*log.key, cttls.SHA256, input)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("sign SCT: %w", err)
	}
	sct.Signature = ct.DigitallySigned(sig)
	list, err := ctx509util.MarshalSCTsIntoSCTList([]*ct.SignedCertificateTimestamp{&sct})
	if err != nil {
		return pkix.Extension{}, err
	}
	listBytes, err := cttls.Marshal(*list)
	if err != nil {
		return pkix.Extension{}, err
	}
	value, err := asn1.Marshal(listBytes)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSCTList, Value: value}, nil
}

// ChainPEM returns the intermediate and root certificates, PEM encoded, as
// cosign's chain annotation carries them.
func (s *Sigstore) ChainPEM() []byte {
	pem, err := cryptoutils.MarshalCertificatesToPEM([]*x509.Certificate{s.IntermediateCert, s.RootCert})
	if err != nil {
		panic(err) // the certificates were created here
	}
	return pem
}

// TrustedRoot returns the instance's trusted root, in the format of the
// public-good instance's trusted_root.json.
func (s *Sigstore) TrustedRoot() (*root.TrustedRoot, error) {
	start := Epoch
	legacy := &root.FulcioCertificateAuthority{
		Root:                s.legacyRoot,
		ValidityPeriodStart: start,
		ValidityPeriodEnd:   FulcioLegacyCAEnd,
		URI:                 "https://fulcio.testworld.local",
	}
	fulcio := &root.FulcioCertificateAuthority{
		Root:                s.RootCert,
		Intermediates:       []*x509.Certificate{s.IntermediateCert},
		ValidityPeriodStart: FulcioCASince,
		URI:                 "https://fulcio.testworld.local",
	}
	ctLogs := map[string]*root.TransparencyLog{}
	for _, l := range s.ctLogs {
		ctLogs[fmt.Sprintf("%x", l.id)] = &root.TransparencyLog{
			BaseURL:             l.url,
			ID:                  l.id[:],
			ValidityPeriodStart: l.start,
			ValidityPeriodEnd:   l.end,
			HashFunc:            crypto.SHA256,
			PublicKey:           l.key.Public(),
			SignatureHashFunc:   crypto.SHA256,
		}
	}
	rekor := s.Log.TransparencyLog(start)
	return root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{legacy, fulcio},
		ctLogs,
		nil,
		map[string]*root.TransparencyLog{s.Log.LogIDHex(): rekor})
}

// CTLogPublicKeyPEM returns the current CT log's public key (for cosign's
// SIGSTORE_CT_LOG_PUBLIC_KEY_FILE, which takes one key: that of every
// certificate issued since 2022-10-20, every blob signature of the world).
func (s *Sigstore) CTLogPublicKeyPEM() []byte {
	return s.ctLogPublicKeyPEM(len(s.ctLogs) - 1)
}

// CTTestLogPublicKeyPEM returns the key of the CT log of certificates
// issued before 2022-10-20.
func (s *Sigstore) CTTestLogPublicKeyPEM() []byte { return s.ctLogPublicKeyPEM(0) }

func (s *Sigstore) ctLogPublicKeyPEM(i int) []byte {
	pem, err := cryptoutils.MarshalPublicKeyToPEM(s.ctLogs[i].key.Public())
	if err != nil {
		panic(err)
	}
	return pem
}
