package verify

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// Rules are what a run accepts beyond the release catalog's policy.
// The zero value accepts nothing extra.
type Rules struct {
	// AcceptIncidents are IDs of documented incidents whose described
	// state (an identity, an absent signature) is accepted for the
	// artifacts they concern; such verdicts say so.
	AcceptIncidents []string
	// BlobPredicateTypes are the in-toto predicate types accepted as the
	// signature of a file. Kubernetes signs files with message signatures
	// only, so none is accepted by default. For a file known by itself
	// (artifacts.KindBlob) naming one asks for an attestation of that type:
	// a message signature is then refused, as cosign's attestation
	// verification refuses it.
	BlobPredicateTypes []string
	// AnyImageName accepts image signatures that name any image (or
	// none): for images renamed by a mirror. Unsafe: another signed image
	// served under this name then verifies.
	AnyImageName bool
	// AllowTrustedRootInChain accepts v0.1/v0.2 bundles whose certificate
	// chain ends with a trusted Fulcio root, as old signers wrote them.
	AllowTrustedRootInChain bool
}

// Judge decides verdicts: one artifact and its evidence in, one verdict
// out. It is the only place a verdict's status is decided, online and
// offline alike. Build one per run; it is safe for concurrent use.
type Judge struct {
	v     *sigverify.Verifier
	rules Rules
}

// NewJudge returns a judge verifying with v under rules.
func NewJudge(v *sigverify.Verifier, rules Rules) (*Judge, error) {
	if v == nil {
		return nil, fmt.Errorf("judge: %w", sigverify.ErrNoTrust)
	}
	return &Judge{v: v, rules: rules}, nil
}

// Judge decides the verdict on artifact a of release r (nil for an
// artifact known by itself: a file or an image reference) from its
// evidence.
func (j *Judge) Judge(r *artifacts.Release, a artifacts.Artifact, ev Evidence) Verdict {
	c := &decision{j: j, r: r, v: Verdict{Artifact: a}}
	if r != nil {
		c.v.Incidents = r.IncidentsFor(a)
	}
	c.decide(ev)
	c.sayUnbound()
	c.v.Incidents = explaining(c.v)
	return c.v
}

// explaining keeps, of the incidents that concern v's artifact, those
// that may account for its verdict: for a verified artifact, the incidents
// a signature was accepted under or that account for a signature rejected
// beside the one that verified; for unsigned, missing or failed, those
// documented with that outcome; a network or remote error, none (it is
// never an incident's doing).
func explaining(v Verdict) []artifacts.Incident {
	var out []artifacts.Incident
	for _, in := range v.Incidents {
		var keep bool
		switch v.Status {
		case StatusVerified:
			keep = slices.ContainsFunc(v.Signatures, func(s *SignatureResult) bool {
				return s.AcceptedIncident == in.ID || (!s.Verified() && len(in.Explains) > 0 && in.MayExplain(string(sigverify.FailedCheckOf(s.Err))))
			})
		case StatusUnsigned, StatusMissing:
			keep = in.MayExplain(string(v.Status))
		case StatusFailed:
			keep = in.MayExplain(string(v.FailedCheck))
		}
		if keep {
			out = append(out, in)
		}
	}
	return out
}

// decision is one verdict in the making.
type decision struct {
	j *Judge
	r *artifacts.Release
	v Verdict
}

func (c *decision) decide(ev Evidence) {
	a := c.v.Artifact
	switch {
	case ev.Missing != "":
		c.set(StatusMissing, "not published: "+ev.Missing, nil)
		return
	case ev.Unavailable != nil:
		c.set(StatusError, "could not check: "+ev.Unavailable.Error(), ev.Unavailable)
		return
	}
	if ev.Location != "" && Place(ev.Location) != Place(a.Location) {
		c.failCheck(CheckArtifactName, ErrLocationMismatch, Place(a.Location), Place(ev.Location), nil)
		return
	}
	if ev.Malformed != nil {
		c.failCheck(CheckDigest, ErrEvidenceMalformed, "checksum files as the release publishes them", "", ev.Malformed)
		return
	}
	subject, ok := c.bindDigest(ev)
	if !ok {
		return
	}
	if a.Kind == artifacts.KindImage && !c.checkImage(ev, subject) {
		return
	}
	c.judgeSignatures(ev, subject)
	c.requireNameBinding()
}

