package testworld

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// Channel forgeries: an independent channel disagrees with what the
// download site or the registry serves. Each must fail check "digest"
// for a release the catalog holds no sums for (the channels are read).
const (
	// FaultChangelogSum: the line's CHANGELOG lists another SHA-512 for
	// the tarball than the one served (and signed).
	FaultChangelogSum FaultKind = "changelog-sum"
	// FaultPromoterDigest: the promoter's images.yaml gives the image's
	// tag another digest than the one served (and signed).
	FaultPromoterDigest FaultKind = "promoter-digest"
	// FaultSBOMOmits: the release SBOM does not list the file, as one
	// served cut short at the end of a line (a body that ends with its
	// connection, or an early end of its chunks or stream) still parses.
	// The file itself is genuine; nothing but the download site then
	// binds it to its name and platform.
	FaultSBOMOmits FaultKind = "sbom-omits"
)

// ChannelFaultKinds are the faults of the channels that bind artifacts to
// their names (apart from FaultKinds: the CHANGELOG and the promoter's
// manifest apply to releases whose channels are read).
var ChannelFaultKinds = []FaultKind{FaultChangelogSum, FaultPromoterDigest, FaultSBOMOmits}

// ChannelCommit is a commit the world's channel host serves besides the
// default branches, to pin the channels to (--changelog-ref,
// --promoter-ref).
const ChannelCommit = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"

// startChannels serves the raw-file host of kubernetes/kubernetes and
// kubernetes/k8s.io (raw.githubusercontent.com): a host of its own,
// apart from the download site and the registry.
func (w *World) startChannels() error {
	h := &httpFaults{next: http.HandlerFunc(w.serveChannels)}
	w.httpF["channels"] = h
	u, err := w.serve(h)
	if err != nil {
		return err
	}
	w.ChannelsURL = u
	return nil
}

// ServeChannels turns the channel host on or off (off: every document
// answers 404, as a host that is gone would not answer at all).
func (w *World) ServeChannels(on bool) {
	w.siteMu.Lock()
	defer w.siteMu.Unlock()
	w.channelsOff = !on
}

func (w *World) serveChannels(rw http.ResponseWriter, r *http.Request) {
	w.siteMu.RLock()
	doc, ok := w.channelDocs[r.URL.Path]
	ok = ok && !w.channelsOff
	w.siteMu.RUnlock()
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = rw.Write(doc)
}

// ChangelogPath and PromoterPath are where the channel host serves a
// line's CHANGELOG and the promoter's manifest at ref.
func ChangelogPath(ref, line string) string {
	return "/kubernetes/kubernetes/" + ref + "/CHANGELOG/CHANGELOG-" + line + ".md"
}

// PromoterPath: see ChangelogPath.
func PromoterPath(ref string) string {
	return "/kubernetes/k8s.io/" + ref + "/registry.k8s.io/images/k8s-staging-kubernetes/images.yaml"
}

// buildChannels writes the CHANGELOG of every line of the world and the
// promoter's manifest, as their publishers lay them out, from the
// world's genuine files and images (a channel fault changes one entry).
func (w *World) buildChannels() {
	w.siteMu.Lock()
	defer w.siteMu.Unlock()
	w.channelDocs = map[string][]byte{}
	lines := map[string][]*ReleaseState{}
	for _, rs := range w.Releases {
		lines[rs.Version.Line()] = append(lines[rs.Version.Line()], rs)
	}
	for line, rss := range lines {
		doc := []byte(w.changelog(rss))
		for _, ref := range []string{artifacts.DefaultChangelogRef, ChannelCommit} {
			w.channelDocs[ChangelogPath(ref, line)] = doc
		}
	}
	doc := []byte(w.promoterManifest())
	for _, ref := range []string{artifacts.DefaultPromoterRef, ChannelCommit} {
		w.channelDocs[PromoterPath(ref)] = doc
	}
}

// inChangelog: the CHANGELOG's Downloads tables list the source, client,
// server and node tarballs, not the test tarballs nor the manifests
// (CHANGELOG-1.24.md, "Downloads for v1.24.14").
func inChangelog(name string) bool {
	return !strings.Contains(name, "-test") && !strings.Contains(name, "manifests")
}

