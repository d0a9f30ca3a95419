package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/sigstore/rekor/pkg/generated/models"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/rekor"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// MaxDownload bounds one release file (the largest Kubernetes tarballs
// are a few hundred MiB).
const MaxDownload = 16 << 30

// Limits of side files.
const (
	maxSumFile  = 4 << 10
	maxSigFile  = 64 << 10
	maxCertFile = 64 << 10
)

// BlobOptions shape the fetch of a release file's evidence.
type BlobOptions struct {
	// Download streams the file itself (into Sink when set) and records
	// the sums of what arrived.
	Download bool
	Sink     io.Writer
}

// sideFile is one file published beside a release file.
type sideFile struct {
	ext   string
	limit int64
	data  []byte
	err   error
}

// Blob fetches the evidence of a release file: its published sums
// (.sha256; .sha512 when downloading or when the release publishes the
// file's SHA-512 elsewhere), its .sig and .cert and the Rekor entries that
// record them, and with Download the file itself. Failures are recorded in
// the evidence, never decided.
func (f *Fetcher) Blob(ctx context.Context, a artifacts.Artifact, o BlobOptions) verify.Evidence {
	var ev verify.Evidence
	side := []*sideFile{{ext: ".sha256", limit: maxSumFile}, {ext: ".sig", limit: maxSigFile}, {ext: ".cert", limit: maxCertFile}}
	if o.Download || a.SumFrom("sha512", artifacts.SumCatalog) != "" || a.SumFrom("sha512", artifacts.SumChangelog) != "" {
		side = append(side, &sideFile{ext: ".sha512", limit: maxSumFile})
	}
	// Not downloading, ask whether the file is there while the side files
	// come: the CDN has served a .sha256 (and signature) without its
	// binary (kubernetes/kubernetes#121509), and a signed digest of a file
	// that is not published is a missing file, not a verified one.
	var exists chan headResult
	if !o.Download {
		exists = make(chan headResult, 1)
		go func() {
			ok, err := f.http.Head(ctx, a.Location)
			exists <- headResult{ok, err}
		}()
	}
	f.fetchSide(ctx, a.Location, side)
	for _, s := range side {
		if s.err != nil && !errors.Is(s.err, transport.ErrNotFound) {
			ev.Unavailable = s.err
			return ev
		}
	}
	sums := map[string]*sideFile{}
	for _, s := range side {
		sums[s.ext] = s
	}
	ev.Digests, ev.Malformed = publishedSums(a.Location, sums[".sha256"], sums[".sha512"])
	sig, cert := sums[".sig"], sums[".cert"]
	signed := sig.err == nil || cert.err == nil
	if o.Download {
		got, err := f.Download(ctx, a.Location, o.Sink)
		switch {
		case errors.Is(err, transport.ErrNotFound):
			ev.Missing = transport.Redact(a.Location) + " answers 404"
			return ev
		case err != nil:
			ev.Unavailable = err
			return ev
		}
		ev.Digests = append(ev.Digests, got.claims(verify.ChannelDownload)...)
	} else {
		return f.publishedFile(ctx, a.Location, ev, exists, sig, cert, sums[".sha256"].err == nil)
	}
	if signed {
		ev.Signatures = []verify.SignatureEvidence{f.blobSignature(ctx, a.Location, ev, sig, cert)}
	}
	return ev
}

// publishedFile completes the evidence of a file verified by its
// published digest: its signature is looked up in the log while the
// answer to whether the file is there (exists) is awaited, rather than
// after it; a file that is not there (or whose check failed) drops the
// look-up and is missing (unavailable).
func (f *Fetcher) publishedFile(ctx context.Context, url string, ev verify.Evidence, exists <-chan headResult, sig, cert *sideFile, sumPublished bool) verify.Evidence {
	signed := sig.err == nil || cert.err == nil
	lookupCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	looked := make(chan verify.SignatureEvidence, 1)
	if signed {
		// The look-up reads its own copy of the evidence: this one is
		// written below while it runs.
		go func(ev verify.Evidence) { looked <- f.blobSignature(lookupCtx, url, ev, sig, cert) }(ev)
	}
	head := <-exists
	switch {
	case head.err != nil:
		ev.Unavailable = head.err
	case !head.exists:
		ev.Missing = transport.Redact(url) + " answers 404"
		if sumPublished || signed {
			ev.Missing += ", although its .sha256 or signature is published"
		}
	case signed:
		ev.Signatures = []verify.SignatureEvidence{<-looked}
		return ev
	default:
		return ev
	}
	if signed {
		cancel()
		<-looked
	}
	return ev
}

// headResult is whether a file exists, or why that is unknown.
type headResult struct {
	exists bool
	err    error
}

// fetchSide fetches the side files of url in parallel.
func (f *Fetcher) fetchSide(ctx context.Context, url string, side []*sideFile) {
	var wg sync.WaitGroup
	for _, s := range side {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.data, s.err = f.get(ctx, url+s.ext, s.limit)
		}()
	}
	wg.Wait()
}