// sayUnbound: a verdict on an artifact that a channel could have bound
// and did not says so in its reason, whatever its status (nothing is
// skipped silently).
func (c *decision) sayUnbound() {
	if len(c.v.Artifact.Unbound) == 0 {
		return
	}
	note := unboundText(c.v.Artifact.Unbound)
	if c.v.Reason == "" {
		c.v.Reason = note
		return
	}
	c.v.Reason += "; " + note
}

// Place is where a release says an artifact lives, whoever serves it: an
// image's repository name (the last path element) and tag
// ("kube-apiserver-amd64:v1.24.17"), a release file's path from its
// release directory on ("/release/v1.24.17/bin/linux/amd64/kubectl").
func Place(location string) string {
	if _, rest, ok := strings.Cut(location, "://"); ok {
		if i := strings.Index(rest, "/release/"); i >= 0 {
			return rest[i:]
		}
		return location
	}
	ref, _, _ := strings.Cut(location, "@")
	return path.Base(ref)
}

// requireNameBinding: a blob signature covers a digest, nothing else. A
// release file's digest is bound to its name and platform by the release
// SBOM's sums (and a tarball's by its CHANGELOG sum too). A file that no
// such sum names is bound by nothing but the download site that served it
// — any other genuinely signed file of the release would pass as it —
// when the SBOM could not be used, or does not list it (an SBOM cut short
// at a line's end still parses). Its signature verified, but the verdict
// is an error: it could not be checked. Nothing is asked where no SBOM
// was sought (a release given directly, offline without an evidence
// pack), nor of the files the SBOM leaves out by design.
func (c *decision) requireNameBinding() {
	a := c.v.Artifact
	if c.v.Status != StatusVerified || c.r == nil || (a.Kind != artifacts.KindBinary && a.Kind != artifacts.KindTarball) {
		return
	}
	if slices.ContainsFunc(a.Sums, func(s artifacts.Sum) bool {
		return s.Source == artifacts.SumSBOM || s.Source == artifacts.SumCatalog || s.Source == artifacts.SumChangelog
	}) {
		return
	}
	var why string
	switch {
	case c.r.SBOMError != "":
		why = fmt.Sprintf("the release SBOM could not be used (%s)", c.r.SBOMError)
	case (c.r.Source == artifacts.SourceSBOM || c.r.Source == artifacts.SourceMerged) && !a.OmittedFromSBOM():
		why = "the release SBOM does not list it"
	default:
		return
	}
	err := fmt.Errorf("%w: %s", ErrNameUnbound, why)
	c.set(StatusError, fmt.Sprintf("%s; but nothing independent of the download site binds this file to its name and platform: %s", c.v.Reason, why), err)
}

// set decides the verdict's status: every status is assigned here.
func (c *decision) set(s Status, reason string, err error) {
	c.v.Status, c.v.Reason, c.v.Err = s, reason, err
	if s == StatusFailed {
		c.v.FailedCheck = sigverify.FailedCheckOf(err)
	}
}

// failCheck records a failed artifact check and fails the verdict.
func (c *decision) failCheck(check sigverify.CheckName, sentinel error, expected, actual string, cause error) {
	err := &sigverify.CheckError{Check: check, Sentinel: sentinel, Expected: expected, Actual: actual, Cause: cause}
	c.v.Checks = append(c.v.Checks, sigverify.Check{Name: check, Expected: expected, Actual: actual, Error: err.Error()})
	c.set(StatusFailed, err.Error(), err)
}

func (c *decision) passCheck(check sigverify.CheckName, expected, actual string) {
	c.v.Checks = append(c.v.Checks, sigverify.Check{Name: check, OK: true, Expected: expected, Actual: actual})
}