// changelog is a line's CHANGELOG: newest release first, each with its
// Downloads rows and Container Images table.
func (w *World) changelog(rss []*ReleaseState) string {
	rss = slices.Clone(rss)
	slices.SortFunc(rss, func(a, b *ReleaseState) int { return b.Version.Compare(a.Version) })
	var b strings.Builder
	for _, rs := range rss {
		v := rs.Version.String()
		fmt.Fprintf(&b, "# %s\n\n\n## Downloads for %s\n\n### Source Code\n\nfilename | sha512 hash\n-------- | -----------\n", v, v)
		var names []string
		sums := map[string]string{}
		for _, f := range rs.Files {
			if f.Artifact.Kind == artifacts.KindTarball && inChangelog(f.Artifact.Name) {
				names = append(names, f.Artifact.Name)
				sums[f.Artifact.Name] = f.SHA512
				if w.channelFault(rs, f.Path) == FaultChangelogSum {
					h := sha512.Sum512([]byte("not the tarball served: " + f.Path))
					sums[f.Artifact.Name] = hex.EncodeToString(h[:])
				}
			}
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(&b, "[%s](https://dl.k8s.io/%s/%s) | `%s`\n", n, v, n, sums[n])
		}
		b.WriteString("\n### Container Images\n\nname | architectures\n---- | -------------\n")
		var images []string
		for repo, im := range rs.Images {
			if im.Platform == "" {
				images = append(images, repo)
			}
		}
		slices.Sort(images)
		for _, name := range images {
			var arches []string
			for repo, im := range rs.Images {
				if im.Platform != "" && strings.TrimSuffix(repo, "-"+strings.TrimPrefix(im.Platform, "linux/")) == name {
					arches = append(arches, fmt.Sprintf("[%s](https://console.cloud.google.com/gcr/images/k8s-artifacts-prod/us/%s-%s)", strings.TrimPrefix(im.Platform, "linux/"), name, strings.TrimPrefix(im.Platform, "linux/")))
				}
			}
			slices.Sort(arches)
			fmt.Fprintf(&b, "[registry.k8s.io/%s:%s](https://console.cloud.google.com/gcr/images/k8s-artifacts-prod/us/%s) | %s\n", name, v, name, strings.Join(arches, ", "))
		}
		fmt.Fprintf(&b, "\n## Changelog since the previous release\n\n")
	}
	return b.String()
}

// promoterManifest is images.yaml: every repository's digests and tags.
func (w *World) promoterManifest() string {
	dmaps := map[string]map[string][]string{}
	for _, rs := range w.Releases {
		for repo, im := range rs.Images {
			d := im.Digest.String()
			if w.channelFault(rs, repo) == FaultPromoterDigest {
				h := sha256.Sum256([]byte("not the image served: " + repo))
				d = "sha256:" + hex.EncodeToString(h[:])
			}
			if dmaps[repo] == nil {
				dmaps[repo] = map[string][]string{}
			}
			dmaps[repo][d] = append(dmaps[repo][d], rs.Version.String())
		}
	}
	repos := make([]string, 0, len(dmaps))
	for r := range dmaps {
		repos = append(repos, r)
	}
	slices.Sort(repos)
	var b strings.Builder
	for _, repo := range repos {
		fmt.Fprintf(&b, "- name: %s\n  dmap:\n", repo)
		var ds []string
		for d := range dmaps[repo] {
			ds = append(ds, d)
		}
		slices.Sort(ds)
		for _, d := range ds {
			var tags []string
			for _, t := range dmaps[repo][d] {
				tags = append(tags, `"`+t+`"`)
			}
			fmt.Fprintf(&b, "    %q: [%s]\n", d, strings.Join(tags, ", "))
		}
	}
	return b.String()
}

// channelFault is the channel fault on target in release rs (faults
// apply to the newest release only).
func (w *World) channelFault(rs *ReleaseState, target string) FaultKind {
	if rs.Version != w.Version {
		return ""
	}
	k := w.faultsBy[target]
	if slices.Contains(ChannelFaultKinds, k) {
		return k
	}
	return ""
}
