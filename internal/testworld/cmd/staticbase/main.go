// Command staticbase pushes a stand-in for cgr.dev/chainguard/static, the
// base image of the release's container image (.goreleaser.yaml kos:), to
// a registry, so that make e2e builds that image with ko without the
// internet:
//
//	staticbase -ca FILE [-ca FILE]... [-platform linux/amd64,linux/arm64] REPOSITORY:TAG
//
// Like the original it holds no program: /etc/passwd and /etc/group with
// root and nonroot (uid and gid 65532), a CA bundle at
// /etc/ssl/certs/ca-certificates.crt (here the files given with -ca: a
// test world's CA), /tmp and /home/nonroot; its configuration runs as
// 65532 (Chainguard's images run as nonroot 65532:
// chainguard-images/images BEST_PRACTICES.md). It is an index of one image per platform, as ko expects of a base
// for a multi-platform build. It prints the pushed index's reference by
// digest. The registry's certificate is trusted through SSL_CERT_FILE.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonroot is the user chainguard/static runs as.
const nonroot = 65532

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(s string) error { *f = append(*f, s); return nil }

func main() {
	var cas fileList
	flag.Var(&cas, "ca", "a PEM file of CA certificates for the image's bundle (repeatable; at least one)")
	platforms := flag.String("platform", "linux/amd64,linux/arm64", "platforms, comma separated")
	flag.Parse()
	if len(cas) == 0 || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: staticbase -ca FILE [-ca FILE]... [-platform linux/amd64,linux/arm64] REPOSITORY:TAG")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	digest, err := run(ctx, flag.Arg(0), cas, strings.Split(*platforms, ","))
	if err != nil {
		fmt.Fprintln(os.Stderr, "staticbase:", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}

func run(ctx context.Context, target string, cas, platforms []string) (name.Digest, error) {
	ref, err := name.NewTag(target)
	if err != nil {
		return name.Digest{}, fmt.Errorf("reference %q: %w", target, err)
	}
	var bundle bytes.Buffer
	for _, f := range cas {
		b, err := os.ReadFile(f)
		if err != nil {
			return name.Digest{}, fmt.Errorf("CA bundle: %w", err)
		}
		bundle.Write(b)
	}
	layer, err := baseLayer(bundle.Bytes())
	if err != nil {
		return name.Digest{}, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		platform, err := v1.ParsePlatform(p)
		if err != nil {
			return name.Digest{}, fmt.Errorf("platform %q: %w", p, err)
		}
		img, err := platformImage(layer, *platform)
		if err != nil {
			return name.Digest{}, fmt.Errorf("image for %s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: platform}})
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	h, err := idx.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("index digest: %w", err)
	}
	return ref.Context().Digest(h.String()), nil
}

// platformImage is the base layer with the configuration of one platform.
func platformImage(layer v1.Layer, p v1.Platform) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	cfg.Config.User = fmt.Sprint(nonroot)
	cfg.Config.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
	}
	return mutate.ConfigFile(img, cfg)
}

// baseLayer is the file system, every time at the epoch: the same input
// gives the same digest.
func baseLayer(bundle []byte) (v1.Layer, error) {
	type entry struct {
		name     string
		mode     int64
		uid      int
		contents string
	}
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonroot, nonroot)
	group := "root:x:0:\nnobody:x:65534:\n" + fmt.Sprintf("nonroot:x:%d:\n", nonroot)
	entries := []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/passwd", mode: 0o644, contents: passwd},
		{name: "etc/group", mode: 0o644, contents: group},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, contents: string(bundle)},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o755, uid: nonroot},
		{name: "tmp/", mode: 0o1777},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.contents))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("base layer: %w", err)
		}
		if _, err := io.WriteString(tw, e.contents); err != nil {
			return nil, fmt.Errorf("base layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
