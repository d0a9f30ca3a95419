package audit_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/internal/testworld/sessions"
	"github.com/k8sverify/k8sverify/pkg/airgap"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/audit"
	"github.com/k8sverify/k8sverify/pkg/pack"
	"github.com/k8sverify/k8sverify/pkg/trust"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

func statuses(vs []verify.Verdict) map[string]verify.Status {
	m := map[string]verify.Status{}
	for _, v := range vs {
		m[v.Artifact.ID()] = v.Status
	}
	return m
}

func TestOfflineGivesTheSameVerdictsAsOnline(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Faults: []testworld.Fault{
		{Kind: testworld.FaultForeignIdentity, Target: "bin/linux/amd64/kubectl"},
		{Kind: testworld.FaultUnsigned, Target: "kube-proxy-arm64"},
		{Kind: testworld.FaultPayloadDigest, Target: "kube-apiserver-amd64"},
	}})
	online := statuses(verifyWorld(t, w, audit.VerifyOptions{}))
	dir := sessions.FetchPack(t, w, airgap.Request{})
	w.Close() // the network is gone
	vs, err := sessions.Offline(t, w, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(vs)
	if len(got) != len(online) {
		t.Fatalf("%d offline verdicts, %d online", len(got), len(online))
	}
	for id, s := range online {
		if got[id] != s {
			t.Errorf("%s: offline %s, online %s", id, got[id], s)
		}
	}
	if online["binary kubectl linux/amd64"] != verify.StatusFailed || online["image kube-proxy linux/arm64"] != verify.StatusUnsigned {
		t.Errorf("faults not seen online: %v", online)
	}
}

// For every forgery the world can make, the pack gives the verdict the
// online run gives: the same status, failed check and reason per artifact
// (one judge, the same evidence). One full world carries them all, each on
// an artifact of its own; files are downloaded (and packed) so that a
// flipped byte or a missing file is seen.
func TestOfflineEqualsOnlineForEveryForgery(t *testing.T) {
	fileTargets := []string{"kubectl", "kubeadm", "kubelet", "kube-proxy", "kube-apiserver", "kube-controller-manager",
		"kube-scheduler", "kubectl-convert", "mounter", "kube-log-runner", "apiextensions-apiserver", "kube-aggregator",
		"kube-apiserver.tar", "kube-proxy.tar", "kube-scheduler.tar"}
	imageTargets := []string{"conformance-amd64", "kube-apiserver-amd64", "kube-controller-manager-amd64", "kube-proxy-amd64",
		"kube-scheduler-amd64", "conformance-arm", "kube-apiserver-arm", "kube-controller-manager-arm", "kube-proxy-arm",
		"kube-scheduler-arm", "conformance-ppc64le", "kube-apiserver-ppc64le", "kube-controller-manager-ppc64le",
		"kube-proxy-ppc64le", "kube-scheduler-ppc64le", "conformance-s390x"}
	var faults []testworld.Fault
	for _, k := range testworld.FaultKinds {
		switch {
		case k.IsHTTP(), k == testworld.FaultLogCopy, k == testworld.FaultSigLostInRegion:
			continue // the network's faults are not evidence; a log copy or a lost regional copy is no forgery
		case k == testworld.FaultForeignReferrer:
			faults = append(faults, testworld.Fault{Kind: k, Target: "kube-scheduler"})
			continue
		}
		switch k {
		case testworld.FaultPayloadDigest, testworld.FaultPayloadName, testworld.FaultIndexAtArch, testworld.FaultSignedLate:
		default:
			faults = append(faults, testworld.Fault{Kind: k, Target: "bin/linux/amd64/" + fileTargets[0]})
			fileTargets = fileTargets[1:]
		}
		if k != testworld.FaultFlipByte && k != testworld.FaultBadSHA256 && k != testworld.FaultCertOnly {
			faults = append(faults, testworld.Fault{Kind: k, Target: imageTargets[0]})
			imageTargets = imageTargets[1:]
		}
	}
	w := testworld.StartT(t, testworld.Options{Faults: faults})
	online := verifyWorld(t, w, audit.VerifyOptions{Download: true})
	dir := sessions.FetchPack(t, w, airgap.Request{WithFiles: true})
	w.Close() // the network is gone
	got, err := sessions.Offline(t, w, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(online) {
		t.Fatalf("%d offline verdicts, %d online", len(got), len(online))
	}
	byTarget := map[string]verify.Verdict{}
	for i, on := range online {
		off := got[i]
		if on.Artifact.ID() != off.Artifact.ID() || on.Status != off.Status || on.FailedCheck != off.FailedCheck || on.Reason != off.Reason {
			t.Errorf("%s:\n online: %s [%s] %s\noffline: %s [%s] %s", on.Artifact.ID(), on.Status, on.FailedCheck, on.Reason, off.Status, off.FailedCheck, off.Reason)
		}
		if on.Artifact.Kind == artifacts.KindImage {
			byTarget[testworld.ImageRepository(on.Artifact)] = on
		} else {
			byTarget[strings.TrimPrefix(on.Artifact.Location, w.DownloadURL+"/release/"+w.Version.String()+"/")] = on
		}
	}
	for _, f := range faults {
		v, ok := byTarget[f.Target]
		// Without the release SBOM (not read here), nothing tells arm64
		// kubectl with its own sums and signature from amd64's: only the
		// SBOM's sums bind a binary's name (TestSubstitutions).
		if f.Kind == testworld.FaultCrossArch && strings.HasPrefix(f.Target, "bin/") {
			continue
		}
		if !ok || v.Status == verify.StatusVerified {
			t.Errorf("%s: %s: %s", f, v.Status, v.Reason)
		}
	}
}

func TestOfflineWithFiles(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindBinary}})
	dir := sessions.FetchPack(t, w, airgap.Request{WithFiles: true})
	vs, err := sessions.Offline(t, w, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Status != verify.StatusVerified || !hasChannel(v, verify.ChannelFile) {
			t.Errorf("%s: %s (%s): %s", v.Artifact.ID(), v.Status, v.DigestSource, v.Reason)
		}
	}
	// --files: a directory laid out like --out, with one file tampered.
	files := t.TempDir()
	for p, f := range w.Files {
		dst := filepath.Join(files, w.Version.String(), filepath.FromSlash(p))
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		data := f.Content
		if p == "bin/linux/arm64/kubectl" {
			data = append([]byte("evil"), data...)
		}
		must(t, os.WriteFile(dst, data, 0o644))
	}
	vs, err = sessions.Offline(t, w, dir, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		want := verify.StatusVerified
		if v.Artifact.ID() == "binary kubectl linux/arm64" {
			want = verify.StatusFailed
		}
		if v.Status != want {
			t.Errorf("%s with --files: %s, want %s: %s", v.Artifact.ID(), v.Status, want, v.Reason)
		}
	}
}

