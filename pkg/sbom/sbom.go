// Package sbom reads a release's SBOM, the SPDX 2.x document (tag-value
// or JSON) the Kubernetes release process publishes for every release,
// and lists the release from it: Parse streams the document within fixed
// bounds, Document.Release turns it into an artifacts.Release with the
// catalog's signing policy, dates and incidents, and LoadRelease merges
// it with the catalog's listing (Merge) and says where the two disagree
// (Diff). It builds on package artifacts, which knows nothing of it.
package sbom

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// Limits of the SBOM parser. Memory use is bounded by them, not by the
// size of the document: a 1 GiB SBOM streams through in a few MiB.
const (
	// MaxLine is the longest line of a tag-value SBOM, and the longest
	// single string, number or run of white space of a JSON SBOM.
	MaxLine = 1 << 20
	// MaxEntries is how many release images and files an SBOM may list.
	MaxEntries = 1 << 16
	// maxJSONDepth bounds the nesting of a JSON SBOM.
	maxJSONDepth = 64
)

// SBOM formats Parse understands.
const (
	FormatSPDXTagValue = "spdx-tag-value"
	FormatSPDXJSON     = "spdx-json"
)

// ErrMalformed is wrapped by every error of Parse about the
// document itself (as opposed to a failing reader). Test with errors.Is.
var ErrMalformed = errors.New("malformed SBOM")

// LineError is an error at a line of an SBOM.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("sbom line %d: %v", e.Line, e.Err) }

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrMalformed) true.
func (e *LineError) Is(target error) bool { return target == ErrMalformed }

func lineErrorf(line int, format string, args ...any) error {
	return &LineError{Line: line, Err: fmt.Errorf(format, args...)}
}

// Document is what a release SBOM says about the release's artifacts: the
// container images and the release files (binaries under bin/<os>/<arch>/
// and kubernetes*.tar.gz tarballs) it lists. Other packages and files
// (source dependencies, image layers) are counted but not kept.
type Document struct {
	// Format is FormatSPDXTagValue or FormatSPDXJSON.
	Format string
	// SPDXVersion is e.g. "SPDX-2.3".
	SPDXVersion string
	// Name is the document name.
	Name string
	// Images are the packages that name a container image by reference.
	Images []Image
	// Files are the release files, with their checksums.
	Files []File
	// Packages and FileEntries count every package and file of the document.
	Packages, FileEntries int
}

// Image is a container image an SBOM lists.
type Image struct {
	// Reference as listed, e.g. "registry.k8s.io/kube-apiserver-amd64:v1.24.17".
	Reference string
	// Registry is the host ("registry.k8s.io"), Repository the path below
	// it ("kube-apiserver-amd64"), Tag the tag ("v1.24.17").
	Registry, Repository, Tag string
	// SPDXID of the package.
	SPDXID string
	// Digest is the digest of the package URL ("sha256:…"), if any. For
	// images built into archives it need not be the registry's manifest
	// digest.
	Digest string
	// Line is where the package starts (tag-value) or its line (JSON).
	Line int
}

// File is a release file an SBOM lists.
type File struct {
	// Path as listed, without a leading "./" or "/", e.g.
	// "bin/linux/amd64/kubectl" or "kubernetes-server-linux-amd64.tar.gz".
	Path string
	// SPDXID of the file.
	SPDXID string
	// SHA256 and SHA512 checksums in lower-case hex, empty when not listed.
	SHA256, SHA512 string
	// Line is where the file entry starts.
	Line int
}

// Parse reads an SPDX 2.x document, tag-value or JSON (detected from
// its first non-blank character), and returns the release images and
// files it lists. It streams: memory is bounded by MaxLine and
// MaxEntries, not by the size of the input. Errors about the document
// are *LineError naming the line, and wrap ErrMalformed.
func Parse(r io.Reader) (*Document, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	line := 1
	for {
		c, err := br.Peek(1)
		if err == io.EOF {
			if line == 1 {
				return nil, lineErrorf(1, "empty input: not an SPDX document")
			}
			return nil, lineErrorf(line, "only white space: not an SPDX document")
		}
		if err != nil {
			return nil, fmt.Errorf("read sbom: %w", err)
		}
		switch c[0] {
		case ' ', '\t', '\r':
			_, _ = br.ReadByte()
			continue
		case '\n':
			_, _ = br.ReadByte()
			line++
			continue
		case 0xEF: // UTF-8 byte order mark
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				_, _ = br.Discard(3)
				continue
			}
		case '{':
			return parseSPDXJSON(br, line)
		}
		return parseSPDXTagValue(br, line)
	}
}

// sbomBuilder collects the release entries of an SBOM.
type sbomBuilder struct {
	s *Document
}

func (b *sbomBuilder) checkSPDXVersion(line int, v string) error {
	if !strings.HasPrefix(v, "SPDX-2.") {
		return lineErrorf(line, "unsupported SPDX version %q (want SPDX-2.x)", v)
	}
	b.s.SPDXVersion = v
	return nil
}

