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
	"github.com/sigstore/sigstore-go/pkg/bundle"
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

// Fetcher fetches the evidence of release artifacts. Use one per run: its
// registry sessions (authentication, connections) are made once and
// shared; it is safe for concurrent use.
type Fetcher struct {
	HTTP  *HTTPClient
	Rekor *RekorClient

	imageOnce, contentOnce sync.Once
	image, content         *ImageSession
	imageErr, contentErr   error
}

// BlobEvidence is what the download site and the transparency log publish
// about one release file. It says nothing about whether it is genuine.
type BlobEvidence struct {
	URL string
	// Missing: neither the file nor its sums are published.
	Missing bool
	// SHA256 and SHA512 are the published sums (lower-case hex), "" when
	// not published. SumsError says why a published sum is unusable.
	SHA256, SHA512 string
	SumsError      error
	// Signed: a .sig and a .cert are published.
	Signed bool
	// Signature and CertificateDER, decoded from .sig and .cert.
	Signature      []byte
	CertificateDER []byte
	// Malformed says why published signature material cannot be used.
	Malformed error
	// Bundle is the signature, certificate and the log entries that record
	// them, for the digest LogEvidence was asked about.
	Bundle *bundle.Bundle
	// LogEntries is how many matching log entries were found.
	LogEntries int
}

// Blob fetches the side files of a release file: .sha256, .sha512, .sig
// and .cert. Network failures are errors; absent or malformed files are
// recorded in the evidence.
func (f *Fetcher) Blob(ctx context.Context, url string) (*BlobEvidence, error) {
	ev := &BlobEvidence{URL: url}
	type result struct {
		data []byte
		err  error
	}
	suffixes := []struct {
		ext   string
		limit int64
	}{{".sha256", maxSumFile}, {".sha512", maxSumFile}, {".sig", maxSigFile}, {".cert", maxCertFile}}
	results := make([]result, len(suffixes))
	var wg sync.WaitGroup
	for i, s := range suffixes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := f.HTTP.Get(ctx, url+s.ext, s.limit)
			results[i] = result{data, err}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil && !errors.Is(r.err, ErrNotFound) {
			return nil, r.err
		}
	}
	var sumErrs []error
	var err error
	if results[0].err == nil {
		if ev.SHA256, err = parseSum(results[0].data, 64); err != nil {
			sumErrs = append(sumErrs, fmt.Errorf("%s.sha256: %w", Redact(url), err))
		}
	}
	if results[1].err == nil {
		if ev.SHA512, err = parseSum(results[1].data, 128); err != nil {
			sumErrs = append(sumErrs, fmt.Errorf("%s.sha512: %w", Redact(url), err))
		}
	}
	ev.SumsError = errors.Join(sumErrs...)
	sigFound, certFound := results[2].err == nil, results[3].err == nil
	switch {
	case sigFound && certFound:
		ev.Signed = true
		ev.Signature, ev.CertificateDER, ev.Malformed = decodeSigCert(results[2].data, results[3].data)
	case sigFound || certFound:
		ev.Signed = true
		ev.Malformed = fmt.Errorf("%w: only one of .sig and .cert is published", ErrMalformedEvidence)
	}
	if results[0].err != nil && !ev.Signed {
		exists, err := f.HTTP.Head(ctx, url)
		if err != nil {
			return nil, err
		}
		ev.Missing = !exists
	}
	return ev, nil
}

// LogEvidence finds the log entries that record the evidence's signature
// over digest and builds the evidence's bundle.
func (f *Fetcher) LogEvidence(ctx context.Context, ev *BlobEvidence, digest []byte) error {
	if !ev.Signed || ev.Malformed != nil {
		return nil
	}
	entries, err := f.Rekor.FindEntries(ctx, hex.EncodeToString(digest), ev.Signature, ev.CertificateDER)
	if err != nil {
		return err
	}
	ev.LogEntries = len(entries)
	ev.Bundle, err = MessageSignatureBundle(digest, ev.Signature, ev.CertificateDER, entries)
	if err != nil {
		ev.Malformed = err
	}
	return nil
}

// ParseSum parses a published .sha256 file: the hex digest, optionally
// followed by a file name.
func ParseSum(data []byte) (string, error) { return parseSum(data, 64) }

func parseSum(data []byte, hexLen int) (string, error) {
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "", fmt.Errorf("%w: empty checksum file", ErrMalformedEvidence)
	}
	s := strings.ToLower(fields[0])
	if _, err := hex.DecodeString(s); err != nil || len(s) != hexLen {
		return "", fmt.Errorf("%w: not a checksum: %q", ErrMalformedEvidence, shorten(fields[0]))
	}
	return s, nil
}

// decodeSigCert decodes cosign sign-blob output: .sig is the base64
// signature, .cert the base64 of a PEM certificate (raw PEM is accepted).
func decodeSigCert(sigData, certData []byte) (sig, certDER []byte, err error) {
	sig, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigData)))
	if err != nil || len(sig) == 0 {
		return nil, nil, fmt.Errorf("%w: .sig is not a base64 signature", ErrMalformedEvidence)
	}
	pemData := bytes.TrimSpace(certData)
	if !bytes.HasPrefix(pemData, []byte("-----BEGIN")) {
		pemData, err = base64.StdEncoding.DecodeString(string(pemData))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: .cert is neither PEM nor base64 of PEM", ErrMalformedEvidence)
		}
	}
	certDER, err = certDERFromPEM(pemData)
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

// Download streams url into w (which may be io.Discard) and returns the
// sums of exactly what arrived. A body shorter than announced is an error.
func (f *Fetcher) Download(ctx context.Context, url string, w io.Writer) (Sums, error) {
	var sums Sums
	err := f.HTTP.Stream(ctx, url, func(body io.Reader, size int64) error {
		if size > MaxDownload {
			return fmt.Errorf("%w: %d bytes announced, at most %d are downloaded", ErrBodyTooLarge, size, int64(MaxDownload))
		}
		h := NewHasher()
		n, err := io.Copy(io.MultiWriter(h, w), io.LimitReader(body, MaxDownload+1))
		if err != nil {
			return fmt.Errorf("download interrupted after %d bytes: %w", n, err)
		}
		if n > MaxDownload {
			return fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, int64(MaxDownload))
		}
		if size >= 0 && n != size {
			return fmt.Errorf("download incomplete: %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
		}
		sums = h.Sums()
		return nil
	})
	return sums, err
}

// LogBundles finds every hashedrekord entry for digest in the log and
// turns each into a bundle of the signature and certificate it records:
// verification from the log alone, when no .sig/.cert are at hand.
func (f *Fetcher) LogBundles(ctx context.Context, digest []byte) ([]*bundle.Bundle, error) {
	uuids, err := f.Rekor.SearchHash(ctx, "sha256:"+hex.EncodeToString(digest))
	if err != nil {
		return nil, err
	}
	var out []*bundle.Bundle
	for _, u := range uuids {
		e, err := f.Rekor.Entry(ctx, u)
		if err != nil {
			return nil, err
		}
		sig, certDER, ok := hashedRekordContent(e)
		if !ok {
			continue
		}
		b, err := MessageSignatureBundle(digest, sig, certDER, []*models.LogEntryAnon{e})
		if err != nil {
			continue // not a keyless signature over this digest
		}
		out = append(out, b)
	}
	return out, nil
}
