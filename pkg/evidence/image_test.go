package evidence

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	cmutate "github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/signed"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/artifacts"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// testRegistry is go-containerregistry's in-process registry on loopback.
type testRegistry struct {
	host     string
	next     http.Handler
	requests atomic.Int64
	// hellos counts connections that opened with a TLS record (an https
	// request to this plain-http registry).
	hellos atomic.Int64
	// fault, when set, answers a request instead of the registry.
	fault atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func newTestRegistry(t *testing.T, opts ...registry.Option) *testRegistry {
	t.Helper()
	reg := registry.New(append([]registry.Option{registry.Logger(log.New(io.Discard, "", 0))}, opts...)...)
	tr := &testRegistry{next: reg}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.requests.Add(1)
		if f := tr.fault.Load(); f != nil && (*f)(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	srv.Listener = &helloCounter{Listener: srv.Listener, hellos: &tr.hellos}
	srv.Start()
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

// helloCounter counts the accepted connections whose first byte opens a
// TLS handshake record (0x16), as their first read finds it.
type helloCounter struct {
	net.Listener
	hellos *atomic.Int64
}

func (l *helloCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &peekedConn{Conn: c, hellos: l.hellos}, nil
}

// peekedConn counts a TLS hello it reads first.
type peekedConn struct {
	net.Conn
	hellos *atomic.Int64
	read   bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.read && n > 0 {
		c.read = true
		if p[0] == 0x16 {
			c.hellos.Add(1)
		}
	}
	return n, err
}

func (tr *testRegistry) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	tr.fault.Store(&f)
}

func (tr *testRegistry) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(tr.host + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var pushOpts = []remote.Option{remote.WithTransport(http.DefaultTransport)}

func testFetcher() *Fetcher {
	f, err := NewFetcher(FetcherConfig{HTTP: transport.New(transport.WithTimeout(2 * time.Second))})
	if err != nil {
		panic(err)
	}
	return f
}

func session(t *testing.T, f *Fetcher) *ImageSession {
	t.Helper()
	s, err := f.ImageSession()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pushImage(t *testing.T, tr *testRegistry, ref string) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tr.ref(t, ref), img, pushOpts...); err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, img interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// rawIndex is a hand-made index manifest to push.
type rawIndex []byte

func (r rawIndex) RawManifest() ([]byte, error)        { return r, nil }
func (r rawIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

func pushIndex(t *testing.T, tr *testRegistry, ref string, child v1.Image, n int) {
	t.Helper()
	d := digestOf(t, child)
	size, _ := child.Size()
	mt, _ := child.MediaType()
	im := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for i := range n {
		im.Manifests = append(im.Manifests, v1.Descriptor{MediaType: mt, Digest: d, Size: size,
			Platform: &v1.Platform{OS: "linux", Architecture: fmt.Sprintf("arch%d", i)}})
	}
	raw, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(tr.ref(t, ref), rawIndex(raw), pushOpts...); err != nil {
		t.Fatal(err)
	}
}

func TestResolveIndexAndImage(t *testing.T) {
	tr := newTestRegistry(t)
	var adds []mutate.IndexAddendum
	imgs := map[string]v1.Image{}
	for _, arch := range []string{"amd64", "arm64"} {
		img := pushImage(t, tr, "kube-proxy-"+arch+":v1")
		if err := remote.Write(tr.ref(t, "kube-proxy@"+digestOf(t, img).String()), img, pushOpts...); err != nil {
			t.Fatal(err)
		}
		imgs[arch] = img
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	if err := remote.WriteIndex(tr.ref(t, "kube-proxy:v1"), idx, pushOpts...); err != nil {
		t.Fatal(err)
	}
	s := session(t, testFetcher())
	ctx := context.Background()

	m, err := s.Resolve(ctx, tr.host+"/kube-proxy:v1")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Index || m.Digest != digestOf(t, idx).String() || m.Tag != "v1" || m.Repository != tr.host+"/kube-proxy" {
		t.Errorf("index resolved as %+v", m)
	}
	if got, want := m.PinnedReference(), tr.host+"/kube-proxy:v1@"+digestOf(t, idx).String(); got != want {
		t.Errorf("pinned %s, want %s", got, want)
	}
	if len(m.Children) != 2 {
		t.Fatalf("children %+v", m.Children)
	}
	for i, arch := range []string{"amd64", "arm64"} {
		c := m.Children[i]
		if c.Platform != (artifacts.Platform{OS: "linux", Arch: arch}) || c.Digest != digestOf(t, imgs[arch]).String() {
			t.Errorf("child %d: %+v", i, c)
		}
	}

	byDigest := tr.host + "/kube-proxy-arm64@" + digestOf(t, imgs["arm64"]).String()
	m, err = s.Resolve(ctx, byDigest)
	if err != nil {
		t.Fatal(err)
	}
	if m.Index || m.Tag != "" || m.PinnedReference() != byDigest {
		t.Errorf("image by digest resolved as %+v", m)
	}

	for _, missing := range []string{"/kube-proxy:v2", "/no-such-image:v1", "/kube-proxy@sha256:" + strings.Repeat("0", 64)} {
		if _, err := s.Resolve(ctx, tr.host+missing); !errors.Is(err, transport.ErrNotFound) {
			t.Errorf("%s: %v, want transport.ErrNotFound", missing, err)
		}
	}
	if _, err := s.Resolve(ctx, "UPPER/case:tag:tag"); err == nil {
		t.Error("a malformed reference resolves")
	}
}

func TestResolveBoundsIndexChildren(t *testing.T) {
	tr := newTestRegistry(t)
	child := pushImage(t, tr, "pause:child")
	pushIndex(t, tr, "pause:max", child, MaxIndexChildren)
	pushIndex(t, tr, "pause:huge", child, MaxIndexChildren+1)
	s := session(t, testFetcher())
	m, err := s.Resolve(context.Background(), tr.host+"/pause:max")
	if err != nil || len(m.Children) != MaxIndexChildren {
		t.Errorf("an index of %d manifests: %v", MaxIndexChildren, err)
	}
	_, err = s.Resolve(context.Background(), tr.host+"/pause:huge")
	if !errors.Is(err, ErrIndexTooLarge) {
		t.Fatalf("an index of %d manifests: %v, want ErrIndexTooLarge", MaxIndexChildren+1, err)
	}
	t.Log(err)
}

func TestResolveBoundsManifestSize(t *testing.T) {
	tr := newTestRegistry(t)
	img, err := random.Image(16, 1)
	if err != nil {
		t.Fatal(err)
	}
	huge := mutate.Annotations(img, map[string]string{"padding": strings.Repeat("x", MaxManifestSize)}).(v1.Image)
	if err := remote.Write(tr.ref(t, "etcd:huge"), huge, pushOpts...); err != nil {
		t.Fatal(err)
	}
	s := session(t, testFetcher())
	_, err = s.Resolve(context.Background(), tr.host+"/etcd:huge")
	if !errors.Is(err, ErrManifestTooLarge) {
		t.Fatalf("a manifest over %d bytes: %v, want ErrManifestTooLarge", MaxManifestSize, err)
	}
	t.Log(err)

	// Without Content-Length, the read itself is cut at the limit.
	tr.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			tr.next.ServeHTTP(noLength{w}, r)
			return true
		}
		return false
	})
	_, err = session(t, testFetcher()).Resolve(context.Background(), tr.host+"/etcd:huge")
	if !errors.Is(err, ErrManifestTooLarge) {
		t.Fatalf("a chunked manifest over %d bytes: %v, want ErrManifestTooLarge", MaxManifestSize, err)
	}
	t.Log(err)
}

// noLength sends a response without Content-Length (chunked).
type noLength struct{ http.ResponseWriter }

func (n noLength) WriteHeader(code int) {
	n.Header().Del("Content-Length")
	n.ResponseWriter.WriteHeader(code)
}

func TestRegistryErrorsAreRetriedThenNamed(t *testing.T) {
	tr := newTestRegistry(t)
	pushImage(t, tr, "coredns:v1")
	var faults atomic.Int64
	fail := func(code int, times int64) {
		faults.Store(0)
		tr.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/manifests/") && faults.Add(1) <= times {
				if code == http.StatusTooManyRequests {
					w.Header().Set("Retry-After", "1")
				}
				http.Error(w, "injected", code)
				return true
			}
			return false
		})
	}
	ref := tr.host + "/coredns:v1"
	for _, code := range []int{http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		fail(code, 1)
		if _, err := session(t, testFetcher()).Resolve(context.Background(), ref); err != nil {
			t.Errorf("one %d: %v", code, err)
		}
		fail(code, 1000)
		_, err := session(t, testFetcher()).Resolve(context.Background(), ref)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint(code)) {
			t.Errorf("persistent %d: %v", code, err)
		}
		if got := faults.Load(); got != 4 {
			t.Errorf("persistent %d: %d attempts, want the client's 4", code, got)
		}
	}
}