// bindDigest: every channel's digest of each algorithm agrees, and the
// artifact has a served digest to verify the signatures over ("digest").
func (c *decision) bindDigest(ev Evidence) (sigverify.Digest, bool) {
	a := c.v.Artifact
	claims := slices.Clone(ev.Digests)
	for _, s := range a.Sums {
		d, err := sigverify.ParseDigest(s.Algorithm + ":" + s.Hex)
		if err != nil {
			c.set(StatusError, fmt.Sprintf("the release lists a malformed %s sum: %v", s.Source, err), err)
			return sigverify.Digest{}, false
		}
		claims = append(claims, DigestClaim{Digest: d, Channel: sumChannel(s.Source)})
	}
	// Compared most trusted first: a disagreement names the most trusted
	// channel as the digest expected, and the first that differs from it
	// as what was got (a forged .sha256 beside a genuine download is the
	// one named, not the download).
	ranked := slices.Clone(claims)
	slices.SortStableFunc(ranked, func(x, y DigestClaim) int { return y.Channel.trust() - x.Channel.trust() })
	for i, want := range ranked {
		for _, got := range ranked[i+1:] {
			if want.Digest.Algorithm == got.Digest.Algorithm && want.Digest != got.Digest {
				c.failCheck(CheckDigest, sigverify.ErrDigestMismatch, want.Digest.String()+" ("+c.channelName(want.Channel)+")", got.Digest.String()+" ("+c.channelName(got.Channel)+")",
					errors.New("the channels that name this artifact's digest disagree"))
				return sigverify.Digest{}, false
			}
		}
	}
	subject, ok := ev.Digest("sha256")
	if !ok && a.Kind == artifacts.KindBlob && len(ev.Digests) > 0 {
		subject, ok = ev.Digests[0], true // verify-blob: the digest given, of any algorithm
	}
	if !ok {
		c.set(StatusError, noDigestReason(a), nil)
		return sigverify.Digest{}, false
	}
	if !c.requireSums(claims) {
		return sigverify.Digest{}, false
	}
	c.v.Digest, c.v.DigestSource = subject.Digest.String(), subject.Channel
	c.passCheck(CheckDigest, "", c.describeClaims(claims, a.Unbound))
	return subject.Digest, true
}

// requireSums: a sum the release publishes for a file must be matched by
// a sum of what was served (the CHANGELOG's SHA-512 of a tarball needs the
// served file's SHA-512).
func (c *decision) requireSums(claims []DigestClaim) bool {
	for _, s := range c.v.Artifact.Sums {
		if !s.Independent() {
			continue
		}
		if !slices.ContainsFunc(claims, func(x DigestClaim) bool { return x.Channel.served() && x.Digest.Algorithm == s.Algorithm }) {
			c.set(StatusError, fmt.Sprintf("%s publishes the %s of this artifact, and no %s of what was served is known (no .%s published): verify it with a download",
				publisher(s.Source), strings.ToUpper(s.Algorithm), strings.ToUpper(s.Algorithm), s.Algorithm), nil)
			return false
		}
	}
	return true
}

// publisher names who publishes a sum of source, for reasons.
func publisher(source string) string {
	switch source {
	case artifacts.SumCatalog:
		return "the release's CHANGELOG (embedded in the catalog)"
	case artifacts.SumChangelog:
		return "the release's CHANGELOG"
	case artifacts.SumPromoter:
		return "the image promoter's manifest"
	}
	return "the release SBOM"
}

func sumChannel(source string) Channel {
	switch source {
	case artifacts.SumCatalog:
		return ChannelCatalog
	case artifacts.SumChangelog:
		return ChannelChangelog
	case artifacts.SumPromoter:
		return ChannelPromoter
	}
	return ChannelSBOM
}

// channelName names a channel in messages: the catalog's sums by the
// catalog the release was described by (an external one is no embedded
// catalog).
func (c *decision) channelName(ch Channel) string {
	if ch != ChannelCatalog {
		return string(ch)
	}
	if c.r != nil && c.r.Catalog != "" {
		return c.r.Catalog
	}
	return "release catalog"
}

// describeClaims names the channels that agree, and those that could
// have and did not bind the artifact (artifacts.Artifact.Unbound).
func (c *decision) describeClaims(claims []DigestClaim, unbound []artifacts.Unbound) string {
	var s []string
	for _, x := range claims {
		s = append(s, x.Digest.Algorithm+" from "+c.channelName(x.Channel))
	}
	out := "agree: " + strings.Join(s, ", ")
	if len(unbound) > 0 {
		out += "; " + unboundText(unbound)
	}
	return out
}

