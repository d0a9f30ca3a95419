package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Where a Sum was published, beside SumSBOM and SumCatalog: the channels
// read from their publishers for a release the catalog holds no sums for.
const (
	// SumChangelog: the SHA-512 of a tarball in its line's CHANGELOG, read
	// from kubernetes/kubernetes.
	SumChangelog = "changelog"
	// SumPromoter: the digest the image promoter's manifest gives an
	// image's tag, read from kubernetes/k8s.io.
	SumPromoter = "promoter-manifest"
)

// Default places of the channels: the raw-file host of GitHub and the
// branches the documents are published on.
const (
	DefaultChannelsURL  = "https://raw.githubusercontent.com"
	DefaultChangelogRef = "master"
	DefaultPromoterRef  = "main"
)

// MaxChannelDocument bounds a channel document read (a CHANGELOG is a
// few MiB at most; the promoter's manifest of every Kubernetes tag too).
const MaxChannelDocument = 32 << 20

// ErrChannelTooLarge: a channel document exceeds MaxChannelDocument.
var ErrChannelTooLarge = errors.New("the document exceeds the size limit")

// Unbound is a channel that could have bound an artifact's digest and
// did not: it could not be read, or it lists nothing for the artifact.
type Unbound struct {
	// Channel is SumChangelog or SumPromoter.
	Channel string `json:"channel"`
	// Reason says why.
	Reason string `json:"reason"`
}

// Channels reads a release's independent channels from their publishers
// (the raw-file host of their repositories, each pinned to a branch or a
// commit), once per document in a run: a Channels is shared by every
// release a run lists. Its zero value with Open nil reads nothing, and
// every artifact is marked unbound by the channels it could have had.
type Channels struct {
	// URL is the raw-file host: <URL>/<owner>/<repo>/<ref>/<path>.
	URL string
	// ChangelogRef and PromoterRef are the branches or commits of
	// kubernetes/kubernetes and kubernetes/k8s.io read.
	ChangelogRef, PromoterRef string
	// Open reads a document; nil: the channels cannot be reached (offline).
	Open Opener
	// Offline says why Open is nil, for the verdicts.
	Offline string

	mu   sync.Mutex
	docs map[string]*channelDoc
}

// channelDoc is one document, read once.
type channelDoc struct {
	once sync.Once
	raw  []byte
	err  error
}

// ChangelogURL is where the CHANGELOG of line ("1.33") is read.
func (c *Channels) ChangelogURL(line string) string {
	return fmt.Sprintf("%s/kubernetes/kubernetes/%s/CHANGELOG/CHANGELOG-%s.md", strings.TrimRight(c.URL, "/"), orDefault(c.ChangelogRef, DefaultChangelogRef), line)
}