// hasChannel reports whether the verdict's digest check names channel.
func hasChannel(v verify.Verdict, ch verify.Channel) bool {
	for _, c := range v.Checks {
		if c.Name == "digest" && c.OK && strings.Contains(c.Actual, string(ch)) {
			return true
		}
	}
	return false
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Each tampering of a pack gives failed or error for what it touches,
// never verified.
func TestTamperedPacks(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true})
	attacker := testworld.StartT(t, testworld.Options{Small: true})
	clean := sessions.FetchPack(t, w, airgap.Request{})
	evil := sessions.FetchPack(t, attacker, airgap.Request{})
	const amd64, arm64 = "binary kubectl linux/amd64", "binary kubectl linux/arm64"

	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		target string // the artifact that must not verify ("" : the whole pack is refused)
	}{
		{"bundles swapped between two artifacts", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				a, b := sessions.Entry(m, amd64), sessions.Entry(m, arm64)
				a.Signatures, b.Signatures = b.Signatures, a.Signatures
			})
		}, amd64},
		{"digest edited in manifest.json", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				sessions.Entry(m, amd64).Digests = sessions.Entry(m, arm64).Digests
			})
		}, amd64},
		{"digest and bundles of another artifact", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				a, b := sessions.Entry(m, "image kube-proxy linux/amd64"), sessions.Entry(m, "image kube-proxy linux/arm64")
				a.Digests, a.Image, a.Signatures = b.Digests, b.Image, b.Signatures
			})
		}, "image kube-proxy linux/amd64"},
		{"image digest edited", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				sessions.Entry(m, "image kube-proxy linux/amd64").Digests = sessions.Entry(m, "image kube-apiserver linux/amd64").Digests
			})
		}, "image kube-proxy linux/amd64"},
		{"image manifest blob replaced", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				must(t, os.WriteFile(filepath.Join(dir, sessions.Entry(m, "image kube-proxy linux/amd64").Image.Manifest), []byte(`{"schemaVersion":2}`), 0o644))
			})
		}, "image kube-proxy linux/amd64"},
		{"attacker's bundles and trusted root in the pack", func(t *testing.T, dir string) {
			var m pack.Manifest
			data, _ := os.ReadFile(filepath.Join(evil, pack.ManifestName))
			must(t, json.Unmarshal(data, &m))
			src := sessions.Entry(&m, amd64)
			evilBundle, err := os.ReadFile(filepath.Join(evil, src.Signatures[0].Bundle))
			must(t, err)
			sessions.EditManifest(t, dir, func(mm *pack.Manifest) {
				e := sessions.Entry(mm, amd64)
				e.Digests = src.Digests
				must(t, os.WriteFile(filepath.Join(dir, e.Signatures[0].Bundle), evilBundle, 0o644))
			})
			tr, _ := os.ReadFile(attacker.TrustedRootPath)
			must(t, os.WriteFile(filepath.Join(dir, "trusted_root.json"), tr, 0o644))
		}, amd64},
		{"an in-toto statement of another predicate, by the release team, as a file's signature", func(t *testing.T, dir string) {
			f := w.Files["bin/linux/amd64/kubectl"]
			digest, _ := hex.DecodeString(f.SHA256)
			b, err := w.Sigstore.DSSEBundle(digest, testworld.BundleOptions{SignOptions: testworld.SignOptions{CertOptions: testworld.CertOptions{
				Identity: artifacts.BlobSigner.SAN, Issuer: artifacts.BlobSigner.Issuer}}, PredicateType: "https://example.com/anything/v1"})
			must(t, err)
			data, err := b.MarshalJSON()
			must(t, err)
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				must(t, os.WriteFile(filepath.Join(dir, sessions.Entry(m, amd64).Signatures[0].Bundle), data, 0o644))
			})
		}, amd64},
		{"entry pointing outside the pack", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) { sessions.Entry(m, amd64).Signatures[0].Bundle = "../../etc/passwd" })
		}, amd64},
		{"absolute path", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) { sessions.Entry(m, amd64).Signatures[0].Bundle = "/etc/passwd" })
		}, amd64},
		{"symlink leading out", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				p := filepath.Join(dir, sessions.Entry(m, amd64).Signatures[0].Bundle)
				must(t, os.Remove(p))
				must(t, os.Symlink(filepath.Join(evil, sessions.Entry(m, amd64).Signatures[0].Bundle), p))
			})
		}, amd64},
		{"bundle lost (removed from the pack)", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				must(t, os.Remove(filepath.Join(dir, sessions.Entry(m, amd64).Signatures[0].Bundle)))
			})
		}, amd64},
		{"truncated bundle", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				p := filepath.Join(dir, sessions.Entry(m, amd64).Signatures[0].Bundle)
				data, _ := os.ReadFile(p)
				must(t, os.WriteFile(p, data[:len(data)/2], 0o644))
			})
		}, amd64},
		{"artifact left out of the manifest", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				var keep []pack.Entry
				for _, e := range m.Artifacts {
					if e.Key() != amd64 {
						keep = append(keep, e)
					}
				}
				m.Artifacts = keep
			})
		}, amd64},
		{"pack of another version", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) { m.Release = "v1.24.16" })
		}, ""},
		{"interrupted fetch (no manifest)", func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, pack.ManifestName)))
		}, ""},
		{"manifest of schema version 1", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) { m.SchemaVersion = 1 })
		}, ""},
		{"empty directory", func(t *testing.T, dir string) {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				must(t, os.RemoveAll(filepath.Join(dir, e.Name())))
			}
		}, ""},
		{"TUF metadata expired", func(t *testing.T, dir string) {
			ts, err := w.TUF.Timestamp(timeAgo(), false)
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dir, "tuf", "timestamp.json"), ts, 0o644))
		}, ""},
		{"TUF metadata signed by the wrong key", func(t *testing.T, dir string) {
			ts, err := w.TUF.Timestamp(timeAhead(), true)
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dir, "tuf", "timestamp.json"), ts, 0o644))
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.CopyFS(dir, os.DirFS(clean)))
			tc.tamper(t, dir)
			vs, err := sessions.Offline(t, w, dir, "")
			if tc.target == "" {
				if err == nil {
					t.Fatalf("the pack is accepted: %v", statuses(vs))
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				id := v.Artifact.ID()
				if id == tc.target {
					if v.Status != verify.StatusFailed && v.Status != verify.StatusError {
						t.Errorf("%s: %s: %s", id, v.Status, v.Reason)
					}
					if strings.Contains(tc.name, "lost") && !strings.Contains(v.Reason, "is not in the pack") {
						t.Errorf("%s: the reason does not say which file is not in the pack: %s", id, v.Reason)
					}
					t.Logf("%s: %s: %s", id, v.Status, v.Reason)
				} else if v.Status != verify.StatusVerified && !strings.Contains(tc.name, "swapped") {
					t.Errorf("%s beside the tampering: %s: %s", id, v.Status, v.Reason)
				}
			}
		})
	}
}