// unboundText says which channels did not bind an artifact, and why.
func unboundText(unbound []artifacts.Unbound) string {
	var s []string
	for _, u := range unbound {
		s = append(s, "not bound by the "+string(sumChannel(u.Channel))+" ("+u.Reason+")")
	}
	return strings.Join(s, "; ")
}

func noDigestReason(a artifacts.Artifact) string {
	if a.Kind == artifacts.KindImage {
		return "the registry served no manifest digest"
	}
	return "no .sha256 published: cannot check without downloading the file"
}

// judgeSignatures verifies every signature found and decides.
func (c *decision) judgeSignatures(ev Evidence, subject sigverify.Digest) {
	var results []*SignatureResult
	var unavailable []error
	var unproven []*SignatureResult
	for _, s := range ev.Signatures {
		if s.Unavailable != nil {
			unavailable = append(unavailable, s.Unavailable)
			continue
		}
		if s.NoLogProof != nil && s.Malformed == nil {
			res, err := c.withoutLog(s, subject)
			if err != nil {
				unproven, unavailable = append(unproven, res), append(unavailable, err)
			} else {
				results = append(results, res)
			}
			continue
		}
		res := c.signature(s, subject)
		res.Source, res.Location, res.References = s.Source, s.Location, s.References
		if s.LogLookup != nil && res.Verified() {
			res.Notes = append(res.Notes, logLookupNote(s.LogLookup))
		}
		results = append(results, res)
	}
	c.v.Signatures = append(results, unproven...)
	switch {
	case len(results) == 0 && len(unavailable) == 0:
		c.unsigned()
	case len(results) == 0:
		err := errors.Join(unavailable...)
		c.set(StatusError, "could not check: "+err.Error(), err)
	default:
		c.decideSignatures(results, unavailable)
	}
}

// withoutLog runs the checks of a signature with no log proof that need
// no log. A rejected signature is returned as such (err nil); one that
// passes them all is returned with the error that keeps it unproven.
func (c *decision) withoutLog(s SignatureEvidence, subject sigverify.Digest) (*SignatureResult, error) {
	var res *SignatureResult
	if c.v.Artifact.Kind == artifacts.KindImage || s.Bundle == nil {
		res = rejected(nil, sigverify.CheckBundle, sigverify.ErrBundleInvalid, "a file's signature and certificate", "", s.NoLogProof)
	} else if failed, _ := c.checkBlobContent(s); failed != nil {
		res = failed
	} else {
		res = found(c.j.v.BundleWithoutLog(s.Bundle, sigverify.Policy{Identity: c.v.Artifact.Signer, Digest: subject, AllowTrustedRootInChain: c.j.rules.AllowTrustedRootInChain}))
	}
	res.Source, res.Location = s.Source, s.Location
	if !res.Verified() {
		return res, nil
	}
	var passed []string
	for _, ck := range res.Checks {
		if ck.Name == sigverify.CheckCertificateChain {
			passed = append(passed, string(ck.Name)+" (at the certificate's issue time)")
		} else if ck.Name != sigverify.CheckBundle {
			passed = append(passed, string(ck.Name))
		}
	}
	err := fmt.Errorf("%w: %s over %s verified; unproven without a transparency-log entry (when it was signed, and that it was published, cannot be told)",
		s.NoLogProof, strings.Join(passed, ", "), subject)
	res.Err, res.Error = err, err.Error() // never a verified signature
	return res, err
}

