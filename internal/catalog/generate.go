package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// File is a catalog file (pkg/artifacts/catalog/v1.X.json). The parts the
// generator does not write are kept as they are.
type File struct {
	SchemaVersion     int               `json:"schemaVersion"`
	Line              string            `json:"line"`
	RegistryAtRelease string            `json:"registryAtRelease,omitempty"`
	Notes             []string          `json:"notes,omitempty"`
	Sources           json.RawMessage   `json:"sources"`
	Platforms         json.RawMessage   `json:"platforms"`
	Files             json.RawMessage   `json:"files"`
	Images            Images            `json:"images"`
	Signing           map[string]string `json:"signing,omitempty"`
	Incidents         []json.RawMessage `json:"incidents"`
	Releases          []Release         `json:"releases"`
}

// Images are the line's release images.
type Images struct {
	Names   []string `json:"names"`
	Arches  []string `json:"arches"`
	Sources []string `json:"sources,omitempty"`
}

// Release is one release of the line.
type Release struct {
	Version      string            `json:"version"`
	Date         string            `json:"date"`
	DateStatus   string            `json:"dateStatus"`
	Note         string            `json:"note,omitempty"`
	ImageSigning string            `json:"imageSigning"`
	BlobSigning  string            `json:"blobSigning"`
	SHA512       map[string]string `json:"sha512,omitempty"`
	ImageDigests map[string]string `json:"imageDigests,omitempty"`
}

// ReadFile parses a catalog file, refusing fields it does not know.
func ReadFile(data []byte) (*File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("catalog file: %w", err)
	}
	return &f, nil
}

// Marshal writes f as the embedded catalog files are written: two-space
// indentation, no HTML escaping, a final newline; it checks that
// k8sverify can load the result.
func (f *File) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	if _, err := artifacts.ReadCatalog(bytes.NewReader(buf.Bytes()), "generated v"+f.Line+".json"); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Inputs are the public documents a line's catalog is generated from;
// any may be nil (then the base's data of that kind stays as it is).
type Inputs struct {
	// Changelog is the line's CHANGELOG, parsed.
	Changelog map[artifacts.Version]*ChangelogRelease
	// Images is the promoter's manifest, parsed: digest by image and tag.
	Images map[string]map[string]string
	// Dates are the release dates.
	Dates map[artifacts.Version]string
	// Targets are the planned dates of the release schedule, a cross-check
	// of Dates (a difference is a warning) and the date of a release Dates
	// does not know (dateStatus "target date").
	Targets map[artifacts.Version]string
}

// Generate returns the catalog of line, starting from base: base's
// layout, sources, signing history and incidents, and every release the
// inputs know, each with its date, the CHANGELOG's tarball sums and the
// promoter's image digests. A release base already holds keeps its date,
// signing and notes; a sum or digest that disagrees with base is an
// error, as is a CHANGELOG whose tarballs or images are not the base
// layout's. A base of another line (to start a new line from the last
// one) gives its layout and sources only: no releases, and only the
// incidents that concern every line. The warnings say what was not found.
func Generate(base *File, line string, in Inputs) (*File, []string, error) {
	out := *base
	out.Releases = slices.Clone(base.Releases)
	if base.Line != line {
		out.Line, out.Releases = line, nil
		out.Incidents = nil
		for _, raw := range base.Incidents {
			var in struct {
				Versions []string `json:"versions"`
			}
			if err := json.Unmarshal(raw, &in); err == nil && slices.Contains(in.Versions, "*") {
				out.Incidents = append(out.Incidents, raw)
			}
		}
	}
	have := map[string]bool{}
	for _, r := range out.Releases {
		if _, err := artifacts.ParseVersion(r.Version); err != nil {
			return nil, nil, fmt.Errorf("base release %q: %w", r.Version, err)
		}
		have[r.Version] = true
	}
	versions := lineVersions(line, in)
	for _, v := range versions {
		if !have[v.String()] {
			out.Releases = append(out.Releases, Release{Version: v.String()})
		}
	}
	var warnings []string
	for i := range out.Releases {
		v, _ := artifacts.ParseVersion(out.Releases[i].Version)
		if !slices.Contains(versions, v) {
			continue
		}
		w, err := fill(&out, &out.Releases[i], v, in)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", v, err)
		}
		warnings = append(warnings, w...)
	}
	slices.SortFunc(out.Releases, func(a, b Release) int {
		va, _ := artifacts.ParseVersion(a.Version)
		vb, _ := artifacts.ParseVersion(b.Version)
		return va.Compare(vb)
	})
	return &out, warnings, nil
}

