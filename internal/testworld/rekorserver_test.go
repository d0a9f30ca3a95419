package testworld

import (
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/swag"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore/pkg/signature"
)

// rekorWorld is a small world whose log holds entries of every shape the
// faults make: signed by another CA, identity or issuer, after the
// certificate expired, with a forged SET, a copy in the active shard.
func rekorWorld(t *testing.T) *World {
	t.Helper()
	return StartT(t, Options{Small: true, Faults: []Fault{
		{Kind: FaultForeignCA, Target: "bin/linux/amd64/kubectl"},
		{Kind: FaultForeignIdentity, Target: "bin/linux/arm64/kubectl"},
		{Kind: FaultExpiredCert, Target: "bin/linux/amd64/kubelet"},
		{Kind: FaultForgedSET, Target: "bin/linux/arm64/kubelet"},
		{Kind: FaultLogCopy, Target: "bin/linux/amd64/kubeadm"},
		{Kind: FaultPayloadDigest, Target: "kube-proxy-amd64"},
	}})
}

// hashedRekordProposal is the proposal of a logged signature as Rekor's
// own client models encode it (cosign's, k8sverify's): the spec a struct.
func hashedRekordProposal(digestHex string, sig, certPEM []byte) *models.Hashedrekord {
	alg := models.HashedrekordV001SchemaDataHashAlgorithmSha256
	return &models.Hashedrekord{
		APIVersion: swag.String("0.0.1"),
		Spec: models.HashedrekordV001Schema{
			Data: &models.HashedrekordV001SchemaData{Hash: &models.HashedrekordV001SchemaDataHash{Algorithm: &alg, Value: &digestHex}},
			Signature: &models.HashedrekordV001SchemaSignature{
				Content:   strfmt.Base64(sig),
				PublicKey: &models.HashedrekordV001SchemaSignaturePublicKey{Content: strfmt.Base64(certPEM)},
			},
		},
	}
}

// What the world has ready when it is built (Warm) is what Rekor's
// computation gives, for every entry of its log, proposed as a client
// would and proposed as the log holds it; and a proposal that does not
// hold (another entry's signature) is refused as computed, never
// remembered.
func TestRekorReadyAnswersAreTheComputedOnes(t *testing.T) {
	w := rekorWorld(t)
	s := w.Rekor
	if len(s.known) == 0 {
		t.Fatal("the world has no proposal ready")
	}
	for el, leaf := range s.known {
		pe, err := models.UnmarshalProposedEntry(strings.NewReader(el), runtime.JSONConsumer())
		must(t, err)
		if want, err := computeLeaf(pe); err != nil || want != leaf {
			t.Errorf("ready %s for %.80s, computed %s (%v)", leaf, el, want, err)
		}
	}
	n := 0
	for _, body := range w.Sigstore.Log.bodies() {
		pe, err := models.UnmarshalProposedEntry(bytes.NewReader(body), runtime.JSONConsumer())
		must(t, err)
		if _, ok := pe.(*models.Hashedrekord); !ok {
			continue
		}
		n++
		key, _ := proposalKey(pe)
		ready, ok := s.leaves[key]
		want, err := computeLeaf(pe)
		if !ok || err != nil || ready != want {
			t.Errorf("entry %.80s: ready %q (%v), computed %q (%v)", body, ready, ok, want, err)
		}
	}
	if n == 0 {
		t.Fatal("no hashedrekord entry in the log")
	}
	// Each entry's answer is ready but those that change: a forged SET is
	// signed anew for each answer, the active shard's checkpoint too.
	forged := w.Files["bin/linux/arm64/kubelet"].Signature.Entry
	for _, e := range w.Sigstore.Log.entries {
		data, ok := s.answers[e]
		if changes := e == forged || e.TreeID == ActiveTreeID; ok == changes {
			t.Errorf("entry %d (tree %d): answer ready %v", e.Index, e.TreeID, ok)
		}
		if !ok {
			continue
		}
		anon, err := s.render(e)
		must(t, err)
		if want, err := json.Marshal(map[string]models.LogEntryAnon{e.UUID: anon}); err != nil || string(data) != string(want) {
			t.Errorf("entry %d: ready answer\n%s\nrendered\n%s", e.Index, data, want)
		}
	}
	// Another file's signature over this file's digest.
	f, other := w.Files["bin/linux/amd64/kubectl"], w.Files["bin/linux/arm64/kubectl"]
	pe := decodeProposal(t, hashedRekordProposal(f.SHA256, other.Signature.Sig, other.Signature.CertPEM))
	_, want := computeLeaf(pe)
	leaf, err := s.leafOf(pe)
	if want == nil || err == nil || err.Error() != want.Error() {
		t.Errorf("a signature over another digest: %q, %v; computed: %v", leaf, err, want)
	}
	key, _ := proposalKey(pe)
	if _, ok := s.leaves[key]; ok {
		t.Error("a refused proposal was remembered")
	}
}