// signature verifies one signature of the subject digest.
func (c *decision) signature(s SignatureEvidence, subject sigverify.Digest) *SignatureResult {
	a := c.v.Artifact
	if s.Malformed != nil {
		return found(sigverify.MalformedSignature("a readable signature ("+string(s.Source)+")", s.Malformed))
	}
	if a.Kind != artifacts.KindImage {
		res, payload := c.checkBlobContent(s)
		if res != nil {
			return res
		}
		res = c.withIncidents(func(id artifacts.Identity) *sigverify.Result {
			return c.j.v.Bundle(s.Bundle, sigverify.Policy{Identity: id, Digest: subject, AllowTrustedRootInChain: c.j.rules.AllowTrustedRootInChain})
		})
		if payload != "" {
			res.Notes = append(res.Notes, payloadPrefix+payload)
		}
		return res
	}
	names := c.imageNames()
	if s.Source == SourceReferrer {
		return c.withIncidents(func(id artifacts.Identity) *sigverify.Result { return c.j.v.ImageBundle(s.Bundle, subject, names, id) })
	}
	return c.withIncidents(func(id artifacts.Identity) *sigverify.Result {
		return c.j.v.ImageSignature(s.Bundle, s.Payload, subject, names, id)
	})
}

// imageNames are the names an image's signatures must give it.
func (c *decision) imageNames() sigverify.ImageNames {
	if c.j.rules.AnyImageName {
		return nil
	}
	a := c.v.Artifact
	return sigverify.NamesFor(a.Name, a.Platform.Arch)
}

// checkBlobContent: a file's signature is a message signature over its
// digest, or an in-toto statement of an accepted predicate type
// (Rules.BlobPredicateTypes). For a file known by itself (KindBlob) a
// named predicate type asks for an attestation, as cosign's attestation
// verification does: a message signature then fails too. It returns the
// failed result, or nil and what the payload is ("" for a message
// signature).
func (c *decision) checkBlobContent(s SignatureEvidence) (*SignatureResult, string) {
	if s.Bundle == nil {
		return nil, ""
	}
	adhoc := c.v.Artifact.Kind == artifacts.KindBlob
	accepted := c.j.rules.BlobPredicateTypes
	sc, err := s.Bundle.SignatureContent()
	if err != nil {
		return nil, ""
	}
	if sc.EnvelopeContent() == nil {
		if adhoc && len(accepted) > 0 {
			return rejected(sigverify.ClaimedSigner(s.Bundle), sigverify.CheckPayload, sigverify.ErrPayloadMismatch, "an in-toto statement of predicate type "+strings.Join(accepted, " or "), "a message signature", nil), ""
		}
		return nil, ""
	}
	st, err := sc.EnvelopeContent().Statement()
	pt := ""
	if err == nil {
		pt = st.GetPredicateType()
	}
	payload := "in-toto statement, predicate " + orNone(pt)
	if slices.Contains(accepted, pt) {
		return nil, payload
	}
	expected := "a message signature over the file's digest (release files are signed with cosign sign-blob)"
	if adhoc {
		expected = "a message signature over the digest, or an in-toto statement of a predicate type named to be accepted"
		if len(accepted) > 0 {
			expected = "an in-toto statement of predicate type " + strings.Join(accepted, " or ")
		}
	}
	return rejected(sigverify.ClaimedSigner(s.Bundle), sigverify.CheckPayload, sigverify.ErrPayloadMismatch, expected, "an "+payload, nil), ""
}

// payloadPrefix starts the note saying what a verified file signature's
// payload is when it is no message signature.
const payloadPrefix = "payload: "

// decideSignatures: verified when a signature passes every check and the
// signing-time rule; failed when every one is rejected; error when none
// passes and some could not be fetched (they might have passed).
func (c *decision) decideSignatures(results []*SignatureResult, unavailable []error) {
	c.applySigningTime(results)
	var verified *SignatureResult
	var rejected []string
	for _, r := range results {
		if r.Verified() {
			if verified == nil {
				verified = r
			}
			continue
		}
		rejected = append(rejected, describeSignature(r)+": "+r.Err.Error())
	}
	switch {
	case verified != nil:
		reason := verifiedReason(verified, len(results))
		for _, n := range verified.Notes {
			if strings.HasPrefix(n, logLookupPrefix) || strings.HasPrefix(n, payloadPrefix) {
				reason += "; " + n
			}
		}
		if len(rejected) > 0 {
			reason += fmt.Sprintf("; %d of %d signatures rejected: %s", len(rejected), len(results), listSome(rejected))
		}
		c.set(StatusVerified, reason, nil)
	case len(unavailable) > 0:
		err := errors.Join(append([]error{telling(results, c.v.Artifact.Signer).Err}, unavailable...)...)
		c.set(StatusError, fmt.Sprintf("could not check %d signature(s): %v; %d rejected: %s",
			len(unavailable), errors.Join(unavailable...), len(rejected), strings.Join(rejected, "; ")), err)
	case len(results) == 1:
		c.set(StatusFailed, results[0].Err.Error(), results[0].Err)
	default:
		c.set(StatusFailed, fmt.Sprintf("none of %d signatures verifies: %s", len(results), listSome(rejected)), telling(results, c.v.Artifact.Signer).Err)
	}
}