// lineVersions returns the stable releases of line any input names.
func lineVersions(line string, in Inputs) []artifacts.Version {
	seen := map[artifacts.Version]bool{}
	for v := range in.Dates {
		seen[v] = true
	}
	for v := range in.Changelog {
		seen[v] = true
	}
	for v := range in.Targets {
		seen[v] = true
	}
	var vs []artifacts.Version
	for v := range seen {
		if v.Line() == line {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, artifacts.Version.Compare)
	return vs
}

// fill completes release r (version v) of f from the inputs.
func fill(f *File, r *Release, v artifacts.Version, in Inputs) ([]string, error) {
	var warnings []string
	if date, ok := in.Dates[v]; ok {
		switch {
		case r.Date == "":
			r.Date, r.DateStatus = date, "verified"
		case r.Date != date:
			warnings = append(warnings, fmt.Sprintf("%s: kept the base's date %s (%s); the release dates give %s", v, r.Date, r.DateStatus, date))
		}
	}
	if target, ok := in.Targets[v]; ok {
		switch {
		case r.Date == "":
			r.Date, r.DateStatus = target, "target date"
		case r.Date != target:
			warnings = append(warnings, fmt.Sprintf("%s: the schedule's target date %s is not the release date %s", v, target, r.Date))
		}
	}
	if r.Date == "" {
		warnings = append(warnings, fmt.Sprintf("%s: no release date", v))
	}
	if r.ImageSigning == "" {
		r.ImageSigning = string(artifacts.SigningExpected)
	}
	if r.BlobSigning == "" {
		r.BlobSigning = blobSigning(f.Signing, r.Date)
	}
	if cl, ok := in.Changelog[v]; ok {
		if err := checkLayout(f, v, cl); err != nil {
			return nil, err
		}
		sums, err := merge(r.SHA512, cl.SHA512, "sha512")
		if err != nil {
			return nil, err
		}
		r.SHA512 = sums
	} else if in.Changelog != nil {
		warnings = append(warnings, fmt.Sprintf("%s: not in the CHANGELOG", v))
	}
	if in.Images != nil {
		found := map[string]string{}
		for _, repo := range imageRepos(f.Images) {
			if d, ok := in.Images[repo][v.String()]; ok {
				found[repo] = d
			} else {
				warnings = append(warnings, fmt.Sprintf("%s: the promoter's manifest has no %s:%s", v, repo, v))
			}
		}
		digests, err := merge(r.ImageDigests, found, "image digest")
		if err != nil {
			return nil, err
		}
		r.ImageDigests = digests
	}
	return warnings, nil
}

// blobSigning is a new release's blob signing: not expected before the
// line's blobSigningSince, then the line's blobSigningDefault ("expected"
// unless the line says otherwise).
func blobSigning(signing map[string]string, date string) string {
	if since := signing["blobSigningSince"]; since != "" && date != "" && date < since {
		return string(artifacts.SigningNotExpected)
	}
	if d := signing["blobSigningDefault"]; d != "" {
		return d
	}
	return string(artifacts.SigningExpected)
}

// imageRepos returns the repositories of the line's images: each name
// (the multi-arch index) and name-arch.
func imageRepos(im Images) []string {
	var repos []string
	for _, n := range im.Names {
		repos = append(repos, n)
	}
	for _, n := range im.Names {
		for _, a := range im.Arches {
			repos = append(repos, n+"-"+a)
		}
	}
	return repos
}

// merge adds found to have; a value that differs is an error.
func merge(have, found map[string]string, what string) (map[string]string, error) {
	if len(found) == 0 {
		return have, nil
	}
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range found {
		if old, ok := out[k]; ok && old != v {
			return nil, fmt.Errorf("%s of %s: the base has %s, the source %s", what, k, old, v)
		}
		out[k] = v
	}
	return out, nil
}

// checkLayout compares what the CHANGELOG lists of release v with the
// line's layout: the same tarballs (those it publishes sums of) and the
// same images and architectures.
func checkLayout(f *File, v artifacts.Version, cl *ChangelogRelease) error {
	var problems []string
	want, err := changelogTarballs(f)
	if err != nil {
		return err
	}
	for name := range cl.SHA512 {
		if !slices.Contains(want, name) {
			problems = append(problems, "the CHANGELOG lists "+name+", the layout does not")
		}
	}
	for _, name := range want {
		if _, ok := cl.SHA512[name]; !ok && len(cl.SHA512) > 0 {
			problems = append(problems, "the layout has "+name+", the CHANGELOG does not list it")
		}
	}
	if len(cl.Images) > 0 {
		names := slices.Sorted(maps.Keys(cl.Images))
		if !slices.Equal(names, slices.Sorted(slices.Values(f.Images.Names))) {
			problems = append(problems, fmt.Sprintf("images %v, the layout has %v", names, f.Images.Names))
		}
		arches := slices.Sorted(slices.Values(f.Images.Arches))
		for n, a := range cl.Images {
			if !slices.Equal(a, arches) {
				problems = append(problems, fmt.Sprintf("%s for %v, the layout for %v", n, a, arches))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("the layout of v%s.json is not what the CHANGELOG lists: %s", f.Line, strings.Join(problems, "; "))
	}
	return nil
}

// changelogTarballs returns the tarballs a CHANGELOG publishes sums of,
// by the layout of f: kubernetes.tar.gz, kubernetes-src.tar.gz and the
// client, server and node tarballs of their platforms.
func changelogTarballs(f *File) ([]string, error) {
	var platforms map[string][]string
	if err := json.Unmarshal(f.Platforms, &platforms); err != nil {
		return nil, fmt.Errorf("platforms: %w", err)
	}
	names := []string{"kubernetes.tar.gz", "kubernetes-src.tar.gz"}
	for _, role := range []string{"client", "server", "node"} {
		for _, p := range platforms[role] {
			os, arch, _ := strings.Cut(p, "/")
			names = append(names, fmt.Sprintf("kubernetes-%s-%s-%s.tar.gz", role, os, arch))
		}
	}
	return names, nil
}
