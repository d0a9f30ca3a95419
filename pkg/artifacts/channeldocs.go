package artifacts

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// The parsers of the two channels that publish a release's sums and
// digests apart from the download site and the registry: a line's
// CHANGELOG (kubernetes/kubernetes CHANGELOG/CHANGELOG-1.X.md) and the
// image promoter's manifest (kubernetes/k8s.io
// registry.k8s.io/images/k8s-staging-kubernetes/images.yaml).

// ChangelogRelease is what a CHANGELOG publishes of one release.
type ChangelogRelease struct {
	// SHA512 are the tarballs' sums by file name.
	SHA512 map[string]string
	// Images are the container images' architectures by image name.
	Images map[string][]string
}

var (
	// "# v1.24.14" opens a release's section (pre-releases are skipped).
	changelogHeadingRE = regexp.MustCompile(`^# (v\S+)\s*$`)
	// "[kubernetes.tar.gz](https://dl.k8s.io/v1.24.14/kubernetes.tar.gz) | <sum>",
	// the sum bare or in backticks.
	changelogSumRE = regexp.MustCompile("^\\[([^\\]]+)\\]\\((https://[^)]+)\\) \\| `?([0-9a-f]{128})`?\\s*$")
	// "[registry.k8s.io/kube-proxy:v1.24.14](...) | [amd64](...), [arm](...)".
	changelogImageRE = regexp.MustCompile(`^\[(?:registry\.k8s\.io|k8s\.gcr\.io)/([a-z0-9-]+):(v[^\]]+)\]\([^)]*\) \| (.*)$`)
	changelogArchRE  = regexp.MustCompile(`\[([a-z0-9]+)\]\(`)
)

// ParseChangelog reads a CHANGELOG-1.X.md and returns, per stable release,
// the tarball sums of its Downloads tables and the architectures of its
// Container Images table. A row is taken only inside its release's
// section, and only when its link names that release
// (https://dl.k8s.io/<version>/<file>, registry.k8s.io/<image>:<version>);
// a file listed twice with two sums is an error.
func ParseChangelog(r io.Reader) (map[Version]*ChangelogRelease, error) {
	out := map[Version]*ChangelogRelease{}
	var cur *ChangelogRelease
	var curV Version
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := changelogHeadingRE.FindStringSubmatch(line); m != nil {
			cur = nil
			v, err := ParseVersion(m[1])
			if err != nil {
				continue // a pre-release
			}
			if _, dup := out[v]; dup {
				return nil, fmt.Errorf("changelog line %d: a second section for %s", n, v)
			}
			cur, curV = &ChangelogRelease{SHA512: map[string]string{}, Images: map[string][]string{}}, v
			out[v] = cur
			continue
		}
		if cur == nil {
			continue
		}
		if err := cur.addRow(curV, line); err != nil {
			return nil, fmt.Errorf("changelog line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the changelog: %w", err)
	}
	return out, nil
}

// addRow takes a Downloads or Container Images row of release v.
func (c *ChangelogRelease) addRow(v Version, line string) error {
	if m := changelogSumRE.FindStringSubmatch(line); m != nil {
		name, url, sum := m[1], m[2], m[3]
		if !strings.HasSuffix(url, "/"+v.String()+"/"+name) {
			return fmt.Errorf("%s: the row of %s links %s", v, name, url)
		}
		if old, ok := c.SHA512[name]; ok && old != sum {
			return fmt.Errorf("%s: two sums for %s", v, name)
		}
		c.SHA512[name] = sum
		return nil
	}
	if m := changelogImageRE.FindStringSubmatch(line); m != nil {
		name, tag := m[1], m[2]
		if tag != v.String() {
			return fmt.Errorf("%s: the image row of %s names tag %s", v, name, tag)
		}
		var arches []string
		for _, a := range changelogArchRE.FindAllStringSubmatch(m[3], -1) {
			arches = append(arches, a[1])
		}
		slices.Sort(arches)
		c.Images[name] = arches
	}
	return nil
}

var (
	imagesNameRE  = regexp.MustCompile(`^- name: ([a-z0-9./-]+)\s*$`)
	imagesDmapRE  = regexp.MustCompile(`^  dmap:\s*$`)
	imagesEntryRE = regexp.MustCompile(`^    "(sha256:[0-9a-f]{64})": \[(.*)\]\s*$`)
	imagesTagRE   = regexp.MustCompile(`^"([^"]+)"$`)
)

// ParsePromoterManifest reads the image promoter's images.yaml and
// returns the digest of every tag by image name and tag. The file is the
// promoter's regular form ("- name: X", "  dmap:", then one
// `"sha256:<hex>": ["tag", ...]` line per digest); any other line inside
// a dmap is an error rather than a guess, and so is a tag given two
// digests.
func ParsePromoterManifest(r io.Reader) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	var cur map[string]string
	var name string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#"):
		case imagesNameRE.MatchString(line):
			name = imagesNameRE.FindStringSubmatch(line)[1]
			if out[name] == nil {
				out[name] = map[string]string{}
			}
			cur = nil
		case imagesDmapRE.MatchString(line) && name != "":
			cur = out[name]
		case cur != nil && imagesEntryRE.MatchString(line):
			m := imagesEntryRE.FindStringSubmatch(line)
			for _, t := range strings.Split(m[2], ",") {
				tm := imagesTagRE.FindStringSubmatch(strings.TrimSpace(t))
				if tm == nil {
					return nil, fmt.Errorf("images.yaml line %d: malformed tag list", n)
				}
				if old, ok := cur[tm[1]]; ok && old != m[1] {
					return nil, fmt.Errorf("images.yaml line %d: %s:%s has two digests", n, name, tm[1])
				}
				cur[tm[1]] = m[1]
			}
		case cur != nil:
			return nil, fmt.Errorf("images.yaml line %d: unexpected %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read images.yaml: %w", err)
	}
	return out, nil
}