// telling picks, among rejected signatures, the one whose rejection says
// most about the artifact: one claiming the expected identity (a forged
// or broken signature of the release team), else one rejected for more
// than its identity, else the first. A release image's .sig also carries
// the staging signature the promoter copied (kubernetes-sigs/promo-tools#542),
// by another identity: its rejection must not hide why the release team's
// own signature failed.
func telling(results []*SignatureResult, want artifacts.Identity) *SignatureResult {
	for _, r := range results {
		if r.Signer != nil && r.Signer.SAN == want.SAN {
			return r
		}
	}
	for _, r := range results {
		if !errors.Is(r.Err, sigverify.ErrIdentityMismatch) {
			return r
		}
	}
	return results[0]
}

// LateSignatureHint ends the reason of an image found unsigned: its
// signatures may not be published yet (per-arch images of several
// releases got theirs days later, kubernetes/kubernetes#120930, #129199),
// which is no sign of tampering.
const LateSignatureHint = "; image signatures have been published days after a release before: check again later (not a sign of tampering)"

// unsigned decides for an artifact without any signature.
func (c *decision) unsigned() {
	a := c.v.Artifact
	var reason string
	switch a.Signing {
	case artifacts.SigningNever:
		reason = "never signed: " + orNone(a.SigningNote)
	case artifacts.SigningNotExpected:
		reason = "not signed in this release (expected: this release predates signing of " + a.Kind.Plural() + ")"
	case artifacts.SigningExpected:
		reason = "no signature published, although this release signs its " + a.Kind.Plural()
		if a.Kind == artifacts.KindImage {
			reason += LateSignatureHint
		}
	default:
		reason = "no signature published"
	}
	c.set(StatusUnsigned, reason, nil)
}

