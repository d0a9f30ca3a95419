package testworld

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ctx509 "github.com/google/certificate-transparency-go/x509"
	ctx509util "github.com/google/certificate-transparency-go/x509util"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sbom"
)

// eraWorld is one world publishing a release of each era of the 1.24
// line, images only, small.
func eraWorld(t *testing.T, versions string) *World {
	t.Helper()
	return StartT(t, Options{Version: versions, Small: true, Kinds: []artifacts.Kind{artifacts.KindImage}})
}

func releaseOf(t *testing.T, w *World, v string) *ReleaseState {
	t.Helper()
	for _, rs := range w.Releases {
		if rs.Version.String() == v {
			return rs
		}
	}
	t.Fatalf("no release %s in the world", v)
	return nil
}

// sctLogID is the log ID of the SCT embedded in a certificate.
func sctLogID(t *testing.T, c *x509.Certificate) [32]byte {
	t.Helper()
	cc, err := ctx509.ParseCertificate(c.Raw)
	if err != nil {
		t.Fatal(err)
	}
	scts, err := ctx509util.ParseSCTsFromSCTList(&cc.SCTList)
	if err != nil || len(scts) != 1 {
		t.Fatalf("%d SCTs: %v", len(scts), err)
	}
	return scts[0].LogID.KeyID
}

// The CT log of a certificate's SCT is the one current when it was
// issued, and the trusted root lists both logs with their windows.
func TestCTLogsByDate(t *testing.T) {
	w := eraWorld(t, "v1.24.1,v1.24.7,v1.24.9,v1.24.17")
	for v, want := range map[string]int{"v1.24.1": 0, "v1.24.7": 0, "v1.24.9": 1, "v1.24.17": 1} {
		for repo, im := range releaseOf(t, w, v).Images {
			for _, s := range im.Signatures {
				if got := sctLogID(t, s.Cert); got != w.Sigstore.ctLogs[want].id {
					t.Errorf("%s %s: SCT from log %x, want %s", v, repo, got[:4], w.Sigstore.ctLogs[want].url)
				}
			}
		}
	}
	tr, err := root.NewTrustedRootFromPath(w.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	logs := tr.CTLogs()
	test, y2022 := logs[fmt.Sprintf("%x", w.Sigstore.ctLogs[0].id)], logs[fmt.Sprintf("%x", w.Sigstore.ctLogs[1].id)]
	if len(logs) != 2 || test == nil || y2022 == nil {
		t.Fatalf("trusted root CT logs: %v", logs)
	}
	if !test.ValidityPeriodEnd.Equal(CTTestLogEnd) || !y2022.ValidityPeriodStart.Equal(CT2022LogStart) || !y2022.ValidityPeriodEnd.IsZero() {
		t.Errorf("windows: test %v–%v, 2022 %v–%v", test.ValidityPeriodStart, test.ValidityPeriodEnd, y2022.ValidityPeriodStart, y2022.ValidityPeriodEnd)
	}
}

// Entries are in the shard of their date: v1.24.0–1 in the first tree,
// later ones in the second; a copy logged today in the active one.
func TestRekorShardsByDate(t *testing.T) {
	w := eraWorld(t, "v1.24.1,v1.24.2,v1.24.17")
	for v, tree := range map[string]int64{"v1.24.1": FirstTreeID, "v1.24.2": InactiveTreeID, "v1.24.17": InactiveTreeID} {
		prefix := fmt.Sprintf("%016x", tree)
		for repo, im := range releaseOf(t, w, v).Images {
			for _, s := range im.Signatures {
				if s.Entry.TreeID != tree || !strings.HasPrefix(s.Entry.UUID, prefix) {
					t.Errorf("%s %s: entry %s in tree %d, want %d", v, repo, s.Entry.UUID, s.Entry.TreeID, tree)
				}
			}
		}
	}
	if got := fmt.Sprintf("%016x", FirstTreeID); got != "362f8ecba72f4326" {
		t.Errorf("first tree's UUID prefix %s", got)
	}
	info, err := w.Sigstore.Log.Info()
	if err != nil {
		t.Fatal(err)
	}
	if *info.TreeID != fmt.Sprint(ActiveTreeID) || len(info.InactiveShards) != 2 {
		t.Errorf("log info: active %s, %d inactive shards", *info.TreeID, len(info.InactiveShards))
	}
}

// 2022 certificates carry the issuer as .1.1 only; 2023 ones as .1.8 too.
func TestCertificateExtensionsByDate(t *testing.T) {
	w := eraWorld(t, "v1.24.9,v1.24.17")
	for v, wantV2 := range map[string]bool{"v1.24.9": false, "v1.24.17": true} {
		for repo, im := range releaseOf(t, w, v).Images {
			for _, s := range im.Signatures {
				var v1, v2 bool
				for _, e := range s.Cert.Extensions {
					v1 = v1 || e.Id.Equal(oidIssuerV1)
					v2 = v2 || e.Id.Equal(oidIssuerV2)
				}
				if !v1 || v2 != wantV2 {
					t.Errorf("%s %s: issuer extensions .1.1 %v, .1.8 %v; want .1.8 %v", v, repo, v1, v2, wantV2)
				}
			}
		}
	}
}

// Each .sig holds the staging signature the promoter carried over (first,
// naming the staging image, by krel-staging) and the promoter's own —
// but for v1.24.7 and v1.24.8, whose replication had broken.
func TestCarriedStagingSignature(t *testing.T) {
	w := eraWorld(t, "v1.24.1,v1.24.7,v1.24.8,v1.24.17")
	for v, carried := range map[string]bool{"v1.24.1": true, "v1.24.7": false, "v1.24.8": false, "v1.24.17": true} {
		rs := releaseOf(t, w, v)
		for repo := range rs.Images {
			sigs, err := ociremoteSignatures(w, repo, rs.Images[repo].Digest.String())
			if err != nil {
				t.Fatalf("%s %s: %v", v, repo, err)
			}
			if len(sigs) == 0 {
				t.Fatalf("%s %s: no signatures", v, repo)
			}
			first := sigs[0]
			if got := first.identity == artifacts.BlobSigner.SAN; got != carried {
				t.Errorf("%s %s: first signature by %s, carried staging %v", v, repo, first.identity, carried)
			}
			if carried && (len(sigs) != 2 || first.reference != StagingRegistry+"/"+repo) {
				t.Errorf("%s %s: %d signatures, staging one naming %s", v, repo, len(sigs), first.reference)
			}
		}
	}
}

type publishedSignature struct {
	identity, reference string
	optional            map[string]any
}

// ociremoteSignatures reads the .sig manifest of digest in repo: each
// layer's certificate identity and its payload's docker-reference, in
// order.
func ociremoteSignatures(w *World, repo, digest string) ([]publishedSignature, error) {
	tag, err := name.NewTag(w.Registry + "/" + repo + ":" + strings.Replace(digest, ":", "-", 1) + ".sig")
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(tag, remote.WithTransport(w.transport))
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var out []publishedSignature
	for _, l := range m.Layers {
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(l.Annotations["dev.sigstore.cosign/certificate"]))
		if err != nil || len(certs) != 1 {
			return nil, fmt.Errorf("layer %s: certificate: %v", l.Digest, err)
		}
		blob, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := blob.Uncompressed()
		if err != nil {
			return nil, err
		}
		var p payload.SimpleContainerImage
		err = json.NewDecoder(rc).Decode(&p)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, publishedSignature{identity: certs[0].EmailAddresses[0], reference: p.Critical.Identity.DockerReference, optional: p.Optional})
	}
	return out, nil
}

