package sigverify

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
	"slices"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// entryOutcome is what one log entry proves about a signature.
type entryOutcome struct {
	entry *tlog.Entry
	// proofs names what verified ("signed entry timestamp and inclusion
	// proof and checkpoint"); err says why the entry proves nothing.
	proofs string
	err    error
	// expired: the entry verifies but was logged outside the
	// certificate's validity (a later copy of an old entry, or a
	// signature made with an expired certificate).
	expired bool
	// unknown: an entry of a log the trust does not know.
	unknown bool
}

// checkLog: each entry is judged on its own; the earliest valid entry
// decides. Entries of unknown logs, rejected entries and later copies are
// noted.
func (v *Verifier) checkLog(r *Result, s *signed) bool {
	if len(s.entries) == 0 {
		r.Fail(CheckTransparencyLog, ErrNotInLog, "a Rekor entry for this signature", "none", nil)
		return false
	}
	outcomes := make([]entryOutcome, len(s.entries))
	for i, e := range s.entries {
		outcomes[i] = v.judgeEntry(e, s)
	}
	best := decidingEntry(outcomes)
	if best < 0 {
		return failLog(r, outcomes)
	}
	chosen := outcomes[best]
	e := chosen.entry
	idx := e.LogIndex()
	r.LogIndex = &idx
	if t := e.IntegratedTime(); !t.IsZero() {
		t = t.UTC()
		r.IntegratedTime = &t
		s.observed = append(s.observed, observation{at: t, what: "logged at " + stamp(t) + unsignedNote(e), signed: e.HasInclusionPromise()})
	}
	for i, o := range outcomes {
		if i != best {
			r.Notes = append(r.Notes, noteEntry(o, chosen))
		}
	}
	r.Pass(CheckTransparencyLog, "", fmt.Sprintf("%s: %s verified", describeEntry(e), chosen.proofs))
	return true
}

func unsignedNote(e *tlog.Entry) string {
	if e.HasInclusionPromise() {
		return ""
	}
	return " (unsigned integrated time)"
}

// decidingEntry returns the index of the earliest valid entry (by its
// integrated time; an entry without one — Rekor v2 — counts as earliest
// only when no valid entry has a time), or -1.
func decidingEntry(outcomes []entryOutcome) int {
	best := -1
	for i, o := range outcomes {
		if o.err != nil {
			continue
		}
		if best < 0 || earlier(o.entry, outcomes[best].entry) {
			best = i
		}
	}
	return best
}

func earlier(a, b *tlog.Entry) bool {
	ta, tb := a.IntegratedTime(), b.IntegratedTime()
	switch {
	case ta.IsZero():
		return false
	case tb.IsZero():
		return true
	}
	return ta.Before(tb)
}

// failLog records why no entry proves the signature was logged: a
// certificate not valid when every verifying entry was logged is an
// expired certificate; else the first entry's own failure.
func failLog(r *Result, outcomes []entryOutcome) bool {
	var known []entryOutcome
	for _, o := range outcomes {
		if !o.unknown {
			known = append(known, o)
		}
	}
	if len(known) == 0 {
		var errs []error
		for _, o := range outcomes {
			errs = append(errs, o.err)
		}
		r.Fail(CheckTransparencyLog, ErrLogEntryInvalid, "an entry in a Rekor log of the trusted root", describeEntry(outcomes[0].entry), errors.Join(errs...))
		return false
	}
	if !slices.ContainsFunc(known, func(o entryOutcome) bool { return !o.expired }) {
		o := known[0]
		r.Fail(CheckValidityAtLogTime, ErrCertificateExpired, o.err.Error(), "logged at "+stamp(o.entry.IntegratedTime()), nil)
		return false
	}
	for _, o := range known {
		if !o.expired {
			what := describeEntry(o.entry)
			if len(known) > 1 {
				what = fmt.Sprintf("%s (and %d more entries, none valid)", what, len(known)-1)
			}
			r.Fail(CheckTransparencyLog, ErrLogEntryInvalid, "an entry that proves this signature was logged", what, o.err)
			return false
		}
	}
	return false
}

// noteEntry says why an entry other than the deciding one did not decide.
func noteEntry(o, chosen entryOutcome) string {
	d := describeEntry(o.entry)
	switch {
	case o.err == nil:
		return fmt.Sprintf("%s, logged %s: a later copy of the deciding entry, ignored", d, stamp(o.entry.IntegratedTime()))
	case o.expired:
		return fmt.Sprintf("%s, logged %s, after the certificate expired: a later copy, ignored", d, stamp(o.entry.IntegratedTime()))
	case o.unknown:
		return d + ": " + o.err.Error() + ", ignored"
	default:
		return d + ": rejected (" + o.err.Error() + ")"
	}
}