// A pack's image blobs are named by their digest, but read as they are:
// the judge binds each to the digest that names it. In a release whose
// image digests the catalog does not hold (one newer than the catalog),
// nothing else does.
func TestTamperedPackImageBlobs(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Kinds: imageKind, Small: true, NoImageDigests: true})
	clean := sessions.FetchPack(t, w, airgap.Request{})
	const target = "image kube-apiserver linux/amd64"
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		check  string
		reason string
	}{
		{"another platform's image with this platform's configuration, index dropped", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				a, b := sessions.Entry(m, target), sessions.Entry(m, "image kube-apiserver linux/arm64")
				a.Digests, a.Signatures = b.Digests, b.Signatures
				a.Image.Manifest, a.Image.Index, a.Image.IndexRef = b.Image.Manifest, "", ""
			})
		}, "platform", "the manifest names"},
		{"pinned release index rewritten", func(t *testing.T, dir string) {
			sessions.EditManifest(t, dir, func(m *pack.Manifest) {
				a := sessions.Entry(m, target)
				if !strings.Contains(a.Image.IndexRef, "@sha256:") {
					t.Fatalf("the index %q is not pinned", a.Image.IndexRef)
				}
				data, err := os.ReadFile(filepath.Join(dir, a.Image.Index))
				must(t, err)
				// The same manifests but the arm64 image's: it still lists
				// this image for linux/amd64, but is not the index the
				// reference pins.
				var idx map[string]any
				must(t, json.Unmarshal(data, &idx))
				var kept []any
				for _, e := range idx["manifests"].([]any) {
					if p, _ := e.(map[string]any)["platform"].(map[string]any); p["architecture"] != "arm64" {
						kept = append(kept, e)
					}
				}
				idx["manifests"] = kept
				data, err = json.Marshal(idx)
				must(t, err)
				a.Image.Index = "blobs/sha256/rewritten-index"
				must(t, os.WriteFile(filepath.Join(dir, a.Image.Index), data, 0o644))
			})
		}, "platform", "the index in the evidence is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.CopyFS(dir, os.DirFS(clean)))
			tc.tamper(t, dir)
			vs, err := sessions.Offline(t, w, dir, "")
			must(t, err)
			wantVerdicts(t, vs, smallImageVerdicts)
			for _, v := range vs {
				switch id := v.Artifact.ID(); {
				case id == target && (v.Status != verify.StatusFailed || string(v.FailedCheck) != tc.check || !strings.Contains(v.Reason, tc.reason)):
					t.Errorf("%s: %s [%s]: %s; want failed [%s] naming %q", id, v.Status, v.FailedCheck, v.Reason, tc.check, tc.reason)
				case id != target && v.Status != verify.StatusVerified:
					t.Errorf("%s beside the tampering: %s: %s", id, v.Status, v.Reason)
				}
			}
		})
	}
}

