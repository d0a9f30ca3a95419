package artifacts

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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
	// SourceMerged: the release SBOM and the catalog together (see Merge).
	SourceMerged = "sbom+catalog"
)

// Release is a version of Kubernetes and the artifacts it publishes.
type Release struct {
	Version Version `json:"version"`
	// Date is the release date, "2006-01-02", when the catalog knows it.
	Date string `json:"date,omitempty"`
	// Artifacts in deterministic order: kind, name, platform.
	Artifacts []Artifact `json:"artifacts"`
	// Incidents are the known signing incidents that concern this
	// release, with their public sources.
	Incidents []Incident `json:"incidents"`
	// Source says where the artifact list came from: SourceCatalog,
	// SourceSBOM or SourceMerged.
	Source string `json:"source"`
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

func (l Locations) binaryURL(v Version, p Platform, name string) string {
	return fmt.Sprintf("%s/release/%s/bin/%s/%s/%s", strings.TrimRight(l.DownloadURL, "/"), v, p.OS, p.Arch, name)
}

func (l Locations) tarballURL(v Version, name string) string {
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
	SchemaVersion int                 `json:"schemaVersion"`
	Line          string              `json:"line"`
	Sources       []Source            `json:"sources"`
	Platforms     map[string][]string `json:"platforms"`
	Files         []catalogFileSet    `json:"files"`
	Images        struct {
		Names  []string `json:"names"`
		Arches []string `json:"arches"`
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
}

type catalogIncident struct {
	Incident
	// Versions the incident concerns; "*" means every version of the line.
	Versions []string `json:"versions"`
}

type catalogRelease struct {
	Version      Version `json:"version"`
	Date         string  `json:"date"`
	DateStatus   string  `json:"dateStatus"`
	ImageSigning Signing `json:"imageSigning"`
	BlobSigning  Signing `json:"blobSigning"`
}

type catalog struct {
	lines []*catalogFile
}

var loadCatalog = sync.OnceValues(func() (*catalog, error) {
	entries, err := catalogFS.ReadDir("catalog")
	if err != nil {
		return nil, err
	}
	c := &catalog{}
	for _, e := range entries {
		data, err := catalogFS.ReadFile("catalog/" + e.Name())
		if err != nil {
			return nil, err
		}
		var f catalogFile
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("embedded catalog %s: %w", e.Name(), err)
		}
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("embedded catalog %s: %w", e.Name(), err)
		}
		c.lines = append(c.lines, &f)
	}
	return c, nil
})

// mustCatalog returns the embedded catalog; it is validated by the
// package's tests, so an error here is a build defect.
func mustCatalog() *catalog {
	c, err := loadCatalog()
	if err != nil {
		panic(err)
	}
	return c
}

func (f *catalogFile) validate() error {
	if f.SchemaVersion != 1 {
		return fmt.Errorf("schemaVersion %d, want 1", f.SchemaVersion)
	}
	sources := map[string]bool{}
	for _, s := range f.Sources {
		sources[s.ID] = true
	}
	for role, ps := range f.Platforms {
		for _, p := range ps {
			if _, err := ParsePlatform(p); err != nil {
				return fmt.Errorf("platforms %s: %w", role, err)
			}
		}
	}
	for _, fs := range f.Files {
		if fs.Kind != KindBinary && fs.Kind != KindTarball {
			return fmt.Errorf("files %q: kind %q", fs.Role, fs.Kind)
		}
		if _, ok := f.Platforms[fs.Platforms]; fs.Platforms != "" && !ok {
			return fmt.Errorf("files %q: unknown platform list %q", fs.Role, fs.Platforms)
		}
		if fs.Kind == KindBinary && fs.Platforms == "" {
			return fmt.Errorf("files %q: binaries need platforms", fs.Role)
		}
		for _, s := range fs.Sources {
			if !sources[s] {
				return fmt.Errorf("files %q: unknown source %q", fs.Role, s)
			}
		}
	}
	for _, r := range f.Releases {
		if r.Version.Line() != f.Line {
			return fmt.Errorf("release %s is not of line %s", r.Version, f.Line)
		}
		for _, s := range []Signing{r.ImageSigning, r.BlobSigning} {
			if s != SigningExpected && s != SigningNotExpected && s != SigningProbe {
				return fmt.Errorf("release %s: signing %q", r.Version, s)
			}
		}
	}
	for _, in := range f.Incidents {
		if in.ID == "" || in.Summary == "" || !strings.HasPrefix(in.Source, "https://") || len(in.Versions) == 0 {
			return fmt.Errorf("incident %q: want id, summary, https source and versions", in.ID)
		}
	}
	return nil
}