// judgeEntry checks one log entry against the trust and the signature.
func (v *Verifier) judgeEntry(e *tlog.Entry, s *signed) entryOutcome {
	o := entryOutcome{entry: e}
	logID := hex.EncodeToString([]byte(e.LogKeyID()))
	if _, ok := v.logs[logID]; !ok {
		o.unknown = true
		o.err = fmt.Errorf("log %s is not in the trusted root (an entry of another Sigstore instance?)", shortID(logID))
		return o
	}
	if o.proofs, o.err = v.entryProofs(e, logID); o.err != nil {
		return o
	}
	if o.err = entryRecords(e, s.content, s.leaf); o.err != nil {
		return o
	}
	if t := e.IntegratedTime(); !t.IsZero() && !within(s.leaf, t) {
		o.expired = true
		o.err = errors.New(validityWindow(s.leaf))
	}
	return o
}

// rekorV1Origin matches the origin line of a Rekor v1 checkpoint
// ("<host> - <tree ID>"), as sigstore-go tells v1 from v2 checkpoints.
var rekorV1Origin = regexp.MustCompile(`^.* - [0-9]+$`)

// entryProofs verifies an entry's signed entry timestamp and/or its
// inclusion proof with checkpoint, with sigstore-go's tlog package.
func (v *Verifier) entryProofs(e *tlog.Entry, logID string) (string, error) {
	if err := tlog.ValidateEntry(e); err != nil {
		return "", err
	}
	if !e.HasInclusionPromise() && !e.HasInclusionProof() {
		return "", errors.New("the entry has neither a signed entry timestamp nor an inclusion proof")
	}
	if e.IsRekorV2() && !e.HasInclusionProof() {
		return "", errors.New("a Rekor v2 entry without inclusion proof")
	}
	var verified []string
	if e.HasInclusionPromise() {
		if err := tlog.VerifySET(e, v.logs); err != nil {
			return "", fmt.Errorf("signed entry timestamp: %w", err)
		}
		verified = append(verified, "signed entry timestamp")
	}
	if e.HasInclusionProof() {
		if err := v.verifyInclusion(e, logID); err != nil {
			return "", fmt.Errorf("inclusion proof and checkpoint: %w", err)
		}
		verified = append(verified, "inclusion proof and checkpoint")
	}
	return strings.Join(verified, " and "), nil
}

func (v *Verifier) verifyInclusion(e *tlog.Entry, logID string) error {
	tl := v.logs[logID]
	verifier, err := v.logVerifier(logID, tl)
	if err != nil {
		return err
	}
	cp := e.TransparencyLogEntry().GetInclusionProof().GetCheckpoint().GetEnvelope()
	origin, _, _ := strings.Cut(cp, "\n")
	if rekorV1Origin.MatchString(origin) {
		return tlog.VerifyInclusion(e, verifier)
	}
	u, err := url.Parse(tl.BaseURL)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("log %s: no base URL to name its checkpoints' origin", shortID(logID))
	}
	return tlog.VerifyCheckpointAndInclusion(e, verifier, u.Hostname())
}

// entryRecords checks that the entry records this digest (or payload),
// this signature and this certificate.
func entryRecords(e *tlog.Entry, sc sgverify.SignatureContent, leaf *x509.Certificate) error {
	if err := entryRecordsContent(e, sc, leaf); err != nil {
		return err
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

func entryRecordsContent(e *tlog.Entry, sc sgverify.SignatureContent, leaf *x509.Certificate) error {
	kind := e.TransparencyLogEntry().GetKindVersion().GetKind()
	if md := sc.MessageSignatureContent(); md != nil {
		got, _, ok := e.GetHashedRekordDigest()
		if !ok {
			return fmt.Errorf("a %s entry cannot record a message signature", kind)
		}
		if !bytes.Equal(got, md.Digest()) {
			return fmt.Errorf("the entry records digest %x, the bundle signs %x: an entry of another artifact", got, md.Digest())
		}
		return nil
	}
	env := sc.EnvelopeContent()
	if env == nil {
		return nil
	}
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
		return nil
	}
	got, ok := e.GetDssePayloadHash()
	if !ok {
		return fmt.Errorf("a %s entry cannot record a DSSE envelope", kind)
	}
	want := sha256.Sum256(payload)
	if !bytes.Equal(got, want[:]) {
		return fmt.Errorf("the entry records payload hash %x, the envelope's is %x: an entry of another envelope", got, want)
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
	return fmt.Sprintf("%s %s %s entry, log %s index %d", rekor, kv.GetKind(), kv.GetVersion(), shortID(hex.EncodeToString([]byte(e.LogKeyID()))), e.LogIndex())
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}
