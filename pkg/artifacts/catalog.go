package artifacts

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrUnknownVersion is returned for a version the embedded catalog does not
// cover. Test for it with errors.Is.
var ErrUnknownVersion = errors.New("unknown version")

// Where a Release's artifact list came from.
const (
	// SourceCatalog: the catalog embedded in the binary.
	SourceCatalog = "catalog"
	// SourceSBOM: the release SBOM published with the release.
	SourceSBOM = "sbom"
	// SourceMerged: the release SBOM and the catalog together (see
	// sbom.Merge).
	SourceMerged = "sbom+catalog"
)

// Release is a version of Kubernetes and the artifacts it publishes.
type Release struct {
	Version Version `json:"version"`
	// Date is the release date, "2006-01-02", when the catalog knows it.
	Date string `json:"date,omitempty"`
	// Previous is the patch release before this one of the same line,
	// when the catalog knows it: its artifacts must not stand in for this
	// release's.
	Previous *ReleaseDate `json:"previous,omitempty"`
	// Artifacts in deterministic order: kind, name, platform.
	Artifacts []Artifact `json:"artifacts"`
	// Incidents are the known signing incidents that concern this
	// release, with their public sources.
	Incidents []Incident `json:"incidents"`
	// Source says where the artifact list came from: SourceCatalog,
	// SourceSBOM or SourceMerged.
	Source string `json:"source"`
	// SBOMError says why the release SBOM, sought, could not be used: the
	// release files then have no channel independent of the download site
	// to bind them to their names and platforms. Empty when the SBOM was
	// used, or when none was sought (offline without an evidence pack, or
	// a release given directly).
	SBOMError string `json:"sbomError,omitempty"`
	// Catalog names the catalog the release was described by ("embedded
	// catalog", "catalog FILE"), for messages.
	Catalog string `json:"-"`
}

// Difference is an artifact that one source of a release lists and the
// other does not (as package sbom compares the SBOM and the catalog).
type Difference struct {
	Artifact Artifact `json:"artifact"`
	// OnlyIn is the Source of the release that lists it: SourceCatalog or
	// SourceSBOM.
	OnlyIn string `json:"onlyIn"`
}

// String says "binary kubectl linux/amd64 is listed only by the sbom".
func (d Difference) String() string {
	return fmt.Sprintf("%s is listed only by the %s", d.Artifact.ID(), d.OnlyIn)
}

// ReleaseDate is a release and the day it came out.
type ReleaseDate struct {
	Version Version `json:"version"`
	Date    string  `json:"date"`
}

// End returns the end of the release's day (UTC).
func (d ReleaseDate) End() (time.Time, error) {
	t, err := time.Parse("2006-01-02", d.Date)
	if err != nil {
		return time.Time{}, fmt.Errorf("release %s: date %q: %w", d.Version, d.Date, err)
	}
	return t.Add(24 * time.Hour), nil
}

// Incident is a known, publicly documented event in a release's signing
// history, such as images signed by the wrong identity. Verdicts name the
// incident instead of leaving users to guess.
type Incident struct {
	// ID names the incident, e.g. "v1.24.8-wrong-identity".
	ID string `json:"id"`
	// Summary says what happened, in one or two sentences.
	Summary string `json:"summary"`
	// Source is the public URL that documents the incident.
	Source string `json:"source"`
	// SeeAlso lists further public sources.
	SeeAlso []string `json:"seeAlso,omitempty"`
	// Kinds are the artifact kinds concerned; empty means every kind.
	Kinds []Kind `json:"kinds,omitempty"`
	// Images are the image names concerned ("kube-apiserver"); empty
	// means every image (when Kinds admits images).
	Images []string `json:"images,omitempty"`
	// Identities are the identities that signed instead of the expected
	// one, as the incident documents; accepting the incident accepts them.
	Identities []Identity `json:"identities,omitempty"`
	// Explains lists the outcomes the incident can account for: "unsigned",
	// "missing", or the name of a failed check ("identity"). Empty: any
	// problem of an artifact it concerns.
	Explains []string `json:"explains,omitempty"`
}

// MayExplain reports whether the incident can account for an outcome:
// "unsigned", "missing", or the name of the check that failed.
func (in Incident) MayExplain(outcome string) bool {
	return len(in.Explains) == 0 || slices.Contains(in.Explains, outcome)
}