// publishedSums parses the published .sha256 and .sha512 (either may be
// absent); a published file that is no checksum is malformed evidence.
func publishedSums(url string, s256, s512 *sideFile) ([]verify.DigestClaim, error) {
	var claims []verify.DigestClaim
	var errs []error
	for _, s := range []struct {
		file    *sideFile
		alg     string
		channel verify.Channel
	}{{s256, "sha256", verify.ChannelSHA256File}, {s512, "sha512", verify.ChannelSHA512File}} {
		if s.file == nil || s.file.err != nil {
			continue
		}
		d, err := parseSum(s.file.data, s.alg)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s%s: %w", transport.Redact(url), s.file.ext, err))
			continue
		}
		claims = append(claims, verify.DigestClaim{Digest: d, Channel: s.channel})
	}
	return claims, errors.Join(errs...)
}

// blobSignature normalises a release file's .sig and .cert, with the
// Rekor entries that record them, into a bundle over the file's digest
// (what was downloaded, else the published .sha256).
func (f *Fetcher) blobSignature(ctx context.Context, url string, ev verify.Evidence, sig, cert *sideFile) verify.SignatureEvidence {
	if sig.err != nil || cert.err != nil {
		// One of the pair is published without the other: a publication
		// cut short as likely as a tampering, and nothing to check
		// either way. The file could not be checked, not failed.
		se := verify.SignatureEvidence{Source: verify.SourceSigCert, Location: transport.Redact(url) + ".sig"}
		missing, there := ".sig", ".cert"
		if cert.err != nil {
			missing, there = ".cert", ".sig"
		}
		se.Unavailable = fmt.Errorf("its %s is published without its %s", there, missing)
		return se
	}
	digest, ok := subjectDigest(ev)
	if !ok {
		return verify.SignatureEvidence{Source: verify.SourceSigCert, Location: transport.Redact(url) + ".sig",
			Unavailable: errors.New("no SHA-256 of the file to look its signature up in the transparency log by")}
	}
	return f.SigCert(ctx, transport.Redact(url)+".sig", digest, sig.data, cert.data)
}

// SigCert normalises a detached signature and certificate — a .sig (the
// base64 signature, or raw) and a .cert (base64 of PEM, or PEM), as
// cosign sign-blob writes them and dl.k8s.io publishes them — over a
// SHA-256 digest, with the Rekor entries that record them, into a bundle.
// Without a transparency log (offline) the signature evidence is
// unavailable: a .sig and .cert carry no proof of their log entry.
func (f *Fetcher) SigCert(ctx context.Context, location string, digest []byte, sigData, certData []byte) verify.SignatureEvidence {
	se := verify.SignatureEvidence{Source: verify.SourceSigCert, Location: location}
	sigBytes, certDER, err := decodeSigCert(sigData, certData)
	if err != nil {
		se.Malformed = err
		return se
	}
	if len(digest) != 32 {
		se.Unavailable = errors.New("the log is searched by SHA-256: name the file or its sha256:<hex>")
		return se
	}
	if f.log == nil {
		se.Unavailable = fmt.Errorf("the signature's log entry: %w", ErrNoLog)
		return se
	}
	entries, err := f.log.FindEntries(ctx, hex.EncodeToString(digest), sigBytes, certDER)
	if err != nil {
		se.Unavailable = err
		return se
	}
	if se.Bundle, err = MessageSignatureBundle(digest, sigBytes, certDER, entries); err != nil {
		se.Malformed = err
	}
	return se
}

// SigCertWithoutLog reads a detached signature and certificate (cosign
// sign-blob's .sig and .cert) into a bundle of the SHA-256 digest with no
// log entry, for a verification that cannot ask the log (offline): every
// check that needs no log can run on it, and NoLogProof says why it
// proves no more.
func SigCertWithoutLog(location string, digest []byte, sigData, certData []byte, why error) verify.SignatureEvidence {
	se := verify.SignatureEvidence{Source: verify.SourceSigCert, Location: location}
	sigBytes, certDER, err := decodeSigCert(sigData, certData)
	if err != nil {
		se.Malformed = err
		return se
	}
	if len(digest) != 32 {
		se.Unavailable = errors.New("a detached signature is over a SHA-256 digest: name the file or its sha256:<hex>")
		return se
	}
	if se.Bundle, err = MessageSignatureBundle(digest, sigBytes, certDER, nil); err != nil {
		se.Malformed = err
		return se
	}
	se.NoLogProof = why
	return se
}

// subjectDigest is the SHA-256 a signature is looked up by: what was
// downloaded, else the published .sha256.
func subjectDigest(ev verify.Evidence) ([]byte, bool) {
	for _, ch := range []verify.Channel{verify.ChannelDownload, verify.ChannelFile, verify.ChannelSHA256File} {
		for _, c := range ev.Digests {
			if c.Channel == ch && c.Digest.Algorithm == "sha256" {
				return c.Digest.Bytes(), true
			}
		}
	}
	return nil, false
}

// ParseSum parses a published .sha256 file: the hex digest, optionally
// followed by a file name.
func ParseSum(data []byte) (string, error) {
	d, err := parseSum(data, "sha256")
	return d.Hex, err
}