func TestPackWithImages(t *testing.T) {
	// Layers of 3 MiB: larger than any bound on signatures or manifests.
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindImage}, ImageLayerSize: 3 << 20})
	dir := sessions.FetchPack(t, w, airgap.Request{WithImages: true})
	vs, err := sessions.Offline(t, w, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Status != verify.StatusVerified {
			t.Errorf("%s: %s (%s): %s", v.Artifact.ID(), v.Status, v.DigestSource, v.Reason)
		}
	}
	// The OCI layout holds every image with its layers.
	var m pack.Manifest
	data, _ := os.ReadFile(filepath.Join(dir, pack.ManifestName))
	must(t, json.Unmarshal(data, &m))
	e := sessions.Entry(&m, "image kube-proxy linux/amd64")
	blob := filepath.Join(dir, "oci", "blobs", "sha256", strings.TrimPrefix(e.Digests[0].Digest, "sha256:"))
	if _, err := os.Stat(blob); err != nil {
		t.Errorf("the OCI layout lacks the manifest: %v", err)
	}
}

// The pack keeps the release SBOM, and verify --offline lists the release
// from it as verify did online: an amd64 entry given arm64's digests and
// signatures (genuinely signed, of the same release) fails offline on the
// SBOM's sum, as it would online.
func TestPackKeepsTheSBOM(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindBinary}})
	dir := t.TempDir()
	sel := audit.Selection{Kinds: []artifacts.Kind{artifacts.KindBinary}, Platforms: []artifacts.Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}}}
	res, err := airgap.Fetch(context.Background(), sessions.New(t, sessions.Config(w)), airgap.Request{Version: w.Version.String(), Selection: sel, Out: dir,
		TUF: &trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.SBOM != pack.SBOMName {
		t.Fatalf("the pack keeps no SBOM: %+v", res.Manifest.SBOM)
	}
	verifyOffline := func() map[string]verify.Verdict {
		t.Helper()
		c := sessions.Config(w)
		c.Offline = true
		c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}}
		c.Pack = dir
		out, err := sessions.New(t, c).Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: sel}, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]verify.Verdict{}
		for _, v := range out[0].Verdicts {
			m[v.Artifact.ID()] = v
		}
		return m
	}
	for id, v := range verifyOffline() {
		// The image archives (.tar) are packages of the SBOM, without
		// file sums: README, what stays unbindable.
		bound := strings.HasSuffix(v.Artifact.Name, ".tar") || slices.ContainsFunc(v.Artifact.Sums, func(s artifacts.Sum) bool { return s.Source == artifacts.SumSBOM })
		if v.Status != verify.StatusVerified || !bound {
			t.Errorf("%s: %s (%s), SBOM sums %v", id, v.Status, v.Reason, v.Artifact.Sums)
		}
	}

	// Swap: kubectl linux/amd64 given linux/arm64's evidence.
	path := filepath.Join(dir, pack.ManifestName)
	data, err := os.ReadFile(path)
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(data, &m))
	entries := m["artifacts"].([]any)
	find := func(arch string) map[string]any {
		for _, e := range entries {
			e := e.(map[string]any)
			if p, _ := e["platform"].(map[string]any); e["name"] == "kubectl" && p["arch"] == arch {
				return e
			}
		}
		t.Fatalf("no kubectl %s in the pack", arch)
		return nil
	}
	amd, arm := find("amd64"), find("arm64")
	amd["digests"], amd["signatures"] = arm["digests"], arm["signatures"]
	data, err = json.Marshal(m)
	must(t, err)
	must(t, os.WriteFile(path, data, 0o644))
	v := verifyOffline()["binary kubectl linux/amd64"]
	if v.Status != verify.StatusFailed || v.FailedCheck != "digest" || !strings.Contains(v.Reason, "release SBOM") {
		t.Errorf("swapped entry: %s [%s] %s", v.Status, v.FailedCheck, v.Reason)
	}
}