// Applies reports whether the incident concerns artifact a.
func (in Incident) Applies(a Artifact) bool {
	if len(in.Kinds) > 0 && !slices.Contains(in.Kinds, a.Kind) {
		return false
	}
	if len(in.Images) > 0 && (a.Kind != KindImage || !slices.Contains(in.Images, a.Name)) {
		return false
	}
	return true
}

// Source is a public source of the catalog's facts.
type Source struct {
	// ID is how the catalog refers to the source, e.g. "changelog-1.24".
	ID string `json:"id"`
	// URL is where the source can be read.
	URL string `json:"url"`
	// Status is "verified" (read in the source), "inferred" (follows from
	// verified sources) or "partly verified".
	Status string `json:"status"`
	// Facts says which facts of the catalog rest on the source.
	Facts string `json:"facts"`
}

// Locations are the base locations artifacts are published under.
type Locations struct {
	// DownloadURL is the release download site, e.g. https://dl.k8s.io.
	DownloadURL string
	// Registry is the image registry host[:port][/prefix], e.g.
	// registry.k8s.io.
	Registry string
}

// DefaultLocations are the public Kubernetes release locations.
var DefaultLocations = Locations{DownloadURL: "https://dl.k8s.io", Registry: "registry.k8s.io"}

// BinaryURL is where binary name of release v for platform p is
// published: <DownloadURL>/release/<v>/bin/<os>/<arch>/<name>.
func (l Locations) BinaryURL(v Version, p Platform, name string) string {
	return fmt.Sprintf("%s/release/%s/bin/%s/%s/%s", strings.TrimRight(l.DownloadURL, "/"), v, p.OS, p.Arch, name)
}

// TarballURL is where tarball name of release v is published:
// <DownloadURL>/release/<v>/<name>.
func (l Locations) TarballURL(v Version, name string) string {
	return fmt.Sprintf("%s/release/%s/%s", strings.TrimRight(l.DownloadURL, "/"), v, name)
}

// imageRef returns registry/name:v, or registry/name-arch:v for an arch.
func (l Locations) imageRef(v Version, name, arch string) string {
	if arch != "" {
		name += "-" + arch
	}
	return fmt.Sprintf("%s/%s:%s", strings.TrimRight(l.Registry, "/"), name, v)
}

// The embedded catalog: one JSON file per release line.
//
//go:embed catalog/*.json
var catalogFS embed.FS

type catalogFile struct {
	SchemaVersion int    `json:"schemaVersion"`
	Line          string `json:"line"`
	// RegistryAtRelease, Notes and Signing are notes for readers of the
	// file; Notes say what its sources could not confirm.
	RegistryAtRelease string              `json:"registryAtRelease,omitempty"`
	Notes             []string            `json:"notes,omitempty"`
	Signing           map[string]string   `json:"signing,omitempty"`
	Sources           []Source            `json:"sources"`
	Platforms         map[string][]string `json:"platforms"`
	Files             []catalogFileSet    `json:"files"`
	Images            struct {
		Names   []string `json:"names"`
		Arches  []string `json:"arches"`
		Sources []string `json:"sources,omitempty"`
	} `json:"images"`
	Incidents []catalogIncident `json:"incidents"`
	Releases  []catalogRelease  `json:"releases"`
}

// catalogFileSet is a set of files published for each platform of a role:
// names may hold "{os}" and "{arch}"; no platforms means platform
// independent.
type catalogFileSet struct {
	Kind       Kind     `json:"kind"`
	Role       string   `json:"role"`
	Platforms  string   `json:"platforms"`
	Names      []string `json:"names"`
	WindowsExe bool     `json:"windowsExe"`
	Sources    []string `json:"sources"`
	// Signing overrides the release's blob signing for these files
	// (SigningNever), with a note saying why.
	Signing     Signing `json:"signing,omitempty"`
	SigningNote string  `json:"signingNote,omitempty"`
}

type catalogIncident struct {
	Incident
	// Versions the incident concerns; "*" means every version of the line.
	Versions []string `json:"versions"`
}

