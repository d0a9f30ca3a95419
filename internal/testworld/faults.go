package testworld

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FaultKind is a fault or forgery the world can inject for one artifact.
type FaultKind string

// Forgeries: the evidence lies. Each must make verification fail.
const (
	// FaultFlipByte serves the file with one byte flipped; its sums and
	// signature are those of the genuine file.
	FaultFlipByte FaultKind = "flip-byte"
	// FaultBadSHA256 publishes a .sha256 that disagrees with the signed digest.
	FaultBadSHA256 FaultKind = "bad-sha256"
	// FaultForeignIdentity signs with a certificate for another identity.
	FaultForeignIdentity FaultKind = "foreign-identity"
	// FaultForeignIssuer signs with the right identity from another OIDC issuer.
	FaultForeignIssuer FaultKind = "foreign-issuer"
	// FaultForeignCA signs with a certificate from another CA.
	FaultForeignCA FaultKind = "foreign-ca"
	// FaultReplay publishes the signature of another artifact.
	FaultReplay FaultKind = "replay"
	// FaultExpiredCert signs with a certificate that expired before the
	// log entry's integrated time.
	FaultExpiredCert FaultKind = "expired-cert"
	// FaultForgedSET serves a signed entry timestamp not signed by the log.
	FaultForgedSET FaultKind = "forged-set"
	// FaultNotInLog signs without recording the signature in the log.
	FaultNotInLog FaultKind = "not-in-log"
	// FaultUnsigned publishes no signature.
	FaultUnsigned FaultKind = "unsigned"
	// FaultGarbageSignature publishes bytes that are no signature
	// (blobs: .sig and .cert; images: the signature annotations).
	FaultGarbageSignature FaultKind = "garbage-signature"
	// FaultPayloadDigest (images) signs a payload naming another digest.
	FaultPayloadDigest FaultKind = "payload-digest"
	// FaultPayloadName (images) signs a payload whose docker-reference
	// names another image: another release image served under this name.
	FaultPayloadName FaultKind = "payload-name"
	// FaultMissing removes the artifact itself.
	FaultMissing FaultKind = "missing"
)

// Substitutions: a genuinely signed artifact, but not the one asked for.
// Each must make verification fail.
const (
	// FaultCrossArch serves another architecture's artifact, with its
	// signature, in this one's place (kube-apiserver-arm64's image at the
	// kube-apiserver-amd64 tag; arm64 kubectl and its side files at the
	// amd64 paths).
	FaultCrossArch FaultKind = "cross-arch"
	// FaultIndexAtArch serves the image's multi-arch index, with its
	// signature, at a platform image's tag.
	FaultIndexAtArch FaultKind = "index-at-arch"
	// FaultRollback serves the previous release's artifact, genuinely
	// signed when that release was cut, in this one's place (a platform
	// image, a whole image when the target is the index, or a file). The
	// world then builds the previous release too.
	FaultRollback FaultKind = "rollback"
	// FaultForeignReferrer serves another image's index at this index's
	// tag, with a Sigstore bundle of the release team naming that other
	// image attached as an OCI referrer (and no .sig).
	FaultForeignReferrer FaultKind = "foreign-referrer"
)

// FaultLogCopy is no forgery: a copy of the artifact's log entry is
// logged again in the active shard, as anyone may (Rekor checks a
// certificate's validity at its NotBefore). The artifact must still
// verify: the earliest valid entry decides.
const FaultLogCopy FaultKind = "log-copy"

// What users of the real infrastructure hit, none a forgery.
const (
	// FaultSignedLate publishes an image without its signatures, as
	// per-arch images were whose signatures appeared days after the
	// release (kubernetes/kubernetes#120930, #129199);
	// World.PublishLateSignatures publishes them. Until then the image is
	// unsigned, never failed.
	FaultSignedLate FaultKind = "signed-late"
	// FaultSigLostInRegion: the regional backend of the registry front
	// lacks the image's signature manifests (fetched by digest there, they
	// answer MANIFEST_UNKNOWN, kubernetes/registry.k8s.io#324); the
	// canonical one, which the front sends tags to, has them. The image
	// must still verify.
	FaultSigLostInRegion FaultKind = "sig-lost-in-region"
	// FaultCertOnly: the download site serves a file's .cert but not its
	// .sig, as a publication cut short would (no public incident is
	// known; modelled so that the verdict is tested). The file could not
	// be checked: an error, never failed, never verified.
	FaultCertOnly FaultKind = "cert-only"
)

