package testworld

import (
	"crypto"
	"fmt"
	"testing"

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