type catalogRelease struct {
	Version    Version `json:"version"`
	Date       string  `json:"date"`
	DateStatus string  `json:"dateStatus"`
	// Note says what is uncertain about the release's facts, for readers.
	Note         string  `json:"note,omitempty"`
	ImageSigning Signing `json:"imageSigning"`
	BlobSigning  Signing `json:"blobSigning"`
	// SHA512 are the release's tarball sums as its CHANGELOG publishes
	// them, by file name.
	SHA512 map[string]string `json:"sha512,omitempty"`
	// ImageDigests are the digests the image promoter's manifest gives the
	// release's tags, by repository: "kube-apiserver" the multi-arch
	// index, "kube-apiserver-amd64" the linux/amd64 image.
	ImageDigests map[string]string `json:"imageDigests,omitempty"`
}

// Catalog is what k8sverify knows of release lines without the network:
// per release, its artifacts, dates, signing policy, incidents and the
// sums its CHANGELOG publishes, each fact with its public source. The
// catalog embedded in the binary covers the 1.24 line; another catalog
// (a test world's, or one covering newer releases) can be loaded.
type Catalog struct {
	lines []*catalogFile
	// name says where it came from, for messages; sha256 is its hex
	// SHA-256.
	name, sha256 string
}

var loadEmbedded = sync.OnceValues(func() (*Catalog, error) {
	entries, err := catalogFS.ReadDir("catalog")
	if err != nil {
		return nil, err
	}
	c := &Catalog{name: "embedded catalog"}
	h := sha256.New()
	for _, e := range entries {
		data, err := catalogFS.ReadFile("catalog/" + e.Name())
		if err != nil {
			return nil, err
		}
		h.Write(data)
		f, err := parseCatalogFile(data)
		if err != nil {
			return nil, fmt.Errorf("embedded catalog %s: %w", e.Name(), err)
		}
		c.lines = append(c.lines, f)
	}
	c.sha256 = hex.EncodeToString(h.Sum(nil))
	return c, nil
})

// Embedded returns the catalog embedded in k8sverify; it is validated by
// the package's tests, so an error here is a build defect.
func Embedded() *Catalog {
	c, err := loadEmbedded()
	if err != nil {
		panic(err)
	}
	return c
}

// mustCatalog returns the embedded catalog.
func mustCatalog() *Catalog { return Embedded() }

// ErrMalformedCatalog: a catalog file cannot be used.
var ErrMalformedCatalog = errors.New("malformed release catalog")

// maxCatalog bounds a catalog file.
const maxCatalog = 16 << 20

// ReadCatalog reads a catalog file (the embedded catalog's format: one
// release line, schema version 1; or a JSON array of such line files),
// validated as the embedded one is.
func ReadCatalog(r io.Reader, name string) (*Catalog, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCatalog+1))
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", name, err)
	}
	if len(data) > maxCatalog {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformedCatalog, name, maxCatalog)
	}
	var c *Catalog
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		if c, err = readCatalogLines(data, name); err != nil {
			return nil, err
		}
	} else {
		f, err := parseCatalogFile(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrMalformedCatalog, name, err)
		}
		c = &Catalog{lines: []*catalogFile{f}, name: "catalog " + name}
	}
	sum := sha256.Sum256(data)
	c.sha256 = hex.EncodeToString(sum[:])
	return c, nil
}

// readCatalogLines reads a catalog of several lines: a JSON array of line
// files, each validated, no line twice.
func readCatalogLines(data []byte, name string) (*Catalog, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformedCatalog, name, err)
	}
	c := &Catalog{name: "catalog " + name}
	for i, raw := range raws {
		f, err := parseCatalogFile(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: line file %d: %w", ErrMalformedCatalog, name, i, err)
		}
		if slices.ContainsFunc(c.lines, func(x *catalogFile) bool { return x.Line == f.Line }) {
			return nil, fmt.Errorf("%w: %s: line %s twice", ErrMalformedCatalog, name, f.Line)
		}
		c.lines = append(c.lines, f)
	}
	if len(c.lines) == 0 {
		return nil, fmt.Errorf("%w: %s: no line", ErrMalformedCatalog, name)
	}
	return c, nil
}

// MarshalLine returns the catalog file of a release line, in the format
// ReadCatalog reads (to derive another catalog from this one).
func (c *Catalog) MarshalLine(line string) ([]byte, error) {
	for _, f := range c.lines {
		if f.Line == line {
			return json.MarshalIndent(f, "", "  ")
		}
	}
	return nil, fmt.Errorf("%w: the %s has no line %s", ErrUnknownVersion, c.name, line)
}