// A release file whose binary the CDN lacks while it serves the .sha256
// beside it (kubernetes/kubernetes#121509) is FaultMissing: the file is
// missing, never failed.

// HTTP faults: the network misbehaves for the artifact's requests.
const (
	FaultHTTP500  FaultKind = "http-500"
	FaultHTTP429  FaultKind = "http-429" // with Retry-After: 1
	FaultSlow     FaultKind = "slow"     // never answers: holds the request until the client gives up
	FaultTruncate FaultKind = "truncate" // body cut short of its Content-Length
	FaultReset    FaultKind = "reset"    // connection reset
	// FaultHostileMessage answers 403 with an error message carrying
	// terminal escape sequences (a window title, a screen clear, a fake
	// green "verified"), C1 controls and DEL: as an OCI error for a
	// registry, as the body for the download site.
	FaultHostileMessage FaultKind = "hostile-message"
)

// HostileMessage is the error message FaultHostileMessage serves.
const HostileMessage = "denied\x1b]0;pwned\x07\x1b[2J\x1b[H\x1b[32mverified\x1b[0m\r\x7f\u009b31m\u0085done\x00"

// FaultKinds lists every fault kind.
var FaultKinds = []FaultKind{
	FaultFlipByte, FaultBadSHA256, FaultForeignIdentity, FaultForeignIssuer, FaultForeignCA,
	FaultReplay, FaultExpiredCert, FaultForgedSET, FaultNotInLog, FaultUnsigned,
	FaultGarbageSignature, FaultPayloadDigest, FaultPayloadName, FaultMissing,
	FaultCrossArch, FaultIndexAtArch, FaultRollback, FaultForeignReferrer, FaultLogCopy,
	FaultSignedLate, FaultSigLostInRegion, FaultCertOnly,
	FaultHTTP500, FaultHTTP429, FaultSlow, FaultTruncate, FaultReset, FaultHostileMessage,
}

// IsHTTP reports whether the fault is injected at the HTTP layer.
func (k FaultKind) IsHTTP() bool {
	switch k {
	case FaultHTTP500, FaultHTTP429, FaultSlow, FaultTruncate, FaultReset, FaultHostileMessage:
		return true
	}
	return false
}

// Fault applies a fault kind to one artifact. Target names the artifact:
// a release file by its path below /release/<version>/ (e.g.
// "bin/linux/amd64/kubectl", "kubernetes-server-linux-amd64.tar.gz"), an
// image by its repository (e.g. "kube-apiserver-amd64" or, for the index,
// "kube-apiserver").
type Fault struct {
	Kind   FaultKind
	Target string
	// Times limits an HTTP fault to the first n requests (0: every request).
	Times int
}

// ParseFault parses "KIND=TARGET" or "KIND*N=TARGET" (an HTTP fault for the
// first N requests only).
func ParseFault(s string) (Fault, error) {
	k, target, ok := strings.Cut(s, "=")
	if !ok || target == "" {
		return Fault{}, fmt.Errorf("fault %q: want KIND=TARGET", s)
	}
	f := Fault{Target: target}
	if kind, n, ok := strings.Cut(k, "*"); ok {
		times, err := strconv.Atoi(n)
		if err != nil || times < 1 {
			return Fault{}, fmt.Errorf("fault %q: bad count %q", s, n)
		}
		k, f.Times = kind, times
	}
	for _, known := range append(slices.Clone(FaultKinds), ChannelFaultKinds...) {
		if string(known) == k {
			f.Kind = known
			return f, nil
		}
	}
	return Fault{}, fmt.Errorf("fault %q: unknown kind %q", s, k)
}

func (f Fault) String() string {
	if f.Times > 0 {
		return fmt.Sprintf("%s*%d=%s", f.Kind, f.Times, f.Target)
	}
	return string(f.Kind) + "=" + f.Target
}

// httpFaults injects latency and HTTP faults in front of a handler. Rules
// match request paths by prefix.
type httpFaults struct {
	next    http.Handler
	latency time.Duration
	// requests counts the requests served, by method and path class.
	requests sync.Map // string -> *atomic.Int64
	// handshakes counts the TLS handshakes of the server (HTTPS only).
	handshakes atomic.Int64

	mu    sync.Mutex
	rules []*httpRule
	// onRequest, when set (OnRequest), sees each request first.
	onRequest func(*http.Request)
	// faultsOf, when set, holds the rules instead, which match the path
	// faultPath gives: a registry's backend faults the requests of the
	// image repositories its front's rules name, wherever the client sends
	// them.
	faultsOf  *httpFaults
	faultPath func(string) string
}