func (b *sbomBuilder) full(line int) error {
	if len(b.s.Images)+len(b.s.Files) >= MaxEntries {
		return lineErrorf(line, "more than %d release images and files", MaxEntries)
	}
	return nil
}

// element is a package or file entry being read.
type element struct {
	isFile    bool
	line      int
	name      string
	spdxID    string
	checksums map[string]string // upper-case algorithm -> lower-case hex
	purl      string
}

var checksumLen = map[string]int{"MD5": 32, "SHA1": 40, "SHA224": 56, "SHA256": 64, "SHA384": 96, "SHA512": 128}

// addChecksum records "ALG", "hex"; it checks the hex of known algorithms,
// which also catches documents cut off in the middle of a checksum.
func (e *element) addChecksum(line int, alg, value string) error {
	alg = strings.ToUpper(strings.TrimSpace(alg))
	value = strings.ToLower(strings.TrimSpace(value))
	if want, ok := checksumLen[alg]; ok {
		if _, err := hex.DecodeString(value); err != nil || len(value) != want {
			return lineErrorf(line, "%s checksum %q is not %d hex digits", alg, shorten(value), want)
		}
	}
	if e.checksums == nil {
		e.checksums = map[string]string{}
	}
	e.checksums[alg] = value
	return nil
}

// imageRefRE matches host/path:tag where the host has a dot or a port.
var imageRefRE = regexp.MustCompile(`^([a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+(?::[0-9]+)?|localhost(?::[0-9]+)?|[a-zA-Z0-9-]+:[0-9]+)/([a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$`)

// spdxImageIDRE matches the SPDXID bom gives an image package,
// SPDXRef-Package-<host>-<name>-<tag>, e.g.
// SPDXRef-Package-registry.k8s.io-kube-apiserver-amd64-v1.24.17.
var spdxImageIDRE = regexp.MustCompile(`^SPDXRef-Package-([a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]+)-([a-z0-9]+(?:[._-][a-z0-9]+)*?)-(v[0-9]+\.[0-9]+\.[0-9]+(?:[-.][A-Za-z0-9.-]*)?)$`)

func (b *sbomBuilder) finish(e *element) error {
	if e == nil {
		return nil
	}
	what := "package"
	if e.isFile {
		what = "file"
	}
	if e.name == "" {
		return lineErrorf(e.line, "%s without a name", what)
	}
	if e.spdxID == "" {
		return lineErrorf(e.line, "%s %q has no SPDXID", what, shorten(e.name))
	}
	if e.isFile {
		b.s.FileEntries++
		p := strings.TrimPrefix(strings.TrimPrefix(e.name, "./"), "/")
		if !isReleaseFile(p) {
			return nil
		}
		if err := b.full(e.line); err != nil {
			return err
		}
		b.s.Files = append(b.s.Files, File{Path: p, SPDXID: e.spdxID, SHA256: e.checksums["SHA256"], SHA512: e.checksums["SHA512"], Line: e.line})
		return nil
	}
	b.s.Packages++
	img, ok := imageFromPackage(e.name, e.spdxID)
	if !ok {
		return nil
	}
	if err := b.full(e.line); err != nil {
		return err
	}
	img.SPDXID, img.Line = e.spdxID, e.line
	img.Digest = digestFromPurl(e.purl)
	b.s.Images = append(b.s.Images, img)
	return nil
}

func imageFromPackage(name, spdxID string) (Image, bool) {
	if m := imageRefRE.FindStringSubmatch(name); m != nil {
		return Image{Reference: name, Registry: m[1], Repository: m[2], Tag: m[3]}, true
	}
	// Fall back to the SPDXID only for a package named by a bare image
	// name: Go modules ("github.com/spf13/cobra") have IDs of the same
	// shape, and layers and digests have "sha256" in theirs.
	if strings.ContainsAny(name, "/:@") || strings.Contains(spdxID, "sha256") {
		return Image{}, false
	}
	if m := spdxImageIDRE.FindStringSubmatch(spdxID); m != nil {
		return Image{Reference: m[1] + "/" + m[2] + ":" + m[3], Registry: m[1], Repository: m[2], Tag: m[3]}, true
	}
	return Image{}, false
}

// digestFromPurl returns the digest of pkg:oci/name@sha256:…?…, if any.
func digestFromPurl(purl string) string {
	_, rest, ok := strings.Cut(purl, "@")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest, _, _ = strings.Cut(rest, "#")
	d, err := url.PathUnescape(rest)
	if err != nil || !strings.HasPrefix(d, "sha256:") {
		return ""
	}
	return d
}

// isReleaseFile reports whether p is bin/<os>/<arch>/<name> or a
// kubernetes*.tar.gz tarball.
func isReleaseFile(p string) bool {
	if _, _, ok := binaryPath(p); ok {
		return true
	}
	return isReleaseTarball(path.Base(p))
}

// binaryPath splits ".../bin/<os>/<arch>/<name>".
func binaryPath(p string) (artifacts.Platform, string, bool) {
	parts := strings.Split(p, "/")
	n := len(parts)
	if n < 4 || parts[n-4] != "bin" || parts[n-3] == "" || parts[n-2] == "" || parts[n-1] == "" {
		return artifacts.Platform{}, "", false
	}
	return artifacts.Platform{OS: parts[n-3], Arch: parts[n-2]}, parts[n-1], true
}