func parseCatalogFile(data []byte) (*catalogFile, error) {
	var f catalogFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (f *catalogFile) validate() error {
	if f.SchemaVersion != 1 {
		return fmt.Errorf("schemaVersion %d, want 1", f.SchemaVersion)
	}
	for role, ps := range f.Platforms {
		for _, p := range ps {
			if _, err := ParsePlatform(p); err != nil {
				return fmt.Errorf("platforms %s: %w", role, err)
			}
		}
	}
	sources := map[string]bool{}
	for _, s := range f.Sources {
		sources[s.ID] = true
	}
	for _, fs := range f.Files {
		if err := fs.validate(f.Platforms, sources); err != nil {
			return fmt.Errorf("files %q: %w", fs.Role, err)
		}
	}
	for _, r := range f.Releases {
		if err := r.validate(f.Line); err != nil {
			return fmt.Errorf("release %s: %w", r.Version, err)
		}
	}
	for _, in := range f.Incidents {
		if in.ID == "" || in.Summary == "" || !strings.HasPrefix(in.Source, "https://") || len(in.Versions) == 0 {
			return fmt.Errorf("incident %q: want id, summary, https source and versions", in.ID)
		}
	}
	return nil
}

func (fs catalogFileSet) validate(platforms map[string][]string, sources map[string]bool) error {
	if fs.Kind != KindBinary && fs.Kind != KindTarball {
		return fmt.Errorf("kind %q", fs.Kind)
	}
	if _, ok := platforms[fs.Platforms]; fs.Platforms != "" && !ok {
		return fmt.Errorf("unknown platform list %q", fs.Platforms)
	}
	if fs.Kind == KindBinary && fs.Platforms == "" {
		return errors.New("binaries need platforms")
	}
	for _, s := range fs.Sources {
		if !sources[s] {
			return fmt.Errorf("unknown source %q", s)
		}
	}
	if fs.Signing != "" && (fs.Signing != SigningNever || fs.SigningNote == "") {
		return fmt.Errorf("signing %q: only %q, with a note, overrides the release", fs.Signing, SigningNever)
	}
	return nil
}

func (r catalogRelease) validate(line string) error {
	if r.Version.Line() != line {
		return fmt.Errorf("not of line %s", line)
	}
	for _, s := range []Signing{r.ImageSigning, r.BlobSigning} {
		if s != SigningExpected && s != SigningNotExpected && s != SigningProbe {
			return fmt.Errorf("signing %q", s)
		}
	}
	for name, sum := range r.SHA512 {
		if _, err := hex.DecodeString(sum); err != nil || len(sum) != 128 || strings.ToLower(sum) != sum || !tarballName(name) {
			return fmt.Errorf("sha512 of %q: want a tarball and 128 lower-case hex characters", name)
		}
	}
	for repo, d := range r.ImageDigests {
		h, ok := strings.CutPrefix(d, "sha256:")
		if _, err := hex.DecodeString(h); err != nil || !ok || len(h) != 64 || strings.ToLower(h) != h || repo == "" {
			return fmt.Errorf("image digest of %q: want sha256: and 64 lower-case hex characters", repo)
		}
	}
	return nil
}

// CatalogVersions returns every version the embedded catalog covers, in
// ascending order.
func CatalogVersions() []Version { return Embedded().Versions() }

// tarballName reports whether name is the name of a release tarball.
func tarballName(name string) bool {
	return strings.HasPrefix(name, "kubernetes") && strings.HasSuffix(name, ".tar.gz") && !strings.Contains(name, "/")
}

// Versions returns every version the catalog covers, in ascending order.
func (c *Catalog) Versions() []Version {
	var vs []Version
	for _, f := range c.lines {
		for _, r := range f.Releases {
			vs = append(vs, r.Version)
		}
	}
	slices.SortFunc(vs, Version.Compare)
	return vs
}

// IncidentIDs returns the IDs of every incident the catalog documents, in
// catalog order.
func (c *Catalog) IncidentIDs() []string {
	var ids []string
	for _, f := range c.lines {
		for _, in := range f.Incidents {
			if !slices.Contains(ids, in.ID) {
				ids = append(ids, in.ID)
			}
		}
	}
	return ids
}

// CatalogSources returns the public sources the embedded catalog's facts
// rest on, for every release line it covers.
func CatalogSources() []Source { return Embedded().Sources() }

// Sources returns the public sources the catalog's facts rest on.
func (c *Catalog) Sources() []Source {
	var ss []Source
	for _, f := range c.lines {
		ss = append(ss, f.Sources...)
	}
	return ss
}

// CatalogCoverage says which versions the embedded catalog covers, e.g.
// "v1.24.0 … v1.36.4 (184 releases of 13 lines)".
func CatalogCoverage() string { return Embedded().Coverage() }

// Coverage says which versions the catalog covers: the first and last
// release of each line ("v1.24.0 … v1.24.17, v1.25.0 … v1.25.16"), or, for
// more than two lines, the first and last release and how many there are
// ("v1.24.0 … v1.36.4 (184 releases of 13 lines)").
func (c *Catalog) Coverage() string {
	var parts []string
	var all []Version
	for _, f := range c.lines {
		var vs []Version
		for _, r := range f.Releases {
			vs = append(vs, r.Version)
		}
		slices.SortFunc(vs, Version.Compare)
		if len(vs) > 0 {
			parts = append(parts, fmt.Sprintf("%s … %s", vs[0], vs[len(vs)-1]))
			all = append(all, vs...)
		}
	}
	if len(parts) <= 2 {
		return strings.Join(parts, ", ")
	}
	slices.SortFunc(all, Version.Compare)
	return fmt.Sprintf("%s … %s (%d releases of %d lines)", all[0], all[len(all)-1], len(all), len(parts))
}

func (c *Catalog) find(v Version) (*catalogFile, *catalogRelease) {
	for _, f := range c.lines {
		for i := range f.Releases {
			if f.Releases[i].Version == v {
				return f, &f.Releases[i]
			}
		}
	}
	return nil, nil
}

// HoldsSums reports whether the catalog holds release v's independent
// sums or digests (the CHANGELOG's SHA-512, the promoter's digests); a
// release it does not is bound by reading those channels (Channels).
func (c *Catalog) HoldsSums(v Version) bool {
	_, cr := c.find(v)
	return cr != nil && (len(cr.SHA512) > 0 || len(cr.ImageDigests) > 0)
}

// CatalogRelease returns release v as the embedded catalog describes it,
// with locations under loc. For a version the catalog does not cover it
// returns an error wrapping ErrUnknownVersion that names the versions it
// covers.
func CatalogRelease(v Version, loc Locations) (*Release, error) { return Embedded().Release(v, loc) }

// Release returns release v as the catalog describes it, with locations
// under loc; for a version it does not cover, an error wrapping
// ErrUnknownVersion that names the versions it covers.
func (c *Catalog) Release(v Version, loc Locations) (*Release, error) {
	f, cr := c.find(v)
	if f == nil {
		return nil, fmt.Errorf("%w %s: the %s covers %s; other releases need the network (SBOM)", ErrUnknownVersion, v, c.name, c.Coverage())
	}
	r := &Release{Version: v, Date: cr.Date, Previous: f.previous(v), Source: SourceCatalog, Catalog: c.name}
	platforms := func(name string) []Platform {
		var ps []Platform
		for _, s := range f.Platforms[name] {
			p, _ := ParsePlatform(s) // validated on load
			ps = append(ps, p)
		}
		return ps
	}
	seen := map[string]bool{}
	add := func(a Artifact) {
		if !seen[a.ID()] {
			seen[a.ID()] = true
			r.Artifacts = append(r.Artifacts, a)
		}
	}
	for _, fs := range f.Files {
		for _, pattern := range fs.Names {
			if fs.Platforms == "" {
				add(fs.artifact(cr, Artifact{Kind: fs.Kind, Name: pattern, Location: loc.TarballURL(v, pattern)}))
				continue
			}
			for _, p := range platforms(fs.Platforms) {
				name := strings.NewReplacer("{os}", p.OS, "{arch}", p.Arch).Replace(pattern)
				a := fs.artifact(cr, Artifact{Kind: fs.Kind, Name: name})
				switch fs.Kind {
				case KindBinary:
					if fs.WindowsExe && p.OS == "windows" {
						a.Name += ".exe"
					}
					a.Platform = p
					a.Location = loc.BinaryURL(v, p, a.Name)
				case KindTarball:
					a.Platform = p
					a.Location = loc.TarballURL(v, name)
				}
				add(a)
			}
		}
	}
	for _, name := range f.Images.Names {
		add(cr.image(Artifact{Kind: KindImage, Name: name, Location: loc.imageRef(v, name, ""), Signer: ImageSigner, Signing: cr.ImageSigning}, name))
		for _, arch := range f.Images.Arches {
			add(cr.image(Artifact{Kind: KindImage, Name: name, Platform: Platform{OS: "linux", Arch: arch},
				Location: loc.imageRef(v, name, arch), Signer: ImageSigner, Signing: cr.ImageSigning}, name+"-"+arch))
		}
	}
	sortArtifacts(r.Artifacts)
	r.Incidents = f.incidentsFor(v)
	return r, nil
}

// artifact completes a file of the set in release cr: its signer, its
// signing, the sums the catalog holds for it.
func (fs catalogFileSet) artifact(cr *catalogRelease, a Artifact) Artifact {
	a.Signer, a.Signing = BlobSigner, cr.BlobSigning
	if fs.Signing != "" {
		a.Signing, a.SigningNote = fs.Signing, fs.SigningNote
	}
	if sum, ok := cr.SHA512[a.Name]; ok {
		a.AddSums(Sum{Algorithm: "sha512", Hex: sum, Source: SumCatalog})
	}
	return a
}

// image completes an image of release cr published in repository repo
// with the digest the promoter's manifest gives its tag, if the catalog
// holds it.
func (cr *catalogRelease) image(a Artifact, repo string) Artifact {
	if d, ok := cr.ImageDigests[repo]; ok {
		a.AddSums(Sum{Algorithm: "sha256", Hex: strings.TrimPrefix(d, "sha256:"), Source: SumCatalog})
	}
	return a
}

// previous returns the patch release before v in the line, if the
// catalog knows it and its date.
func (f *catalogFile) previous(v Version) *ReleaseDate {
	var prev *catalogRelease
	for i := range f.Releases {
		r := &f.Releases[i]
		if r.Version.Less(v) && (prev == nil || prev.Version.Less(r.Version)) {
			prev = r
		}
	}
	if prev == nil || prev.Date == "" {
		return nil
	}
	return &ReleaseDate{Version: prev.Version, Date: prev.Date}
}

// incidentsFor returns the incidents of the line that concern version v.
func (f *catalogFile) incidentsFor(v Version) []Incident {
	var ins []Incident
	for _, in := range f.Incidents {
		if slices.Contains(in.Versions, "*") || slices.Contains(in.Versions, v.String()) {
			ins = append(ins, in.Incident)
		}
	}
	return ins
}

// EmptyRelease returns release v with no artifacts yet and what the
// catalog knows of it besides: its date and previous release when the
// catalog covers v, the incidents it records for v (knownIncidents), and
// the catalog's name; Source is source. A listing of v from another
// document (the release SBOM) starts from it.
func (c *Catalog) EmptyRelease(v Version, source string) *Release {
	r := &Release{Version: v, Source: source, Incidents: c.knownIncidents(v), Catalog: c.name}
	if f, cr := c.find(v); cr != nil {
		r.Date, r.Previous = cr.Date, f.previous(v)
	}
	return r
}

// SigningPolicy says whether images and blobs (binaries and tarballs) of
// release v are expected to be signed: from the catalog when it covers v;
// otherwise images from v1.24 on, blobs from v1.26 on, and "probe" for
// what came between (late patches of older lines were signed as well).
func SigningPolicy(v Version) (images, blobs Signing) { return Embedded().SigningPolicy(v) }

// SigningPolicy is the package function SigningPolicy with this catalog's
// releases.
func (c *Catalog) SigningPolicy(v Version) (images, blobs Signing) {
	if _, cr := c.find(v); cr != nil {
		return cr.ImageSigning, cr.BlobSigning
	}
	images, blobs = SigningProbe, SigningProbe
	if !v.Less(Version{Major: 1, Minor: 24}) {
		images = SigningExpected
	}
	if !v.Less(Version{Major: 1, Minor: 26}) {
		blobs = SigningExpected
	}
	return images, blobs
}

// knownIncidents returns the incidents the catalog records for v, including
// the registry-wide ones when v is of a line the catalog does not cover
// (registry incidents concern every image served).
func (c *Catalog) knownIncidents(v Version) []Incident {
	if f, _ := c.find(v); f != nil {
		return f.incidentsFor(v)
	}
	var ins []Incident
	for _, f := range c.lines {
		for _, in := range f.Incidents {
			if slices.Contains(in.Versions, "*") && !slices.ContainsFunc(ins, func(x Incident) bool { return x.ID == in.ID }) {
				ins = append(ins, in.Incident)
			}
		}
	}
	return ins
}

// kindOrder ranks kinds in report order.
func kindOrder(k Kind) int {
	if i := slices.Index(Kinds, k); i >= 0 {
		return i
	}
	return len(Kinds)
}

// Compare orders artifacts by kind (report order), name, platform: the
// order of Release.Artifacts.
func (a Artifact) Compare(b Artifact) int {
	if c := kindOrder(a.Kind) - kindOrder(b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return a.Platform.Compare(b.Platform)
}

func sortArtifacts(as []Artifact) { slices.SortFunc(as, Artifact.Compare) }

// IncidentsFor returns the release's incidents that concern artifact a.
func (r *Release) IncidentsFor(a Artifact) []Incident {
	var ins []Incident
	for _, in := range r.Incidents {
		if in.Applies(a) {
			ins = append(ins, in)
		}
	}
	return ins
}

// Filter returns a copy of r with only the artifacts of the given kinds and
// platforms; an empty list selects everything. A platform filter keeps the
// artifacts built for those platforms plus the platform-independent ones
// that serve them: the multi-arch index of an image with a matching
// per-arch image, and platform-independent tarballs. Incidents are kept
// when they concern a remaining artifact.
func (r *Release) Filter(kinds []Kind, platforms []Platform) *Release {
	out := &Release{Version: r.Version, Date: r.Date, Previous: r.Previous, Source: r.Source, SBOMError: r.SBOMError, Catalog: r.Catalog, Artifacts: []Artifact{}, Incidents: []Incident{}}
	kindOK := func(a Artifact) bool { return len(kinds) == 0 || slices.Contains(kinds, a.Kind) }
	platformOK := func(a Artifact) bool { return len(platforms) == 0 || slices.Contains(platforms, a.Platform) }
	indexes := map[string]bool{} // images with a selected per-arch image
	for _, a := range r.Artifacts {
		if a.Kind == KindImage && !a.Platform.IsZero() && kindOK(a) && platformOK(a) {
			indexes[a.Name] = true
		}
	}
	for _, a := range r.Artifacts {
		if !kindOK(a) {
			continue
		}
		keep := platformOK(a)
		if !keep && a.Platform.IsZero() {
			keep = a.Kind != KindImage || indexes[a.Name]
		}
		if keep {
			out.Artifacts = append(out.Artifacts, a)
		}
	}
	for _, in := range r.Incidents {
		if slices.ContainsFunc(out.Artifacts, in.Applies) {
			out.Incidents = append(out.Incidents, in)
		}
	}
	return out
}

// Platforms returns the distinct platforms of r's platform-specific
// artifacts of the given kinds (all kinds when empty), sorted.
func (r *Release) Platforms(kinds ...Kind) []Platform {
	var ps []Platform
	for _, a := range r.Artifacts {
		if a.Platform.IsZero() || (len(kinds) > 0 && !slices.Contains(kinds, a.Kind)) {
			continue
		}
		if !slices.Contains(ps, a.Platform) {
			ps = append(ps, a.Platform)
		}
	}
	slices.SortFunc(ps, Platform.Compare)
	return ps
}

// Count returns how many of r's artifacts are of kind k.
func (r *Release) Count(k Kind) int {
	n := 0
	for _, a := range r.Artifacts {
		if a.Kind == k {
			n++
		}
	}
	return n
}

// FilePath is where a release file lives below its release:
// "bin/linux/amd64/kubectl", "kubernetes.tar.gz" — built from the
// catalog's location, never from remote data, and always local (a path a
// directory chosen by the user can hold).
func (r *Release) FilePath(a Artifact) (string, error) {
	u, err := url.Parse(a.Location)
	if err != nil {
		return "", err
	}
	_, below, ok := strings.Cut(u.Path, "/release/"+r.Version.String()+"/")
	if !ok || below == "" || !filepath.IsLocal(filepath.FromSlash(below)) {
		return "", fmt.Errorf("refusing to write %q outside the output directory", a.Location)
	}
	return below, nil
}