// listSome joins the first few reasons (each signature keeps its own in
// the report) and counts the rest.
func listSome(reasons []string) string {
	const shown = 3
	if len(reasons) <= shown {
		return strings.Join(reasons, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(reasons[:shown], "; "), len(reasons)-shown)
}

const logLookupPrefix = "online log lookup failed"

func logLookupNote(err error) string {
	return logLookupPrefix + " (" + err.Error() + "): the signed entry timestamp the signature carries was verified instead"
}

func describeSignature(r *SignatureResult) string {
	d := "signature"
	if r.Source != "" {
		d = string(r.Source) + " signature"
	}
	if r.Location != "" {
		d += " in " + r.Location
	}
	if r.Signer != nil && r.Signer.SAN != "" {
		d += " by " + r.Signer.SAN
	}
	if strings.HasPrefix(r.DockerReference, stagingRegistryPrefix) {
		d += " (naming the staging image " + r.DockerReference + ": the staging signature the promoter carries over, kubernetes-sigs/promo-tools#542)"
	}
	return d
}

// stagingRegistryPrefix begins the docker-reference of a signature made
// in a staging project (gcr.io/k8s-staging-kubernetes/…), which the
// promoter copies into the production .sig beside its own.
const stagingRegistryPrefix = "gcr.io/k8s-staging-"

func verifiedReason(r *SignatureResult, n int) string {
	s := "signed by " + r.Signer.SAN
	if r.LogIndex != nil {
		s += fmt.Sprintf(", Rekor log index %d", *r.LogIndex)
	}
	if r.IntegratedTime != nil {
		s += ", logged " + r.IntegratedTime.Format("2006-01-02 15:04:05Z")
	}
	if r.AcceptedIncident != "" {
		s += " (incident " + r.AcceptedIncident + " accepted)"
	}
	if n > 1 {
		s += fmt.Sprintf(" (%d signatures found)", n)
	}
	return s
}

// FromLog decides on a file known only by its digest, from the
// signatures a search of the transparency log found for it. Finding none
// proves nothing: the log's index is not guaranteed complete, and a
// signature may be in another log.
func (j *Judge) FromLog(a artifacts.Artifact, ev Evidence) Verdict {
	v := j.Judge(nil, a, ev)
	switch v.Status {
	case StatusVerified:
		v.Reason = a.Name + ": " + v.Reason + " (found by searching the transparency log; name the release to identify the file)"
	case StatusUnsigned:
		d, _ := ev.Digest("sha256")
		v.Reason = "the transparency log's index returns no signature of " + d.Digest.String() +
			": no proof that it is unsigned (the index is not guaranteed complete) and none that it is a release file; name the release to check it against its published sums"
	}
	return v
}

// Identified decides on a file identified as artifact a of release r by
// its published sums, as Judge does; a verified verdict says what the
// file is.
func (j *Judge) Identified(r *artifacts.Release, a artifacts.Artifact, ev Evidence) Verdict {
	v := j.Judge(r, a, ev)
	if v.Status == StatusVerified {
		what := strings.TrimSpace(a.Name + " " + r.Version.String() + " " + a.Platform.String())
		v.Reason = what + ": " + v.Reason
	}
	return v
}

// IdentifiedAs decides on file (a path) identified by its content as
// artifact a of release r (how says from which published sums), and names
// it for what it is: "./kubectl-renamed: kube-proxy linux/amd64 v1.24.17
// verified: signed by …".
func (j *Judge) IdentifiedAs(r *artifacts.Release, a artifacts.Artifact, ev Evidence, file, how string) Verdict {
	v := j.Judge(r, a, ev)
	what := strings.TrimSpace(a.Name+" "+a.Platform.String()) + " " + r.Version.String()
	v.Reason = fmt.Sprintf("%s: %s %s: %s (%s)", file, what, v.Status, v.Reason, how)
	return v
}

// Misnamed fails verdict v on file a of release r, identified by its
// content, when the file on disk carries the name of another file of the
// release (check "identify"): kube-proxy saved as kubectl is not kubectl,
// however genuinely it is signed.
func (j *Judge) Misnamed(r *artifacts.Release, v Verdict, fileName string, named artifacts.Artifact) Verdict {
	c := &decision{j: j, r: r, v: v}
	a := v.Artifact
	c.failCheck(CheckIdentify, ErrMisnamed, fmt.Sprintf("%s, as the file's name %s says", named.Name, fileName),
		fmt.Sprintf("%s %s (its SHA-256 is that file's published sum)", strings.TrimSpace(a.Name+" "+a.Platform.String()), r.Version), nil)
	if v.Reason != "" {
		c.v.Reason += "; as what it is: " + v.Reason
	}
	return c.v
}

// NotOfAnyRelease turns verdict v on a file found signed in the
// transparency log into an error when no release the catalog knows lists
// the file (searched says where it was looked for): signed by whom it
// says, but not a release file, so never verified.
func (j *Judge) NotOfAnyRelease(v Verdict, searched string) Verdict {
	if v.Status != StatusVerified {
		return v
	}
	c := &decision{j: j, v: v}
	err := fmt.Errorf("%w: %s", ErrNotOfRelease, searched)
	c.set(StatusError, v.Reason+"; but not a file of any release the catalog knows: "+searched, err)
	return c.v
}

// Unidentified decides on a file that is none of release r's: its digest
// is not among the sums published for the checked files ("identify").
func (j *Judge) Unidentified(r *artifacts.Release, a artifacts.Artifact, file DigestClaim, checked int) Verdict {
	c := &decision{j: j, r: r, v: Verdict{Artifact: a, Digest: file.Digest.String(), DigestSource: file.Channel}}
	c.failCheck(CheckIdentify, sigverify.ErrDigestMismatch, fmt.Sprintf("one of the published sums of %d %s files", checked, r.Version), file.Digest.String(),
		errors.New("not a file of "+r.Version.String()))
	return c.v
}