// PromoterURL is where the image promoter's manifest is read.
func (c *Channels) PromoterURL() string {
	return fmt.Sprintf("%s/kubernetes/k8s.io/%s/registry.k8s.io/images/k8s-staging-kubernetes/images.yaml", strings.TrimRight(c.URL, "/"), orDefault(c.PromoterRef, DefaultPromoterRef))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// read returns the document at url, read once in the run.
func (c *Channels) read(ctx context.Context, url string) ([]byte, error) {
	if c.Open == nil {
		why := c.Offline
		if why == "" {
			why = "offline"
		}
		return nil, fmt.Errorf("%s not read: %s", url, why)
	}
	c.mu.Lock()
	if c.docs == nil {
		c.docs = map[string]*channelDoc{}
	}
	d := c.docs[url]
	if d == nil {
		d = &channelDoc{}
		c.docs[url] = d
	}
	c.mu.Unlock()
	d.once.Do(func() { d.raw, d.err = readBounded(ctx, c.Open, url) })
	return d.raw, d.err
}

func readBounded(ctx context.Context, open Opener, url string) ([]byte, error) {
	body, err := open.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, MaxChannelDocument+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if len(data) > MaxChannelDocument {
		return nil, fmt.Errorf("%s: %w (%d MiB)", url, ErrChannelTooLarge, MaxChannelDocument>>20)
	}
	return data, nil
}

// ChannelDocuments are the channel documents a listing read, as read
// (to keep in an evidence pack).
type ChannelDocuments struct {
	Changelog, Promoter []byte
}

// Bind adds to r's tarballs the SHA-512 of the line's CHANGELOG and to
// its images the promoter's digests of their tags; an artifact a channel
// does not bind records why (Artifact.Unbound). It returns what was read
// and a warning per channel that could not be read (none offline: the
// artifacts say it). Only a release the
// catalog holds no sums for is to be bound so (Catalog.HoldsSums).
func (c *Channels) Bind(ctx context.Context, r *Release) (ChannelDocuments, []string) {
	var docs ChannelDocuments
	var warnings []string
	if r.Count(KindTarball) > 0 {
		raw, err := c.read(ctx, c.ChangelogURL(r.Version.Line()))
		var cl map[Version]*ChangelogRelease
		if err == nil {
			if cl, err = ParseChangelog(strings.NewReader(string(raw))); err != nil {
				err = fmt.Errorf("CHANGELOG-%s.md: %w", r.Version.Line(), err)
			}
		}
		if err != nil && c.Open != nil {
			warnings = append(warnings, fmt.Sprintf("the tarballs of %s are not bound by their CHANGELOG: %v", r.Version, err))
		} else if err == nil {
			docs.Changelog = raw
		}
		c.bindChangelog(r, cl[r.Version], err)
	}
	if r.Count(KindImage) > 0 {
		raw, err := c.read(ctx, c.PromoterURL())
		var pm map[string]map[string]string
		if err == nil {
			if pm, err = ParsePromoterManifest(strings.NewReader(string(raw))); err != nil {
				err = fmt.Errorf("images.yaml: %w", err)
			}
		}
		if err != nil && c.Open != nil {
			warnings = append(warnings, fmt.Sprintf("the images of %s are not bound by the promoter's manifest: %v", r.Version, err))
		} else if err == nil {
			docs.Promoter = raw
		}
		bindPromoter(r, pm, err)
	}
	return docs, warnings
}

func (c *Channels) bindChangelog(r *Release, section *ChangelogRelease, err error) {
	for i := range r.Artifacts {
		a := &r.Artifacts[i]
		if a.Kind != KindTarball {
			continue
		}
		switch {
		case err != nil:
			a.Unbound = append(a.Unbound, Unbound{Channel: SumChangelog, Reason: err.Error()})
		case section == nil:
			a.Unbound = append(a.Unbound, Unbound{Channel: SumChangelog, Reason: fmt.Sprintf("CHANGELOG-%s.md has no section for %s", r.Version.Line(), r.Version)})
		case section.SHA512[a.Name] == "":
			a.Unbound = append(a.Unbound, Unbound{Channel: SumChangelog, Reason: fmt.Sprintf("the %s section of CHANGELOG-%s.md lists no SHA-512 of %s", r.Version, r.Version.Line(), a.Name)})
		default:
			a.AddSums(Sum{Algorithm: "sha512", Hex: section.SHA512[a.Name], Source: SumChangelog})
		}
	}
}

func bindPromoter(r *Release, pm map[string]map[string]string, err error) {
	for i := range r.Artifacts {
		a := &r.Artifacts[i]
		if a.Kind != KindImage {
			continue
		}
		repo := a.Name
		if !a.Platform.IsZero() {
			repo += "-" + a.Platform.Arch
		}
		d, ok := pm[repo][r.Version.String()]
		switch {
		case err != nil:
			a.Unbound = append(a.Unbound, Unbound{Channel: SumPromoter, Reason: err.Error()})
		case !ok || !strings.HasPrefix(d, "sha256:"):
			a.Unbound = append(a.Unbound, Unbound{Channel: SumPromoter, Reason: fmt.Sprintf("the promoter's manifest gives no digest to %s:%s", repo, r.Version)})
		default:
			a.AddSums(Sum{Algorithm: "sha256", Hex: strings.TrimPrefix(d, "sha256:"), Source: SumPromoter})
		}
	}
}
