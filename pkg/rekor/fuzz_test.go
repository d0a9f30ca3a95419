package rekor_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sigstore/rekor/pkg/generated/models"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/signing"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/evidence"
	"github.com/k8sverify/k8sverify/pkg/rekor"
	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Fuzz targets for Rekor's answers. Seeds: the f.Add calls (an entry
// signed afresh by a test Sigstore, in the encodings Rekor's API uses)
// and testdata/fuzz/<target>/ (the same material from one run, and a real
// public-good Rekor entry). `make fuzz` runs each target.

// fuzzFixture is a genuine blob signature and its Rekor entry in each of
// Rekor's answers.
type fuzzFixture struct {
	s                    *signing.Sigstore
	digest, sig, certDER []byte
	uuid                 string
	entryJSON, listJSON  []byte // Rekor's answers: one entry, a retrieve
	searchJSON           []byte // Rekor's answer to an index search
	policy               sigverify.Policy
}

func newFuzzFixture(tb testing.TB) *fuzzFixture {
	tb.Helper()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	fx := &fuzzFixture{s: signing.New(tb)}
	sum := sha256.Sum256([]byte("kubectl v1.24.17 linux/amd64"))
	fx.digest = sum[:]
	fx.policy = sigverify.Policy{Identity: artifacts.BlobSigner, Digest: sigverify.SHA256Digest(fx.digest)}
	signed, err := fx.s.SignDigest(fx.digest, testworld.SignOptions{CertOptions: testworld.CertOptions{Identity: artifacts.BlobSigner.SAN, Issuer: artifacts.BlobSigner.Issuer}})
	must(err)
	fx.sig, fx.certDER = signed.Sig, signed.Cert.Raw
	proof, err := fx.s.Log.InclusionProof(signed.Entry)
	must(err)
	fx.uuid = signed.Entry.UUID
	entry := fx.s.Log.Anon(signed.Entry, signed.Entry.SET, proof)
	fx.entryJSON, err = json.Marshal(map[string]models.LogEntryAnon{fx.uuid: entry})
	must(err)
	fx.listJSON, err = json.Marshal([]map[string]models.LogEntryAnon{{fx.uuid: entry}})
	must(err)
	fx.searchJSON, err = json.Marshal([]string{fx.uuid})
	must(err)
	return fx
}

// FuzzParseSearch: Rekor's answer to an index search is a list of valid
// entry UUIDs or an error.
func FuzzParseSearch(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.searchJSON)
	f.Add([]byte(`[]`))
	f.Add([]byte(`["` + fx.uuid + `","` + fx.uuid[16:] + `"]`))
	f.Add([]byte(`{"code":500,"message":"error"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		uuids, err := rekor.ParseSearch("sha256:"+strings.Repeat("0", 64), data)
		if err != nil {
			return
		}
		if len(uuids) > rekor.MaxSearchResults {
			t.Fatalf("%d UUIDs", len(uuids))
		}
		for _, u := range uuids {
			if !rekor.ValidUUID(u) {
				t.Fatalf("malformed UUID %q accepted", u)
			}
		}
	})
}

// FuzzParseEntry: Rekor's answer for one entry (GET
// /api/v1/log/entries/{uuid}) parses to one complete entry or is rejected
// with verify.ErrEvidenceMalformed; whatever it holds, turning it into a bundle
// and verifying that never panics.
func FuzzParseEntry(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.entryJSON)
	f.Add(bytes.Replace(fx.entryJSON, []byte(`"inclusionProof"`), []byte(`"inclusionProofX"`), 1))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"a":{"body":"","integratedTime":1,"logID":"","logIndex":0}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := rekor.ParseEntry(fx.uuid, data)
		if err != nil {
			if !errors.Is(err, verify.ErrEvidenceMalformed) {
				t.Fatalf("rejected without verify.ErrEvidenceMalformed: %v", err)
			}
			return
		}
		fx.useEntries(t, []*models.LogEntryAnon{e})
	})
}

// FuzzParseEntryList: Rekor's answer to a retrieve (POST
// /api/v1/log/entries/retrieve) parses to complete entries or is rejected
// with verify.ErrEvidenceMalformed; whatever they hold, turning them into a
// bundle and verifying that never panics.
func FuzzParseEntryList(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.listJSON)
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{}]`))
	f.Add([]byte(`{"code":404}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := rekor.ParseEntryList(data, rekor.MaxEntryList)
		if err != nil {
			if !errors.Is(err, verify.ErrEvidenceMalformed) {
				t.Fatalf("rejected without verify.ErrEvidenceMalformed: %v", err)
			}
			return
		}
		fx.useEntries(t, entries)
	})
}

// useEntries does with parsed entries what the fetcher does (select the
// ones recording the signature, build a bundle) and what the judge does
// (verify it). Only the genuine entry verifies.
func (fx *fuzzFixture) useEntries(t *testing.T, entries []*models.LogEntryAnon) {
	t.Helper()
	for _, e := range entries {
		if e.Body == nil || e.IntegratedTime == nil || e.LogIndex == nil || e.LogID == nil {
			t.Fatalf("incomplete entry accepted: %+v", e)
		}
		rekor.RecordsSignature(e, fx.sig, fx.certDER)
	}
	b, err := evidence.MessageSignatureBundle(fx.digest, fx.sig, fx.certDER, entries)
	if err != nil {
		if !errors.Is(err, verify.ErrEvidenceMalformed) {
			t.Fatalf("rejected without verify.ErrEvidenceMalformed: %v", err)
		}
		return
	}
	r := fx.s.Verifier.Bundle(b, fx.policy)
	if r.Verified() != (r.Err == nil) || len(r.Checks) == 0 {
		t.Fatalf("inconsistent result: %+v", r)
	}
}