func isReleaseTarball(name string) bool {
	return strings.HasPrefix(name, "kubernetes") && strings.HasSuffix(name, ".tar.gz")
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// ---- SPDX tag-value ----

func parseSPDXTagValue(br *bufio.Reader, firstLine int) (*Document, error) {
	p := &tagValueParser{b: &sbomBuilder{s: &Document{Format: FormatSPDXTagValue}}, line: firstLine - 1}
	tail := &tailReader{r: br}
	sc := bufio.NewScanner(tail)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine+1)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(strings.TrimSuffix(sc.Text(), "\r")); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, lineErrorf(p.line+1, "line longer than %d bytes", MaxLine)
		}
		return nil, fmt.Errorf("read sbom after line %d: %w", p.line, err)
	}
	return p.end(tail)
}

// tagValueParser reads an SPDX tag-value document line by line.
type tagValueParser struct {
	b          *sbomBuilder
	line       int
	cur        *element
	sawVersion bool
	textTag    string // inside a multi-line <text> value of this tag
	textLine   int
}

func (p *tagValueParser) parseLine(text string) error {
	if p.textTag != "" {
		if strings.Contains(text, "</text>") {
			p.textTag = ""
		}
		return nil
	}
	trimmed := strings.TrimSpace(text)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return nil
	}
	tag, value, ok := strings.Cut(text, ":")
	tag = strings.TrimSpace(tag)
	if !ok || tag == "" || strings.ContainsAny(tag, " \t<>{}") {
		if !p.sawVersion {
			return lineErrorf(p.line, "not an SPDX document: want SPDX tag-value (starting with \"SPDXVersion: SPDX-2.x\") or SPDX JSON, got %q", shorten(trimmed))
		}
		return lineErrorf(p.line, "malformed line %q: want \"Tag: value\"", shorten(trimmed))
	}
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, "<text>") && !strings.Contains(value, "</text>") {
		p.textTag, p.textLine = tag, p.line
		return nil
	}
	if !p.sawVersion {
		if tag != "SPDXVersion" {
			return lineErrorf(p.line, "not an SPDX document: want SPDX tag-value (starting with \"SPDXVersion: SPDX-2.x\") or SPDX JSON, got tag %q", shorten(tag))
		}
		p.sawVersion = true
		return p.b.checkSPDXVersion(p.line, value)
	}
	return p.tag(tag, value)
}

// tag takes one "Tag: value" of the document.
func (p *tagValueParser) tag(tag, value string) error {
	switch tag {
	case "DocumentName":
		p.b.s.Name = value
	case "PackageName", "FileName":
		if err := p.b.finish(p.cur); err != nil {
			return err
		}
		p.cur = &element{isFile: tag == "FileName", line: p.line, name: value}
	case "SnippetSPDXID", "LicenseID":
		// Snippets and extracted licenses end the current element.
		if err := p.b.finish(p.cur); err != nil {
			return err
		}
		p.cur = nil
	case "SPDXID":
		if p.cur != nil && p.cur.spdxID == "" {
			p.cur.spdxID = value
		}
	case "PackageChecksum", "FileChecksum":
		return p.checksum(tag, value)
	case "ExternalRef":
		if p.cur != nil && !p.cur.isFile {
			if f := strings.Fields(value); len(f) == 3 && f[1] == "purl" {
				p.cur.purl = f[2]
			}
		}
	}
	return nil
}

func (p *tagValueParser) checksum(tag, value string) error {
	if p.cur == nil || p.cur.isFile != (tag == "FileChecksum") {
		return lineErrorf(p.line, "%s outside a %s", tag, map[bool]string{true: "file", false: "package"}[tag == "FileChecksum"])
	}
	alg, hexValue, ok := strings.Cut(value, ":")
	if !ok {
		return lineErrorf(p.line, "malformed checksum %q: want \"ALGORITHM: hex\"", shorten(value))
	}
	return p.cur.addChecksum(p.line, alg, hexValue)
}

// end checks how the document ended and returns it.
func (p *tagValueParser) end(tail *tailReader) (*Document, error) {
	if p.textTag != "" {
		return nil, lineErrorf(p.line, "input ends inside the <text> value of %s begun on line %d: the document is truncated", p.textTag, p.textLine)
	}
	if !p.sawVersion {
		return nil, lineErrorf(p.line, "not an SPDX document: no SPDXVersion")
	}
	if err := p.b.finish(p.cur); err != nil {
		return nil, err
	}
	if tail.n > 0 && tail.last != '\n' {
		return nil, lineErrorf(p.line, "no newline at the end of the input: the document looks truncated")
	}
	return p.b.s, nil
}

// tailReader remembers the last byte read.
type tailReader struct {
	r    io.Reader
	last byte
	n    int64
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.last = p[n-1]
		t.n += int64(n)
	}
	return n, err
}