func TestRegistryTransportRefusesPlainHTTPToRemoteHosts(t *testing.T) {
	rt := &registryTransport{inner: http.DefaultTransport}
	req, _ := http.NewRequest(http.MethodGet, "http://registry.example.com/v2/", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, transport.ErrInsecureURL) {
		t.Errorf("plain http to a remote host: %v", err)
	}
}

// keylessCert is a self-signed certificate: enough for evidence, which
// never judges it.
func keylessCert(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	cert, key := testworld.SelfSigned(t, "test", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	pemBytes, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	return key, pemBytes
}

func writeSignatures(t *testing.T, tr *testRegistry, repo string, img v1.Image, sigs ...oci.Signature) {
	t.Helper()
	var se oci.SignedEntity = signed.Image(img)
	var err error
	for _, s := range sigs {
		if se, err = cmutate.AttachSignatureToEntity(se, s); err != nil {
			t.Fatal(err)
		}
	}
	r, err := name.NewRepository(tr.host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := ociremote.WriteSignatures(r, se, ociremote.WithRemoteOptions(pushOpts...)); err != nil {
		t.Fatal(err)
	}
}

// Malformed annotations are recorded per signature, never a crash and
// never a bundle.
func TestSignatureAnnotationsMalformed(t *testing.T) {
	tr := newTestRegistry(t)
	img := pushImage(t, tr, "kube-scheduler:v1")
	d := digestOf(t, img)
	key, certPEM := keylessCert(t)
	payload := []byte(`{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"` + d.String() + `"},"type":"cosign container image signature"},"optional":null}`)
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(sig)
	mk := func(p []byte, b64sig string, opts ...static.Option) oci.Signature {
		s, err := static.NewSignature(p, b64sig, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name      string
		sig       oci.Signature
		malformed string // "" for readable
	}{
		{"readable", mk(payload, b64, static.WithCertChain(certPEM, nil)), ""},
		{"signature not base64", mk(append(payload, ' '), "not a signature!", static.WithCertChain(certPEM, nil)), "not base64"},
		{"no certificate", mk(append(payload, ' ', ' '), b64), "no certificate"},
		{"garbage certificate", mk(append(payload, ' ', ' ', ' '), b64, static.WithCertChain([]byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"), nil)), "certificate"},
		{"bundle not JSON", mk(append(payload, '\n'), b64, static.WithAnnotations(map[string]string{
			"dev.sigstore.cosign/certificate": string(certPEM), "dev.sigstore.cosign/bundle": "{not json"})), "bundle annotation"},
		{"bundle body not a string", mk(append(payload, '\n', '\n'), b64, static.WithCertChain(certPEM, nil),
			static.WithBundle(&cbundle.RekorBundle{SignedEntryTimestamp: []byte("set"), Payload: cbundle.RekorPayload{Body: 42, LogID: "00"}})), "bundle annotation"},
		{"bundle body not an entry", mk(append(payload, '\n', '\n', '\n'), b64, static.WithCertChain(certPEM, nil),
			static.WithBundle(&cbundle.RekorBundle{SignedEntryTimestamp: []byte("set"), Payload: cbundle.RekorPayload{Body: base64.StdEncoding.EncodeToString([]byte("{}")), LogID: "00"}})), "bundle annotation"},
		{"bundle without SET", mk(append(payload, '\t'), b64, static.WithCertChain(certPEM, nil),
			static.WithBundle(&cbundle.RekorBundle{Payload: cbundle.RekorPayload{Body: "e30=", LogID: "00"}})), "bundle annotation"},
	}
	var sigs []oci.Signature
	for _, c := range cases {
		sigs = append(sigs, c.sig)
	}
	writeSignatures(t, tr, "kube-scheduler", img, sigs...)

	got, err := session(t, testFetcher()).Signatures(context.Background(), tr.host+"/kube-scheduler", d.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cases) {
		t.Fatalf("%d signatures, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		g := got[i]
		if g.Source != verify.SourceSignatureTag || g.Unavailable != nil || len(g.Payload) == 0 {
			t.Errorf("%s: %+v", c.name, g)
		}
		if c.malformed == "" {
			if g.Malformed != nil || g.Bundle == nil || len(g.Bundle.GetVerificationMaterial().GetTlogEntries()) != 0 {
				t.Errorf("%s: malformed %v, bundle %v", c.name, g.Malformed, g.Bundle)
			}
			continue
		}
		if !errors.Is(g.Malformed, verify.ErrEvidenceMalformed) || !strings.Contains(g.Malformed.Error(), c.malformed) || g.Bundle != nil {
			t.Errorf("%s: malformed %v, want %q", c.name, g.Malformed, c.malformed)
		}
	}
}

func TestUnsignedImageHasNoSignatures(t *testing.T) {
	tr := newTestRegistry(t)
	img := pushImage(t, tr, "kube-controller-manager:v1")
	got, err := session(t, testFetcher()).Signatures(context.Background(), tr.host+"/kube-controller-manager", digestOf(t, img).String())
	if err != nil || len(got) != 0 {
		t.Errorf("unsigned: %v, %v", got, err)
	}
}

// Sigstore bundles attached as OCI referrers are found with the referrers
// API and, where the registry lacks it, with the referrers tag schema.
func TestReferrerBundles(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) {
			tr := newTestRegistry(t, registry.WithReferrersSupport(api))
			img := pushImage(t, tr, "conformance:v1")
			d := digestOf(t, img)
			_, certPEM := keylessCert(t)
			block, _ := cryptoutils.UnmarshalCertificatesFromPEM(certPEM)
			sum := sha256.Sum256([]byte("statement"))
			b, err := messageSignatureBundle(sum[:], []byte("sig"), block[0].Raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			good, err := b.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			subject, err := name.NewDigest(tr.host + "/conformance@" + d.String())
			if err != nil {
				t.Fatal(err)
			}
			for _, bundleBytes := range [][]byte{good, []byte("not a bundle")} {
				if err := ociremote.WriteAttestationNewBundleFormat(subject, bundleBytes, "https://sigstore.dev/cosign/sign/v1", ociremote.WithRemoteOptions(pushOpts...)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := session(t, testFetcher()).Signatures(context.Background(), tr.host+"/conformance", d.String())
			if err != nil {
				t.Fatal(err)
			}
			var readable, malformed int
			for _, g := range got {
				switch {
				case g.Source != verify.SourceReferrer || g.Unavailable != nil:
					t.Errorf("%+v", g)
				case g.Malformed != nil:
					malformed++
				case g.Bundle != nil:
					readable++
				}
			}
			if readable != 1 || malformed != 1 {
				t.Errorf("%d readable and %d malformed referrer bundles, want 1 and 1", readable, malformed)
			}
		})
	}
}

// A .sig layer's payload is read by its descriptor's digest and size: a
// registry that serves other bytes for it (same length or not) leaves that
// signature unavailable, never a bundle over bytes that were not signed,
// while the manifest's other layers read as signed.
func TestSignaturePayloadMustMatchItsDescriptor(t *testing.T) {
	for _, served := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"other bytes, same length", func(b []byte) []byte { return append([]byte("X"), b[1:]...) }},
		{"longer", func(b []byte) []byte { return append(b, ' ') }},
		{"shorter", func(b []byte) []byte { return b[:len(b)-1] }},
	} {
		t.Run(served.name, func(t *testing.T) {
			tr := newTestRegistry(t)
			img := pushImage(t, tr, "kube-proxy:v1")
			d := digestOf(t, img)
			_, certPEM := keylessCert(t)
			var sigs []oci.Signature
			var payloads [][]byte
			for i := range 3 {
				p := []byte(fmt.Sprintf(`{"critical":{"image":{"docker-manifest-digest":%q}},"optional":{"n":%d}}`, d, i))
				s, err := static.NewSignature(p, base64.StdEncoding.EncodeToString([]byte("sig")), static.WithCertChain(certPEM, nil))
				if err != nil {
					t.Fatal(err)
				}
				sigs, payloads = append(sigs, s), append(payloads, p)
			}
			writeSignatures(t, tr, "kube-proxy", img, sigs...)
			forged := sha256.Sum256(payloads[1])
			blobPath := fmt.Sprintf("/blobs/sha256:%x", forged)
			tr.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, blobPath) {
					return false
				}
				_, _ = w.Write(served.edit(payloads[1]))
				return true
			})
			got, err := session(t, testFetcher()).Signatures(context.Background(), tr.host+"/kube-proxy", d.String())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("%d signatures, want 3", len(got))
			}
			for i, g := range got {
				if i == 1 {
					if g.Unavailable == nil || g.Bundle != nil || g.Payload != nil {
						t.Errorf("layer served with %s: unavailable %v, bundle %v, payload %q", served.name, g.Unavailable, g.Bundle != nil, g.Payload)
					}
					continue
				}
				if g.Unavailable != nil || g.Malformed != nil || g.Bundle == nil || string(g.Payload) != string(payloads[i]) {
					t.Errorf("layer %d: unavailable %v, malformed %v, payload %q", i, g.Unavailable, g.Malformed, g.Payload)
				}
			}
		})
	}
}
