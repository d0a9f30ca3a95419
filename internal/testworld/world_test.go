package testworld

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	rekorclient "github.com/sigstore/rekor/pkg/client"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/sbom"
)

// checker is the independent verifier: cosign/v2's own verification
// functions with the world's trusted root, SCTs and log entries required
// exactly as for the public-good instance.
type checker struct {
	w  *World
	tr *root.TrustedRoot
}

func newChecker(t *testing.T, w *World) *checker {
	t.Helper()
	tr, err := root.NewTrustedRootFromPath(w.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	return &checker{w: w, tr: tr}
}

func (c *checker) opts(id artifacts.Identity) (*cosign.CheckOpts, error) {
	rc, err := rekorclient.GetRekorClient(c.w.RekorURL)
	if err != nil {
		return nil, err
	}
	return &cosign.CheckOpts{
		TrustedMaterial:    c.tr,
		RekorClient:        rc,
		Identities:         []cosign.Identity{{Subject: id.SAN, Issuer: id.Issuer}},
		ClaimVerifier:      cosign.SimpleClaimVerifier,
		RegistryClientOpts: []ociremote.Option{ociremote.WithRemoteOptions(remote.WithTransport(http.DefaultTransport))},
	}, nil
}

// get fetches a path of the download site as a client would.
func (c *checker) get(path string) ([]byte, error) {
	resp, err := http.Get(c.w.DownloadURL + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// verifyBlob verifies a release file from what the site publishes: the
// file, its .sig and .cert, and a Rekor lookup through the world's API.
func (c *checker) verifyBlob(ctx context.Context, f *File) error {
	base := c.w.Releases[len(c.w.Releases)-1].prefix() + f.Path
	content, err := c.get(base)
	if err != nil {
		return err
	}
	sig, err := c.get(base + ".sig")
	if err != nil {
		return err
	}
	certB64, err := c.get(base + ".cert")
	if err != nil {
		return err
	}
	certPEM, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(certB64)))
	if err != nil {
		return fmt.Errorf("decode .cert: %w", err)
	}
	s, err := static.NewSignature(content, strings.TrimSpace(string(sig)), static.WithCertChain(certPEM, nil))
	if err != nil {
		return err
	}
	co, err := c.opts(f.Artifact.Signer)
	if err != nil {
		return err
	}
	co.ClaimVerifier = nil // a blob has no simple-signing payload
	_, err = cosign.VerifyBlobSignature(ctx, s, co)
	return err
}

func (c *checker) verifyImage(ctx context.Context, repo string) error {
	ref, err := name.ParseReference(c.w.Registry + "/" + repo + ":" + c.w.Version.String())
	if err != nil {
		return err
	}
	co, err := c.opts(artifacts.ImageSigner)
	if err != nil {
		return err
	}
	_, _, err = cosign.VerifyImageSignatures(ctx, ref, co)
	return err
}

func TestFullWorldPassesIndependentVerifier(t *testing.T) {
	ctx := context.Background()
	w, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := newChecker(t, w)
	if got := len(w.Files); got < 100 {
		t.Errorf("full v1.24.17 world has %d files, want the whole release", got)
	}
	if got := len(w.Images); got != 30 {
		t.Errorf("full v1.24.17 world has %d image manifests, want 30 (5 images x (index + 5 arches))", got)
	}
	for _, f := range w.Files {
		never := f.Artifact.Signing == artifacts.SigningNever
		if (f.Signature == nil) != never {
			t.Errorf("%s: signed %v, but the release process signs it: %v", f.Path, f.Signature != nil, !never)
			continue
		}
		if never {
			continue
		}
		if err := c.verifyBlob(ctx, f); err != nil {
			t.Errorf("%s: independent verifier rejects a genuine file: %v", f.Path, err)
		}
	}
	for repo := range w.Images {
		if err := c.verifyImage(ctx, repo); err != nil {
			t.Errorf("%s: independent verifier rejects a genuine image: %v", repo, err)
		}
	}
}

func TestForgeriesRejectedByIndependentVerifier(t *testing.T) {
	ctx := context.Background()
	const blob = "bin/linux/amd64/kubectl"
	const image = "kube-apiserver-amd64"
	cases := []struct {
		kind   FaultKind
		target string
	}{
		{FaultFlipByte, blob},
		{FaultForeignIdentity, blob},
		{FaultForeignIssuer, blob},
		{FaultForeignCA, blob},
		{FaultReplay, blob},
		{FaultExpiredCert, blob},
		{FaultForgedSET, blob},
		{FaultNotInLog, blob},
		{FaultGarbageSignature, blob},
		{FaultUnsigned, blob},
		{FaultForeignIdentity, image},
		{FaultForeignIssuer, image},
		{FaultForeignCA, image},
		{FaultReplay, image},
		{FaultExpiredCert, image},
		{FaultForgedSET, image},
		{FaultNotInLog, image},
		{FaultGarbageSignature, image},
		{FaultPayloadDigest, image},
		{FaultUnsigned, image},
		{FaultMissing, image},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind)+"="+tc.target, func(t *testing.T) {
			w, err := Start(ctx, Options{Small: true, Faults: []Fault{{Kind: tc.kind, Target: tc.target}}})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			c := newChecker(t, w)
			var faulty, genuine error
			if f, ok := w.Files[tc.target]; ok {
				faulty = c.verifyBlob(ctx, f)
				genuine = c.verifyBlob(ctx, w.Files["bin/linux/arm64/kubectl"])
			} else {
				faulty = c.verifyImage(ctx, tc.target)
				genuine = c.verifyImage(ctx, "kube-proxy-amd64")
			}
			if faulty == nil {
				t.Errorf("independent verifier accepts %s", tc.kind)
			} else {
				t.Logf("rejected as expected: %v", faulty)
			}
			if genuine != nil {
				t.Errorf("a genuine artifact beside the fault fails: %v", genuine)
			}
		})
	}
}