// decodeProposal encodes pe and decodes it as Rekor decodes an entry of
// a query.
func decodeProposal(t *testing.T, pe models.ProposedEntry) models.ProposedEntry {
	t.Helper()
	data, err := json.Marshal(pe)
	must(t, err)
	out, err := models.UnmarshalProposedEntry(bytes.NewReader(data), runtime.JSONConsumer())
	must(t, err)
	return out
}

// The answers to POST /api/v1/log/entries/retrieve, status, headers and
// bytes, are those the world computes without anything ready: for
// proposals encoded as clients do and laid out otherwise, mixed with
// UUIDs and log indexes, refused, too many, or no query at all.
func TestRekorRetrieveAnswersAsComputed(t *testing.T) {
	// (A forged SET is signed anew for each answer: none here.)
	w := StartT(t, Options{Small: true, Faults: []Fault{{Kind: FaultForeignIdentity, Target: "bin/linux/arm64/kubectl"}}})
	proposal := func(path string) *models.Hashedrekord {
		f := w.Files[path]
		return hashedRekordProposal(f.SHA256, f.Signature.Sig, f.Signature.CertPEM)
	}
	kubectl, kubelet := proposal("bin/linux/amd64/kubectl"), proposal("bin/linux/amd64/kubelet")
	foreign := proposal("bin/linux/arm64/kubectl")
	forged := proposal("bin/linux/amd64/kubeadm")
	forged.Spec.(models.HashedrekordV001Schema).Data.Hash.Value = &w.Files["bin/linux/amd64/kubectl"].SHA256
	query := func(q *models.SearchLogQuery) string {
		data, err := json.Marshal(q)
		must(t, err)
		return string(data)
	}
	entries := func(pes ...models.ProposedEntry) *models.SearchLogQuery {
		q := &models.SearchLogQuery{}
		q.SetEntries(pes)
		return q
	}
	withUUIDs := entries(kubectl, kubelet)
	withUUIDs.EntryUUIDs = []string{w.Files["bin/linux/arm64/kubelet"].Signature.Entry.UUID}
	withUUIDs.LogIndexes = []*int64{swag.Int64(2), nil}
	indented, err := json.MarshalIndent(entries(kubectl, foreign), "", "  ")
	must(t, err)
	var eleven []models.ProposedEntry
	for range 11 {
		eleven = append(eleven, kubectl)
	}
	// Answered from what is ready.
	ready := map[string]bool{"as clients encode": true, "with UUIDs, indexes": true, "no entries": true, "trailing data": true, "too many": true, "entries twice": true}
	queries := map[string]string{
		"as clients encode":   query(entries(kubectl, kubelet, foreign)),
		"with UUIDs, indexes": query(withUUIDs),
		"laid out otherwise":  string(indented),
		"refused":             query(entries(kubectl, forged)),
		"too many":            query(entries(eleven...)),
		"no entries":          `{"entries":[]}`,
		"null entries":        `{"entries":null,"entryUUIDs":["` + w.Files["bin/linux/amd64/kubectl"].Signature.Entry.UUID + `"]}`,
		"trailing data":       query(entries(kubectl)) + `{"entries":7}`,
		"no query":            `[`,
		"entries not a list":  `{"entries":{"kind":"hashedrekord"}}`,
		"entries a string":    `{"entries":"[]"}`,
		"a null entry":        `{"entries":[null]}`,
		"entries twice":       strings.TrimSuffix(query(entries(kubectl)), "}") + `,"entries":[]}`,
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			if _, _, _, known := w.Rekor.knownQuery([]byte(q)); known != ready[name] {
				t.Errorf("answered from what is ready: %v, want %v", known, ready[name])
			}
			answer := retrieveAnswer(t, w, q)
			leaves, known, answers := w.Rekor.setMemos(nil, nil, nil)
			computed := retrieveAnswer(t, w, q)
			w.Rekor.setMemos(leaves, known, answers)
			if answer != computed {
				t.Errorf("answered\n%s\ncomputed\n%s", answer, computed)
			}
		})
	}
}