func parseSum(data []byte, alg string) (sigverify.Digest, error) {
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return sigverify.Digest{}, fmt.Errorf("%w: empty checksum file", verify.ErrEvidenceMalformed)
	}
	d, err := sigverify.ParseDigest(alg + ":" + strings.ToLower(fields[0]))
	if err != nil {
		return sigverify.Digest{}, fmt.Errorf("%w: not a %s checksum: %q", verify.ErrEvidenceMalformed, alg, shorten(fields[0]))
	}
	return d, nil
}

// decodeSigCert decodes cosign sign-blob output: .sig is the base64
// signature (a raw DER signature is accepted), .cert the base64 of a PEM
// certificate (raw PEM is accepted).
func decodeSigCert(sigData, certData []byte) (sig, certDER []byte, err error) {
	sig, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigData)))
	if err != nil && len(sigData) > 0 && sigData[0] == 0x30 { // an ASN.1 SEQUENCE: a raw ECDSA signature
		sig, err = sigData, nil
	}
	if err != nil || len(sig) == 0 {
		return nil, nil, fmt.Errorf("%w: .sig is not a base64 signature", verify.ErrEvidenceMalformed)
	}
	pemData := bytes.TrimSpace(certData)
	if !bytes.HasPrefix(pemData, []byte("-----BEGIN")) {
		pemData, err = base64.StdEncoding.DecodeString(string(pemData))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: .cert is neither PEM nor base64 of PEM", verify.ErrEvidenceMalformed)
		}
	}
	certDER, err = rekor.CertificateDER(pemData)
	if err != nil {
		return nil, nil, fmt.Errorf(".cert: %w", err)
	}
	return sig, certDER, nil
}

func shorten(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Sums are the digests of content read.
type Sums struct {
	SHA256, SHA512 string
	Size           int64
}

func (s Sums) claims(ch verify.Channel) []verify.DigestClaim {
	d256, _ := sigverify.ParseDigest("sha256:" + s.SHA256)
	d512, _ := sigverify.ParseDigest("sha512:" + s.SHA512)
	return []verify.DigestClaim{{Digest: d256, Channel: ch}, {Digest: d512, Channel: ch}}
}

// Hasher computes SHA-256 and SHA-512 of what is written to it.
type Hasher struct {
	s256, s512 hash.Hash
	n          int64
}

// NewHasher returns a Hasher.
func NewHasher() *Hasher { return &Hasher{s256: sha256.New(), s512: sha512.New()} }

func (h *Hasher) Write(p []byte) (int, error) {
	h.s256.Write(p)
	h.s512.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// Sums returns the digests so far.
func (h *Hasher) Sums() Sums {
	return Sums{SHA256: hex.EncodeToString(h.s256.Sum(nil)), SHA512: hex.EncodeToString(h.s512.Sum(nil)), Size: h.n}
}

// Download streams url into w (which may be nil) and returns the sums of
// exactly what arrived. A body shorter than announced is an error.
func (f *Fetcher) Download(ctx context.Context, url string, w io.Writer) (Sums, error) {
	if w == nil {
		w = io.Discard
	}
	var sums Sums
	err := f.http.Stream(ctx, url, func(body io.Reader, size int64) error {
		if size > MaxDownload {
			return fmt.Errorf("%w: %d bytes announced, at most %d are downloaded", transport.ErrBodyTooLarge, size, int64(MaxDownload))
		}
		h := NewHasher()
		n, err := io.Copy(io.MultiWriter(h, w), io.LimitReader(body, MaxDownload+1))
		if err != nil {
			return fmt.Errorf("download interrupted after %d bytes: %w", n, err)
		}
		if n > MaxDownload {
			return fmt.Errorf("%w: more than %d bytes", transport.ErrBodyTooLarge, int64(MaxDownload))
		}
		if size >= 0 && n != size {
			return fmt.Errorf("download incomplete: %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
		}
		sums = h.Sums()
		return nil
	})
	return sums, err
}

// LogSearch finds every hashedrekord entry for digest in the log and
// turns each into the evidence of a signature it records: verification
// from the log alone, when no .sig/.cert are at hand.
func (f *Fetcher) LogSearch(ctx context.Context, digest sigverify.Digest) verify.Evidence {
	ev := verify.Evidence{Digests: []verify.DigestClaim{{Digest: digest, Channel: verify.ChannelFile}}}
	if f.log == nil {
		ev.Unavailable = ErrNoLog
		return ev
	}
	entries, err := f.log.SearchEntries(ctx, digest)
	if err != nil {
		ev.Unavailable = err
		return ev
	}
	for _, e := range entries {
		sig, certDER, ok := rekor.HashedRekordContent(e)
		if !ok {
			continue
		}
		b, err := MessageSignatureBundle(digest.Bytes(), sig, certDER, []*models.LogEntryAnon{e})
		if err != nil {
			continue // not a keyless signature over this digest
		}
		ev.Signatures = append(ev.Signatures, verify.SignatureEvidence{Source: verify.SourceLogSearch, Location: f.log.URL(), Bundle: b})
	}
	return ev
}