// The promoter's payloads name a regional backend with the mirrors
// annotation (v1.24.10), a backend with the version annotation after
// promo-tools#797 (v1.24.13), registry.k8s.io after #928 (v1.24.16).
func TestPayloadsByDate(t *testing.T) {
	w := eraWorld(t, "v1.24.10,v1.24.13,v1.24.16")
	regions := map[string]bool{}
	for _, v := range []string{"v1.24.10", "v1.24.13", "v1.24.16"} {
		rs := releaseOf(t, w, v)
		for repo, im := range rs.Images {
			sigs, err := ociremoteSignatures(w, repo, im.Digest.String())
			if err != nil {
				t.Fatal(err)
			}
			p := sigs[len(sigs)-1] // the promoter's, after the carried one
			region, _, _ := strings.Cut(p.reference, "-docker.pkg.dev/")
			_, mirrors := p.optional["org.kubernetes.kpromo.mirrors"].(string)
			version, _ := p.optional["org.kubernetes.kpromo.version"].(string)
			var ok bool
			switch v {
			case "v1.24.10":
				ok = p.reference == BackendOf(region)+"/"+repo && mirrors && version == ""
				regions[region] = true
			case "v1.24.13":
				ok = p.reference == BackendOf(region)+"/"+repo && !mirrors && version != ""
			default:
				ok = p.reference == PublicRegistry+"/"+repo && !mirrors && version != ""
			}
			if !ok {
				t.Errorf("%s %s: docker-reference %s, optional %v", v, repo, p.reference, p.optional)
			}
		}
	}
	if len(regions) < 2 {
		t.Errorf("v1.24.10's payloads name one backend region only: %v", regions)
	}
	// kpromo v4.0.2's form, for a release promoted in its two days.
	if got := signedReference("kube-apiserver-amd64", "sha256:00", time.Date(2023, 6, 20, 16, 0, 0, 0, time.UTC)); got != "registry.k8s.io/kubernetes/kube-apiserver-amd64" {
		t.Errorf("reference signed on 2023-06-20: %s", got)
	}
}

