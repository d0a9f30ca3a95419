package sigverify

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"golang.org/x/mod/semver"
	"google.golang.org/protobuf/encoding/protojson"
)

// What a bundle that is not of the form it must be is said to be, in a
// failed "bundle" check.
const (
	mediaTypes = "a Sigstore bundle (media type v0.1, v0.2 or v0.3)"
	unusable   = "an unusable bundle"
)

// ParseBundle parses a Sigstore bundle (protobuf-specs JSON) as
// sigstore-go's bundle.UnmarshalJSON does and checks its form as NewBundle
// does. Its errors wrap ErrBundleInvalid.
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
	pb := new(protobundle.Bundle)
	if err := protojson.Unmarshal(data, pb); err != nil {
		return nil, err
	}
	return NewBundle(pb)
}

// NewBundle returns pb as a bundle once its form is checked as
// sigstore-go's bundle.NewBundle checks it — a known media type (v0.1,
// v0.2, v0.3), a signature or DSSE envelope, verification material, no
// certificate chain in a v0.3 bundle — except for its transparency-log
// entries, which it does not parse: parsing a Rekor entry verifies the
// signature it records, and the Verifier parses each entry once, when it
// checks the bundle, and holds the entries to bundle.NewBundle's rules
// then (checkForm). Online and offline bundles are built here alike.
func NewBundle(pb *protobundle.Bundle) (*bundle.Bundle, error) {
	if _, err := bundle.NewBundle(withoutEntries(pb)); err != nil {
		return nil, err
	}
	return &bundle.Bundle{Bundle: pb}, nil
}

// withoutEntries is pb with no transparency-log entries: the same media
// type, content and verification material otherwise (shared, not copied).
func withoutEntries(pb *protobundle.Bundle) *protobundle.Bundle {
	vm := pb.GetVerificationMaterial()
	if len(vm.GetTlogEntries()) == 0 {
		return pb
	}
	return &protobundle.Bundle{
		MediaType: pb.GetMediaType(),
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   vm.Content,
			TimestampVerificationData: vm.GetTimestampVerificationData(),
		},
		Content: pb.Content,
	}
}

// checkForm holds b to the form sigstore-go's bundle.NewBundle checks,
// however b was built, parsing each transparency-log entry once (sigstore-go's
// Bundle.TlogEntries, at most its limit of entries): the rest of the
// bundle as NewBundle checks it, then the entries' rules of
// bundle.NewBundle — a v0.1 bundle with entries carries an inclusion
// promise, a later one an inclusion proof. It returns the parsed entries.
func checkForm(b *bundle.Bundle, version string) ([]*tlog.Entry, error) {
	if _, err := bundle.NewBundle(withoutEntries(b.Bundle)); err != nil {
		return nil, err
	}
	entries, err := b.TlogEntries()
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	if semver.Compare(version, "v0.1") == 0 { // as bundle.NewBundle compares
		if !slices.ContainsFunc(entries, (*tlog.Entry).HasInclusionPromise) {
			return nil, errors.New("inclusion promises missing in bundle (required for bundle v0.1)")
		}
	} else if !slices.ContainsFunc(entries, (*tlog.Entry).HasInclusionProof) {
		return nil, errors.New("inclusion proof missing in bundle (required for bundle v0.2)")
	}
	return entries, nil
}