// CatalogVersions returns every version the embedded catalog covers, in
// ascending order.
func CatalogVersions() []Version {
	var vs []Version
	for _, f := range mustCatalog().lines {
		for _, r := range f.Releases {
			vs = append(vs, r.Version)
		}
	}
	slices.SortFunc(vs, Version.Compare)
	return vs
}

// CatalogSources returns the public sources the embedded catalog's facts
// rest on, for every release line it covers.
func CatalogSources() []Source {
	var ss []Source
	for _, f := range mustCatalog().lines {
		ss = append(ss, f.Sources...)
	}
	return ss
}

// catalogCoverage describes the covered versions for error messages:
// "v1.24.0 … v1.24.17".
// CatalogCoverage says which versions the embedded catalog covers, e.g.
// "v1.24.0 … v1.24.17".
func CatalogCoverage() string {
	var parts []string
	for _, f := range mustCatalog().lines {
		var vs []Version
		for _, r := range f.Releases {
			vs = append(vs, r.Version)
		}
		slices.SortFunc(vs, Version.Compare)
		if len(vs) > 0 {
			parts = append(parts, fmt.Sprintf("%s … %s", vs[0], vs[len(vs)-1]))
		}
	}
	return strings.Join(parts, ", ")
}

func (c *catalog) find(v Version) (*catalogFile, *catalogRelease) {
	for _, f := range c.lines {
		for i := range f.Releases {
			if f.Releases[i].Version == v {
				return f, &f.Releases[i]
			}
		}
	}
	return nil, nil
}

// CatalogRelease returns release v as the embedded catalog describes it,
// with locations under loc. For a version the catalog does not cover it
// returns an error wrapping ErrUnknownVersion that names the versions it
// covers.
func CatalogRelease(v Version, loc Locations) (*Release, error) {
	f, cr := mustCatalog().find(v)
	if f == nil {
		return nil, fmt.Errorf("%w %s: the embedded catalog covers %s; other releases need the network (SBOM)", ErrUnknownVersion, v, CatalogCoverage())
	}
	r := &Release{Version: v, Date: cr.Date, Source: SourceCatalog}
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
				add(Artifact{Kind: fs.Kind, Name: pattern, Location: loc.tarballURL(v, pattern), Signer: BlobSigner, Signing: cr.BlobSigning})
				continue
			}
			for _, p := range platforms(fs.Platforms) {
				name := strings.NewReplacer("{os}", p.OS, "{arch}", p.Arch).Replace(pattern)
				a := Artifact{Kind: fs.Kind, Name: name, Signer: BlobSigner, Signing: cr.BlobSigning}
				switch fs.Kind {
				case KindBinary:
					if fs.WindowsExe && p.OS == "windows" {
						a.Name += ".exe"
					}
					a.Platform = p
					a.Location = loc.binaryURL(v, p, a.Name)
				case KindTarball:
					a.Platform = p
					a.Location = loc.tarballURL(v, name)
				}
				add(a)
			}
		}
	}
	for _, name := range f.Images.Names {
		add(Artifact{Kind: KindImage, Name: name, Location: loc.imageRef(v, name, ""), Signer: ImageSigner, Signing: cr.ImageSigning})
		for _, arch := range f.Images.Arches {
			add(Artifact{Kind: KindImage, Name: name, Platform: Platform{OS: "linux", Arch: arch},
				Location: loc.imageRef(v, name, arch), Signer: ImageSigner, Signing: cr.ImageSigning})
		}
	}
	sortArtifacts(r.Artifacts)
	r.Incidents = f.incidentsFor(v)
	return r, nil
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

// knownIncidents returns the incidents the catalog records for v, including
// the registry-wide ones when v is of a line the catalog does not cover
// (registry incidents concern every image served).
func knownIncidents(v Version) []Incident {
	c := mustCatalog()
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

// compareArtifacts orders by kind, name, platform.
func compareArtifacts(a, b Artifact) int {
	if c := kindOrder(a.Kind) - kindOrder(b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return a.Platform.Compare(b.Platform)
}

func sortArtifacts(as []Artifact) { slices.SortFunc(as, compareArtifacts) }

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
	out := &Release{Version: r.Version, Date: r.Date, Source: r.Source, Artifacts: []Artifact{}, Incidents: []Incident{}}
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