type httpRule struct {
	prefix string // a path, matched with its side files (path.sig, …), or a prefix ending in /
	kind   FaultKind
	left   int // requests left to fault; <0: unlimited
}

func (h *httpFaults) add(prefix string, kind FaultKind, times int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	left := -1
	if times > 0 {
		left = times
	}
	h.rules = append(h.rules, &httpRule{prefix: prefix, kind: kind, left: left})
}

func (h *httpFaults) match(path string) (FaultKind, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.rules {
		hit := path == r.prefix || strings.HasPrefix(path, r.prefix+".") ||
			(strings.HasSuffix(r.prefix, "/") && strings.HasPrefix(path, r.prefix))
		if hit && r.left != 0 {
			if r.left > 0 {
				r.left--
			}
			return r.kind, true
		}
	}
	return "", false
}

func (h *httpFaults) setLatency(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.latency = d
}

func (h *httpFaults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, _ := h.requests.LoadOrStore(requestClass(r), new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	h.mu.Lock()
	latency, onRequest := h.latency, h.onRequest
	h.mu.Unlock()
	if onRequest != nil {
		onRequest(r)
	}
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	rules, p := h, r.URL.Path
	if h.faultsOf != nil {
		rules, p = h.faultsOf, h.faultPath(p)
	}
	kind, ok := rules.match(p)
	if !ok {
		h.next.ServeHTTP(w, r)
		return
	}
	switch kind {
	case FaultHTTP500:
		http.Error(w, "injected fault: internal server error", http.StatusInternalServerError)
	case FaultHTTP429:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "injected fault: too many requests", http.StatusTooManyRequests)
	case FaultHostileMessage:
		body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": "DENIED", "message": HostileMessage}}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write(body)
	case FaultSlow:
		// No answer at any speed: the client's own timeout decides, however
		// loaded the machine (an answer after a fixed delay raced it).
		<-r.Context().Done()
	case FaultTruncate:
		rec := &recorder{header: http.Header{}, code: http.StatusOK}
		h.next.ServeHTTP(rec, r)
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		body := rec.body.Bytes()
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.code)
		_, _ = w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // close the connection mid-body
	case FaultReset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic(http.ErrAbortHandler)
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST instead of FIN
		}
		_ = conn.Close()
	default:
		h.next.ServeHTTP(w, r)
	}
}

type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

// requestClass names what a request asks for, for counting: the method
// and the path with digests, tags and file names folded.
func requestClass(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.Contains(p, "/manifests/sha256-"):
		p = "manifests/<signature or referrers tag>"
	case strings.Contains(p, "/manifests/"):
		p = "manifests"
	case strings.Contains(p, "/blobs/"), strings.HasPrefix(p, storagePrefix):
		p = "blobs"
	case strings.Contains(p, "/referrers/"):
		p = "referrers"
	case strings.HasPrefix(p, "/v2/"):
		p = "/v2/"
	case strings.HasPrefix(p, "/release/"):
		p = "release " + path.Ext(p)
	case strings.HasPrefix(p, "/sbom/"):
		p = "sbom"
	}
	return r.Method + " " + p
}

// Requests returns how many requests the world's servers answered, by
// server ("site", "cdn", "registry", "rekor") and request class, since
// the world was built.
func (w *World) Requests() map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for name, h := range w.httpF {
		m := map[string]int64{}
		h.requests.Range(func(k, v any) bool {
			m[k.(string)] = v.(*atomic.Int64).Load()
			return true
		})
		out[name] = m
	}
	return out
}

// OnRequest has fn see each request to server (named as Requests names
// it) before it is served; fn may hold it, e.g. until another request has
// arrived: a test can then tell requests sent together from requests that
// wait for each other, without a clock. nil removes it.
func (w *World) OnRequest(server string, fn func(*http.Request)) {
	h := w.httpF[server]
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onRequest = fn
}

// ResetRequests starts counting anew (requests and TLS handshakes).
func (w *World) ResetRequests() {
	for _, h := range w.httpF {
		h.requests.Clear()
		h.handshakes.Store(0)
	}
}

// Handshakes counts the TLS handshakes each server of the world saw (full
// or resumed: each ClientHello), by server as Requests names them; none
// when the world serves plain http.
func (w *World) Handshakes() map[string]int64 {
	out := map[string]int64{}
	for name, h := range w.httpF {
		out[name] = h.handshakes.Load()
	}
	return out
}