func TestBadSHA256(t *testing.T) {
	w, err := Start(context.Background(), Options{Small: true, Faults: []Fault{{Kind: FaultBadSHA256, Target: "bin/linux/amd64/kubectl"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := newChecker(t, w)
	sum, err := c.get(w.Releases[len(w.Releases)-1].prefix() + "bin/linux/amd64/kubectl.sha256")
	if err != nil {
		t.Fatal(err)
	}
	if f := w.Files["bin/linux/amd64/kubectl"]; string(sum) == f.SHA256 {
		t.Error("bad-sha256 publishes the genuine sum")
	}
	if err := c.verifyBlob(context.Background(), w.Files["bin/linux/amd64/kubectl"]); err != nil {
		t.Errorf("the file itself is genuine and signed: %v", err)
	}
}

func TestHTTPFaults(t *testing.T) {
	const target = "bin/linux/amd64/kubectl"
	cases := []struct {
		kind  FaultKind
		check func(t *testing.T, resp *http.Response, err error)
	}{
		{FaultHTTP500, func(t *testing.T, resp *http.Response, err error) {
			if err != nil || resp.StatusCode != 500 {
				t.Errorf("want 500, got %v %v", resp, err)
			}
		}},
		{FaultHTTP429, func(t *testing.T, resp *http.Response, err error) {
			if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
				t.Errorf("want 429 with Retry-After, got %v %v", resp, err)
			}
		}},
		{FaultTruncate, func(t *testing.T, resp *http.Response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("want unexpected EOF, got %v", err)
			}
		}},
		{FaultReset, func(t *testing.T, resp *http.Response, err error) {
			if err == nil {
				t.Errorf("want a connection error, got %s", resp.Status)
			}
		}},
		{FaultSlow, func(t *testing.T, resp *http.Response, err error) {
			if err == nil {
				t.Errorf("want a timeout, got %s", resp.Status)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			w, err := Start(context.Background(), Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindBinary},
				Faults: []Fault{{Kind: tc.kind, Target: target}}})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			// A slow answer never comes: any timeout ends the wait for it.
			faulty := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := faulty.Get(w.DownloadURL + w.Releases[len(w.Releases)-1].prefix() + target)
			tc.check(t, resp, err)
			if err == nil {
				resp.Body.Close()
			}
			// Other artifacts are unaffected (and answer however loaded the
			// machine: no timeout).
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err = client.Get(w.DownloadURL + w.Releases[len(w.Releases)-1].prefix() + "bin/linux/arm64/kubectl")
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("fault leaks to another artifact: %v %v", resp, err)
			} else {
				resp.Body.Close()
			}
		})
	}
}