// setMemos sets the server's memos (nil: every answer computed) and
// returns those it had.
func (s *RekorServer) setMemos(leaves, known map[string]string, answers map[*LogEntry][]byte) (map[string]string, map[string]string, map[*LogEntry][]byte) {
	s.leavesMu.Lock()
	defer s.leavesMu.Unlock()
	s.answersMu.Lock()
	defer s.answersMu.Unlock()
	oldLeaves, oldKnown, oldAnswers := s.leaves, s.known, s.answers
	s.leaves, s.known, s.answers = leaves, known, answers
	return oldLeaves, oldKnown, oldAnswers
}

// retrieveAnswer is the status, headers and body of the world's answer
// to a retrieve query.
func retrieveAnswer(t *testing.T, w *World, query string) string {
	t.Helper()
	resp, err := http.Post(w.RekorURL+"/api/v1/log/entries/retrieve", "application/json", strings.NewReader(query))
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	resp.Header.Del("Date")
	var h bytes.Buffer
	must(t, resp.Header.Write(&h))
	return fmt.Sprintf("%d\n%s\n%s", resp.StatusCode, h.String(), body)
}

// The checkpoint of an inactive shard is signed once, as Rekor signs
// those of its inactive shards once and serves them since; the active
// shard's is signed for each answer. Both verify with the log's key and
// name their tree as it is.
func TestRekorCheckpoints(t *testing.T) {
	w := rekorWorld(t)
	l := w.Sigstore.Log
	inactive := w.Files["bin/linux/amd64/kubectl"].Signature.Entry
	var active *LogEntry
	for _, e := range l.EntriesOf(w.Files["bin/linux/amd64/kubeadm"].Signature.Entry.UUID[16:]) {
		if e.TreeID == ActiveTreeID {
			active = e
		}
	}
	if inactive.TreeID == ActiveTreeID || active == nil {
		t.Fatalf("want an entry in an inactive shard (%d) and its copy in the active one (%v)", inactive.TreeID, active)
	}
	verifier, err := signature.LoadVerifier(l.key.Public(), crypto.SHA256)
	must(t, err)
	for _, tc := range []struct {
		e    *LogEntry
		same bool
	}{{inactive, true}, {active, false}} {
		var cps []string
		for range 2 {
			p, err := l.InclusionProof(tc.e)
			must(t, err)
			var sc util.SignedCheckpoint
			must(t, sc.UnmarshalText([]byte(*p.Checkpoint)))
			if !sc.Verify(verifier) || int64(sc.Size) != *p.TreeSize || fmt.Sprintf("%x", sc.Hash) != *p.RootHash ||
				sc.Origin != fmt.Sprintf("%s - %d", l.origin(), tc.e.TreeID) {
				t.Errorf("tree %d: checkpoint %q does not verify or does not name the tree (size %d, root %s)", tc.e.TreeID, *p.Checkpoint, *p.TreeSize, *p.RootHash)
			}
			cps = append(cps, *p.Checkpoint)
		}
		if (cps[0] == cps[1]) != tc.same {
			t.Errorf("tree %d: two answers carry the same checkpoint: %v, want %v", tc.e.TreeID, cps[0] == cps[1], tc.same)
		}
	}
}