// Releases cut before bom's SPDX 2.3 (v1.24.4) publish SPDX 2.2; the
// client's parser lists the release from either.
func TestSBOMVersionsByDate(t *testing.T) {
	w := StartT(t, Options{Version: "v1.24.4,v1.24.5", Small: true})
	for _, rs := range w.Releases {
		want := map[string]string{"v1.24.4": "SPDX-2.2", "v1.24.5": "SPDX-2.3"}[rs.Version.String()]
		s, err := sbom.Parse(bytes.NewReader(w.site["/sbom/"+rs.Version.String()+"/release"]))
		if err != nil {
			t.Fatalf("%s: %v", rs.Version, err)
		}
		if s.SPDXVersion != want {
			t.Errorf("%s: %s, want %s", rs.Version, s.SPDXVersion, want)
		}
		online, err := s.Release(rs.Version, artifacts.Locations{DownloadURL: w.DownloadURL, Registry: w.Registry}, w.Catalog)
		if err != nil {
			t.Fatalf("%s: %v", rs.Version, err)
		}
		if len(online.Artifacts) == 0 {
			t.Errorf("%s: the SBOM lists nothing", rs.Version)
		}
	}
}

// The registry front redirects manifests (tags to the canonical backend,
// digests to a regional one) and blobs (to object storage) to other
// hosts under other paths, answers the referrers API 404, and can lose a
// signature manifest in its regional backend.
func TestRegistryFront(t *testing.T) {
	w := StartT(t, Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindImage},
		Faults: []Fault{{Kind: FaultSigLostInRegion, Target: "kube-proxy-amd64"}}})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(c *http.Client, p string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+w.Registry+p, nil)
		must(t, err)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json")
		resp, err := c.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp
	}
	im := w.Images["kube-proxy-amd64"]
	sigTag := strings.Replace(im.Digest.String(), ":", "-", 1) + ".sig"
	for p, want := range map[string]string{
		"/v2/kube-proxy-amd64/manifests/" + w.Version.String(): backendPrefix + "kube-proxy-amd64/manifests/" + w.Version.String(),
		"/v2/kube-proxy-amd64/manifests/" + im.Digest.String(): backendPrefix + "kube-proxy-amd64/manifests/" + im.Digest.String(),
		"/v2/kube-proxy-amd64/blobs/" + im.Digest.String():     storagePrefix + im.Digest.String(),
	} {
		resp := get(noFollow, p)
		loc, err := resp.Location()
		if resp.StatusCode != http.StatusTemporaryRedirect || err != nil || loc.Host == w.Registry || loc.Path != want {
			t.Errorf("GET %s: %d to %v, want a redirect to another host's %s", p, resp.StatusCode, loc, want)
		}
	}
	if resp := get(http.DefaultClient, "/v2/kube-proxy-amd64/referrers/"+im.Digest.String()); resp.StatusCode != http.StatusNotFound {
		t.Errorf("referrers: %d, want the edge's 404", resp.StatusCode)
	}
	resp := get(http.DefaultClient, "/v2/kube-proxy-amd64/manifests/"+sigTag)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the .sig tag: %d", resp.StatusCode)
	}
	sigDigest := resp.Header.Get("Docker-Content-Digest")
	if resp := get(http.DefaultClient, "/v2/kube-proxy-amd64/manifests/"+sigDigest); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the lost .sig manifest by digest: %d, want MANIFEST_UNKNOWN", resp.StatusCode)
	}
	if resp := get(http.DefaultClient, "/v2/kube-apiserver-amd64/manifests/"+w.Images["kube-apiserver-amd64"].Digest.String()); resp.StatusCode != http.StatusOK {
		t.Errorf("an image by digest through the regional backend: %d", resp.StatusCode)
	}
}

// An image signed late has no .sig until its signatures are published.
func TestSignedLate(t *testing.T) {
	w := StartT(t, Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindImage},
		Faults: []Fault{{Kind: FaultSignedLate, Target: "kube-proxy-arm64"}}})
	d := w.Images["kube-proxy-arm64"].Digest.String()
	if _, err := ociremoteSignatures(w, "kube-proxy-arm64", d); err == nil {
		t.Fatal("signatures published on time")
	}
	must(t, w.PublishLateSignatures())
	if sigs, err := ociremoteSignatures(w, "kube-proxy-arm64", d); err != nil || len(sigs) != 2 {
		t.Errorf("after publishing: %d signatures, %v", len(sigs), err)
	}
}

// The trusted root lists the first Fulcio CA with its window and the
// current one, which issues, from 2022-04-13.
func TestTrustedRootFulcioCAs(t *testing.T) {
	w := eraWorld(t, "v1.24.0")
	tr, err := root.NewTrustedRootFromPath(w.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	cas := tr.FulcioCertificateAuthorities()
	if len(cas) != 2 {
		t.Fatalf("%d Fulcio CAs", len(cas))
	}
	legacy, current := cas[0].(*root.FulcioCertificateAuthority), cas[1].(*root.FulcioCertificateAuthority)
	if !legacy.ValidityPeriodEnd.Equal(FulcioLegacyCAEnd) || !current.ValidityPeriodStart.Equal(FulcioCASince) || !current.ValidityPeriodEnd.IsZero() {
		t.Errorf("windows: first until %v, current %v–%v", legacy.ValidityPeriodEnd, current.ValidityPeriodStart, current.ValidityPeriodEnd)
	}
	for _, im := range w.Images {
		for _, s := range im.Signatures {
			if err := s.Cert.CheckSignatureFrom(w.Sigstore.IntermediateCert); err != nil {
				t.Errorf("%s: not issued by the current CA: %v", im.Repository, err)
			}
		}
	}
}