func TestFaultTimesThenRecovers(t *testing.T) {
	w, err := Start(context.Background(), Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindBinary},
		Faults: []Fault{{Kind: FaultHTTP500, Target: "bin/linux/amd64/kubectl", Times: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	url := w.DownloadURL + w.Releases[len(w.Releases)-1].prefix() + "bin/linux/amd64/kubectl"
	for i, want := range []int{500, 200, 200} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("request %d: got %d, want %d", i, resp.StatusCode, want)
		}
	}
}

func TestParseFault(t *testing.T) {
	f, err := ParseFault("http-429*2=kube-apiserver")
	if err != nil || f.Kind != FaultHTTP429 || f.Times != 2 || f.Target != "kube-apiserver" {
		t.Errorf("got %+v, %v", f, err)
	}
	for _, bad := range []string{"nonsense=x", "flip-byte", "http-500*0=x", "=x"} {
		if _, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) accepted", bad)
		}
	}
}

func TestUnknownFaultTarget(t *testing.T) {
	_, err := Start(context.Background(), Options{Small: true, Faults: []Fault{{Kind: FaultUnsigned, Target: "bin/plan9/amd64/kubectl"}}})
	if err == nil {
		t.Fatal("a fault naming nothing is accepted")
	}
}

func BenchmarkStartFullWorld(b *testing.B) {
	for b.Loop() {
		w, err := Start(context.Background(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
}

// The world's release SBOM, in bom's shape, parses and lists the world's
// release: every artifact but those krel leaves out of it by design, so
// that the client reports no difference.
func TestWorldSBOMListsTheRelease(t *testing.T) {
	w := StartT(t, Options{})
	doc, ok := w.site["/sbom/"+w.Version.String()+"/release"]
	if !ok {
		t.Fatal("no SBOM")
	}
	s, err := sbom.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	online, err := s.Release(w.Version, artifacts.Locations{DownloadURL: w.DownloadURL, Registry: w.Registry}, w.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if d := sbom.Diff(w.Release, online); len(d) != 0 {
		t.Errorf("differences: %v", d)
	}
	if n := len(online.Artifacts); n != 180-20-20-6 {
		t.Errorf("the SBOM lists %d artifacts, want 134 (180 without 20 .tar, 20 .docker_tag, the conformance index and its 5 images)", n)
	}
}

// Like the public-good Rekor, the world's log takes entries from anyone:
// a copy of an old entry lands in the active shard, integrated now, and
// a search then finds both.
func TestRekorAcceptsACopyFromAnyone(t *testing.T) {
	w := StartT(t, Options{Small: true, Kinds: []artifacts.Kind{artifacts.KindBinary}})
	f := w.Files["bin/linux/amd64/kubectl"]
	proposed := map[string]any{
		"apiVersion": "0.0.1", "kind": "hashedrekord",
		"spec": map[string]any{
			"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": f.SHA256}},
			"signature": map[string]any{"content": f.Signature.Sig, "publicKey": map[string]any{"content": f.Signature.CertPEM}},
		},
	}
	body, err := json.Marshal(proposed)
	must(t, err)
	resp, err := http.Post(w.RekorURL+"/api/v1/log/entries", "application/json", bytes.NewReader(body))
	must(t, err)
	var created map[string]models.LogEntryAnon
	must(t, json.NewDecoder(resp.Body).Decode(&created))
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || len(created) != 1 {
		t.Fatalf("POST: %d %v", resp.StatusCode, created)
	}
	for uuid, e := range created {
		if !strings.HasPrefix(uuid, fmt.Sprintf("%016x", ActiveTreeID)) || time.Since(time.Unix(*e.IntegratedTime, 0)) > time.Minute {
			t.Errorf("the copy %s is not in the active shard, integrated now: %v", uuid, time.Unix(*e.IntegratedTime, 0))
		}
	}
	if got := w.Sigstore.Log.Search("sha256:" + f.SHA256); len(got) != 2 || !strings.HasPrefix(got[0], fmt.Sprintf("%016x", InactiveTreeID)) {
		t.Errorf("search: %v, want the original (inactive shard) and the copy", got)
	}
}