// A pack fetched while the release SBOM could not be had keeps none, and
// offline, as online, its binaries are an error: bound to their names by
// nothing but the download site.
func TestPackWithoutSBOM(t *testing.T) {
	w := testworld.StartT(t, testworld.Options{Small: true, NoSBOM: true, Kinds: []artifacts.Kind{artifacts.KindBinary}})
	sel := audit.Selection{Kinds: []artifacts.Kind{artifacts.KindBinary}, Platforms: []artifacts.Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}}}
	dir := t.TempDir()
	res, err := airgap.Fetch(context.Background(), sessions.New(t, sessions.Config(w)), airgap.Request{Version: w.Version.String(), Selection: sel, Out: dir,
		TUF: &trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.SBOM != "" {
		t.Fatalf("a pack without SBOM names one: %q", res.Manifest.SBOM)
	}
	online, err := sessions.New(t, sessions.Config(w)).Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: sel}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := sessions.Config(w)
	c.Offline = true
	c.Trust = trust.Source{TUF: trust.TUF{RepositoryURL: w.TUF.URL, Root: w.TUF.Root}}
	c.Pack = dir
	off, err := sessions.New(t, c).Verify(context.Background(), audit.VerifyRequest{Versions: []string{w.Version.String()}, Selection: sel}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, res := range map[string][]*audit.Result{"online": online, "offline": off} {
		for _, v := range res[0].Verdicts {
			if v.Status != verify.StatusError || !errors.Is(v.Err, verify.ErrNameUnbound) {
				t.Errorf("%s %s: %s (%s)", name, v.Artifact.ID(), v.Status, v.Reason)
			}
		}
	}
}
