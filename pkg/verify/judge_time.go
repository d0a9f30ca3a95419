package verify

import (
	"errors"
	"fmt"
	"slices"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
)

// applySigningTime: a signature of a release logged before the end of the
// day the previous patch release of its line came out is rejected
// ("signing-time"): release files and images are signed when their own
// release is cut, and patch releases are a week or more apart, so such a
// signature is one of an earlier release's artifact served in this one's
// place. Signatures logged later (re-signing) stay valid.
func (c *decision) applySigningTime(results []*SignatureResult) {
	if c.r == nil || c.r.Previous == nil {
		return
	}
	cutoff, err := c.r.Previous.End()
	if err != nil {
		return
	}
	want := fmt.Sprintf("signed after %s was released (%s)", c.r.Previous.Version, c.r.Previous.Date)
	for _, r := range results {
		if !r.Verified() {
			continue
		}
		at := r.SignedAt
		if at == nil {
			at = r.IntegratedTime
		}
		if at == nil {
			continue
		}
		if at.Before(cutoff) {
			r.Fail(CheckSigningTime, ErrSignedTooEarly, want, "signed on "+at.Format("2006-01-02"),
				errors.New("an artifact of an earlier release?"))
			continue
		}
		r.Pass(CheckSigningTime, want, "signed on "+at.Format("2006-01-02"))
	}
}

// acceptedIncidents are the incidents of this artifact the run accepts.
func (c *decision) acceptedIncidents() []artifacts.Incident {
	var out []artifacts.Incident
	for _, in := range c.v.Incidents {
		if slices.Contains(c.j.rules.AcceptIncidents, in.ID) {
			out = append(out, in)
		}
	}
	return out
}

// withIncidents verifies with the expected identity and, when that fails
// for the identity alone, with each identity an accepted incident of the
// artifact documents; such a result says which incident it rests on.
func (c *decision) withIncidents(verify func(artifacts.Identity) *sigverify.Result) *SignatureResult {
	res := found(verify(c.v.Artifact.Signer))
	if !errors.Is(res.Err, sigverify.ErrIdentityMismatch) {
		return res
	}
	for _, in := range c.acceptedIncidents() {
		for _, id := range in.Identities {
			alt := found(verify(id))
			if alt.Verified() {
				alt.AcceptedIncident = in.ID
				alt.Notes = append(alt.Notes, fmt.Sprintf("signed by %s, not the expected %s: accepted as the documented incident %s (%s)",
					id.SAN, c.v.Artifact.Signer.SAN, in.ID, in.Source))
				return alt
			}
		}
	}
	return res
}
